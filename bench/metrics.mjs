// What heapdiff/metrics costs: per full GC, and per scrape with 8 workers registered.
//
// Part 1, per full GC. The same workload (forced full GCs plus churn that triggers scavenges,
// over a live heap) runs in fresh processes, interleaved, in modes that load the same code:
//   hook        heapdiff loaded, no listener: the hook counts and records pauses (the floor)
//   stats       a plain `stats` listener: heap figures read in every full GC, events delivered
//   prometheus  registerPrometheus() on a registry (no scrape during the run)
//   otel        registerOpenTelemetry() on a real SDK MeterProvider (no collection during the run)
//   prom-default  prom-client's collectDefaultMetrics() instead (its GC histogram from perf_hooks)
// Reported: wall time per full GC (median of rounds), its difference to `hook`, the time inside
// heapdiff's own GC callbacks per GC (status().callbackMs around each GC, median), peak RSS.
//
// Part 2, per scrape: the main thread registers Prometheus (and, separately, OpenTelemetry),
// 8 workers register and keep collecting; `await register.metrics()` (and `reader.collect()`)
// timed over many scrapes, against prom-client's own default metrics scraped the same way.
//
// Usage: node bench/metrics.mjs [rounds=5] [node binary]
import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bench = join(root, 'bench')
const rounds = Number(process.argv[2] ?? 5)
const node = process.argv[3] ?? process.execPath
const FORCED = 100

const gcRun = (mode) => `
  const mw = require(${JSON.stringify(root)});
  const metrics = require(${JSON.stringify(root + '/metrics')});
  const prom = require(${JSON.stringify(join(bench, 'node_modules', 'prom-client'))});
  const { MeterProvider, MetricReader } = require(${JSON.stringify(join(root, 'node_modules', '@opentelemetry', 'sdk-metrics'))});
  const mode = ${JSON.stringify(mode)};
  if (mode === 'stats') mw.on('stats', () => {});
  if (mode === 'prometheus') metrics.registerPrometheus({ register: new prom.Registry() });
  if (mode === 'otel') {
    class Reader extends MetricReader { async onForceFlush() {} async onShutdown() {} }
    metrics.registerOpenTelemetry({ meter: new MeterProvider({ readers: [new Reader()] }).getMeter('bench') });
  }
  if (mode === 'prom-default') prom.collectDefaultMetrics({ register: new prom.Registry() });
  class Rec { constructor(i) { this.i = i; this.s = 'k' + i; this.o = { i }; } }
  const live = [];
  for (let i = 0; i < 1e5; i++) live.push(new Rec(i));
  (async () => {
    const before = mw.status();
    const t0 = process.hrtime.bigint();
    const inside = [];
    for (let r = 0; r < ${FORCED}; r++) {
      let junk = [];
      for (let i = 0; i < 2e4; i++) junk.push({ i, s: String(i) });
      junk = null;
      const a = mw.status();
      global.gc();
      const b = mw.status();
      // Per GC (a prologue and an epilogue call each): the median below is robust to a
      // preemption of the process inside one callback on a loaded machine.
      inside.push(((b.callbackMs - a.callbackMs) * 2000) / Math.max(1, b.callbacks - a.callbacks));
      // Yield so that events (and perf_hooks entries) are handled inside the timed region.
      await new Promise((res) => setImmediate(res));
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const st = mw.status();
    const full = st.counts.mark_sweep_compact - before.counts.mark_sweep_compact;
    const all = Object.values(st.counts).reduce((a, b) => a + b) - Object.values(before.counts).reduce((a, b) => a + b);
    inside.sort((x, y) => x - y);
    console.log(JSON.stringify({ ms, full, all, insideUs: inside[inside.length >> 1], rss: process.resourceUsage().maxRSS / 1024 }));
  })();
`

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()

