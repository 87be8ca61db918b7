// heap-snapshot-toolkit: Chrome DevTools' own snapshot worker code, packaged for Node.
import { createReadStream } from 'node:fs'
import { parse, diff } from 'heap-snapshot-toolkit'
import { report } from './measure.mjs'
import { rowDigest } from './rows.mjs'

const [task, a, b] = process.argv.slice(2)
const t0 = performance.now()
let summary
if (task === 'parse') {
  const snap = await parse(createReadStream(a, 'utf-8'))
  summary = { nodes: snap.nodeCount }
} else {
  const before = await parse(createReadStream(a, 'utf-8'))
  const after = await parse(createReadStream(b, 'utf-8'))
  const d = await diff(before, after)
  const rows = Object.values(d)
  summary = {
    allocated: rows.reduce((s, r) => s + r.addedCount, 0),
    freed: rows.reduce((s, r) => s + r.removedCount, 0),
    classes: rows.length,
    rows: rowDigest(rows.map((r) => [r.name, r.addedCount, r.removedCount, r.addedSize, r.removedSize])),
  }
}
report(t0, summary)
