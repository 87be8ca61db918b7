// ESM entry: the same emitter instance as require('heapdiff'), plus named exports.
import memwatch from './index.js'

export default memwatch
export const HeapDiff = memwatch.HeapDiff
export const gc = memwatch.gc.bind(memwatch)
export const diffFiles = memwatch.diffFiles.bind(memwatch)
export const setLeakOptions = memwatch.setLeakOptions.bind(memwatch)
export const status = memwatch.status.bind(memwatch)
export const census = memwatch.census.bind(memwatch)
export const whatGrew = memwatch.whatGrew.bind(memwatch)
export const findLeaks = memwatch.findLeaks
export const topRetainers = memwatch.topRetainers
export const checkLeaks = memwatch.checkLeaks
export const assertNoLeaks = memwatch.assertNoLeaks
export const startSampling = memwatch.startSampling.bind(memwatch)
export const stopSampling = memwatch.stopSampling.bind(memwatch)
export const heapProfile = memwatch.heapProfile.bind(memwatch)
export const writeHeapProfile = memwatch.writeHeapProfile.bind(memwatch)
