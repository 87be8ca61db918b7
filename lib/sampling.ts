/**
 * V8's sampling heap profiler on this thread: started natively (`HeapProfiler::
 * StartSamplingHeapProfiler`, no flags) and read through an in-process `node:inspector` session,
 * or, where the native entry point is missing, started through the inspector too. While it runs,
 * a compact summary of the live profile is taken after every full GC, so that a `leak` event can
 * name the sites that grew over its window. The summaries, the tables behind them and the sites'
 * growth are native (`heapprof::live`, through `binding.sites*`): the profile read here is
 * handed over as JSON and is garbage right after, so heapdiff keeps nothing of it on the heap it
 * watches.
 */
import { writeFileSync } from 'node:fs'
import type { Session } from 'node:inspector'

import binding = require('../binding')
import { OWN_SCRIPTS, snapshotWindows } from './heapdiff'
import { describe } from './options'
import type { AllocationSite, HeapProfile } from './sites'

export interface SamplingOptions {
  /** Average bytes between samples (default 524288, 512 KiB): V8's `sample_interval`. */
  interval?: number
  /** Frames kept per sample (default 64). */
  depth?: number
}

export const SAMPLING_DEFAULTS = { interval: 524288, depth: 64 } as const

/**
 * `'v8-api'`: started by V8's C++ API without flags, read through the inspector; reading forces
 * no GC. `'inspector'`: started by the inspector's `HeapProfiler.startSampling`, which makes
 * every read run a full GC (hidden from `stats`): used where the C++ entry point is missing.
 */
export type SamplingMechanism = 'v8-api' | 'inspector'

export interface SamplingStatus {
  active: boolean
  mechanism: SamplingMechanism | null
  interval: number | null
  depth: number | null
  /** Why the C++ start was not used, or why sampling stopped on its own; null otherwise. */
  reason: string | null
  /** Summaries taken (one per batch of full GCs) and the time they took in all, ms. */
  summaries: number
  summaryMs: number
  /**
   * Bytes of native memory that the sampler's tables and summaries hold (frames and call paths
   * seen, the ring of summaries): none of it is on the JS heap. 0 while sampling is off.
   */
  nativeBytes: number
}

export type FileFormat = 'heapprofile' | 'pprof'

/** The trend rule's defaults, for the summaries a leak window can reach back to. */
const LEAK_DEFAULTS = binding.leakOptionDefaults()

function checkOptions(options: unknown): { interval: number; depth: number } {
  if (options === undefined || options === null) return { ...SAMPLING_DEFAULTS }
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`startSampling(options): options must be an object, got ${describe(options)}`)
  }
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (key !== 'interval' && key !== 'depth') {
      throw new TypeError(`startSampling(options): unknown option ${JSON.stringify(key)} (known: interval, depth)`)
    }
  }
  const whole = (name: 'interval' | 'depth', min: number, max: number): number => {
    const v = o[name]
    if (v === undefined) return SAMPLING_DEFAULTS[name]
    if (typeof v !== 'number')
      throw new TypeError(`startSampling(options): "${name}" must be a number, got ${describe(v)}`)
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`startSampling(options): "${name}" must be a whole number from ${min} to ${max}, got ${v}`)
    }
    return v
  }
  return { interval: whole('interval', 1, 2 ** 31), depth: whole('depth', 1, 1024) }
}

class Sampler {
  private session: Session | null = null
  private mechanism: SamplingMechanism | null = null
  private interval = 0
  private depth = 0
  private reason: string | null = null
  private capacity = ringCapacity({})
  private summaries = 0
  private summaryMs = 0

  get active(): boolean {
    return this.mechanism !== null
  }

  status(): SamplingStatus {
    return {
      active: this.active,
      mechanism: this.mechanism,
      interval: this.active ? this.interval : null,
      depth: this.active ? this.depth : null,
      reason: this.reason,
      summaries: this.summaries,
      summaryMs: this.summaryMs,
      nativeBytes: binding.sitesNativeBytes(),
    }
  }

