/**
 * Allocation sites from V8's sampling heap profiler: the shapes of the profile
 * `HeapProfiler.getSamplingProfile` returns and of the sites a `leak` event names, and the
 * per-site totals of profile files. The sampler's persistent state (frames and call paths
 * interned across reads, the ring of per-GC summaries, the size candidates of sample values) and
 * its logic (V8's scaling, which sites grew) are native, in `heapprof::live`, so that none of it
 * lives on the heap it watches; `lib/sampling.ts` feeds it.
 */
import binding = require('../binding')

/** `Runtime.CallFrame` of the inspector protocol: 0-based line and column, -1 when unknown. */
export interface CallFrame {
  functionName: string
  scriptId: string
  url: string
  lineNumber: number
  columnNumber: number
}

/** `HeapProfiler.SamplingHeapProfileNode`: one function on one call path. */
export interface ProfileNode {
  callFrame: CallFrame
  /** Estimated bytes of the live objects allocated here (V8's scaled sum over its samples). */
  selfSize: number
  id: number
  children: ProfileNode[]
}

/** `HeapProfiler.SamplingHeapProfileSample`: one sampled live object. */
export interface ProfileSample {
  /** Estimated bytes the sample stands for: its size times its scaled count. */
  size: number
  nodeId: number
  /** Unique and increasing in allocation order: tells one sampled object from another. */
  ordinal: number
}

/** `HeapProfiler.SamplingHeapProfile`, the shape Chrome DevTools reads. */
export interface HeapProfile {
  head: ProfileNode
  samples: ProfileSample[]
}

/** An allocation site in a `leak` event: the allocating function and what grew there. */
export interface AllocationSite {
  /** Function name (`'(anonymous)'` for an anonymous one). */
  name: string
  /** Script URL or path; `''` for V8's own entries such as `'(V8 API)'`. */
  url: string
  /** 1-based line and column of the function (V8 samples per function); 0 when unknown. */
  line: number
  column: number
  /** `'name (url:line:column)'`, the allocating frame first, callers after it. */
  stack: string[]
  /** Estimated live bytes allocated here that were added over the window. */
  growth_bytes: number
  /** Estimated live bytes allocated here at the window's end. */
  live_bytes: number
  /** Estimated live objects allocated here at the window's end. */
  live_count: number
}

export interface Frame {
  name: string
  url: string
  /** 1-based, 0 when unknown. */
  line: number
  column: number
}

/** `'name (url:line:column)'`, as Node prints stack frames; V8's own entries by name alone. */
export function formatFrame(f: Frame): string {
  const name = f.name || '(anonymous)'
  return f.url ? `${name} (${f.url}:${f.line}:${f.column})` : name
}

/** A stack and what is live there; `objects` is null where the sampling interval is unknown. */
export interface StackRow {
  frames: Frame[]
  bytes: number
  objects: number | null
}

/**
 * One row per node of a profile that holds live objects: its stack (allocating frame first),
 * V8's estimated bytes (`selfSize`) and, where the interval is known, estimated objects.
 * Computed natively (`heapprof::live`), as the sampler's summaries are; `profile` may be the
 * profile's JSON text.
 */
export function profileRows(profile: HeapProfile | string, interval: number | null): StackRow[] {
  const json = typeof profile === 'string' ? profile : JSON.stringify(profile)
  const p = binding.profileStacks(json, interval)
  return p.samples.map((s) => ({
    frames: s.stack.map((i) => p.frames[i]),
    bytes: s.bytes,
    objects: interval ? s.objects : null,
  }))
}

/** A site's totals in a profile file, as the CLI prints them. */
export interface SiteTotal {
  name: string
  url: string
  line: number
  column: number
  /** Its stack with the most bytes. */
  stack: string[]
  live_bytes: number
  live_count: number | null
  growth_bytes?: number
}

function siteFrame(frames: Frame[]): Frame {
  return frames.find((f) => f.url !== '') ?? frames[0]
}

/** Rows summed per site (the allocating function, as for `leak` events), most bytes first. */
export function siteTotals(rows: StackRow[]): SiteTotal[] {
  const sites = new Map<string, SiteTotal & { top: number }>()
  for (const r of rows) {
    if (r.frames.length === 0) continue
    const f = siteFrame(r.frames)
    const key = `${f.name}\0${f.url}\0${f.line}\0${f.column}`
    let s = sites.get(key)
    if (!s) {
      s = {
        name: f.name || '(anonymous)',
        url: f.url,
        line: f.line,
        column: f.column,
        stack: [],
        live_bytes: 0,
        live_count: 0,
        top: -1,
      }
      sites.set(key, s)
    }
    s.live_bytes += r.bytes
    s.live_count = s.live_count === null || r.objects === null ? null : s.live_count + r.objects
    if (r.bytes > s.top) {
      s.top = r.bytes
      s.stack = r.frames.map(formatFrame)
    }
  }
  return Array.from(sites.values())
    .map(({ top: _top, ...s }) => s)
    .sort((a, b) => b.live_bytes - a.live_bytes)
}

/** Sites whose live bytes grew from `a` to `b`, most growth first; counts are `b`'s. */
export function siteGrowth(a: SiteTotal[], b: SiteTotal[]): SiteTotal[] {
  const key = (s: SiteTotal): string => `${s.name}\0${s.url}\0${s.line}\0${s.column}`
  const before = new Map(a.map((s) => [key(s), s.live_bytes]))
  return b
    .map((s) => ({ ...s, growth_bytes: s.live_bytes - (before.get(key(s)) ?? 0) }))
    .filter((s) => s.growth_bytes > 0)
    .sort((x, y) => y.growth_bytes - x.growth_bytes)
}
