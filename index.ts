/**
 * heapdiff: the classic `memwatch` API (an EventEmitter with `stats` and `leak` events, `gc()` and
 * `HeapDiff`) over a Rust native module. This file is only the event layer: option checking,
 * listener bookkeeping, the perf_hooks fallback and shaping results the way memwatch did.
 */
import { EventEmitter } from 'node:events'
import { PerformanceObserver } from 'node:perf_hooks'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'

import type * as native from './binding'
// Loaded before the lib/ modules, which load it too: a missing native module is reported here,
// with the platform package to install.
const binding = loadBinding()
import {
  LEAK_CLASSES,
  checkCensusOptions,
  checkLeakOptions,
  type CensusOptions as CensusOptsT,
  type LeakOptions as LeakOpts,
  type DiffOptions as DiffOpts,
} from './lib/options'
import { diffFiles, findLeaks, topRetainers } from './lib/files'
import {
  HeapDiff,
  snapshotWindows,
  type HeapDiffResult as DiffResultT,
  type HeapDiffDetail as DiffDetailT,
  type AllocationStack as AllocationStackT,
  type RetainerPath as RetainerPathT,
  type RetainerStep as RetainerStepT,
} from './lib/heapdiff'
import {
  assertNoLeaks,
  checkLeaks,
  type CheckLeaksOptions as CheckLeaksOptsT,
  type LeakCheck as LeakCheckT,
  type SurvivorReport as SurvivorReportT,
  type ClassRetention as ClassRetentionT,
  type TopRetainer as TopRetainerT,
} from './lib/leaks'
import type { AnalysisOptions as AnalysisOptsT, TopRetainerOptions as TopRetainerOptsT } from './lib/options'
import {
  sampler,
  type FileFormat,
  type SamplingOptions as SamplingOptsT,
  type SamplingStatus as SamplingStatusT,
} from './lib/sampling'
import type { AllocationSite as AllocationSiteT, HeapProfile as HeapProfileT } from './lib/sites'

/** The `stats` payload: memwatch's fields plus what modern V8 reports, heap figures flattened in. */
type GcStats = Omit<native.GcStats, 'heap'> & native.HeapStatistics

/** The `leak` payload, as memwatch emitted it, plus the number of GCs the rule looked at. */
interface LeakEvent extends Omit<native.LeakEvent, 'startMs' | 'endMs'> {
  start: Date
  end: Date
  /** Only while sampling is on (`startSampling()`), for a heap leak: the allocation sites that
   *  grew most. */
  sites?: AllocationSiteT[]
  /** Only with the `census` leak option: the classes whose live objects grew most since the
   *  leak window's first census, most growth first. */
  classes?: native.ClassGrowth[]
  /** With `classes`: when their baseline census was taken, and what both censuses cost (ms the
   *  program was stopped). */
  census?: { since: Date; ms: number }
}

/**
 * `whatGrew()`: a `leak` event's `classes` and `census` (and `sites` while sampling), for growth
 * no event has reported yet.
 */
type Growth = Required<Pick<LeakEvent, 'classes' | 'census'>> & Pick<LeakEvent, 'sites'>

/** A `leak` event's (or `whatGrew()`'s) `census` field, from what the native census plan says. */
const censusField = (c: native.LeakClasses) => ({ since: new Date(c.sinceMs), ms: c.censusMs })

/** `status()`: the native hook's figures and whether sampling is on. */
interface Status extends native.HookStatus {
  sampling: SamplingStatusT
}

/** Arguments of the two watched events' listeners; any other event stays untyped, as on any emitter. */
interface MemwatchEvents {
  stats: [stats: GcStats]
  leak: [info: LeakEvent]
  [event: string]: any[]
}

type Event = keyof MemwatchEvents
// The two watched events get their payloads; any other name, a symbol too, stays untyped. Names
// are `string | number | symbol` so that the overrides below fit every @types/node from 20 on: up
// to 24 `keyof MemwatchEvents` holds numbers, and 26 requires an override to take a symbol.
type EventName = Event | symbol
type Listener<K> = K extends Event ? (...args: MemwatchEvents[K]) => void : (...args: any[]) => void
type Args<K> = K extends Event ? MemwatchEvents[K] : never
// What the base class's methods take, whichever @types/node spells them.
type AnyListener = Listener<Event>

const WATCHED: readonly string[] = ['stats', 'leak'] satisfies Event[]

/** A major GC in perf_hooks' `detail.kind` (`NODE_PERFORMANCE_GC_MAJOR`). */
const PERF_GC_MAJOR = 4

class Memwatch extends EventEmitter<MemwatchEvents> {
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
  private readonly hook: native.HookStatus

  constructor() {
    super()
    this.hook = binding.gcWatch((events) => this.dispatch(events))
  }

