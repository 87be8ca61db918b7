import test from 'ava'
import { execFile } from 'node:child_process'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { resolve } from 'node:path'
import { Registry } from 'prom-client'
import { MeterProvider, MetricReader, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics'

import memwatch = require('..')
import metrics = require('../metrics')
import type { GcStats } from '..'

const root = resolve(__dirname, '..')

/** A Prometheus text-format sample: what a scraper sees, parsed independently of the exporter. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

function parse(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) })
  }
  return out
}

function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (hits.length !== 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${hits.length} samples`)
  return hits[0].value
}

const PERF_KIND: Record<number, string> = { 1: 'minor', 2: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' }

/** Counts GCs by type as Node's own perf_hooks sees them: the independent truth for the pause counts. */
function perfGcs() {
  const entries: { kind: number; startTime: number }[] = []
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push({ kind: (e as any).detail.kind, startTime: e.startTime })
  })
  obs.observe({ entryTypes: ['gc'] })
  return {
    /** GCs that started before `until` (performance.now()), once their entries arrived. */
    async counts(until: number, from = 0): Promise<Record<string, number>> {
      await new Promise((r) => setTimeout(r, 100))
      obs.disconnect()
      const c: Record<string, number> = { major: 0, minor: 0, incremental: 0, weakcb: 0 }
      for (const e of entries) if (e.startTime >= from && e.startTime < until) c[PERF_KIND[e.kind]]++
      return c
    },
  }
}

