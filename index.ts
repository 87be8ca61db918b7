/**
 * heapdiff: the classic `memwatch` API (an EventEmitter with `stats` and `leak` events, `gc()` and
 * `HeapDiff`) over a Rust native module. This file is only the event layer: option checking,
 * listener bookkeeping, the perf_hooks fallback and shaping results the way memwatch did.
 */
import { EventEmitter } from 'node:events'
import { PerformanceObserver } from 'node:perf_hooks'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'

import binding = require('./binding')
import {
  checkLeakOptions,
  checkDiffOptions,
  type LeakOptions as LeakOpts,
  type DiffOptions as DiffOpts,
} from './lib/options'
import {
  HeapDiff,
  snapshotWindows,
  toClassicDiff,
  type HeapDiffResult as DiffResultT,
  type HeapDiffDetail as DiffDetailT,
  type RetainerPath as RetainerPathT,
  type RetainerStep as RetainerStepT,
} from './lib/heapdiff'
import {
  assertNoLeaks,
  checkLeaks,
  findLeaks,
  topRetainers,
  type CheckLeaksOptions as CheckLeaksOptsT,
  type LeakCheck as LeakCheckT,
  type LeakReport as LeakReportT,
  type LeakRow as LeakRowT,
  type TopRetainer as TopRetainerT,
} from './lib/leaks'
import type { AnalysisOptions as AnalysisOptsT } from './lib/options'

/** The `stats` payload: memwatch's fields plus what modern V8 reports. */
type StatsPayload = binding.GcStats

/** The `leak` payload, as memwatch emitted it, plus the number of GCs the rule looked at. */
interface LeakPayload {
  start: Date
  end: Date
  growth: number
  reason: string
  gcs: number
}

interface EventMap {
  stats: (stats: StatsPayload) => void
  leak: (info: LeakPayload) => void
}

type WatchedEvent = keyof EventMap
const WATCHED: readonly string[] = ['stats', 'leak'] satisfies WatchedEvent[]

/** A major GC in perf_hooks' `detail.kind` (`NODE_PERFORMANCE_GC_MAJOR`). */
const PERF_GC_MAJOR = 4

interface Memwatch {
  on<K extends WatchedEvent>(event: K, listener: EventMap[K]): this
  on<E extends string | symbol>(event: Exclude<E, WatchedEvent>, listener: (...args: any[]) => void): this
  once<K extends WatchedEvent>(event: K, listener: EventMap[K]): this
  once<E extends string | symbol>(event: Exclude<E, WatchedEvent>, listener: (...args: any[]) => void): this
  addListener<K extends WatchedEvent>(event: K, listener: EventMap[K]): this
  addListener<E extends string | symbol>(event: Exclude<E, WatchedEvent>, listener: (...args: any[]) => void): this
  prependListener<K extends WatchedEvent>(event: K, listener: EventMap[K]): this
  prependListener<E extends string | symbol>(event: Exclude<E, WatchedEvent>, listener: (...args: any[]) => void): this
  off<K extends WatchedEvent>(event: K, listener: EventMap[K]): this
  off<E extends string | symbol>(event: Exclude<E, WatchedEvent>, listener: (...args: any[]) => void): this
  removeListener<K extends WatchedEvent>(event: K, listener: EventMap[K]): this
  removeListener<E extends string | symbol>(event: Exclude<E, WatchedEvent>, listener: (...args: any[]) => void): this
  emit<K extends WatchedEvent>(event: K, ...args: Parameters<EventMap[K]>): boolean
  emit(event: string | symbol, ...args: any[]): boolean
}

class Memwatch extends EventEmitter {
  /** `new memwatch.HeapDiff()` takes a snapshot; `end()` takes another and compares them. */
  readonly HeapDiff = HeapDiff
  /** Three snapshot files (baseline, action, after): what the action allocated that survived. */
  readonly findLeaks = findLeaks
  /** The objects with the largest retained sizes in a snapshot file. */
  readonly topRetainers = topRetainers
  /** Runs a function repeatedly between snapshots and reports the classes it leaks per call. */
  readonly checkLeaks = checkLeaks
  /** `checkLeaks` that throws an Error naming what leaked and what holds it. */
  readonly assertNoLeaks = assertNoLeaks
  private fallback: PerformanceObserver | null = null
  private active = false
  private readonly hook: binding.HookStatus

  constructor() {
    super()
    this.hook = binding.gcWatch((events) => this.dispatch(events))
  }

