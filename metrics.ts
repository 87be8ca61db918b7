/**
 * heapdiff/metrics: the post-GC heap, the leak rule's verdict and every GC's pause, exported to
 * Prometheus (prom-client) and OpenTelemetry. Both are optional peer dependencies, loaded only
 * when a registration needs them (neither is loaded when a registry or meter is passed in).
 *
 * Every figure is read from native state at scrape/collection time: pauses are counted in V8's
 * GC epilogue (nothing runs in JS per GC), the heap figures and the verdict are what the thread's
 * own `stats`/`leak` pipeline computed. A worker that registers publishes its thread's figures
 * to the process-wide list the main thread's registration reads (label `thread`).
 */
import { isMainThread, threadId } from 'node:worker_threads'

// index first: where the native module is missing, it names the platform package to install.
import memwatch = require('./index')
import binding = require('./binding')

/** The part of a prom-client `Registry` used here (any prom-client 13–15 registry has it). */
export interface PromRegistry {
  registerMetric(metric: any): void
  getSingleMetric(name: string): unknown
  removeSingleMetric(name: string): void
}

export interface PrometheusOptions {
  /** The prom-client registry to register on (default: prom-client's global `register`). */
  register?: PromRegistry
  /** Prepended to every metric name, as prom-client's `collectDefaultMetrics({ prefix })` does. */
  prefix?: string
  /** Constant labels added to every series. */
  labels?: Record<string, string>
}

type AttributeValue = string | number | boolean
type Attributes = Record<string, AttributeValue | undefined>

/** The parts of an OpenTelemetry `Meter` used here (`@opentelemetry/api` 1.x). */
export interface OtelObservable {}
export interface OtelObservableResult {
  observe(observable: OtelObservable, value: number, attributes?: Attributes): void
}
export interface OtelInstrumentOptions {
  description?: string
  unit?: string
  advice?: { explicitBucketBoundaries?: number[] }
}
export interface OtelMeter {
  createHistogram(
    name: string,
    options?: OtelInstrumentOptions,
  ): { record(value: number, attributes?: Attributes): void }
  createObservableGauge(name: string, options?: OtelInstrumentOptions): OtelObservable
  createObservableCounter(name: string, options?: OtelInstrumentOptions): OtelObservable
  addBatchObservableCallback(
    callback: (result: OtelObservableResult) => void | Promise<void>,
    observables: OtelObservable[],
  ): void
  removeBatchObservableCallback(
    callback: (result: OtelObservableResult) => void | Promise<void>,
    observables: OtelObservable[],
  ): void
}

export interface OpenTelemetryOptions {
  /** The meter to create instruments on (default: `metrics.getMeter('heapdiff')` of the global API). */
  meter?: OtelMeter
  /** Constant attributes added to every data point. */
  attributes?: Record<string, AttributeValue>
}

export interface MetricsHandle {
  /** Removes the series, the instruments' callbacks and the `leak` listener; a no-op when repeated. */
  stop(): void
  readonly stopped: boolean
}

/** Sites of the last leak exported per thread: a fixed bound on the sites metric's cardinality. */
export const TOP_SITES = 5

const GC_TYPES = ['major', 'minor', 'incremental', 'weakcb'] as const

/** Series labels/attributes set by heapdiff itself, which constant ones may not replace. */
const PROM_RESERVED = ['thread', 'kind', 'le', 'rank', 'function', 'url', 'line', 'column']
const OTEL_RESERVED = [
  'thread.id',
  'v8js.gc.type',
  'rank',
  'code.function.name',
  'code.file.path',
  'code.line.number',
  'code.column.number',
]

const PROM_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const PROM_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Marks heapdiff's own prom-client metric objects, so a second registration names the cause. */
const OURS = Symbol('heapdiff.metric')

let otelActive = false
let workerProm = false

