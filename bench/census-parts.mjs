// Where census() spends its time, against the snapshot it replaces, on one heap: census(),
// v8.queryObjects() of one class (the same V8 walk with Node's own one-class predicate), two
// plain full GCs, and v8.writeHeapSnapshot() to /dev/null and to a real file (deleted after).
//
// Usage: node bench/census-parts.mjs [heap MB, default 50] [rounds, default 2]
// Each step runs after a full GC; times are wall ms and CPU ms (process.cpuUsage()) per round.
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'

const require = createRequire(import.meta.url)
const memwatch = require('..')
const targetMb = Number(process.argv[2] ?? 50)
const rounds = Number(process.argv[3] ?? 2)

class Order {
  constructor(i) {
    this.id = i
    this.customer = 'customer-' + (i % 5000)
    this.items = [i, i + 1]
    this.meta = { at: i * 7 }
  }
}
// Held by the global object: a local the code no longer reads may be collected.
globalThis.orders = []
while (process.memoryUsage().heapUsed < targetMb * 1048576)
  for (let i = 0; i < 10000; i++) globalThis.orders.push(new Order(globalThis.orders.length))

const steps = {
  'census()': () => memwatch.census(),
  'v8.queryObjects(Order)': () => v8.queryObjects?.(Order, { format: 'count' }),
  'two full GCs': () => {
    memwatch.gc()
    memwatch.gc()
  },
  'writeHeapSnapshot(/dev/null)': () => v8.writeHeapSnapshot('/dev/null'),
  'writeHeapSnapshot(file)': () =>
    rmSync(v8.writeHeapSnapshot(join(tmpdir(), `census-parts-${process.pid}.heapsnapshot`))),
}
if (!v8.queryObjects) delete steps['v8.queryObjects(Order)']
process.removeAllListeners('warning') // v8.queryObjects() is experimental and says so

console.log(
  `node ${process.version}, post-GC heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB, ${rounds} rounds`,
)
for (const [name, f] of Object.entries(steps)) {
  const runs = []
  for (let r = 0; r < rounds; r++) {
    memwatch.gc()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    f()
    const ms = performance.now() - t0
    const c = process.cpuUsage(c0)
    runs.push(`${ms.toFixed(0)} ms (CPU ${((c.user + c.system) / 1000).toFixed(0)})`)
  }
  console.log(`${name.padEnd(30)} ${runs.join(', ')}`)
}