  start(options: unknown): void {
    const { interval, depth } = checkOptions(options)
    if (this.active) {
      throw new TypeError(
        `startSampling(): sampling is already on on this thread (interval ${this.interval}); call stopSampling() first`,
      )
    }
    const session = this.connect()
    // Someone else's sampling (DevTools, another profiler library) would be shared, and stopped
    // under them by our stop, so it is refused rather than joined.
    const busy = () =>
      new Error(
        "startSampling(): V8's sampling heap profiler is already running on this thread " +
          '(DevTools, @datadog/pprof or another library started it); stop it there first',
      )
    if (tryPost(session, 'HeapProfiler.getSamplingProfile') !== null) throw busy()
    const native = binding.samplingStart(interval, depth)
    if (native.busy) throw busy()
    if (native.started) {
      this.mechanism = 'v8-api'
      this.reason = null
    } else {
      post(session, 'HeapProfiler.startSampling', {
        samplingInterval: interval,
        // Node 26's protocol takes a stack depth; older ones ignore it and keep 128 frames.
        stackDepth: depth,
        includeObjectsCollectedByMajorGC: false,
        includeObjectsCollectedByMinorGC: false,
      })
      this.mechanism = 'inspector'
      this.reason = native.reason ?? 'the native entry point is unavailable'
    }
    this.interval = interval
    this.depth = depth
    // heapdiff's own allocations (reading the profile, its code) are left out of the sites.
    binding.sitesStart(OWN_SCRIPTS, this.capacity)
  }

  stop(): void {
    if (!this.active) {
      if (this.reason?.startsWith('stopped')) {
        // Stopped under us by someone else; ours to forget without a fuss.
        this.reason = null
        return
      }
      throw new TypeError('stopSampling(): sampling is not on on this thread; call startSampling() first')
    }
    if (this.mechanism === 'v8-api') binding.samplingStop()
    else tryPost(this.session!, 'HeapProfiler.stopSampling')
    this.mechanism = null
    this.reason = null
    binding.sitesStop()
  }

  /** The live profile, as `HeapProfiler.getSamplingProfile` returns it. */
  profile(): HeapProfile {
    if (!this.active) throw new Error('heapProfile(): sampling is not on on this thread; call startSampling() first')
    const p = this.read()
    if (!p) throw new Error(`heapProfile(): ${this.reason}`)
    return p
  }

