// Sampling overhead: heapdiff's startSampling() (with a `leak` listener, so summaries follow every
// full GC) against @datadog/pprof's heap profiler (what Datadog, New Relic and Pyroscope ship) and
// no profiler, at the same interval (512 KiB) and depth (64), on two workloads, each mode in a
// fresh process, alternated, medians:
//   cpu:  an allocation-heavy loop (objects, arrays and strings into a 20 MB working set that is
//         replaced as it goes), fixed time; throughput = loop iterations per second;
//   http: a JSON service (node:http) under autocannon, requests per second.
// Extra heap: used heap after a forced GC at the end, against no profiler. Costs in the profiled
// process: µs per heapProfile() (datadog: heap.profile()), per summary (one per full GC) and per
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
  const base = median(runs.none.map((r) => r.throughput))
  const baseHeap = median(runs.none.map((r) => r.heap))
  console.log(
    `\n${w === 'cpu' ? 'allocation-heavy loop (iterations/s)' : 'HTTP JSON service under autocannon (req/s)'}`,
  )
  console.log(
    `  heap after a forced GC with no profiler: ${(baseHeap / 1048576).toFixed(1)} MB; extra heap is the profiled process's over that`,
  )
  console.log(
    '  mode       throughput   loss           extra heap  extra RSS   µs/profile  µs/summary  µs/sites  full GCs',
  )
  for (const m of MODES) {
    const rs = runs[m]
    const tp = median(rs.map((r) => r.throughput))
    const heap = median(rs.map((r) => r.heap))
    const rss = median(rs.map((r) => r.rss)) - median(runs.none.map((r) => r.rss))
    const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`
    const us = (k) => (rs[0][k] == null ? '-' : median(rs.map((r) => r[k])).toFixed(0))
    console.log(
      `  ${m.padEnd(9)} ${tp.toFixed(0).padStart(11)}  ${pct(((base - tp) / base) * 100).padStart(7)}  ${`${pct(((heap - baseHeap) / baseHeap) * 100)} ${((heap - baseHeap) / 1024).toFixed(0)} KB`.padStart(16)}  ${`${(rss / 1048576).toFixed(1)} MB`.padStart(9)}  ${us('profileUs').padStart(10)}  ${us('summaryUs').padStart(10)}  ${us('sitesUs').padStart(8)}  ${median(
        rs.map((r) => r.fullGcs),
      )
        .toFixed(0)
        .padStart(8)}`,
    )
    console.log(`             runs: ${rs.map((r) => r.throughput.toFixed(0)).join(' ')}`)
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
          p.stdin.end(`${r.requests.average}\n`)
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
  const throughput = workload === 'cpu' ? await cpuLoop(secs) : await httpLoad()
  const result = { throughput, fullGcs: memwatch.status().counts.mark_sweep_compact }
  // Costs of reading, measured after the workload on the profile it left.
  const time = (f, n = 20) => {
    f()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) f()
    return Number(process.hrtime.bigint() - t0) / 1e3 / n
  }
  if (mode === 'heapdiff') {
    result.profileUs = time(() => memwatch.heapProfile())
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
 * Objects, arrays and strings into a working set of 40,000 slots, replaced round-robin, in
 * 10 ms slices with the event loop turning in between (as a service's work is).
 */
async function cpuLoop(secs) {
  const slots = new Array(40000)
  let n = 0
  const end = performance.now() + secs * 1000
  while (performance.now() < end) {
    const slice = performance.now() + 10
    while (performance.now() < slice) {
      for (let i = 0; i < 1000; i++, n++) {
        slots[n % slots.length] = { id: n, name: `item-${n}`, tags: [n & 7, n & 15, 'x'], when: n * 3 }
      }
    }
    await new Promise((r) => setImmediate(r))
  }
  return n / secs
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
  let answer = ''
  for await (const chunk of process.stdin) answer += chunk
  server.close()
  return Number(answer.trim())
}
