// What the sampler itself adds to the heap it watches, and what a summary costs: a clean program
// with sampling on (a ~25 MB working set replaced round-robin by 400 functions, each its own
// allocation site, called from 4 callers; a full GC after each round, with the event loop turning
// so that each gets its summary; a `leak` listener). Prints one JSON line:
//   first5           post-GC used heap after the 5th full GC minus after the 1st, bytes
//   heldKB           used heap after a full GC with sampling on, minus after stopSampling(): what
//                    the sampler's state holds on the JS heap
//   nativeBytes      status().sampling.nativeBytes at the end
//   summaryUs        CPU µs of one summary (the read of the live profile, then the summary)
//   sitesUs          CPU µs of one leak event's sites
// Usage: node --expose-gc bench/sampling-own-heap.mjs [heapdiff root, default ..] [rounds=40]
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as v8 from 'node:v8'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(process.argv[2] ?? join(here, '..'))
const rounds = Number(process.argv[3] ?? 40)
const require = createRequire(join(root, 'package.json'))
const mw = require(root)
const { sampler } = require(join(root, 'lib', 'sampling.js'))

const used = []
mw.on('stats', (s) => used.push(s.used_heap_size))
mw.on('leak', () => {})
mw.startSampling()
const slots = new Array(60000)
const state = { n: 0 }
const makers = []
for (let f = 0; f < 400; f++) {
  makers.push(
    new Function(
      'slots',
      'state',
      `return function make${f}(k) { for (let i = 0; i < k; i++) slots[state.n++ % slots.length] = { id: i, name: 'rec-' + i + '-${f}', tags: [i, ${f}], body: 'x'.repeat(300) + i } }`,
    )(slots, state),
  )
}
const callers = [0, 1, 2, 3].map((c) => new Function('m', 'k', `return m(k) /* caller ${c} */`))
for (let r = 0; r < rounds; r++) {
  for (let f = 0; f < 400; f++) callers[(f + r) % 4](makers[(f * 7 + r) % 400], 150)
  mw.gc()
  await new Promise((res) => setTimeout(res, 5))
}
await new Promise((res) => setTimeout(res, 10))

const time = (f, k = 30) => {
  f()
  const c0 = process.cpuUsage()
  for (let i = 0; i < k; i++) f()
  const c = process.cpuUsage(c0)
  return Math.round((c.user + c.system) / k)
}
const status = mw.status().sampling
const summaryUs = time(() => sampler.observe(Date.now()))
const sitesUs = time(() => sampler.sitesFor(0))
const profile = mw.heapProfile()
const count = (x) => 1 + x.children.reduce((a, c) => a + count(c), 0)
mw.gc()
const on = v8.getHeapStatistics().used_heap_size
mw.stopSampling()
mw.gc()
const off = v8.getHeapStatistics().used_heap_size
console.log(
  JSON.stringify({
    node: process.version,
    root,
    first5: used[4] - used[0],
    heldKB: Math.round((on - off) / 1024),
    nativeBytes: status.nativeBytes,
    summaryUs,
    sitesUs,
    profile: `${count(profile.head)} nodes, ${profile.samples.length} samples`,
  }),
)