  // Heap figures are read only while someone listens. Every way of adding or removing a listener
  // funnels through these (`once` uses `on`, `prependOnceListener` uses `prependListener`), which
  // unlike 'newListener'/'removeListener' handlers survive `removeAllListeners()`.
  override addListener<K extends EventName>(event: K, listener: Listener<K>): this {
    super.addListener(event as Event, listener as AnyListener)
    return this.sync()
  }
  override on<K extends EventName>(event: K, listener: Listener<K>): this {
    super.on(event as Event, listener as AnyListener)
    return this.sync()
  }
  override prependListener<K extends EventName>(event: K, listener: Listener<K>): this {
    super.prependListener(event as Event, listener as AnyListener)
    return this.sync()
  }
  override removeListener<K extends EventName>(event: K, listener: Listener<K>): this {
    super.removeListener(event as Event, listener as AnyListener)
    return this.sync()
  }
  override off<K extends EventName>(event: K, listener: Listener<K>): this {
    super.off(event as Event, listener as AnyListener)
    return this.sync()
  }
  // Overridden for their types only: the base class's leave a literal event name uninferred.
  override once<K extends EventName>(event: K, listener: Listener<K>): this {
    return super.once(event as Event, listener as AnyListener)
  }
  override prependOnceListener<K extends EventName>(event: K, listener: Listener<K>): this {
    return super.prependOnceListener(event as Event, listener as AnyListener)
  }
  override emit<K extends Event>(event: K, ...args: Args<K>): boolean
  override emit(event: symbol, ...args: any[]): boolean
  override emit(event: EventName, ...args: any[]): boolean {
    return super.emit(event as Event, ...(args as Args<Event>))
  }
  override removeAllListeners(event?: EventName): this {
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
    const checked = checkLeakOptions(options)
    binding.gcSetLeakOptions(checked)
    sampler.setLeakOptions({ ...checked })
  }

  /** Where figures come from on this thread and what the native module could reach. */
  status(): Status {
    return { ...binding.gcStatus(), sampling: sampler.status() }
  }

  /**
   * The live JS objects of this thread by class (the constructor name, as DevTools' Summary
   * names it), most first: `[{ what, count }]`, from V8's `QueryObjects` walk after a full GC,
   * without a snapshot. Synchronous; works in workers. Throws where the V8 entry points are
   * missing (`status().census` is then false).
   */
  census(options?: CensusOptsT): CensusRowT[] {
    return binding.census(checkCensusOptions(options)).rows
  }

  /**
   * With the `census` leak option, once a leak rule has seen growth (its baseline census taken):
   * the classes that grew since, from a census taken now, and while sampling the allocation
   * sites that grew, as a `leak` event would list them. For a program that ends, or is asked,
   * before the rule can report. Null (no census taken) while no growth has shown. Leaves the
   * leak events' baseline as it was.
   */
  whatGrew(...args: unknown[]): Growth | null {
    if (args.length > 0) throw new TypeError('whatGrew() takes no arguments')
    const grown = binding.censusGrowth(LEAK_CLASSES)
    if (!grown) return null
    const growth: Growth = { classes: grown.classes, census: censusField(grown) }
    // From the summaries of the full GCs the hook delivered (the census's own GCs are not
    // among them), so what the program dropped just now still shows where it was allocated.
    if (sampler.active) growth.sites = sampler.sitesFor(grown.sinceMs)
    return growth
  }

  /**
   * Starts V8's sampling heap profiler on this thread; while it runs, `leak` events carry the
   * allocation `sites` that grew. Throws for bad options and when sampling is already on.
   */
  startSampling(options?: SamplingOptsT): void {
    sampler.start(options)
    this.sync()
  }

  /** Stops sampling on this thread and discards the profile. */
  stopSampling(...args: unknown[]): void {
    if (args.length > 0) throw new TypeError('stopSampling() takes no arguments')
    sampler.stop()
    this.sync()
  }

  /** The live sampled profile, as Chrome DevTools reads it (`{ head, samples }`). */
  heapProfile(...args: unknown[]): HeapProfileT {
    if (args.length > 0) throw new TypeError('heapProfile() takes no arguments')
    return sampler.profile()
  }

  /** Writes the live sampled profile as `.heapprofile` JSON or gzipped pprof; returns the path. */
  writeHeapProfile(path: string, options?: { format?: FileFormat; profile?: HeapProfileT }): string {
    return sampler.writeFile(path, options)
  }

  /** Diffs two `.heapsnapshot` files of any size without blocking the event loop. */
  diffFiles(before: string, after: string, options?: DiffOpts): Promise<DiffResultT> {
    return diffFiles(before, after, options)
  }