const modes = ['hook', 'stats', 'prometheus', 'otel', 'prom-default']
const runs = Object.fromEntries(modes.map((m) => [m, []]))
for (let r = 0; r < rounds; r++) {
  for (const mode of modes) {
    const out = execFileSync(node, ['--expose-gc', '-e', gcRun(mode)], { encoding: 'utf8' })
    runs[mode].push(JSON.parse(out.trim().split('\n').pop()))
  }
}
const perGc = (r) => (r.ms * 1000) / r.full
const floor = median(runs.hook.map(perGc))
const stats = median(runs.stats.map(perGc))
console.log(
  `heapdiff/metrics per full GC, node ${version}, ${rounds} rounds per mode, medians; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} CPUs:`,
)
const s0 = runs.stats[0]
console.log(
  `  workload: ${FORCED} global.gc() calls (${s0.full} full GCs) + churn over a 100000-object live heap; ${s0.all} GCs of all kinds per run`,
)
console.log('  mode          µs per full GC   vs hook    vs stats   in heapdiff callbacks per GC   peak RSS')
for (const mode of modes) {
  const us = median(runs[mode].map(perGc))
  const inside = median(runs[mode].map((r) => r.insideUs))
  const rss = median(runs[mode].map((r) => r.rss))
  const all = runs[mode].map((r) => perGc(r).toFixed(0)).join(' ')
  const d = (x) => (x >= 0 ? '+' : '') + x.toFixed(1)
  console.log(
    `  ${mode.padEnd(12)} ${us.toFixed(1).padStart(10)}   ${d(us - floor).padStart(8)}   ${d(us - stats).padStart(8)}   ${inside.toFixed(2).padStart(12)} µs   ${rss.toFixed(0).padStart(6)} MB   (runs: ${all})`,
  )
}

// Part 2.
const scrapeRun = `
  const { Worker } = require('node:worker_threads');
  const metrics = require(${JSON.stringify(root + '/metrics')});
  const prom = require(${JSON.stringify(join(bench, 'node_modules', 'prom-client'))});
  const { MeterProvider, MetricReader } = require(${JSON.stringify(join(root, 'node_modules', '@opentelemetry', 'sdk-metrics'))});
  class Reader extends MetricReader { async onForceFlush() {} async onShutdown() {} }
  const WORKERS = 8, N = 1000;
  const code = \`
    const { parentPort } = require('node:worker_threads');
    const mw = require(${JSON.stringify(root)});
    const m = require(${JSON.stringify(root + '/metrics')});
    m.registerPrometheus(); m.registerOpenTelemetry();
    let keep = [];
    for (let i = 0; i < 3; i++) mw.gc();
    // Light churn: scavenges and now and then a full GC while the main thread scrapes.
    setInterval(() => { for (let i = 0; i < 1e4; i++) keep.push({ i }); if (keep.length > 1e5) keep = []; }, 100);
    parentPort.postMessage('ready');
  \`;
  const time = async (f) => { const xs = []; for (let i = 0; i < N + 50; i++) { const t = process.hrtime.bigint(); await f(); xs.push(Number(process.hrtime.bigint() - t) / 1e6); } return xs.slice(50); };
  (async () => {
    const register = new prom.Registry();
    metrics.registerPrometheus({ register });
    const reader = new Reader();
    metrics.registerOpenTelemetry({ meter: new MeterProvider({ readers: [reader] }).getMeter('bench') });
    const defaults = new prom.Registry();
    prom.collectDefaultMetrics({ register: defaults });
    const workers = Array.from({ length: WORKERS }, () => new Worker(code, { eval: true }));
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    const text = await register.metrics();
    const series = text.split('\\n').filter((l) => l && !l.startsWith('#')).length;
    const threads = new Set([...text.matchAll(/thread="(\\d+)"/g)].map((m) => m[1])).size;
    const promMs = await time(() => register.metrics());
    const otelMs = await time(() => reader.collect());
    const defaultMs = await time(() => defaults.metrics());
    const defaultSeries = (await defaults.metrics()).split('\\n').filter((l) => l && !l.startsWith('#')).length;
    console.log(JSON.stringify({ series, threads, promMs, otelMs, defaultMs, defaultSeries, rss: process.resourceUsage().maxRSS / 1024 }));
    process.exit(0);
  })();
`
const sc = JSON.parse(execFileSync(node, ['-e', scrapeRun], { encoding: 'utf8' }).trim().split('\n').pop())
const fmt = (xs) =>
  `min ${pct(xs, 0).toFixed(3)} ms, median ${median(xs).toFixed(3)} ms, p90 ${pct(xs, 0.9).toFixed(3)} ms, p99 ${pct(xs, 0.99).toFixed(3)} ms`
console.log(
  `\nScrape with 8 workers registered (${sc.threads} threads, ${sc.series} samples), ${sc.promMs.length} scrapes each, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} CPUs:`,
)
console.log(`  heapdiff, register.metrics():            ${fmt(sc.promMs)}`)
console.log(`  heapdiff, OpenTelemetry reader.collect(): ${fmt(sc.otelMs)}`)
console.log(`  prom-client collectDefaultMetrics (main thread only, ${sc.defaultSeries} samples): ${fmt(sc.defaultMs)}`)
console.log(
  `  ratio heapdiff / prom-client defaults: ${(median(sc.promMs) / median(sc.defaultMs)).toFixed(2)}×; peak RSS ${sc.rss.toFixed(0)} MB`,
)