/** Allocation with survivors (scavenges, incremental marking) and forced full GCs. */
function workload(): void {
  let keep: object[] = []
  for (let r = 0; r < 12; r++) {
    for (let i = 0; i < 1e5; i++) keep.push({ i, s: 'x' + i })
    if (r % 4 === 0) keep = []
    if (r % 5 === 0) memwatch.gc()
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test.serial(
  'Prometheus: figures match the stats events, pause counts match perf_hooks, every series is labelled',
  async (t) => {
    const register = new Registry()
    const stats: GcStats[] = []
    const onStats = (s: GcStats) => stats.push(s)
    memwatch.on('stats', onStats)
    const h = metrics.registerPrometheus({ register, prefix: 'app_', labels: { service: 'checkout' } })
    try {
      const perf = perfGcs()
      // The counts are cumulative: compare their change with the GCs perf_hooks saw start after
      // this read (taken right next to it).
      const from = performance.now()
      const before = parse(await register.metrics())
      workload()
      await sleep(50)
      const until = performance.now()
      const text = await register.metrics()
      // The newest stats event at the scrape (another GC may follow while perf_hooks catches up).
      const last = stats[stats.length - 1]
      const after = parse(text)
      const truth = await perf.counts(until, from)
      const labels = { service: 'checkout', thread: '0' }
      t.true(stats.length >= 3)
      t.is(one(after, 'app_nodejs_heap_post_gc_used_bytes', labels), last.current_base)
      t.is(one(after, 'app_nodejs_heap_estimated_base_bytes', labels), last.estimated_base)
      t.is(one(after, 'app_nodejs_heap_usage_trend_ratio', labels), last.usage_trend / 100)
      t.is(one(after, 'app_nodejs_heap_leak_suspected', labels), 0)
      t.is(one(after, 'app_nodejs_heap_leak_growth_bytes_per_second', labels), 0)
      t.is(one(after, 'app_nodejs_heap_leak_events_total', labels), 0)
      t.is(one(after, 'app_nodejs_external_memory_post_gc_bytes', labels), last.external_memory)
      t.is(one(after, 'app_nodejs_external_memory_leak_suspected', labels), 0)
      t.is(one(after, 'app_nodejs_external_memory_leak_growth_bytes_per_second', labels), 0)
      t.is(one(after, 'app_nodejs_external_memory_leak_events_total', labels), 0)
      t.is(one(after, 'app_nodejs_native_memory_post_gc_bytes', labels), last.native_memory)
      for (const kind of ['major', 'minor', 'incremental', 'weakcb']) {
        const k = { ...labels, kind }
        // A kind's series appear with its first GC.
        const has = (s: Sample[]) =>
          s.some((x) => x.name === 'app_nodejs_gc_pause_seconds_count' && x.labels.kind === kind)
        const count = (s: Sample[]) => (has(s) ? one(s, 'app_nodejs_gc_pause_seconds_count', k) : 0)
        t.is(count(after) - count(before), truth[kind], `${kind} GCs`)
        if (!has(after)) continue
        t.is(one(after, 'app_nodejs_gc_pause_seconds_bucket', { ...k, le: '+Inf' }), count(after))
        // Cumulative buckets never decrease.
        const buckets = after
          .filter((s) => s.name === 'app_nodejs_gc_pause_seconds_bucket' && s.labels.kind === kind)
          .map((s) => s.value)
        t.deepEqual(
          buckets,
          [...buckets].sort((a, b) => a - b),
        )
      }
      t.true(truth.major >= 6 && truth.minor > 0, JSON.stringify(truth))
      // Every sample carries the constant labels and the thread.
      t.true(after.every((s) => s.labels.service === 'checkout' && s.labels.thread === '0'))
      t.regex(text, /# TYPE app_nodejs_gc_pause_seconds histogram/)
      t.regex(text, /# TYPE app_nodejs_heap_leak_events_total counter/)
    } finally {
      h.stop()
      memwatch.off('stats', onStats)
    }
  },
)

test.serial(
  'Prometheus: registering twice, a taken name and stop() twice; stop() removes series and the listener',
  async (t) => {
    const register = new Registry()
    const listeners = memwatch.listenerCount('leak')
    t.false(memwatch.status().active)
    const h = metrics.registerPrometheus({ register })
    t.is(memwatch.listenerCount('leak'), listeners + 1)
    t.true(memwatch.status().active, 'registering keeps the native figures flowing')
    t.throws(() => metrics.registerPrometheus({ register }), {
      message:
        /cannot register nodejs_heap_post_gc_used_bytes: heapdiff already registered it there \(stop\(\) the earlier handle first\)/,
    })
    // A second registry is independent.
    const other = new Registry()
    const h2 = metrics.registerPrometheus({ register: other })
    t.is(memwatch.listenerCount('leak'), listeners + 2)
    h2.stop()
    t.is(await other.metrics(), '\n')
    h.stop()
    t.true(h.stopped)
    t.notThrows(() => h.stop(), 'stop() twice is a no-op')
    t.is(await register.metrics(), '\n', 'no series left')
    t.is(memwatch.listenerCount('leak'), listeners)
    t.false(memwatch.status().active)

    const taken = new Registry()
    const { Gauge } = await import('prom-client')
    new Gauge({ name: 'nodejs_heap_leak_suspected', help: 'someone else', registers: [taken] })
    t.throws(() => metrics.registerPrometheus({ register: taken }), {
      message: /cannot register nodejs_heap_leak_suspected: the registry already has a metric of that name/,
    })
    t.is(taken.getMetricsAsArray().length, 1, 'nothing was registered')
    t.is(memwatch.listenerCount('leak'), listeners, 'no listener left behind')

    t.throws(() => metrics.registerPrometheus({ register, bogus: 1 } as any), {
      instanceOf: TypeError,
      message: /unknown option "bogus"/,
    })
    t.throws(() => metrics.registerPrometheus({ register, prefix: 'a-b' }), {
      instanceOf: TypeError,
      message: /prefix/,
    })
    t.throws(() => metrics.registerPrometheus({ register, labels: { thread: 'x' } }), {
      instanceOf: TypeError,
      message: /label "thread" is set by heapdiff itself/,
    })
    t.throws(() => metrics.registerPrometheus({ register, labels: { a: 1 as any } }), { instanceOf: TypeError })
    t.throws(() => metrics.registerPrometheus({ register: {} as any }), { instanceOf: TypeError, message: /Registry/ })
    t.is(memwatch.listenerCount('leak'), listeners)
  },
)

test.serial('Prometheus: the top sites of the last leak event, bounded, replaced by the next event', async (t) => {
  const register = new Registry()
  const h = metrics.registerPrometheus({ register })
  try {
    const site = (i: number) => ({
      name: `alloc${i}`,
      url: `file:///srv/app${i}.js`,
      line: 10 + i,
      column: 3,
      stack: [],
      growth_bytes: 1000 * i,
      live_bytes: 2000 * i,
      live_count: i,
    })
    // The leak event shape of the allocation sampler (sampling itself is not on this branch).
    const leak = { memory: 'heap', start: new Date(), end: new Date(), growth: 1, gcs: 10, reason: 'r' }
    memwatch.emit('leak', { ...leak, sites: [1, 7, 3, 5, 2, 6, 4].map(site) } as any)
    const got = parse(await register.metrics()).filter((s) => s.name === 'nodejs_heap_leak_site_growth_bytes')
    t.is(got.length, metrics.TOP_SITES)
    t.deepEqual(
      got.map((s) => [s.labels.rank, s.labels.function, s.value]),
      [
        ['1', 'alloc7', 7000],
        ['2', 'alloc6', 6000],
        ['3', 'alloc5', 5000],
        ['4', 'alloc4', 4000],
        ['5', 'alloc3', 3000],
      ],
    )
    t.deepEqual(got[0].labels, {
      thread: '0',
      rank: '1',
      function: 'alloc7',
      url: 'file:///srv/app7.js',
      line: '17',
      column: '3',
    })
    // An external leak names no sites: the heap's stay.
    memwatch.emit('leak', { ...leak, memory: 'external' } as any)
    t.is(parse(await register.metrics()).filter((s) => s.name === 'nodejs_heap_leak_site_growth_bytes').length, 5)
    memwatch.emit('leak', leak as any)
    t.deepEqual(
      parse(await register.metrics()).filter((s) => s.name === 'nodejs_heap_leak_site_growth_bytes'),
      [],
      'a leak event without sites clears them',
    )
  } finally {
    h.stop()
  }
})

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function find(rm: ResourceMetrics, name: string) {
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === name) return m
  return undefined
}

test.serial(
  'OpenTelemetry SDK: every instrument with its unit and attributes; v8js.gc.duration counts every GC',
  async (t) => {
    const reader = new TestReader()
    const provider = new MeterProvider({ readers: [reader] })
    const stats: GcStats[] = []
    const onStats = (s: GcStats) => stats.push(s)
    memwatch.on('stats', onStats)
    const perf = perfGcs()
    const from = performance.now()
    const h = metrics.registerOpenTelemetry({
      meter: provider.getMeter('test'),
      attributes: { 'service.name': 'checkout' },
    })
    try {
      workload()
      await sleep(50)
      const until = performance.now()
      const { resourceMetrics: rm } = await reader.collect()
      const last = stats[stats.length - 1]
      const truth = await perf.counts(until, from)
      const attrs = { 'service.name': 'checkout', 'thread.id': 0 }
      const gauges: [string, string, number][] = [
        ['heapdiff.heap.post_gc.used', 'By', last.current_base],
        ['heapdiff.heap.estimated_base', 'By', last.estimated_base],
        ['heapdiff.heap.usage_trend', '1', last.usage_trend / 100],
        ['heapdiff.leak.suspected', '1', 0],
        ['heapdiff.leak.growth_rate', 'By/s', 0],
        ['heapdiff.external.post_gc', 'By', last.external_memory],
        ['heapdiff.external.leak.suspected', '1', 0],
        ['heapdiff.external.leak.growth_rate', 'By/s', 0],
        ['heapdiff.native.post_gc', 'By', last.native_memory!],
      ]
      for (const [name, unit, value] of gauges) {
        const m = find(rm, name)
        t.truthy(m, name)
        t.is(m!.descriptor.unit, unit, name)
        t.is(m!.dataPointType, DataPointType.GAUGE, name)
        t.deepEqual(
          m!.dataPoints.map((d) => [d.attributes, d.value]),
          [[attrs, value]],
          name,
        )
      }
      const events = find(rm, 'heapdiff.leak.events')!
      t.is(events.descriptor.unit, '{event}')
      t.is(events.dataPointType, DataPointType.SUM)
      t.deepEqual(
        events.dataPoints.map((d) => [d.attributes, d.value]),
        [[attrs, 0]],
      )
      t.deepEqual(
        find(rm, 'heapdiff.external.leak.events')!.dataPoints.map((d) => [d.attributes, d.value]),
        [[attrs, 0]],
      )
      t.deepEqual(
        find(rm, 'heapdiff.gc.dropped_pauses')!.dataPoints.map((d) => d.value),
        [0],
      )
      const duration = find(rm, 'v8js.gc.duration')!
      t.is(duration.descriptor.unit, 's')
      t.is(duration.dataPointType, DataPointType.HISTOGRAM)
      const byType: Record<string, number> = { major: 0, minor: 0, incremental: 0, weakcb: 0 }
      for (const d of duration.dataPoints) {
        const { 'v8js.gc.type': type, ...rest } = d.attributes
        t.deepEqual(rest, attrs)
        t.true(['major', 'minor', 'incremental', 'weakcb'].includes(type as string), String(type))
        const v = d.value as { count: number; sum: number; buckets: { boundaries: number[] } }
        byType[type as string] = v.count
        t.true(v.sum > 0)
        t.deepEqual(
          v.buckets.boundaries,
          [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        )
      }
      t.deepEqual(byType, truth, 'one recorded pause per GC perf_hooks saw, none dropped')
      t.true(truth.major >= 6 && truth.minor > 0, JSON.stringify(truth))

      t.throws(() => metrics.registerOpenTelemetry({ meter: provider.getMeter('again') }), {
        message: /already active on this thread/,
      })
      t.throws(() => metrics.registerOpenTelemetry({ meter: {} as any }), { instanceOf: TypeError })
    } finally {
      h.stop()
      memwatch.off('stats', onStats)
    }
    t.notThrows(() => h.stop())
    t.false(memwatch.status().active)
    // Stopped: pauses are no longer recorded (the SDK itself keeps reporting the cumulative
    // values it has), and a new registration is allowed.
    const majors = async () => {
      const { resourceMetrics } = await reader.collect()
      const d = find(resourceMetrics, 'v8js.gc.duration')!.dataPoints.find(
        (p) => p.attributes['v8js.gc.type'] === 'major',
      )
      return (d!.value as { count: number }).count
    }
    const stoppedAt = await majors()
    memwatch.gc()
    memwatch.gc()
    await sleep(20)
    t.is(await majors(), stoppedAt)
    metrics.registerOpenTelemetry({ meter: provider.getMeter('again') }).stop()
    await provider.shutdown()
  },
)

/** Runs a script in a fresh Node process (the one under test). */
function child(
  script: string,
  timeout = 60000,
): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const started = Date.now()
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['-e', script],
      { cwd: root, timeout, encoding: 'utf8', env: { ...process.env, HEAPDIFF_ROOT: root } },
      (error, out, err) =>
        done({ code: error ? ((error as any).code ?? null) : 0, out, err, ms: Date.now() - started }),
    )
  })
}

