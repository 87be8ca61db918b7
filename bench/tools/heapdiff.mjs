// heapdiff: the native streaming parser (one file) or diffFiles (two files, parsed in parallel).
import { createRequire } from 'node:module'
import { report } from './measure.mjs'

const require = createRequire(import.meta.url)
const [task, a, b] = process.argv.slice(2)
const t0 = performance.now()
let summary
if (task === 'parse') {
  const snap = require('../../binding.js').parseSnapshotFile(a)
  summary = { nodes: snap.nodeCount }
} else {
  const diff = await require('../..').diffFiles(a, b, { grouping: 'classic' })
  summary = {
    allocated: diff.change.allocated_nodes,
    freed: diff.change.freed_nodes,
    classes: diff.change.details.length,
  }
}
// heapdiff's own peak, apart from the Node process around it (a counting allocator).
const ownMb = require('../..').status().nativePeakBytes / 1048576
report(t0, { ...summary, ownMb })
