// heapdiff with `grouping: 'devtools'`: DevTools' comparison rows, which need both files' edges.
import { createRequire } from 'node:module'
import { report } from './measure.mjs'
import { rowDigest } from './rows.mjs'

const require = createRequire(import.meta.url)
const [, a, b] = process.argv.slice(2)
const t0 = performance.now()
const diff = await require('../..').diffFiles(a, b, { grouping: 'devtools' })
const rows = diff.change.details.map((r) => [r.what, r['+'], r['-'], r.allocated_bytes, r.freed_bytes])
const ownMb = require('../..').status().nativePeakBytes / 1048576
report(t0, {
  allocated: diff.change.allocated_nodes,
  freed: diff.change.freed_nodes,
  classes: diff.change.details.length,
  rows: rowDigest(rows),
  ownMb,
})
