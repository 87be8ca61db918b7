// Sampling overhead: heapdiff's startSampling() (with a `leak` listener, so summaries follow every
// full GC) against @datadog/pprof's heap profiler (what Datadog, New Relic and Pyroscope ship) and
// no profiler, at the same interval (512 KiB) and depth (64), on two workloads, each mode in a
// fresh process, alternated, medians:
//   cpu:  an allocation-heavy loop (objects, arrays and strings into a 20 MB working set that is
//         replaced as it goes), fixed time; throughput = loop iterations per second;
//   http: a JSON service (node:http) loaded by autocannon from the parent process.
// Overhead: CPU time of the process per operation against no profiler (wall-clock throughput is
// printed too, but moves with whatever else the machine runs). Extra heap: used heap after a
// forced GC at the end, against no profiler; each process holds ~60 MB of long-lived data built
// by 400 functions, so profiles have hundreds of nodes. Costs in the profiled
// process, in CPU µs: per heapProfile() (datadog: heap.profile()), per summary (one per full GC) and per
// leak event's sites.
//
// Usage: node bench/sampling.mjs [rounds=5] [--seconds=8] [--only=cpu|http]
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(join(here, 'package.json'))
const args = process.argv.slice(2)
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5)
const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 8)
const only = args.find((a) => a.startsWith('--only='))?.slice(7)
const MODES = ['none', 'heapdiff', 'datadog']
const INTERVAL = 524288
const DEPTH = 64

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], Number(process.argv[5]))
else await main()

async function main() {
  const workloads = only ? [only] : ['cpu', 'http']
  console.log(
    `Sampling overhead, node ${process.version}, interval ${INTERVAL} B, depth ${DEPTH}, ${rounds} rounds × ${seconds} s per mode, medians`,
  )
  for (const w of workloads) {
    const runs = Object.fromEntries(MODES.map((m) => [m, []]))
    for (let r = 0; r < rounds; r++) {
      for (const m of r % 2 ? [...MODES].reverse() : MODES) runs[m].push(await runChild(w, m))
    }
    report(w, runs)
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function report(w, runs) {
  const med = (m, k) => median(runs[m].map((r) => r[k]))
  const baseCpu = med('none', 'cpuUs')
  const baseTp = med('none', 'throughput')
  const baseHeap = med('none', 'heap')
  const unit = w === 'cpu' ? 'iteration' : 'request'
  console.log(`\n${w === 'cpu' ? 'allocation-heavy loop' : 'HTTP JSON service under autocannon (20 connections)'}`)
  console.log(`  heap after a forced GC with no profiler: ${(baseHeap / 1048576).toFixed(1)} MB`)
  console.log(
    `  mode      CPU µs/${unit.padEnd(9)} overhead  ${unit}s/s  loss      extra heap        extra RSS  µs/profile  µs/summary  µs/sites  full GCs`,
  )
  const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`
  for (const m of MODES) {
    const rs = runs[m]
    const cpu = med(m, 'cpuUs')
    const tp = med(m, 'throughput')
    const heap = med(m, 'heap')
    const rss = med(m, 'rss') - med('none', 'rss')
    const us = (k) => (rs[0][k] == null ? '-' : med(m, k).toFixed(0))
    console.log(
      `  ${m.padEnd(9)} ${cpu.toFixed(3).padStart(17)}  ${pct(((cpu - baseCpu) / baseCpu) * 100).padStart(8)}  ${tp.toFixed(0).padStart(10)}  ${pct(((baseTp - tp) / baseTp) * 100).padStart(7)}  ${`${pct(((heap - baseHeap) / baseHeap) * 100)} ${((heap - baseHeap) / 1024).toFixed(0)} KB`.padStart(16)}  ${`${(rss / 1048576).toFixed(1)} MB`.padStart(9)}  ${us('profileUs').padStart(10)}  ${us('summaryUs').padStart(10)}  ${us('sitesUs').padStart(8)}  ${med(m, 'fullGcs').toFixed(0).padStart(8)}`,
    )
    console.log(
      `            CPU µs runs: ${rs.map((r) => r.cpuUs.toFixed(3)).join(' ')}${rs[0].nodes ? `; profile: ${med(m, 'nodes')} nodes, ${med(m, 'samples')} samples` : ''}`,
    )
  }
}

function runChild(workload, mode) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', workload, mode, String(seconds)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    let out = ''
    let loading = null
    p.stdout.on('data', (d) => {
      out += d
      // The HTTP child says its port; the load comes from here, not from inside the service.
      const m = /^\{"port":(\d+)\}\n/.exec(out)
      if (m && !loading) {
        const autocannon = require('autocannon')
        loading = autocannon({ url: `http://127.0.0.1:${m[1]}/api`, connections: 20, duration: seconds }).then((r) => {
          p.stdin.end(`${r.requests.total}\n`)
        })
      }
    })
    p.on('exit', (code) =>
      code === 0 ? res(JSON.parse(out.trim().split('\n').pop())) : rej(new Error(`${workload}/${mode}: exit ${code}`)),
    )
  })
}

