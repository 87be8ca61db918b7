/**
 * Allocation sites from V8's sampling heap profiler, as plain functions over the profile
 * `HeapProfiler.getSamplingProfile` returns: per-GC summaries of what is live where, the diff of
 * two summaries (which sites grew), V8's scaling of samples into estimated bytes and objects, and
 * stack formatting. No Node, no inspector: `lib/sampling.ts` feeds it.
 */

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

/**
 * How many objects a sample of `size` bytes stands for when one is taken every `interval` bytes
 * on average: sampling is a Poisson process over allocated bytes, so an object of that size is
 * sampled with probability 1 − e^(−size/interval).
 */
export function sampleScale(size: number, interval: number): number {
  return 1 / (1 - Math.exp(-size / interval))
}

/** V8's estimated object count for `count` samples of one size (`ScaleSample`: rounded). */
export function scaledCount(size: number, interval: number, count = 1): number {
  return Math.floor(count * sampleScale(size, interval) + 0.5)
}

const candidateCache = new Map<string, number[]>()

/**
 * Every object size `s` that V8's scaling maps to an inspector sample's `size` (which is already
 * `s × scaledCount(s)`), aligned ones (multiples of 8, V8's object alignment) first, then by
 * size (see below for alignment). Often more than one: at 512 KiB, 16, 32, 64, … bytes map to `interval + s` and so does
 * some other size for each (272 and 128 both give 524416), so a single sample's count is
 * ambiguous; `nodeCounts` resolves it with the node's `selfSize` where it can.
 */
export function sizeCandidates(scaled: number, interval: number): number[] {
  if (!(scaled > 0) || !Number.isSafeInteger(scaled)) return []
  const key = `${scaled}/${interval}`
  const known = candidateCache.get(key)
  if (known) return known
  const found = new Set<number>()
  const lower = Math.max(1, scaled - interval)
  for (let d = 1; d * d <= scaled; d++) {
    if (scaled % d !== 0) continue
    for (const s of [d, scaled / d]) if (s >= lower && s * scaledCount(s, interval) === scaled) found.add(s)
  }
  // V8 aligns heap objects to 8 bytes (4 with pointer compression, which Node's builds leave
  // off); sizes off that grid are only taken where nothing on it fits.
  const all = Array.from(found).sort((a, b) => a - b)
  const on = (k: number) => all.filter((v) => v % k === 0)
  const list = on(8).length ? on(8) : on(4).length ? on(4) : all
  if (candidateCache.size > 4096) candidateCache.clear()
  candidateCache.set(key, list)
  return list
}

/** The first of `sizeCandidates`: the smallest aligned size; null where none fits. */
export function rawSize(scaled: number, interval: number): number | null {
  return sizeCandidates(scaled, interval)[0] ?? null
}

/** Estimated objects an inspector sample stands for (at least one), without other evidence. */
export function sampleCount(scaled: number, interval: number): number {
  const s = rawSize(scaled, interval)
  if (s !== null) return scaled / s
  return Math.max(1, Math.round(scaled / interval))
}

/**
 * Estimated objects per sample, by node and sample value. V8 scales a node's samples of one
 * size together (`selfSize` = Σ size × round(n × scale)) but each sample alone, so the node's
 * `selfSize` tells apart the sizes a value could stand for: the combination of candidates that
 * reproduces it is taken (where none or too many do, each value's first candidate).
 */
export function nodeCounts(profile: HeapProfile, interval: number): Map<number, Map<number, number>> {
  const self = new Map<number, number>()
  const stack = [profile.head]
  while (stack.length > 0) {
    const n = stack.pop()!
    self.set(n.id, n.selfSize)
    for (const c of n.children) stack.push(c)
  }
  const groups = new Map<number, Map<number, number>>()
  for (const s of profile.samples ?? []) {
    let g = groups.get(s.nodeId)
    if (!g) groups.set(s.nodeId, (g = new Map()))
    g.set(s.size, (g.get(s.size) ?? 0) + 1)
  }
  const sizeTotal = (size: number, n: number) => size * scaledCount(size, interval, n)
  const out = new Map<number, Map<number, number>>()
  for (const [id, g] of Array.from(groups)) {
    const values = Array.from(g.entries())
    const cands = values.map(([v]) => sizeCandidates(v, interval))
    // A value seen once adds itself to selfSize whichever size it stands for; only values seen
    // more than once, with several candidates, need trying.
    const open = values.map((_, j) => j).filter((j) => values[j][1] > 1 && cands[j].length > 1)
    const fixed = values.reduce(
      (a, [v, n], j) => a + (open.includes(j) ? 0 : cands[j].length ? sizeTotal(cands[j][0], n) : v * n),
      0,
    )
    const combos = open.reduce((a, j) => a * cands[j].length, 1)
    const target = self.get(id)
    const pick = values.map(() => 0)
    if (target !== undefined && open.length > 0 && combos <= 256) {
      for (let k = 0; k < combos; k++) {
        let rest = k
        let total = fixed
        for (const j of open) {
          pick[j] = rest % cands[j].length
          rest = Math.floor(rest / cands[j].length)
          total += sizeTotal(cands[j][pick[j]], values[j][1])
        }
        if (total === target) break
        if (k === combos - 1) pick.fill(0)
      }
    }
    const counts = new Map<number, number>()
    values.forEach(([v], j) => {
      const c = cands[j]
      const size = c.length ? c[pick[j]] : 0
      // Per sample, V8's count for all of them (rounded once) shared out.
      const n = values[j][1]
      counts.set(v, size ? scaledCount(size, interval, n) / n : Math.max(1, Math.round(v / interval)))
    })
    out.set(id, counts)
  }
  return out
}

