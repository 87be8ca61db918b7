// DevTools' comparison rows (heap-snapshot-toolkit) next to heapdiff's `grouping: 'devtools'` rows
// for two snapshot files: prints the rows that differ. Usage: node bench/tools/devtools-rows.mjs A B
import { createReadStream } from 'node:fs'
import { createGunzip } from 'node:zlib'
import { createRequire } from 'node:module'
import { parse, diff } from 'heap-snapshot-toolkit'

const require = createRequire(import.meta.url)
const memwatch = require(process.env.HEAPDIFF_MODULE ?? '../../index.js')
const [a, b, limit = '40'] = process.argv.slice(2)
const open = (f) =>
  (f.endsWith('.gz') ? createReadStream(f).pipe(createGunzip()) : createReadStream(f)).setEncoding('utf-8')

const d = await diff(await parse(open(a)), await parse(open(b)))
const tool = new Map()
for (const [key, r] of Object.entries(d)) {
  const prev = tool.get(r.name)
  const row = { new: r.addedCount, deleted: r.removedCount, alloc: r.addedSize, freed: r.removedSize, keys: 1 }
  if (prev) for (const k of Object.keys(row)) prev[k] += row[k]
  else tool.set(r.name, row)
}
const ours = new Map()
for (const r of (await memwatch.diffFiles(a, b, { grouping: 'devtools' })).change.details) {
  ours.set(r.what, {
    new: r['+'],
    deleted: r['-'],
    alloc: r.allocated_bytes ?? null,
    freed: r.freed_bytes ?? null,
    size: r.size_bytes,
  })
}
let bad = 0
const names = new Set([...tool.keys(), ...ours.keys()])
const rows = []
for (const n of names) {
  const t = tool.get(n) ?? { new: 0, deleted: 0, alloc: 0, freed: 0, keys: 0 }
  const o = ours.get(n) ?? { new: 0, deleted: 0, alloc: 0, freed: 0, size: 0 }
  const oSize = o.alloc != null ? o.alloc - o.freed : o.size
  if (
    t.new !== o.new ||
    t.deleted !== o.deleted ||
    t.alloc - t.freed !== oSize ||
    (o.alloc != null && (t.alloc !== o.alloc || t.freed !== o.freed))
  ) {
    bad++
    rows.push({ name: n, tool: t, ours: o, dSize: t.alloc - t.freed - oSize })
  }
}
rows.sort((x, y) => Math.abs(y.dSize) - Math.abs(x.dSize))
for (const r of rows.slice(0, Number(limit))) console.log(JSON.stringify(r))
const multi = [...tool.entries()].filter(([, r]) => r.keys > 1).map(([n, r]) => `${n}×${r.keys}`)
console.log(
  `${names.size} classes, ${bad} differ; names with several DevTools keys (locations): ${multi.length} ${multi.slice(0, 10).join(' ')}`,
)