  // Heap figures are read only while someone listens. Every way of adding or removing a listener
  // funnels through these (`once` uses `on`, `prependOnceListener` uses `prependListener`), which
  // unlike 'newListener'/'removeListener' handlers survive `removeAllListeners()`.
  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.addListener(event, listener)
    return this.sync()
  }
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener)
    return this.sync()
  }
  override prependListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.prependListener(event, listener)
    return this.sync()
  }
  override removeListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.removeListener(event, listener)
    return this.sync()
  }
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    super.off(event, listener)
    return this.sync()
  }
  override removeAllListeners(event?: string | symbol): this {
    if (event === undefined) super.removeAllListeners()
    else super.removeAllListeners(event)
    return this.sync()
  }

  /** Forces a full, compacting GC (no `--expose-gc` needed); a `stats` event follows. */
  gc(...args: unknown[]): void {
    if (args.length > 0) throw new TypeError('gc() takes no arguments')
    if (binding.gcForce()) return
    fallbackGc()
  }

  /** Tunes the leak rule; see the README for each option. Resets the rule's history. */
  setLeakOptions(options: LeakOpts): void {
    binding.gcSetLeakOptions(checkLeakOptions(options))
  }

  /** Where figures come from on this thread and what the native module could reach. */
  status(): binding.HookStatus {
    return binding.gcStatus()
  }

  /** Diffs two `.heapsnapshot` files of any size without blocking the event loop. */
  diffFiles(before: string, after: string, options?: DiffOpts): Promise<DiffResultT> {
    return diffFiles(before, after, options)
  }

  private watching(): boolean {
    return WATCHED.some((e) => this.listenerCount(e) > 0)
  }

  private sync(): this {
    const active = this.watching()
    if (active !== this.active) this.setActive(active)
    return this
  }

  private setActive(active: boolean): void {
    this.active = active
    binding.gcSetActive(active)
    if (this.hook.installed) return
    if (active && !this.fallback) this.startFallback()
    if (!active && this.fallback) {
      this.fallback.disconnect()
      this.fallback = null
    }
  }

  /** Where the V8 hook cannot be installed, GC entries from perf_hooks feed the same pipeline. */
  private startFallback(): void {
    const obs = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (snapshotWindows.some(([from, to]) => entry.startTime >= from && entry.startTime <= to)) continue
        const detail = (entry as { detail?: { kind?: number } }).detail
        const kind = detail?.kind ?? (entry as { kind?: number }).kind ?? 0
        const heap = kind === PERF_GC_MAJOR ? v8.getHeapStatistics() : EMPTY_HEAP
        binding.gcFeedPerfEntry(kind, entry.duration, false, heap)
      }
    })
    obs.observe({ entryTypes: ['gc'] })
    this.fallback = obs
  }

  private dispatch(events: binding.GcEventJs[]): void {
    for (const ev of events) {
      try {
        if (ev.kind === 'stats' && ev.stats) this.emit('stats', ev.stats)
        else if (ev.kind === 'leak' && ev.leak) {
          const { startMs, endMs, growth, reason, gcs } = ev.leak
          this.emit('leak', { start: new Date(startMs), end: new Date(endMs), growth, reason, gcs })
        }
      } catch (err) {
        // Surface a listener's exception like any emitter would, without leaving it pending
        // inside the native callback.
        process.nextTick(() => {
          throw err
        })
      }
    }
  }
}

const EMPTY_HEAP: binding.FallbackHeap = {
  used_heap_size: 0,
  total_heap_size: 0,
  total_physical_size: 0,
  total_available_size: 0,
  heap_size_limit: 0,
  malloced_memory: 0,
  external_memory: 0,
  number_of_native_contexts: 0,
  number_of_detached_contexts: 0,
}

let exposedGc: (() => void) | null = null

/** `--expose-gc` set at run time, then `gc` fetched from a fresh context: works on Node 20–26. */
function fallbackGc(): void {
  if (!exposedGc) {
    v8.setFlagsFromString('--expose-gc')
    exposedGc = vm.runInNewContext('gc') as () => void
  }
  exposedGc()
}

async function diffFiles(before: string, after: string, options?: DiffOpts): Promise<DiffResultT> {
  if (typeof before !== 'string' || typeof after !== 'string') {
    throw new TypeError('diffFiles(before, after) takes two file paths')
  }
  const opts = checkDiffOptions(options)
  const job = new binding.FileDiffJob(before, after, opts)
  const started = new Date()
  const raw = await job.run()
  return toClassicDiff(raw, started, new Date())
}

// `var` so that the type-only namespace below can merge with it.
// eslint-disable-next-line no-var
var memwatch = new Memwatch()

// Types travel with the CommonJS export (`import type { GcStats } from 'heapdiff'`).
// eslint-disable-next-line @typescript-eslint/no-namespace
namespace memwatch {
  export type GcStats = StatsPayload
  export type LeakInfo = LeakPayload
  export type MemwatchEvents = EventMap
  export type LeakOptions = LeakOpts
  export type DiffOptions = DiffOpts
  export type HeapDiffResult = DiffResultT
  export type HeapDiffDetail = DiffDetailT
  export type RetainerPath = RetainerPathT
  export type RetainerStep = RetainerStepT
  export type AnalysisOptions = AnalysisOptsT
  export type CheckLeaksOptions = CheckLeaksOptsT
  export type LeakCheck = LeakCheckT
  export type LeakReport = LeakReportT
  export type LeakRow = LeakRowT
  export type TopRetainer = TopRetainerT
  export type HookStatus = binding.HookStatus
}

export = memwatch
