// What heapdiff's GC hook costs the host's garbage collections.
//
// The same GC-heavy workload (forced full GCs plus allocation churn that triggers natural
// scavenges and full GCs, over a ~40 MB live heap) runs in fresh processes, interleaved, in
// three modes that load the SAME JavaScript, so heap size is equal and only the hook differs:
//   baseline  heapdiff loaded with HEAPDIFF_DISABLE_V8_HOOKS=1: no V8 callbacks at all
//   hook      heapdiff loaded, callbacks registered, no listener (counters only)
//   listener  callbacks registered and a `stats` listener: heap figures read in every full GC,
//             events built and delivered on the event loop
// It reports wall time per mode (median of rounds), the overhead against baseline, and the
// time measured inside heapdiff's own callbacks (status().callback_ms), per GC.
//
// Usage: node bench/gc-overhead.mjs [rounds=7] [node binary]
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const rounds = Number(process.argv[2] ?? 7)
const node = process.argv[3] ?? process.execPath
const FORCED = 100

const workload = (mode) => `
  const mw = require(${JSON.stringify(root)});
  let events = 0;
  if (${JSON.stringify(mode)} === 'listener') mw.on('stats', () => events++);
  const { PerformanceObserver } = require('perf_hooks');
  let full = 0, other = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) (e.detail?.kind ?? e.kind) === 4 ? full++ : other++; }).observe({ entryTypes: ['gc'] });
  class Rec { constructor(i) { this.i = i; this.s = 'k' + i; this.o = { i }; } }
  const live = [];
  for (let i = 0; i < 4e5; i++) live.push(new Rec(i));
  (async () => {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < ${FORCED}; r++) {
      let junk = [];
      for (let i = 0; i < 5e4; i++) junk.push({ i, s: String(i) });
      junk = null;
      global.gc();
      // Yield so that stats events are delivered inside the timed region, as in a service.
      await new Promise((res) => setImmediate(res));
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    setTimeout(() => {
      const st = mw.status();
      console.log(JSON.stringify({ ms, full, other, events, callbacks: st.callbacks, callbackMs: st.callbackMs, live: live.length }));
    }, 20);
  })();
`

const modes = ['baseline', 'hook', 'listener']
const runs = Object.fromEntries(modes.map((m) => [m, []]))
for (let r = 0; r < rounds; r++) {
  for (const mode of modes) {
    const env = { ...process.env }
    if (mode === 'baseline') env.HEAPDIFF_DISABLE_V8_HOOKS = '1'
    else delete env.HEAPDIFF_DISABLE_V8_HOOKS
    const out = execFileSync(node, ['--expose-gc', '-e', workload(mode)], { encoding: 'utf8', env })
    runs[mode].push(JSON.parse(out.trim().split('\n').pop()))
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
const base = median(runs.baseline.map((r) => r.ms))
const sample = runs.listener[0]
const gcs = sample.full + sample.other
console.log(`GC overhead, node ${version}, ${rounds} rounds per mode, medians:`)
console.log(
  `  workload: ${FORCED} forced full GCs + churn over a ${sample.live}-object live heap; per run ${sample.full} full and ${sample.other} other GCs`,
)
console.log('  mode        wall ms   vs baseline   per GC (wall)   inside heapdiff callbacks per GC')
for (const mode of modes) {
  const ms = median(runs[mode].map((r) => r.ms))
  const inside = mode === 'baseline' ? 0 : median(runs[mode].map((r) => (r.callbackMs * 1000) / gcs))
  const pct = ((ms - base) / base) * 100
  const all = runs[mode].map((r) => r.ms.toFixed(0)).join(' ')
  console.log(
    `  ${mode.padEnd(9)} ${ms.toFixed(1).padStart(8)}   ${(pct >= 0 ? '+' : '') + pct.toFixed(2).padStart(5)}%   ${(((ms - base) * 1000) / gcs).toFixed(1).padStart(9)} µs   ${inside.toFixed(2).padStart(10)} µs   (runs: ${all})`,
  )
}