  writeFile(path: unknown, options: unknown): string {
    if (typeof path !== 'string' || path === '') {
      throw new TypeError(`writeHeapProfile(path): path must be a file name, got ${describe(path)}`)
    }
    let format: FileFormat = /\.(pb\.gz|pb|pprof)$/.test(path) ? 'pprof' : 'heapprofile'
    let given: HeapProfile | undefined
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null || Array.isArray(options)) {
        throw new TypeError(`writeHeapProfile(path, options): options must be an object, got ${describe(options)}`)
      }
      for (const [key, value] of Object.entries(options)) {
        if (value === undefined) continue
        if (key === 'format') {
          if (value !== 'heapprofile' && value !== 'pprof') {
            throw new TypeError(`writeHeapProfile(): "format" must be 'heapprofile' or 'pprof', got ${describe(value)}`)
          }
          format = value
        } else if (key === 'profile') {
          if (
            typeof value !== 'object' ||
            value === null ||
            typeof value.head !== 'object' ||
            !Array.isArray(value.samples)
          ) {
            throw new TypeError(
              'writeHeapProfile(): "profile" must be a profile from heapProfile() ({ head, samples })',
            )
          }
          given = value as HeapProfile
        } else {
          throw new TypeError(`writeHeapProfile(): unknown option ${JSON.stringify(key)} (known: format, profile)`)
        }
      }
    }
    const profile = given ?? this.profile()
    if (format === 'heapprofile') {
      // DevTools and speedscope read `head` and `samples`; the interval lets `heapdiff profile`
      // estimate object counts.
      writeFileSync(path, JSON.stringify({ ...profile, samplingInterval: this.interval }))
    } else {
      writeFileSync(path, binding.encodeHeapPprof(toPprof(profile, this.interval, Date.now())))
    }
    return path
  }

  /** Takes a summary after a batch of full GCs; `time` is the newest GC's. */
  observe(time: number): void {
    if (!this.active) return
    const t0 = performance.now()
    try {
      const profile = this.read()
      if (profile) binding.sitesObserve(JSON.stringify(profile), this.interval, time)
    } catch (e) {
      // A profile heapdiff cannot read must not take the application down: no sites then.
      this.reason = `summary failed: ${(e as Error).message}`
      binding.sitesClear()
    }
    this.summaries++
    this.summaryMs += performance.now() - t0
  }

  /** The sites that grew between the summaries nearest the window's start and the newest. */
  sitesFor(startMs: number): AllocationSite[] {
    try {
      return binding.sitesGrown(startMs)
    } catch (e) {
      this.reason = `sites failed: ${(e as Error).message}`
      return []
    }
  }

  setLeakOptions(options: Record<string, unknown>): void {
    this.capacity = ringCapacity(options)
    binding.sitesSetCapacity(this.capacity)
  }

  private connect(): Session {
    if (!this.session) {
      // Loaded on first use: a Node built without the inspector fails here, not at require().
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      let inspector: typeof import('node:inspector')
      try {
        inspector = require('node:inspector')
      } catch (e) {
        throw new Error(
          `startSampling(): this Node has no inspector (${(e as Error).message}), through which heapdiff reads the profile`,
        )
      }
      const session = new inspector.Session()
      session.connect()
      this.session = session
    }
    return this.session
  }

  private read(): HeapProfile | null {
    const session = this.session!
    let result: { profile: HeapProfile } | null
    if (this.mechanism === 'inspector') {
      // This read runs a full GC: not the application's, so hidden from `stats`.
      const from = performance.now()
      binding.gcHide(true)
      try {
        result = tryPost(session, 'HeapProfiler.getSamplingProfile')
      } finally {
        binding.gcHide(false)
        snapshotWindows.push([from, performance.now()])
        if (snapshotWindows.length > 64) snapshotWindows.shift()
      }
    } else {
      result = tryPost(session, 'HeapProfiler.getSamplingProfile')
    }
    if (!result) {
      // Stopped by someone else (DevTools' stop, another library): nothing left to read.
      this.mechanism = null
      this.reason = "stopped by another user of V8's sampling heap profiler on this thread"
      binding.sitesStop()
      return null
    }
    return result.profile
  }
}

function ringCapacity(options: Record<string, unknown>): number {
  const n = (k: 'window' | 'consecutiveGrowth' | 'fastGcs'): number => {
    const v = options[k]
    return typeof v === 'number' && Number.isFinite(v) ? v : (LEAK_DEFAULTS[k] ?? 0)
  }
  return Math.min(4096, Math.max(n('window'), n('consecutiveGrowth'), n('fastGcs'), 3) + 2)
}

/** Synchronous for an in-process session: the reply comes before `post` returns. */
function post<T>(session: Session, method: string, params?: object): T {
  let error: Error | null = null
  let result: T | undefined
  session.post(method, params ?? {}, (err: Error | null, res?: object) => {
    error = err
    result = res as T
  })
  if (error) throw error
  return result as T
}

function tryPost<T>(session: Session, method: string): T | null {
  try {
    return post<T>(session, method)
  } catch {
    return null
  }
}

/**
 * The profile as pprof frames and stacks: one sample per node holding live objects, V8's bytes
 * (`selfSize`) and the objects its samples stand for.
 */
export function toPprof(profile: HeapProfile, interval: number, timeMs: number): binding.PprofProfile {
  const p = binding.profileStacks(JSON.stringify(profile), interval)
  for (const f of p.frames) f.name ||= '(anonymous)'
  return { ...p, interval, timeMs }
}

export const sampler = new Sampler()