export function frameOf(cf: CallFrame): Frame {
  return {
    name: cf.functionName,
    url: cf.url,
    line: cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0,
    column: cf.columnNumber >= 0 ? cf.columnNumber + 1 : 0,
  }
}

/** `'name (url:line:column)'`, as Node prints stack frames; V8's own entries by name alone. */
export function formatFrame(f: Frame): string {
  const name = f.name || '(anonymous)'
  return f.url ? `${name} (${f.url}:${f.line}:${f.column})` : name
}

/**
 * Frames, call paths and sites, interned across the summaries of one sampling session so that a
 * summary is a few typed arrays. A site is the allocating function: the innermost frame of a
 * path that belongs to a script (builtins such as `Array` or `JSON.parse` are not where code
 * can be fixed), or the innermost frame where none does (`'(V8 API)'`, `'(BYTECODE_COMPILER)'`).
 */
export class SiteTable {
  readonly frames: Frame[] = []
  private readonly frameIds = new Map<string, number>()
  /** Per path: its frames, allocating first, and its site (a frame id). */
  readonly paths: Array<{ frames: number[]; site: number }> = []
  private readonly pathIds = new Map<string, number>()

  /** @param exclude scripts whose allocations are left out (heapdiff's own). */
  constructor(private readonly exclude: (url: string) => boolean = () => false) {}

  get size(): number {
    return this.paths.length
  }

  frame(cf: CallFrame): number {
    const key = `${cf.functionName}\0${cf.url}\0${cf.lineNumber}\0${cf.columnNumber}`
    let id = this.frameIds.get(key)
    if (id === undefined) {
      id = this.frames.length
      this.frames.push(frameOf(cf))
      this.frameIds.set(key, id)
    }
    return id
  }

  /** The path id of `frame` called from `parent` (-1: from the root); -1 for excluded paths. */
  path(parent: number, frame: number): number {
    const key = `${parent},${frame}`
    let id = this.pathIds.get(key)
    if (id === undefined) {
      const outer = parent >= 0 ? this.paths[parent].frames : []
      const frames = [frame, ...outer]
      const site = frames.find((f) => this.frames[f].url !== '') ?? frame
      id = this.paths.length
      this.paths.push({ frames, site })
      this.pathIds.set(key, id)
    }
    return id
  }

  private readonly excludedFrames = new Map<number, boolean>()

  excluded(frame: number): boolean {
    let known = this.excludedFrames.get(frame)
    if (known === undefined) {
      const url = this.frames[frame].url
      known = url !== '' && this.exclude(url)
      this.excludedFrames.set(frame, known)
    }
    return known
  }
}

/** What was live where at one moment: one entry per live sample. */
export interface Summary {
  /** When (ms since the epoch): the full GC it follows. */
  time: number
  ordinals: Float64Array
  /** Estimated bytes per sample. */
  bytes: Float64Array
  /** Estimated objects per sample. */
  counts: Float64Array
  /** Path id per sample. */
  paths: Int32Array
}

/**
 * The live samples of `profile`, each with its path in `table`. Paths through an excluded script
 * are left out, and so is the root's own entry.
 */
export function summarize(profile: HeapProfile, table: SiteTable, interval: number, time: number): Summary {
  const pathOf = new Map<number, number>()
  const stack: Array<[ProfileNode, number]> = profile.head.children.map((c) => [c, -1])
  while (stack.length > 0) {
    const [node, parent] = stack.pop()!
    const frame = table.frame(node.callFrame)
    const path = parent === -2 || table.excluded(frame) ? -2 : table.path(parent, frame)
    pathOf.set(node.id, path)
    for (const c of node.children) stack.push([c, path])
  }
  const kept = profile.samples.filter((s) => (pathOf.get(s.nodeId) ?? -2) >= 0)
  const perNode = nodeCounts({ head: profile.head, samples: kept }, interval)
  const n = kept.length
  const summary: Summary = {
    time,
    ordinals: new Float64Array(n),
    bytes: new Float64Array(n),
    counts: new Float64Array(n),
    paths: new Int32Array(n),
  }
  for (let i = 0; i < n; i++) {
    const s = kept[i]
    summary.ordinals[i] = s.ordinal
    summary.bytes[i] = s.size
    summary.counts[i] = perNode.get(s.nodeId)?.get(s.size) ?? sampleCount(s.size, interval)
    summary.paths[i] = pathOf.get(s.nodeId)!
  }
  return summary
}

