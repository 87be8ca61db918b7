// The cost of `allocations: true`: the same allocation-heavy workload run bare, inside a plain
// `new HeapDiff()`, and inside `new HeapDiff({ allocations: true })` (V8's allocation tracker on
// between the two snapshots), in one process, alternating, medians of `rounds`.
//
// Usage: node bench/allocations.mjs [objects] [rounds]
// The workload allocates `objects` small objects (each with a string and an array), keeps a
// tenth of them, and drops the rest. Reported: the workload's own time (what tracking slows
// down), `end()`'s time (two snapshots and the diff; with traces to read and group), and the
// peak RSS of the process.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { HeapDiff } = require('..')

const objects = Number(process.argv[2] ?? 300_000)
const rounds = Number(process.argv[3] ?? 5)

class Item {
  constructor(i) {
    this.id = i
    this.name = 'item-' + i
    this.tags = [i & 7, i & 15]
  }
}

let kept = []
function workload() {
  kept = []
  for (let i = 0; i < objects; i++) {
    const it = new Item(i)
    if (i % 10 === 0) kept.push(it)
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const time = (f) => {
  const t0 = performance.now()
  f()
  return performance.now() - t0
}

const modes = {
  bare: () => [time(workload), 0],
  heapdiff: () => {
    const hd = new HeapDiff()
    const run = time(workload)
    return [run, time(() => hd.end())]
  },
  allocations: () => {
    const hd = new HeapDiff({ allocations: true })
    const run = time(workload)
    let rows = 0
    const end = time(() => {
      rows = hd.end().change.details.filter((d) => d.allocated_at?.length).length
    })
    if (rows === 0) throw new Error('allocations: true produced no allocated_at')
    return [run, end]
  },
}

workload() // compile and warm before measuring
const runMs = Object.fromEntries(Object.keys(modes).map((m) => [m, []]))
const endMs = Object.fromEntries(Object.keys(modes).map((m) => [m, []]))
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(modes)) {
    const [run, end] = f()
    runMs[name].push(run)
    endMs[name].push(end)
  }
}

const bare = median(runMs.bare)
console.log(`node ${process.version}, ${objects} objects per run, medians of ${rounds} rounds`)
console.log('mode                        workload ms   vs bare   end() ms')
for (const name of Object.keys(modes)) {
  const run = median(runMs[name])
  const end = name === 'bare' ? '-' : median(endMs[name]).toFixed(0)
  const label = { bare: 'bare', heapdiff: 'new HeapDiff()', allocations: 'new HeapDiff({ allocations })' }[name]
  console.log(
    `${label.padEnd(28)}${run.toFixed(1).padStart(11)}${(run / bare).toFixed(2).padStart(9)}x${String(end).padStart(11)}`,
  )
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)