test('no timer or handle keeps a process alive, registered or stopped; stop() leaves no resources', async (t) => {
  const common = `
    const { registerPrometheus, registerOpenTelemetry } = require(process.env.HEAPDIFF_ROOT + '/metrics');
    const { MeterProvider } = require('@opentelemetry/sdk-metrics');
    const meter = new MeterProvider().getMeter('t');
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
  `
  const stays = await child(
    common + `registerPrometheus(); registerOpenTelemetry({ meter }); require(process.env.HEAPDIFF_ROOT).gc();`,
  )
  t.is(stays.code, 0, stays.err)
  t.true(stays.ms < 20000)
  const stopped = await child(
    common +
      `const a = registerPrometheus(), b = registerOpenTelemetry({ meter }); a.stop(); b.stop();
       const now = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
       console.log(JSON.stringify({ before, now, prom: require('prom-client').register.getMetricsAsArray().length }));`,
  )
  t.is(stopped.code, 0, stopped.err)
  const r = JSON.parse(stopped.out)
  t.deepEqual(r.now, r.before)
  t.is(r.prom, 0)
})

test('CJS and ESM entry points; neither peer is loaded unless needed, and a missing one is named', async (t) => {
  const esm = await child(`
    import('heapdiff/metrics').then(async (m) => {
      const cjs = require('heapdiff/metrics');
      const loaded = () => Object.keys(require.cache).filter((k) => /node_modules\\/(prom-client|@opentelemetry\\/api)\\//.test(k)).length;
      const base = loaded();
      console.log(JSON.stringify({ same: m.registerPrometheus === cjs.registerPrometheus && m.default === cjs, esmNames: Object.keys(m).sort(), base }));
    });
  `)
  t.is(esm.code, 0, esm.err)
  const r = JSON.parse(esm.out)
  t.true(r.same)
  t.deepEqual(r.esmNames, ['TOP_SITES', 'default', 'registerOpenTelemetry', 'registerPrometheus'])
  t.is(r.base, 0, 'loading heapdiff/metrics loads no peer')
  // Where the peers cannot be resolved (not installed), the error says what to install.
  const missing = await child(`
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (req, ...rest) {
      if (req === 'prom-client' || req === '@opentelemetry/api') throw Object.assign(new Error("Cannot find module '" + req + "'"), { code: 'MODULE_NOT_FOUND' });
      return resolve.call(this, req, ...rest);
    };
    const m = require('heapdiff/metrics');
    for (const f of [() => m.registerPrometheus(), () => m.registerOpenTelemetry()]) {
      try { f(); console.log('no error'); } catch (e) { console.log(e.message); }
    }
  `)
  t.is(missing.code, 0, missing.err)
  t.deepEqual(missing.out.trim().split('\n'), [
    'heapdiff/metrics: registerPrometheus() needs the optional peer dependency prom-client (npm install prom-client), or pass options.register',
    'heapdiff/metrics: registerOpenTelemetry() needs the optional peer dependency @opentelemetry/api (npm install @opentelemetry/api), or pass options.meter',
  ])
})