async function child(workload, mode, secs) {
  const memwatch = require('../index.js')
  const { sampler } = require('../lib/sampling.js')
  const v8 = await import('node:v8')
  let dd = null
  if (mode === 'heapdiff') {
    memwatch.on('leak', () => {})
    memwatch.startSampling({ interval: INTERVAL, depth: DEPTH })
  } else if (mode === 'datadog') {
    dd = require('@datadog/pprof')
    dd.heap.start(INTERVAL, DEPTH)
  }
  const state = baseData()
  const gcs0 = memwatch.status().counts.mark_sweep_compact
  const cpu0 = process.cpuUsage()
  const { ops, secs: took } = workload === 'cpu' ? await cpuLoop(secs) : await httpLoad()
  const cpu = process.cpuUsage(cpu0)
  const result = {
    throughput: ops / took,
    // CPU time of this process per operation: what the profiler costs, less disturbed than wall
    // time by other processes on a shared machine.
    cpuUs: (cpu.user + cpu.system) / ops,
    fullGcs: memwatch.status().counts.mark_sweep_compact - gcs0,
    kept: state.length,
  }
  // Costs of reading, measured after the workload on the profile it left.
  // CPU µs of this process per call (wall time would count other processes' turns).
  const time = (f, n = 20) => {
    f()
    const c0 = process.cpuUsage()
    for (let i = 0; i < n; i++) f()
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / n
  }
  if (mode === 'heapdiff') {
    result.profileUs = time(() => memwatch.heapProfile())
    const p = memwatch.heapProfile()
    const count = (n) => 1 + n.children.reduce((a, c) => a + count(c), 0)
    result.nodes = count(p.head)
    result.samples = p.samples.length
    // One summary per batch of full GCs, warm (the first one also compiles the code).
    result.summaryUs = time(() => sampler.observe(Date.now()))
    result.sitesUs = time(() => sampler.sitesFor(0))
  } else if (mode === 'datadog') {
    result.profileUs = time(() => dd.heap.profile())
  }
  memwatch.gc()
  result.heap = v8.getHeapStatistics().used_heap_size
  result.rss = process.memoryUsage().rss
  console.log(JSON.stringify(result))
  process.exit(0)
}

/**
 * A service's long-lived data, about 60 MB: 400 functions (each its own allocation site, as a
 * real program has many) build 150,000 records, so profiles have hundreds of nodes.
 */
function baseData() {
  const out = []
  for (let f = 0; f < 400; f++) {
    const build = new Function(
      'out',
      'n',
      `return function load${f}() { for (let i = 0; i < n; i++) out.push({ id: i, name: 'rec-' + i + '-${f}', tags: [i, ${f}], body: 'x'.repeat(300) + i }) }`,
    )(out, 375)
    build()
  }
  return out
}

/**
 * Objects, arrays and strings into a working set of 200,000 slots, replaced round-robin, in
 * 10 ms slices with the event loop turning in between (as a service's work is).
 */
async function cpuLoop(secs) {
  const slots = new Array(200000)
  let n = 0
  const start = performance.now()
  const end = start + secs * 1000
  while (performance.now() < end) {
    const slice = performance.now() + 10
    while (performance.now() < slice) {
      for (let i = 0; i < 1000; i++, n++) {
        slots[n % slots.length] = { id: n, name: `item-${n}`, tags: [n & 7, n & 15, 'x'], when: n * 3 }
      }
    }
    await new Promise((r) => setImmediate(r))
  }
  return { ops: n, secs: (performance.now() - start) / 1000 }
}

/** A JSON service; the parent loads it with autocannon and sends back the req/s it measured. */
async function httpLoad() {
  const http = await import('node:http')
  const recent = []
  const server = http.createServer((req, res) => {
    const items = []
    for (let i = 0; i < 50; i++) items.push({ id: i, label: `row ${i} of ${req.url}`, values: [i, i * 2, i * 3] })
    recent.push(items[0])
    if (recent.length > 5000) recent.shift()
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ items }))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  console.log(JSON.stringify({ port: server.address().port }))
  const start = performance.now()
  let answer = ''
  for await (const chunk of process.stdin) answer += chunk
  server.close()
  return { ops: Number(answer.trim()), secs: (performance.now() - start) / 1000 }
}