  // Sampling keeps the hook on: its summaries follow full GCs, listener or not.
  private watching(): boolean {
    return sampler.active || WATCHED.some((e) => this.listenerCount(e) > 0)
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
        const heap =
          kind === PERF_GC_MAJOR
            ? { total_allocated_bytes: null, ...v8.getHeapStatistics(), rss: process.memoryUsage.rss() }
            : null
        binding.gcFeedPerfEntry(kind, entry.duration, heap)
      }
    })
    obs.observe({ entryTypes: ['gc'] })
    this.fallback = obs
  }

  private dispatch(events: native.GcEventJs[]): void {
    if (sampler.active) {
      let newest = -1
      for (const ev of events) if (ev.kind === 'stats' && ev.stats) newest = ev.stats.gc_time
      if (newest >= 0) {
        try {
          sampler.observe(newest)
        } catch (err) {
          process.nextTick(() => {
            throw err
          })
        }
      }
    }
    // A batch that reports a leak counts its classes at the event; a baseline census taken
    // for the same batch's GCs would leave nothing to compare.
    const leaks = events.some((ev) => ev.kind === 'leak')
    let classes: native.LeakClasses | null | undefined
    for (const ev of events) {
      try {
        if (ev.kind === 'stats' && ev.stats) {
          const { heap, ...stats } = ev.stats
          this.emit('stats', { ...stats, ...heap })
          // With the `census` leak option: the leak window's first census, once growth shows.
          if (!leaks) binding.censusStep()
        } else if (ev.kind === 'leak' && ev.leak) {
          const { startMs, endMs, ...rest } = ev.leak
          const info: LeakEvent = { start: new Date(startMs), end: new Date(endMs), ...rest }
          // The sampler sees heap allocations only: for external memory it cannot say which
          // sites hold the bytes, so it names none rather than the heap's busiest ones.
          if (sampler.active && info.memory === 'heap') info.sites = sampler.sitesFor(startMs)
          // One census for every event of the batch (heap and external both grew).
          if (classes === undefined) classes = binding.censusAtLeak(LEAK_CLASSES)
          if (classes) {
            info.classes = classes.classes
            info.census = censusField(classes)
          }
          this.emit('leak', info)
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

/**
 * `require('./binding')`, or an error naming the package that carries this platform's native
 * module. napi's loader only says "Cannot find native binding" and blames an npm bug; the usual
 * cause is that the optional platform package was not installed (`--omit=optional`, a lockfile
 * made on another platform, or a packed heapdiff installed without its platform tarball).
 */
function loadBinding(): typeof native {
  try {
    return require('./binding') as typeof native
  } catch (err) {
    if (!/^(Cannot find native binding|Failed to load native binding)/.test((err as Error)?.message ?? '')) throw err
    throw new Error(missingBinding(), { cause: err })
  }
}

function missingBinding(): string {
  // The platforms with a prebuilt `heapdiff-<platform>` package (npm/<platform>/). Inside the
  // function: it runs before the module's own constants are initialised.
  const PREBUILT = [
    'linux-x64-gnu',
    'linux-x64-musl',
    'linux-arm64-gnu',
    'linux-arm64-musl',
    'darwin-x64',
    'darwin-arm64',
    'win32-x64-msvc',
  ]
  const { version } = require('./package.json') as { version: string }
  let platform = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
    platform += report?.header?.glibcVersionRuntime ? '-gnu' : '-musl'
  } else if (process.platform === 'win32') platform += '-msvc'
  if (!PREBUILT.includes(platform)) {
    return (
      `heapdiff has no prebuilt native module for ${platform} (prebuilt: ${PREBUILT.join(', ')}). ` +
      'Build it from a clone of the repository (npm install there builds it; it needs Rust).'
    )
  }
  const pkg = `heapdiff-${platform}`
  return (
    `heapdiff: the native module for ${platform} is missing. It comes in the package ${pkg}, ` +
    `which npm installs along with heapdiff as an optional dependency; here it was not installed ` +
    `(optional dependencies omitted, a lockfile made on another platform, or a packed heapdiff ` +
    `installed without its platform tarball). Install it: npm install ${pkg}@${version}`
  )
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

type GcStatsT = GcStats
type LeakEventT = LeakEvent
type MemwatchEventsT = MemwatchEvents
type CensusRowT = native.CensusRow
type GrowthT = Growth

// `var` so that the type-only namespace below can merge with it.
// eslint-disable-next-line no-var
var memwatch = new Memwatch()

// Types travel with the CommonJS export (`import type { GcStats } from 'heapdiff'`).
// eslint-disable-next-line @typescript-eslint/no-namespace
namespace memwatch {
  export type GcStats = GcStatsT
  export type LeakEvent = LeakEventT
  export type MemwatchEvents = MemwatchEventsT
  export type LeakOptions = LeakOpts
  export type DiffOptions = DiffOpts
  export type HeapDiffResult = DiffResultT
  export type HeapDiffDetail = DiffDetailT
  export type AllocationStack = AllocationStackT
  export type RetainerPath = RetainerPathT
  export type RetainerStep = RetainerStepT
  export type AnalysisOptions = AnalysisOptsT
  export type TopRetainerOptions = TopRetainerOptsT
  export type CheckLeaksOptions = CheckLeaksOptsT
  export type LeakCheck = LeakCheckT
  export type SurvivorReport = SurvivorReportT
  export type ClassRetention = ClassRetentionT
  export type TopRetainer = TopRetainerT
  export type HookStatus = Status
  export type SamplingOptions = SamplingOptsT
  export type SamplingStatus = SamplingStatusT
  export type AllocationSite = AllocationSiteT
  export type HeapProfile = HeapProfileT
  export type CensusOptions = CensusOptsT
  export type CensusRow = CensusRowT
  export type Growth = GrowthT
}

export = memwatch
