// census() against v8.writeHeapSnapshot() on the same heaps: the time each takes and the memory
// each adds (peak RSS over RSS just before), side by side in one process per heap size.
//
// Usage: node bench/census.mjs [sizes in MB, default 50,200,1000] [rounds, default 3]
// Each size runs in a fresh process that fills its heap with records to that many MB of used
// heap, then alternates census() and v8.writeHeapSnapshot('/dev/null') (V8's snapshot and
// serializer, no disk) `rounds` times and reports median times and the largest extra memory.
// The CPU ratio (process.cpuUsage(), all threads) is the one to read on a busy machine. Peak RSS is reset before each
// measurement (`5` to /proc/self/clear_refs, Linux), so each peak is that step's own.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const sizes = (process.argv[2] ?? '50,200,1000').split(',').map(Number)
const rounds = Number(process.argv[3] ?? 3)

const child = `
  const v8 = require('node:v8')
  const { readFileSync, writeFileSync } = require('node:fs')
  const memwatch = require(${JSON.stringify(fileURLToPath(new URL('..', import.meta.url)))})
  const targetMb = Number(process.argv[1]), rounds = Number(process.argv[2])
  class Order { constructor(i) { this.id = i; this.customer = 'customer-' + (i % 5000); this.items = [i, i + 1]; this.meta = { at: i * 7 } } }
  class Session { constructor(i) { this.token = 't' + i.toString(36); this.hits = i } }
  const orders = [], sessions = []
  while (process.memoryUsage().heapUsed < targetMb * 1048576) {
    for (let i = 0; i < 10000; i++) orders.push(new Order(orders.length))
    for (let i = 0; i < 1000; i++) sessions.push(new Session(sessions.length))
  }
  memwatch.gc()
  const kb = (field) => Number(new RegExp(field + ':\\\\s+(\\\\d+)').exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
  function measure(f) {
    memwatch.gc()
    writeFileSync('/proc/self/clear_refs', '5')
    const rss = kb('VmRSS')
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const r = f()
    const ms = performance.now() - t0
    const c = process.cpuUsage(c0)
    return { ms, cpu: (c.user + c.system) / 1000, extra: kb('VmHWM') - rss, rss, r }
  }
  const census = [], snapshot = []
  let rows = null
  for (let i = 0; i < rounds; i++) {
    const c = measure(() => memwatch.census())
    rows = c.r
    census.push(c)
    snapshot.push(measure(() => v8.writeHeapSnapshot('/dev/null')))
  }
  const heap = process.memoryUsage().heapUsed
  const objects = rows.reduce((s, r) => s + r.count, 0)
  const strip = (xs) => xs.map(({ ms, cpu, extra, rss }) => ({ ms, cpu, extra, rss }))
  console.log(JSON.stringify({ heap, objects, classes: rows.length, orders: orders.length, census: strip(census), snapshot: strip(snapshot), top: rows.slice(0, 3) }))
`

const median = (xs) => {
  const o = [...xs].sort((a, b) => a - b)
  const k = Math.floor(o.length / 2)
  return o.length % 2 ? o[k] : (o[k - 1] + o[k]) / 2
}
const mb = (b) => (b / 1048576).toFixed(0)
const s = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`)

console.log(
  `census() against v8.writeHeapSnapshot('/dev/null'), node ${process.version}, ${rounds} rounds: median times, largest extra memory:`,
)
console.log(
  '| heap | live objects | census() | writeHeapSnapshot() | time ratio | CPU ratio | extra memory: census | snapshot |',
)
console.log('|---|---|---|---|---|---|---|---|')
for (const size of sizes) {
  const out = execFileSync(
    process.execPath,
    ['--max-old-space-size=16000', '-e', child, String(size), String(rounds)],
    { encoding: 'utf8', maxBuffer: 16 << 20 },
  )
  const r = JSON.parse(out.trim().split('\n').pop())
  const cMs = median(r.census.map((x) => x.ms))
  const sMs = median(r.snapshot.map((x) => x.ms))
  const cpuRatio = median(r.snapshot.map((x) => x.cpu)) / median(r.census.map((x) => x.cpu))
  // Memory: the largest of the rounds (the first is usually it: later ones reuse what the
  // allocator kept), not the median.
  const cEx = Math.max(...r.census.map((x) => x.extra))
  const sEx = Math.max(...r.snapshot.map((x) => x.extra))
  const heap = r.heap
  const pct = (b) => `${((b / heap) * 100).toFixed(1)}% of heap`
  console.log(
    `| ${mb(heap)} MB | ${r.objects.toLocaleString('en')} in ${r.classes} classes | ${s(cMs)} | ${s(sMs)} | ` +
      `${(sMs / cMs).toFixed(1)}× | ${cpuRatio.toFixed(1)}× | ${mb(cEx)} MB (${pct(cEx)}) | ${mb(sEx)} MB (${pct(sEx)}) |`,
  )
  console.log(
    `|  | runs | ${r.census.map((x) => s(x.ms)).join(', ')} | ${r.snapshot.map((x) => s(x.ms)).join(', ')} | | | ` +
      `${r.census.map((x) => mb(x.extra)).join(', ')} MB | ${r.snapshot.map((x) => mb(x.extra)).join(', ')} MB |`,
  )
}