test('workers that register get their own series, matching their own stats; a worker exit removes them without a crash', async (t) => {
  const r = await child(`
    const { Worker } = require('node:worker_threads');
    const { registerPrometheus, registerOpenTelemetry } = require(process.env.HEAPDIFF_ROOT + '/metrics');
    const { Registry } = require('prom-client');
    const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
    class Reader extends MetricReader { async onForceFlush() {} async onShutdown() {} }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const register = new Registry();
    const prom = registerPrometheus({ register });
    const otel = registerOpenTelemetry({ meter: provider.getMeter('t') });
    const code = \`
      const { parentPort } = require('node:worker_threads');
      const mw = require(process.env.HEAPDIFF_ROOT);
      const m = require(process.env.HEAPDIFF_ROOT + '/metrics');
      const a = m.registerPrometheus(), b = m.registerOpenTelemetry();
      let last;
      let seen = 0;
      // Reports once the three gc() calls' stats events arrived.
      mw.on('stats', (s) => { last = s.current_base; if (++seen === 3) parentPort.postMessage({ last, counts: mw.status().counts }); });
      let keep = [];
      for (let i = 0; i < 3; i++) { for (let j = 0; j < 5e4; j++) keep.push({ j }); mw.gc(); }
      parentPort.on('message', (msg) => { if (msg === 'stop') { a.stop(); b.stop(); parentPort.postMessage('stopped'); } else process.exit(0); });
    \`;
    const workers = [0, 1, 2].map(() => new Worker(code, { eval: true }));
    const ids = workers.map((w) => w.threadId);
    const first = (w) => new Promise((res) => w.once('message', res));
    (async () => {
      const reports = await Promise.all(workers.map(first));
      const text = await register.metrics();
      const { resourceMetrics } = await reader.collect();
      const dur = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'v8js.gc.duration');
      const otelMajor = {};
      for (const d of dur.dataPoints) if (d.attributes['v8js.gc.type'] === 'major') otelMajor[d.attributes['thread.id']] = d.value.count;
      // One worker stops its registration, one exits, one is terminated.
      workers[0].postMessage('stop'); await first(workers[0]);
      const exited = new Promise((res) => workers[1].once('exit', res));
      workers[1].postMessage('exit'); const code1 = await exited;
      await workers[2].terminate();
      const after = await register.metrics();
      workers[0].postMessage('exit');
      prom.stop(); otel.stop();
      console.log(JSON.stringify({ ids, reports, text, otelMajor, after, code1 }));
    })().catch((e) => { console.error(e); process.exit(3); });
  `)
  t.is(r.code, 0, r.err)
  const { ids, reports, text, otelMajor, after, code1 } = JSON.parse(r.out)
  const samples = parse(text)
  const threads = [...new Set(samples.map((s) => s.labels.thread))].sort()
  t.deepEqual(threads, ['0', ...ids.map(String)].sort())
  ids.forEach((id: number, i: number) => {
    const thread = String(id)
    t.is(one(samples, 'nodejs_heap_post_gc_used_bytes', { thread }), reports[i].last, `worker ${id}'s own stats`)
    t.is(
      one(samples, 'nodejs_gc_pause_seconds_count', { thread, kind: 'major' }),
      reports[i].counts.mark_sweep_compact,
      `worker ${id}'s full GCs`,
    )
    // gc() runs two full GCs; the worker's three make six, all seen through the main thread's meter.
    t.is(otelMajor[id], 6, `worker ${id} in OpenTelemetry`)
  })
  t.is(code1, 0)
  t.deepEqual(
    [...new Set(parse(after).map((s) => s.labels.thread))],
    ['0'],
    'stopped, exited and terminated workers are gone',
  )
})
