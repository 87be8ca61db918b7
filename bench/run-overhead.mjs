// Throughput cost of `heapdiff run` (sampling and the class census on, where this build has
// them) on an HTTP service, against the same service under plain node, and with each turned off: autocannon from bench/node_modules, modes
// alternated round by round, medians. Also the service's peak RSS (VmHWM) per mode.
//
// Usage: node bench/run-overhead.mjs [--rounds=5] [--duration=10] [--connections=50]
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const require = createRequire(join(here, 'package.json'))
const autocannon = require('autocannon')
const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt)
const rounds = arg('rounds', 5)
const duration = arg('duration', 10)
const connections = arg('connections', 50)
const service = join(here, 'run-service.mjs')
const cli = join(root, 'cli.js')
const memwatch = require(root)
const sampling = typeof memwatch.startSampling === 'function'

const MODES = {
  'plain node': (dir) => [process.execPath, [service]],
  'heapdiff run': (dir) => [
    process.execPath,
    [cli, 'run', '--out', dir, '--no-report', '--', process.execPath, service],
  ],
  'heapdiff run --no-census': (dir) => [
    process.execPath,
    [cli, 'run', '--out', dir, '--no-report', '--no-census', '--', process.execPath, service],
  ],
  'heapdiff run --no-sampling': (dir) => [
    process.execPath,
    [cli, 'run', '--out', dir, '--no-report', '--no-sampling', '--', process.execPath, service],
  ],
}
if (!sampling) delete MODES['heapdiff run --no-sampling']

async function once(mode) {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-bench-run-'))
  const [cmd, args] = MODES[mode](dir)
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const { port, pid } = await new Promise((res, rej) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n')[0]
      if (out.includes('\n')) res(JSON.parse(line))
    })
    child.on('exit', (c) => rej(new Error(`${mode} exited with ${c}`)))
  })
  const url = `http://127.0.0.1:${port}/?n=20`
  await autocannon({ url, connections, duration: 2 }) // warm-up: JIT, heap growth
  // CPU time per request, of the service and of heapdiff's own process around it: unlike
  // throughput it barely moves when other jobs share the machine.
  const cpu0 = cpuMs(pid) + (child.pid !== pid ? cpuMs(child.pid) : 0)
  const r = await autocannon({ url, connections, duration })
  const cpu = cpuMs(pid) + (child.pid !== pid ? cpuMs(child.pid) : 0) - cpu0
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
  const gcs = mode === 'plain node' ? 0 : countGcs(dir)
  process.kill(pid, 'SIGTERM')
  await new Promise((res) => child.on('exit', res))
  rmSync(dir, { recursive: true, force: true })
  return { rps: r.requests.average, p99: r.latency.p99, hwm, gcs, usPerReq: (cpu * 1000) / r.requests.total }
}

/** utime + stime of a process, ms (clock ticks are 100 Hz on Linux). */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

function countGcs(dir) {
  try {
    const files = require('node:fs')
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ndjson'))
    return files.reduce((n, f) => n + (readFileSync(join(dir, f), 'utf8').match(/"type":"stats"/g)?.length ?? 0), 0)
  } catch {
    return 0
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]))
for (let i = 0; i < rounds; i++) {
  for (const mode of Object.keys(MODES)) {
    const r = await once(mode)
    results[mode].push(r)
    console.error(
      `round ${i + 1} ${mode}: ${r.rps.toFixed(0)} req/s, ${r.usPerReq.toFixed(1)} µs CPU/request, p99 ${r.p99} ms, ${r.gcs} full GCs recorded`,
    )
  }
}
const base = median(results['plain node'].map((r) => r.rps))
const baseCpu = median(results['plain node'].map((r) => r.usPerReq))
const pct = (x, b) => {
  const p = ((x / b - 1) * 100).toFixed(1)
  return (p.startsWith('-') ? '' : '+') + p + '%'
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
console.log(
  `heapdiff run overhead, node ${process.version}, ${rounds} rounds × ${duration} s, ${connections} connections, ` +
    `sampling ${sampling ? 'on' : 'not in this build'}, load average at the end ${load}, medians:`,
)
console.log('  mode                          req/s  vs plain   CPU µs/req  vs plain  p99 ms  peak RSS  full GCs')
for (const [mode, rs] of Object.entries(results)) {
  const rps = median(rs.map((r) => r.rps))
  const us = median(rs.map((r) => r.usPerReq))
  console.log(
    `  ${mode.padEnd(28)} ${rps.toFixed(0).padStart(6)}  ${pct(rps, base).padStart(7)}   ${us.toFixed(1).padStart(10)}  ${pct(us, baseCpu).padStart(7)}` +
      `  ${String(median(rs.map((r) => r.p99))).padStart(6)}  ${(median(rs.map((r) => r.hwm)) / 2 ** 20).toFixed(0).padStart(5)} MB  ${String(median(rs.map((r) => r.gcs))).padStart(8)}` +
      `   (req/s: ${rs.map((r) => r.rps.toFixed(0)).join(' ')}; µs: ${rs.map((r) => r.usPerReq.toFixed(1)).join(' ')})`,
  )
}

// The direct cost, which the throughput figures above cannot resolve on a shared machine: what
// the preload does per full GC (serialise the stats event, one synchronous write), timed on real
// events; heapdiff's GC callbacks add their own ~1–14 µs (see the GC overhead benchmark).
{
  const fs = require('node:fs')
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-bench-rec-'))
  const fd = fs.openSync(join(dir, 'events.ndjson'), 'a')
  const events = []
  const listener = (s) => events.push(s)
  memwatch.on('stats', listener)
  for (let i = 0; i < 20; i++) memwatch.gc()
  await new Promise((r) => setTimeout(r, 100))
  memwatch.off('stats', listener)
  const N = 20000
  const t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) fs.writeSync(fd, JSON.stringify({ type: 'stats', ...events[i % events.length] }) + '\n')
  const us = Number(process.hrtime.bigint() - t) / 1e3 / N
  const bytes = fs.fstatSync(fd).size / N
  fs.closeSync(fd)
  rmSync(dir, { recursive: true, force: true })
  const gcsPerSec = median(results['heapdiff run'].map((r) => r.gcs)) / duration
  console.log(
    `  recording: ${us.toFixed(1)} µs and ${bytes.toFixed(0)} bytes per full GC; at this service's ${gcsPerSec.toFixed(1)} full GCs/s ` +
      `that is ${((us * gcsPerSec) / 1e4).toFixed(4)}% of one core`,
  )
}