function peer(name: string, fn: string, option: string): any {
  try {
    return require(name)
  } catch (err) {
    // Only the peer itself missing; a broken install of it surfaces as it is.
    const e = err as { code?: string; message?: string }
    if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(`'${name}'`)) throw err
    throw new Error(
      `heapdiff/metrics: ${fn}() needs the optional peer dependency ${name} (npm install ${name}), or pass options.${option}`,
    )
  }
}

function checkKeys(fn: string, options: unknown, allowed: string[]): Record<string, unknown> {
  if (options === undefined) return {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${fn}(): options must be an object, got ${options === null ? 'null' : typeof options}`)
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const hint = allowed.length ? `known options: ${allowed.join(', ')}` : 'a worker thread takes no options'
      throw new TypeError(`${fn}(): unknown option "${key}" (${hint})`)
    }
  }
  return options as Record<string, unknown>
}

/** In a worker: no registry or meter of its own, the main thread's registration exports it. */
function workerOnly(fn: string, options: unknown): void {
  checkKeys(fn, options, [])
}

/** The leak listener every registration holds: it keeps the thread's `stats`/`leak` pipeline
 *  running (figures are only read while a listener exists) and passes on the sites of the last
 *  leak where allocation sampling supplies them. */
function onLeak(info: memwatch.LeakEvent): void {
  // Sites name heap allocations; an external leak has none and leaves the heap's in place.
  if (info.memory !== 'heap') return
  const sites = (info as { sites?: unknown }).sites
  binding.metricsSetSites(Array.isArray(sites) ? topSites(sites) : [])
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0
}

function u32(v: unknown): number {
  return Math.min(0xffffffff, Math.max(0, Math.trunc(num(v))))
}

function topSites(sites: unknown[]): binding.LeakSiteJs[] {
  return sites
    .filter((s): s is Record<string, unknown> => s !== null && typeof s === 'object')
    .map((s) => ({
      name: typeof s.name === 'string' && s.name ? s.name : '(anonymous)',
      url: typeof s.url === 'string' ? s.url : '',
      line: u32(s.line),
      column: u32(s.column),
      growthBytes: num(s.growth_bytes),
      liveBytes: num(s.live_bytes),
    }))
    .sort((a, b) => b.growthBytes - a.growthBytes)
    .slice(0, TOP_SITES)
}

/** Takes what a registration holds on this thread; the returned function gives exactly that back. */
function hold(keepPauses: boolean): () => void {
  memwatch.on('leak', onLeak)
  binding.metricsPublish(threadId)
  if (keepPauses) binding.metricsKeepPauses(true)
  return () => {
    if (keepPauses) binding.metricsKeepPauses(false)
    binding.metricsUnpublish()
    memwatch.off('leak', onLeak)
  }
}

function handle(release: () => void): MetricsHandle {
  let stopped = false
  return {
    stop() {
      if (stopped) return
      stopped = true
      release()
    },
    get stopped() {
      return stopped
    },
  }
}

/** One native read per scrape, however many metric objects ask for it in that tick. */
let cached: binding.ThreadMetricsJs[] | null = null
function read(): binding.ThreadMetricsJs[] {
  if (!cached) {
    cached = binding.metricsRead()
    queueMicrotask(() => {
      cached = null
    })
  }
  return cached
}

let bounds: number[] | null = null
function pauseBounds(): number[] {
  return (bounds ??= binding.metricsPauseBounds())
}

interface PromValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/**
 * Registers heapdiff's metrics on a prom-client registry. Throws if the registry already has a
 * metric of one of these names (including an earlier, unstopped registration). In a worker
 * thread it takes no options and publishes the thread's series to the main thread's
 * registration (`thread` label).
 */
export function registerPrometheus(options?: PrometheusOptions): MetricsHandle {
  const fn = 'registerPrometheus'
  if (!isMainThread) {
    workerOnly(fn, options)
    if (workerProm) throw new Error(`${fn}() is already active on this thread; stop() the earlier handle first`)
    workerProm = true
    const release = hold(false)
    return handle(() => {
      workerProm = false
      release()
    })
  }
  const opts = checkKeys(fn, options, ['register', 'prefix', 'labels'])
  const prefix = opts.prefix ?? ''
  if (typeof prefix !== 'string' || (prefix !== '' && !PROM_NAME.test(prefix))) {
    throw new TypeError(
      `${fn}(): prefix must be a string of metric-name characters [a-zA-Z0-9_:], got ${String(prefix)}`,
    )
  }
  const labels = constantLabels(fn, opts.labels)
  let register = opts.register as PromRegistry | undefined
  if (register === undefined) register = peer('prom-client', fn, 'register').register as PromRegistry
  if (!register || typeof register.registerMetric !== 'function' || typeof register.getSingleMetric !== 'function') {
    throw new TypeError(`${fn}(): register must be a prom-client Registry`)
  }
  const reg = register
  const metrics = prometheusMetrics(prefix, labels)
  for (const m of metrics) {
    const existing = reg.getSingleMetric(m.name) as Record<symbol, unknown> | undefined
    if (existing) {
      const why = existing[OURS]
        ? 'heapdiff already registered it there (stop() the earlier handle first)'
        : 'the registry already has a metric of that name'
      throw new Error(`${fn}(): cannot register ${m.name}: ${why}`)
    }
  }
  for (const m of metrics) reg.registerMetric(m)
  const release = hold(false)
  return handle(() => {
    for (const m of metrics) if (reg.getSingleMetric(m.name) === m) reg.removeSingleMetric(m.name)
    release()
  })
}

function constantLabels(fn: string, labels: unknown): Record<string, string> {
  if (labels === undefined) return {}
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new TypeError(`${fn}(): labels must be an object of label name → string`)
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) {
    if (!PROM_LABEL.test(k) || k.startsWith('__')) throw new TypeError(`${fn}(): "${k}" is not a valid label name`)
    if (PROM_RESERVED.includes(k)) throw new TypeError(`${fn}(): label "${k}" is set by heapdiff itself`)
    if (typeof v !== 'string') throw new TypeError(`${fn}(): label "${k}" must be a string, got ${typeof v}`)
    out[k] = v
  }
  return out
}

function prometheusMetrics(prefix: string, labels: Record<string, string>) {
  const pauseName = prefix + 'nodejs_gc_pause_seconds'
  // One scrape with 8 workers is ~600 bucket lines: their label objects are made once per
  // thread and kind and only their values change (prom-client reads them within the scrape).
  const pauseRows = new Map<string, PromValue[]>()
  const histogramRows = (thread: number, kind: string): PromValue[] => {
    const base = { ...labels, thread: String(thread), kind }
    const rows: PromValue[] = pauseBounds().map((le) => ({
      metricName: `${pauseName}_bucket`,
      labels: { ...base, le },
      value: 0,
    }))
    rows.push({ metricName: `${pauseName}_bucket`, labels: { ...base, le: '+Inf' }, value: 0 })
    rows.push({ metricName: `${pauseName}_sum`, labels: base, value: 0 })
    rows.push({ metricName: `${pauseName}_count`, labels: base, value: 0 })
    return rows
  }
  const gauge = (name: string, help: string, value: (t: binding.ThreadMetricsJs) => number | null | undefined) =>
    promMetric(prefix + name, help, 'gauge', () => {
      const values: PromValue[] = []
      for (const t of read()) {
        const v = value(t)
        if (v !== null && v !== undefined) values.push({ value: v, labels: { ...labels, thread: String(t.thread) } })
      }
      return values
    })
  return [
    gauge(
      'nodejs_heap_post_gc_used_bytes',
      'Used heap after the last full GC (current_base), bytes',
      (t) => t.postGcUsedBytes,
    ),
    gauge(
      'nodejs_heap_estimated_base_bytes',
      'Moving average of the post-GC heap over ~10 full GCs (estimated_base), bytes',
      (t) => t.estimatedBaseBytes,
    ),
    gauge(
      'nodejs_heap_usage_trend_ratio',
      'usage_trend / 100: recent post-GC heap over its long-run average, minus 1',
      (t) => t.usageTrendRatio,
    ),
    gauge(
      'nodejs_heap_leak_suspected',
      '1 from a leak event until the heap stopped growing for one window of full GCs',
      (t) => (t.leakSuspected ? 1 : 0),
    ),
    gauge(
      'nodejs_heap_leak_growth_bytes_per_second',
      'Heap growth the leak rule sees now, bytes per second (0 when not growing)',
      (t) => t.growthBytesPerSecond,
    ),
    promMetric(prefix + 'nodejs_heap_leak_events_total', 'leak events reported', 'counter', () =>
      read().map((t) => ({ value: t.leakEvents, labels: { ...labels, thread: String(t.thread) } })),
    ),
    gauge(
      'nodejs_external_memory_post_gc_bytes',
      'External memory (Buffers, ArrayBuffers) after the last full GC, bytes',
      (t) => t.externalPostGcBytes,
    ),
    gauge(
      'nodejs_external_memory_leak_suspected',
      '1 from an external memory leak event until it stopped growing for one window of full GCs',
      (t) => (t.externalLeakSuspected ? 1 : 0),
    ),
    gauge(
      'nodejs_external_memory_leak_growth_bytes_per_second',
      'External memory growth the leak rule sees now, bytes per second (0 when not growing)',
      (t) => t.externalGrowthBytesPerSecond,
    ),
    promMetric(
      prefix + 'nodejs_external_memory_leak_events_total',
      'external memory leak events reported',
      'counter',
      () => read().map((t) => ({ value: t.externalLeakEvents, labels: { ...labels, thread: String(t.thread) } })),
    ),
    gauge(
      'nodejs_native_memory_post_gc_bytes',
      'Resident memory that is neither heap nor external after the last full GC (an estimate, not judged), bytes',
      (t) => t.nativePostGcBytes,
    ),
    promMetric(pauseName, 'GC pauses by kind, every GC, from the native GC prologue/epilogue', 'histogram', () => {
      const values: PromValue[] = []
      const seen = new Set<string>()
      const row = pauseBounds().length + 3
      for (const t of read()) {
        for (let g = 0; g < GC_TYPES.length; g++) {
          const at = g * row
          const count = t.pauses[at + row - 1]
          // A kind appears once it has a GC, as prom-client's own GC histogram does: most
          // services never run a weak-callback pass, and every kind is 18 lines per thread.
          if (count === 0) continue
          const key = `${t.thread}/${g}`
          seen.add(key)
          let rows = pauseRows.get(key)
          if (!rows) pauseRows.set(key, (rows = histogramRows(t.thread, GC_TYPES[g])))
          for (let i = 0; i < row; i++) rows[i].value = t.pauses[at + i]
          for (const r of rows) values.push(r)
        }
      }
      for (const key of pauseRows.keys()) if (!seen.has(key)) pauseRows.delete(key)
      return values
    }),
    promMetric(
      prefix + 'nodejs_heap_leak_site_growth_bytes',
      `Growth of the top ${TOP_SITES} allocation sites of the last leak event (allocation sampling on), bytes`,
      'gauge',
      () => {
        const values: PromValue[] = []
        for (const t of read()) {
          t.sites.forEach((s, i) => {
            values.push({
              value: s.growthBytes,
              labels: {
                ...labels,
                thread: String(t.thread),
                rank: i + 1,
                function: s.name,
                url: s.url,
                line: s.line,
                column: s.column,
              },
            })
          })
        }
        return values
      },
    ),
  ]
}

/** A metric object as prom-client's registry reads one (`get()`), without prom-client's classes. */
function promMetric(name: string, help: string, type: 'gauge' | 'counter' | 'histogram', values: () => PromValue[]) {
  return {
    [OURS]: true,
    // prom-client rewrites `name` of counters for OpenMetrics output; `get()` reports what it holds.
    name,
    help,
    type,
    aggregator: type === 'gauge' ? 'average' : 'sum',
    get() {
      return { name: this.name, help, type, aggregator: this.aggregator, values: values() }
    },
    reset() {},
  }
}

/**
 * Creates heapdiff's instruments on an OpenTelemetry meter. One registration per thread at a
 * time (a second throws until the first is stopped). In a worker thread it takes no options and
 * publishes the thread's figures and pauses to the main thread's registration (`thread.id`).
 */
export function registerOpenTelemetry(options?: OpenTelemetryOptions): MetricsHandle {
  const fn = 'registerOpenTelemetry'
  if (!isMainThread) workerOnly(fn, options)
  const opts = isMainThread ? checkKeys(fn, options, ['meter', 'attributes']) : {}
  const attributes = constantAttributes(fn, opts.attributes)
  if (!isMainThread) {
    if (otelActive) throw new Error(`${fn}() is already active on this thread; stop() the earlier handle first`)
    otelActive = true
    const release = hold(true)
    return handle(() => {
      otelActive = false
      release()
    })
  }
  let meter = opts.meter as OtelMeter | undefined
  if (meter === undefined) {
    const api = peer('@opentelemetry/api', fn, 'meter')
    meter = api.metrics.getMeter('heapdiff') as OtelMeter
  }
  if (!meter || typeof meter.addBatchObservableCallback !== 'function' || typeof meter.createHistogram !== 'function') {
    throw new TypeError(`${fn}(): meter must be an OpenTelemetry Meter`)
  }
  const m = meter
  if (otelActive) throw new Error(`${fn}() is already active on this thread; stop() the earlier handle first`)
  // Pauses are kept from here on, before the instruments exist: the first drain records them.
  otelActive = true
  const release = hold(true)
  const gauge = (name: string, unit: string, description: string) =>
    m.createObservableGauge(name, { unit, description })
  const postGc = gauge('heapdiff.heap.post_gc.used', 'By', 'Used heap after the last full GC (current_base)')
  const base = gauge('heapdiff.heap.estimated_base', 'By', 'Moving average of the post-GC heap over ~10 full GCs')
  const trend = gauge('heapdiff.heap.usage_trend', '1', 'usage_trend / 100')
  const suspected = gauge(
    'heapdiff.leak.suspected',
    '1',
    '1 from a leak event until the heap stopped growing for one window of full GCs',
  )
  const rate = gauge('heapdiff.leak.growth_rate', 'By/s', 'Heap growth the leak rule sees now (0 when not growing)')
  const sites = gauge(
    'heapdiff.leak.site.growth',
    'By',
    `Growth of the top ${TOP_SITES} allocation sites of the last leak event`,
  )
  const events = m.createObservableCounter('heapdiff.leak.events', {
    unit: '{event}',
    description: 'leak events reported',
  })
  const externalPostGc = gauge(
    'heapdiff.external.post_gc',
    'By',
    'External memory (Buffers, ArrayBuffers) after the last full GC',
  )
  const externalSuspected = gauge(
    'heapdiff.external.leak.suspected',
    '1',
    '1 from an external memory leak event until it stopped growing for one window of full GCs',
  )
  const externalRate = gauge(
    'heapdiff.external.leak.growth_rate',
    'By/s',
    'External memory growth the leak rule sees now (0 when not growing)',
  )
  const externalEvents = m.createObservableCounter('heapdiff.external.leak.events', {
    unit: '{event}',
    description: 'external memory leak events reported',
  })
  const nativePostGc = gauge(
    'heapdiff.native.post_gc',
    'By',
    'Resident memory that is neither heap nor external after the last full GC (an estimate, not judged)',
  )
  const dropped = m.createObservableCounter('heapdiff.gc.dropped_pauses', {
    unit: '{pause}',
    description:
      'GC pauses not recorded in v8js.gc.duration because a thread ran more GCs than its buffer holds between two drains',
  })
  const duration = m.createHistogram('v8js.gc.duration', {
    unit: 's',
    description: 'Garbage collection duration, every GC, from the native GC prologue/epilogue',
    advice: { explicitBucketBoundaries: pauseBounds() },
  })
  const droppedBy = new Map<number, number>()
  const drain = () => {
    for (const t of binding.metricsDrainPauses()) {
      droppedBy.set(t.thread, t.dropped)
      const byType = GC_TYPES.map((type) => ({ ...attributes, 'thread.id': t.thread, 'v8js.gc.type': type }))
      for (let i = 0; i < t.seconds.length; i++) duration.record(t.seconds[i], byType[t.types[i]])
    }
  }
  const observables = [
    postGc,
    base,
    trend,
    suspected,
    rate,
    sites,
    events,
    dropped,
    externalPostGc,
    externalSuspected,
    externalRate,
    externalEvents,
    nativePostGc,
  ]
  // The SDK runs observable callbacks before it collects synchronous instruments, so pauses
  // recorded here are in the same collection.
  const callback = (r: OtelObservableResult) => {
    drain()
    for (const t of binding.metricsRead()) {
      const a = { ...attributes, 'thread.id': t.thread }
      if (t.postGcUsedBytes !== null && t.postGcUsedBytes !== undefined) r.observe(postGc, t.postGcUsedBytes, a)
      if (t.estimatedBaseBytes !== null && t.estimatedBaseBytes !== undefined) r.observe(base, t.estimatedBaseBytes, a)
      if (t.usageTrendRatio !== null && t.usageTrendRatio !== undefined) r.observe(trend, t.usageTrendRatio, a)
      r.observe(suspected, t.leakSuspected ? 1 : 0, a)
      r.observe(rate, t.growthBytesPerSecond, a)
      r.observe(events, t.leakEvents, a)
      if (t.externalPostGcBytes !== null && t.externalPostGcBytes !== undefined)
        r.observe(externalPostGc, t.externalPostGcBytes, a)
      r.observe(externalSuspected, t.externalLeakSuspected ? 1 : 0, a)
      r.observe(externalRate, t.externalGrowthBytesPerSecond, a)
      r.observe(externalEvents, t.externalLeakEvents, a)
      if (t.nativePostGcBytes !== null && t.nativePostGcBytes !== undefined)
        r.observe(nativePostGc, t.nativePostGcBytes, a)
      r.observe(dropped, droppedBy.get(t.thread) ?? 0, a)
      t.sites.forEach((s, i) =>
        r.observe(sites, s.growthBytes, {
          ...a,
          rank: i + 1,
          'code.function.name': s.name,
          'code.file.path': s.url,
          'code.line.number': s.line,
          'code.column.number': s.column,
        }),
      )
    }
  }
  m.addBatchObservableCallback(callback, observables)
  // Drained every second too, so a long export interval cannot overflow a thread's buffer.
  const timer = setInterval(drain, 1000)
  timer.unref()
  return handle(() => {
    clearInterval(timer)
    m.removeBatchObservableCallback(callback, observables)
    drain()
    release()
    otelActive = false
  })
}

function constantAttributes(fn: string, attrs: unknown): Record<string, AttributeValue> {
  if (attrs === undefined) return {}
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) {
    throw new TypeError(`${fn}(): attributes must be an object of name → string, number or boolean`)
  }
  const out: Record<string, AttributeValue> = {}
  for (const [k, v] of Object.entries(attrs)) {
    if (OTEL_RESERVED.includes(k)) throw new TypeError(`${fn}(): attribute "${k}" is set by heapdiff itself`)
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new TypeError(`${fn}(): attribute "${k}" must be a string, number or boolean, got ${typeof v}`)
    }
    out[k] = v
  }
  return out
}
