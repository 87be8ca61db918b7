// GC overhead of heapdiff's hook: the same GC-heavy workload with and without a `stats`
// listener (and without the module at all), in fresh processes, interleaved, several rounds.
// Usage: node bench/gc-overhead.mjs [rounds=7] [node binary]
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const rounds = Number(process.argv[2] ?? 7)
const node = process.argv[3] ?? process.execPath

// The workload: 300 forced full GCs (global.gc, the same in every mode) interleaved with churn
// that also triggers natural scavenges, yielding to the event loop after each. Prints elapsed ms
// and the GC counts.
const workload = (mode) => `
  const mode = ${JSON.stringify(mode)};
  let mw = null, events = 0;
  if (mode !== 'none') mw = require(${JSON.stringify(root)});
  if (mode === 'listener') mw.on('stats', () => events++);
  const { PerformanceObserver } = require('perf_hooks');
  let full = 0, minor = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) (e.detail?.kind ?? e.kind) === 4 ? full++ : minor++; }).observe({ entryTypes: ['gc'] });
  const keep = [];
  for (let i = 0; i < 2e4; i++) keep.push({ i, s: 'k' + i });
  (async () => {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < 300; r++) {
      let junk = [];
      for (let i = 0; i < 2e4; i++) junk.push({ i, s: String(i) });
      junk = null;
      global.gc();
      // Yield so that stats events are delivered inside the timed region, as in a service.
      await new Promise((res) => setImmediate(res));
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    setTimeout(() => console.log(JSON.stringify({ ms, full, minor, events })), 20);
  })();
`

const modes = ['none', 'loaded', 'listener']
const results = Object.fromEntries(modes.map((m) => [m, []]))
let gcs = { full: 0, minor: 0 }
for (let r = 0; r < rounds; r++) {
  for (const mode of modes) {
    const out = execFileSync(node, ['--expose-gc', '-e', workload(mode)], { encoding: 'utf8' })
    const res = JSON.parse(out.trim().split('\n').pop())
    results[mode].push(res.ms)
    if (mode === 'listener') gcs = res
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const base = median(results.none)
console.log(
  `GC overhead on ${node === process.execPath ? 'node ' + process.version : node}, ${rounds} rounds, median ms:`,
)
console.log(
  `  workload: 300 forced full GCs + churn; per run ${gcs.full} full and ${gcs.minor} other GCs, ${gcs.events} stats events`,
)
for (const mode of modes) {
  const m = median(results[mode])
  const perGcUs = ((m - base) * 1000) / (gcs.full + gcs.minor)
  console.log(
    `  ${mode.padEnd(9)} ${m.toFixed(1).padStart(8)} ms   ${(((m - base) / base) * 100).toFixed(2).padStart(6)}%   ${perGcUs.toFixed(2)} µs per GC`,
  )
}
