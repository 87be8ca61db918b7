// heapdiff, graph analyses on snapshot files (see bench/graph.mjs).
//   top <file>        topRetainers(file, { top: 20 }): parse with edges, dominator tree and retained
//                     size of every node, then the shortest retaining path of the 20 largest.
//   diff <a> <b>      diffFiles(a, b, { retainers: true }): the id diff, plus retained sizes and
//                     retaining paths (in b) of the new instances of the classes that grew most.
import { createRequire } from 'node:module'
import { report } from './measure.mjs'

const require = createRequire(import.meta.url)
const heapdiff = require('../..')
const [task, a, b] = process.argv.slice(2)
const t0 = performance.now()
let summary
if (task === 'top') {
  const top = await heapdiff.topRetainers(a, { top: 20 })
  summary = {
    top: top.map((t) => ({ id: t.id, name: t.what, retained: t.retained_size_bytes })),
    path: top[0]?.path,
  }
} else if (task === 'diff') {
  const diff = await heapdiff.diffFiles(a, b, { grouping: 'devtools', retainers: true })
  const rows = diff.change.details.filter((d) => d.retained_size_bytes !== undefined)
  summary = {
    allocated: diff.change.allocated_nodes,
    classes: rows.map((d) => ({ name: d.what, added: d['+'], retained: d.retained_size_bytes })),
    path: rows[0]?.retainers?.[0]?.path,
  }
} else {
  throw new Error(`unknown task ${task}`)
}
const cpu = process.cpuUsage()
// heapdiff's own peak, apart from the Node process around it (a counting allocator).
const ownMb = heapdiff.status().nativePeakBytes / 1048576
report(t0, { ...summary, cpuMs: (cpu.user + cpu.system) / 1000, ownMb })
