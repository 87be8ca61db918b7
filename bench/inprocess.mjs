// In-process cost of a heap diff: `new HeapDiff()` + `hd.end()` (two snapshots streamed into
// the Rust parser, then the diff) against what V8 alone takes to write the same two snapshots
// (`v8.writeHeapSnapshot` to /dev/null: V8's own serializer and Node's file stream, no disk).
//
// Usage: node --expose-gc bench/inprocess.mjs [records] [rounds]
// Builds `records` live objects (default 1,500,000: a heap of several hundred MB), then runs the
// two measurements alternately `rounds` times (default 3) and reports medians.
import { createRequire } from 'node:module'
import v8 from 'node:v8'

const require = createRequire(import.meta.url)
const { HeapDiff } = require('..')

const records = Number(process.argv[2] ?? 1_500_000)
const rounds = Number(process.argv[3] ?? 3)

class Order {
  constructor(i) {
    this.id = i
    this.customer = 'customer-' + (i % 5000)
    this.items = [i, i + 1]
    this.meta = { at: i * 7 }
  }
}
const live = Array.from({ length: records }, (_, i) => new Order(i))
globalThis.gc?.()
const heapMb = process.memoryUsage().heapUsed / 1048576

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const time = (f) => {
  const t0 = performance.now()
  f()
  return performance.now() - t0
}

const v8Ms = []
const hdMs = []
let classes = 0
for (let r = 0; r < rounds; r++) {
  v8Ms.push(
    time(() => {
      v8.writeHeapSnapshot('/dev/null')
      v8.writeHeapSnapshot('/dev/null')
    }),
  )
  hdMs.push(
    time(() => {
      const hd = new HeapDiff()
      classes = hd.end().change.details.length
    }),
  )
}
const [v, h] = [median(v8Ms), median(hdMs)]
const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(' ')
console.log(
  `In-process heap diff, node ${process.version}, ${live.length} live records, heap ${heapMb.toFixed(0)} MB, ${rounds} rounds, medians:`,
)
console.log(`  V8 alone, 2 × v8.writeHeapSnapshot('/dev/null'):  ${v.toFixed(0)} ms   (runs: ${fmt(v8Ms)})`)
console.log(`  heapdiff, new HeapDiff() + end():                ${h.toFixed(0)} ms   (runs: ${fmt(hdMs)})`)
console.log(`  ratio heapdiff / V8 alone: ${(h / v).toFixed(2)}× (last diff: ${classes} classes changed)`)
