// Throughput cost of `heapdiff run` (sampling on where this build has it) on an HTTP service,
// against the same service under plain node: autocannon from bench/node_modules, modes
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
  const r = await autocannon({ url, connections, duration })
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
  const gcs = mode === 'plain node' ? 0 : countGcs(dir)
  process.kill(pid, 'SIGTERM')
  await new Promise((res) => child.on('exit', res))
  rmSync(dir, { recursive: true, force: true })
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx, hwm, gcs }
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
    console.error(`round ${i + 1} ${mode}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, ${r.gcs} full GCs recorded`)
  }
}
const base = median(results['plain node'].map((r) => r.rps))
console.log(
  `heapdiff run overhead, node ${process.version}, ${rounds} rounds × ${duration} s, ${connections} connections, ` +
    `sampling ${sampling ? 'on' : 'not in this build'}, medians:`,
)
console.log('  mode                          req/s   vs plain   p99 ms   peak RSS   full GCs recorded')
for (const [mode, rs] of Object.entries(results)) {
  const rps = median(rs.map((r) => r.rps))
  const pct = ((rps / base - 1) * 100).toFixed(2)
  console.log(
    `  ${mode.padEnd(28)} ${rps.toFixed(0).padStart(7)}   ${(pct.startsWith('-') ? '' : '+') + pct}%`.padEnd(50) +
      `${String(median(rs.map((r) => r.p99))).padStart(6)}   ${(median(rs.map((r) => r.hwm)) / 2 ** 20).toFixed(0).padStart(5)} MB   ${median(rs.map((r) => r.gcs))}` +
      `   (runs: ${rs.map((r) => r.rps.toFixed(0)).join(' ')})`,
  )
}