/**
 * P(X ≥ k) for X ~ Binomial(n, ½): how likely `k` or more of `n` sampled objects that came or
 * went over a window were the ones that came, if the site were level. Exact for n ≤ 1000 (log
 * space), normal approximation above.
 */
export function signTail(k: number, n: number): number {
  if (k <= 0) return 1
  if (k > n) return 0
  if (n > 1000) {
    const z = (k - 0.5 - n / 2) / Math.sqrt(n / 4)
    return 0.5 * erfc(z / Math.SQRT2)
  }
  let logC = 0 // log C(n, i), from i = 0 up
  let sum = 0
  const logHalfN = n * Math.log(0.5)
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i)
    if (i >= k) sum += Math.exp(logC + logHalfN)
  }
  return Math.min(1, sum)
}

/** Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x)
  const t = 1 / (1 + 0.5 * z)
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851641 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return x >= 0 ? r : 2 - r
}

export interface GrowthOptions {
  /** Sites listed at most (default 10). */
  max?: number
  /**
   * How unlikely the site's excess of new over gone samples must be if it were level (default
   * 0.001): a full cache replacing entries, or garbage not yet collected, gains and loses sampled
   * objects at random, and is not growth.
   */
  significance?: number
}

/**
 * The sites whose live sampled bytes grew from `start` to `end`, largest growth first. A site's
 * growth is the bytes of samples alive at `end` that were not at `start` minus those alive at
 * `start` that are gone at `end`; it is listed only when that is positive and more new samples
 * than gone ones is not what turnover alone makes (a sign test on the sample counts).
 */
export function grownSites(
  start: Summary,
  end: Summary,
  table: SiteTable,
  { max = 10, significance = 0.001 }: GrowthOptions = {},
): AllocationSite[] {
  interface Acc {
    born: number
    died: number
    growth: number
    live: number
    count: number
    paths: Map<number, number>
  }
  const acc = new Map<number, Acc>()
  const get = (site: number): Acc => {
    let a = acc.get(site)
    if (!a) acc.set(site, (a = { born: 0, died: 0, growth: 0, live: 0, count: 0, paths: new Map() }))
    return a
  }
  const before = new Set(start.ordinals)
  const after = new Set(end.ordinals)
  for (let i = 0; i < end.ordinals.length; i++) {
    const path = end.paths[i]
    const a = get(table.paths[path].site)
    a.live += end.bytes[i]
    a.count += end.counts[i]
    if (!before.has(end.ordinals[i])) {
      a.born++
      a.growth += end.bytes[i]
      a.paths.set(path, (a.paths.get(path) ?? 0) + end.bytes[i])
    }
  }
  for (let i = 0; i < start.ordinals.length; i++) {
    if (after.has(start.ordinals[i])) continue
    const a = get(table.paths[start.paths[i]].site)
    a.died++
    a.growth -= start.bytes[i]
  }
  const sites: AllocationSite[] = []
  for (const [site, a] of Array.from(acc)) {
    if (a.growth <= 0 || signTail(a.born, a.born + a.died) > significance) continue
    let top = -1
    let topBytes = -1
    for (const [path, bytes] of Array.from(a.paths)) {
      if (bytes > topBytes) [top, topBytes] = [path, bytes]
    }
    const f = table.frames[site]
    sites.push({
      name: f.name || '(anonymous)',
      url: f.url,
      line: f.line,
      column: f.column,
      stack: table.paths[top].frames.map((id) => formatFrame(table.frames[id])),
      growth_bytes: Math.round(a.growth),
      live_bytes: Math.round(a.live),
      live_count: Math.round(a.count),
    })
  }
  sites.sort((x, y) => y.growth_bytes - x.growth_bytes)
  return sites.slice(0, max)
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
 */
export function profileRows(profile: HeapProfile, interval: number | null): StackRow[] {
  const counts = new Map<number, number>()
  if (interval) {
    const perNode = nodeCounts(profile, interval)
    for (const s of profile.samples ?? []) {
      counts.set(s.nodeId, (counts.get(s.nodeId) ?? 0) + (perNode.get(s.nodeId)?.get(s.size) ?? 1))
    }
  }
  const rows: StackRow[] = []
  const stack: Array<[ProfileNode, Frame[]]> = profile.head.children.map((c) => [c, []])
  while (stack.length > 0) {
    const [node, outer] = stack.pop()!
    const frames = [frameOf(node.callFrame), ...outer]
    if (node.selfSize > 0) {
      rows.push({ frames, bytes: node.selfSize, objects: interval ? Math.round(counts.get(node.id) ?? 0) : null })
    }
    for (const c of node.children) stack.push([c, frames])
  }
  return rows
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
