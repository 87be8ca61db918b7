/**
 * The report's one source of truth: a JSON document built from a run folder, a diff of two
 * snapshots, the three-snapshot technique or a sampling heap profile. The HTML and Markdown
 * forms only render it, so what a reader sees in a PR comment, a CI artefact and `--format json`
 * is the same analysis.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

import { formatSize, leakOptionDefaults } from '../../../binding'
import { startDiff, startFindLeaks } from '../../files'
import type {
  ExitEvent,
  GrowthRecord,
  LeakRecord,
  RunEvent,
  SnapshotEvent,
  StartEvent,
  StatsEvent,
} from '../../run/events'
import { readingOrder } from '../table'
import type { ClassRow, FlameNode, LeakMark, Report, Site, ThreadSeries } from './types'

export type { ClassRow, FlameNode, LeakMark, Report, Site, ThreadSeries } from './types'

/** Input the report cannot be built from; the CLI exits with code 3. */
export class ReportInputError extends Error {}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 120) return `${Math.round(s * 10) / 10} s`
  const m = s / 60
  return m < 120 ? `${Math.round(m * 10) / 10} min` : `${Math.round((m / 60) * 10) / 10} h`
}

/** `name (file:line)` for a site, or whatever form a row's `allocated_at` comes in. */
export function siteLabel(s: unknown): string | null {
  if (s === null || s === undefined) return null
  if (typeof s === 'string') return s
  if (typeof s !== 'object') return String(s)
  const o = s as { name?: string; functionName?: string; url?: string; line?: number; column?: number }
  const name = o.name || o.functionName || '(anonymous)'
  if (!o.url) return name
  return `${name} (${o.url}:${o.line ?? 0}${o.column !== undefined ? `:${o.column}` : ''})`
}

/**
 * Where most of a class's instances were allocated: the allocating frame (`name (url:line:column)`)
 * of its first stack, the one most instances share; null where the snapshots have no traces.
 */
function allocatedAt(stacks: ReadonlyArray<{ stack: string[] }> | undefined): string | null {
  return stacks?.[0]?.stack[0] ?? null
}

function empty(kind: Report['kind'], title: string, inputs: string[]): Report {
  return {
    heapdiff_report: 1,
    kind,
    title,
    generated: new Date().toISOString(),
    inputs,
    verdict: { leak: false, sentence: '' },
    threads: [],
    leaks: [],
    sites: [],
    flame: null,
    classes: [],
    class_source: null,
    notes: [],
  }
}

// ---------------------------------------------------------------------------------------------
// Sites and the icicle

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** Normalises a `leak` event's site (whatever of the expected fields it carries). */
function toSite(raw: unknown): Site {
  const o = (raw ?? {}) as Record<string, unknown>
  const stack = Array.isArray(o.stack) ? o.stack.map((f) => siteLabel(f) ?? '?') : []
  return {
    name: typeof o.name === 'string' && o.name ? o.name : '(anonymous)',
    url: typeof o.url === 'string' ? o.url : '',
    line: num(o.line) ?? 0,
    column: num(o.column) ?? 0,
    stack,
    growth_bytes: num(o.growth_bytes),
    live_bytes: num(o.live_bytes),
    live_count: num(o.live_count),
  }
}

/** What a site weighs in the report: its growth, or its live bytes where no growth is known. */
const siteWeight = (s: Site) => s.growth_bytes ?? s.live_bytes ?? 0

/** The report's sites, heaviest first, and their icicle. */
function showSites(report: Report, sites: Site[]): void {
  report.sites = [...sites].sort((a, b) => siteWeight(b) - siteWeight(a))
  report.flame = flameOf(report.sites)
}

/** The icicle of the sites' stacks, outermost frame at the top; each site weighs its growth. */
export function flameOf(sites: Site[]): FlameNode | null {
  const root: FlameNode = { name: 'all', value: 0, children: [] }
  for (const s of sites) {
    const value = siteWeight(s)
    if (value <= 0) continue
    const frames = s.stack.length > 0 ? [...s.stack].reverse() : [siteLabel(s) ?? s.name]
    root.value += value
    let node = root
    for (const f of frames) {
      let child = node.children.find((c) => c.name === f)
      if (!child) {
        child = { name: f, value: 0, children: [] }
        node.children.push(child)
      }
      child.value += value
      node = child
    }
  }
  sortFlame(root)
  return root.value > 0 ? root : null
}

function sortFlame(n: FlameNode): void {
  n.children.sort((a, b) => b.value - a.value)
  for (const c of n.children) sortFlame(c)
}

// ---------------------------------------------------------------------------------------------
// Run folders

/**
 * One thread's events file, sorted by type. Typed as `preload.ts` writes them; what is read from
 * them is still checked (`num()`, `typeof`), as a file may come from another version.
 */
interface RawThread {
  file: string
  start: StartEvent | null
  stats: StatsEvent[]
  leaks: LeakRecord[]
  snapshots: SnapshotEvent[]
  growth: GrowthRecord | null
  exit: ExitEvent | null
}

/** Reads one NDJSON file; a line that is not a JSON object is an error naming file and line. */
function readEvents(path: string): RawThread {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ReportInputError(`${path}: cannot read: ${(e as Error).message}`)
  }
  const t: RawThread = { file: path, start: null, stats: [], leaks: [], snapshots: [], growth: null, exit: null }
  const lines = text.split('\n')
  // A file ends with a newline; anything after the last one is a line cut short.
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '' && i === lines.length - 1) break
    let rec: Record<string, unknown>
    try {
      rec = JSON.parse(line)
    } catch {
      const cut = i === lines.length - 1 ? 'truncated (no newline at the end): ' : ''
      throw new ReportInputError(`${path}:${i + 1}: ${cut}not a JSON event line: ${JSON.stringify(line.slice(0, 80))}`)
    }
    if (rec === null || typeof rec !== 'object' || typeof rec.type !== 'string') {
      throw new ReportInputError(`${path}:${i + 1}: not a heapdiff event (no "type")`)
    }
    if (i === lines.length - 1) {
      throw new ReportInputError(`${path}:${i + 1}: truncated: the last line has no newline`)
    }
    const ev = rec as unknown as RunEvent
    if (ev.type === 'start') t.start = ev
    else if (ev.type === 'stats') t.stats.push(ev)
    else if (ev.type === 'leak') t.leaks.push(ev)
    else if (ev.type === 'snapshot') t.snapshots.push(ev)
    else if (ev.type === 'growth') t.growth = ev
    else if (ev.type === 'exit') t.exit = ev
  }
  return t
}

/** The events files of a run folder, checked, one per thread. */
export function readRunFolder(dir: string): RawThread[] {
  let st
  try {
    st = statSync(dir)
  } catch {
    throw new ReportInputError(`${dir}: no such run folder`)
  }
  if (!st.isDirectory()) throw new ReportInputError(`${dir}: not a run folder (not a directory)`)
  const files = readdirSync(dir)
    .filter((f) => /^events-\d+-\d+\.ndjson$/.test(f))
    .sort(byPidThread)
  if (files.length === 0) throw new ReportInputError(`${dir}: no events-*.ndjson files: not a heapdiff run folder`)
  return files.map((f) => readEvents(join(dir, f)))
}

function byPidThread(a: string, b: string): number {
  const [pa, ta] = a.match(/\d+/g)!.map(Number)
  const [pb, tb] = b.match(/\d+/g)!.map(Number)
  return pa - pb || ta - tb
}

function toThread(raw: RawThread): ThreadSeries {
  const [pid, tid] = basename(raw.file).match(/\d+/g)!.map(Number)
  const start: Partial<StartEvent> = raw.start ?? {}
  const main = start.main !== false && tid === 0
  const series = {
    time: [] as number[],
    heap: [] as number[],
    base: [] as number[],
    external: [] as number[],
    pause_ms: [] as number[],
  }
  for (const s of raw.stats) {
    series.time.push(num(s.gc_time) ?? 0)
    series.heap.push(num(s.current_base) ?? 0)
    series.base.push(num(s.estimated_base) ?? 0)
    series.external.push(num(s.external_memory) ?? 0)
    series.pause_ms.push(num(s.pause_ms) ?? 0)
  }
  return {
    id: `${pid}-${tid}`,
    label: `${main ? 'main' : `worker ${tid}`} (pid ${pid})`,
    pid,
    thread_id: tid,
    argv: Array.isArray(start.argv) ? start.argv : [],
    node: typeof start.node === 'string' ? start.node : null,
    hook: typeof start.hook === 'string' ? start.hook : null,
    sampling: start.sampling === true,
    exit_code: raw.exit ? (num(raw.exit.code) ?? null) : null,
    series,
    snapshots: raw.snapshots.map(({ file, start: s, end }) => ({ file, start: s, end })),
  }
}

/** What a report shows beyond the program's own classes. */
export interface ReportOptions {
  /**
   * List the classes of V8's own objects among the survivors of three snapshots (compiled code,
   * hidden classes, the new backing store of an old `Map`), after the program's classes; default
   * false: they are left out of the class table and the verdict, with a note saying how many.
   */
  internals?: boolean
}

type Survivors = Awaited<ReturnType<typeof startFindLeaks>['result']>

/**
 * Rows of the three-snapshot technique, with the allocation line where the analysis has it: the
 * program's classes, and V8's own only when asked for (`ReportOptions.internals`).
 */
function survivorRows(report: Report, leaks: Survivors['leaks'], options: ReportOptions): ClassRow[] {
  const own = leaks.filter((l) => l.internal)
  if (own.length > 0 && !options.internals) {
    const count = own.reduce((n, l) => n + l.count, 0)
    report.notes.push(
      `${own.length} ${own.length === 1 ? 'class' : 'classes'} of V8's own objects (${own.map((l) => l.what).join(', ')}: ` +
        `${count} objects) left out of the class table; --internals lists them`,
    )
  }
  return leaks
    .filter((l) => options.internals || !l.internal)
    .map((l) => ({
      what: l.what,
      count: l.count,
      freed: null,
      growth: null,
      size_bytes: l.size_bytes,
      retained_size_bytes: l.retained_size_bytes ?? null,
      allocated_at: allocatedAt(l.allocated_at),
      paths: l.retainers,
    }))
}

/** A record's `classes`, each checked: `[{ what, count, growth }]`. */
function classGrowth(raw: unknown): LeakMark['classes'] {
  if (!Array.isArray(raw)) return []
  return raw.flatMap((c: unknown) => {
    const r = c as Record<string, unknown>
    const [count, growth] = [num(r?.count), num(r?.growth)]
    return typeof r?.what === 'string' && count !== null && growth !== null ? [{ what: r.what, count, growth }] : []
  })
}

/** Census rows of class growth, as the class table shows them. */
function growthRows(classes: LeakMark['classes']): ClassRow[] {
  return classes.map((c) => ({
    what: c.what,
    count: c.count,
    growth: c.growth,
    freed: null,
    size_bytes: null,
    retained_size_bytes: null,
    allocated_at: null,
    paths: [],
  }))
}

export async function runReport(dir: string, options: ReportOptions = {}): Promise<Report> {
  const raws = readRunFolder(dir)
  const report = empty('run', `heapdiff run: ${basename(dir)}`, [dir])
  report.threads = raws.map(toThread)
  for (const [i, raw] of raws.entries()) {
    for (const l of raw.leaks) {
      report.leaks.push({
        thread: report.threads[i].id,
        memory: l.memory === 'external' ? 'external' : 'heap',
        time: num(l.time) ?? num(l.end) ?? 0,
        start: num(l.start) ?? 0,
        end: num(l.end) ?? 0,
        growth: num(l.growth) ?? 0,
        gcs: num(l.gcs) ?? 0,
        reason: typeof l.reason === 'string' ? l.reason : '',
        sites: Array.isArray(l.sites) ? l.sites.map(toSite) : [],
        classes: classGrowth(l.classes),
        census:
          l.census && num(l.census.since) !== null && num(l.census.ms) !== null
            ? { since: num(l.census.since)!, ms: num(l.census.ms)! }
            : null,
      })
    }
  }
  report.leaks.sort((a, b) => a.time - b.time)
  // The verdict leads with the memory that grew most: a Buffer leak also grows the heap a
  // little (the wrappers), and that heap event may come first.
  const firsts = (['heap', 'external'] as const).flatMap((m) => report.leaks.find((l) => l.memory === m) ?? [])
  const first = firsts.sort((a, b) => b.growth - a.growth)[0]
  const withSites = report.leaks.find((l) => l.sites.length > 0)
  if (withSites) showSites(report, withSites.sites)
  // The three-snapshot sequence of the first thread that completed one (main thread first).
  let partial = 0
  for (const raw of raws) {
    const snaps = [1, 2, 3].map((n) => raw.snapshots.find((s) => s.index === n))
    if (snaps.some((s) => !s)) {
      partial = Math.max(partial, raw.snapshots.length)
      if (raw.snapshots.length > 0)
        report.notes.push(
          `${basename(raw.file)}: only ${raw.snapshots.length} of the 3 snapshots were taken before the program ended`,
        )
      continue
    }
    if (report.class_source !== null) continue
    const files = snaps.map((s) => join(dir, s!.file))
    const survivors = await startFindLeaks(files[0], files[1], files[2], { grouping: 'devtools' }).result.catch(
      (e: Error) => {
        throw new ReportInputError(e.message)
      },
    )
    if (survivors.comparable === false) {
      report.notes.push(`${basename(raw.file)}: no leak report from its snapshots: ${survivors.warning}`)
      continue
    }
    report.classes = survivorRows(report, survivors.leaks, options)
    report.class_source = `three snapshots: ${snaps.map((s) => s!.file).join(', ')}`
  }
  // No snapshots: what grew is the first leak's class census, where it has one.
  const counted = report.leaks.find((l) => l.classes.length > 0)
  if (report.class_source === null && counted) {
    report.classes = growthRows(counted.classes)
    report.class_source = `class census: growth over the ${formatDuration(counted.time - counted.census!.since)} before the first leak event of ${counted.thread}, from two censuses that paused the program ${Math.round(counted.census!.ms)} ms`
  }
  // No leak event, as too few full GCs ran to judge: what grew before the program ended, where a
  // thread's rule saw growth (its newest census against the baseline census).
  if (report.leaks.length === 0 && report.class_source === null && tooFewGcs(report)) {
    const grown = raws
      .map((r, i) => ({
        thread: report.threads[i],
        g: r.growth,
        ended: r.exit?.time ?? null,
        classes: classGrowth(r.growth?.classes),
      }))
      .filter((x) => x.g && num(x.g.census?.since) !== null && num(x.g.census?.ms) !== null)
      .sort((a, b) => (b.classes[0]?.growth ?? 0) - (a.classes[0]?.growth ?? 0))[0]
    if (grown) {
      const g = grown.g!
      report.classes = growthRows(grown.classes)
      const ended = num(grown.ended)
      report.class_source =
        `class census: growth over the ${formatDuration(num(g.time)! - num(g.census.since)!)} after growth first showed` +
        (ended !== null
          ? `, counted ${formatDuration(Math.max(0, ended - num(g.time)!))} before ${grown.thread.label} ended`
          : '') +
        `, from two censuses that paused the program ${Math.round(num(g.census.ms)!)} ms`
      const sites = Array.isArray(g.sites) ? g.sites.map(toSite) : []
      if (report.sites.length === 0 && sites.length > 0) showSites(report, sites)
    }
  }
  const threads = report.threads.filter((t) => t.series.time.length > 0)
  if (!threads.some((t) => t.sampling) && threads.length > 0) {
    const why = raws.some((r) => r.start?.sampling_available === true)
      ? 'turned off (--no-sampling)'
      : 'not available in this heapdiff build'
    report.notes.push(`allocation sampling ${why}: no allocation sites`)
  }
  report.verdict = runVerdict(report, first)
  if (report.verdict.leak && partial > 0 && !report.class_source?.startsWith('three snapshots'))
    report.verdict.sentence +=
      ` The program ended after ${partial} of the 3 snapshots, too soon ` +
      `${report.classes.length > 0 ? 'for retaining paths' : 'to name what leaks'}: run it longer, or lower --snapshot-gcs.`
  return report
}

/** The leak rule's window: it judges no thread with fewer full GCs. */
const RULE_WINDOW = leakOptionDefaults().window ?? 10

/** No thread had the rule's window of full GCs: fewer cannot clear a heap that grew. */
const tooFewGcs = (report: Report) => Math.max(0, ...report.threads.map((t) => t.series.time.length)) < RULE_WINDOW

/** How a sentence names each memory. */
const MEMORY = { heap: 'heap', external: 'external memory (Buffers, ArrayBuffers)' } as const

function runVerdict(report: Report, first: LeakMark | undefined): Report['verdict'] {
  const gcs = report.threads.reduce((n, t) => n + t.series.time.length, 0)
  const times = report.threads.flatMap((t) => [t.series.time[0], t.series.time[t.series.time.length - 1]])
  const span =
    times.length > 0 ? Math.max(...times.filter(Number.isFinite)) - Math.min(...times.filter(Number.isFinite)) : 0
  if (!first) {
    if (gcs === 0)
      return { leak: false, sentence: 'No leak reported, but the program ran no full GC: too short to judge.' }
    const range = (values: number[]) => `${formatSize(Math.min(...values))} and ${formatSize(Math.max(...values))}`
    const heaps = report.threads.flatMap((t) => t.series.heap)
    const externals = report.threads.flatMap((t) => t.series.external)
    const n = report.threads.length
    const over = `${gcs} full GC${gcs === 1 ? '' : 's'} in ${formatDuration(span)}${n > 1 ? ` across ${n} threads` : ''}`
    const stayed = `the post-GC heap stayed between ${range(heaps)} and external memory between ${range(externals)}`
    if (tooFewGcs(report)) {
      const heapFrom = Math.min(...report.threads.filter((t) => t.series.heap.length).map((t) => t.series.heap[0]))
      const heapTo = Math.max(...heaps)
      const ratio = heapFrom > 0 ? heapTo / heapFrom : 1
      const grew =
        ratio >= 1.5
          ? `the post-GC heap grew ${ratio.toFixed(1)}× (${formatSize(heapFrom)} to ${formatSize(heapTo)})`
          : `the post-GC heap went from ${formatSize(heapFrom)} to ${formatSize(heapTo)}`
      // Counted at exit by the class census, where growth showed.
      const top = report.classes[0]
      const site = report.sites[0]
      // A few objects more is no answer (a Zlib context, one ArrayBuffer): named from 100 on.
      const what =
        top && top.growth !== null && top.growth >= 100
          ? ` Meanwhile ${top.what} grew by ${top.growth.toLocaleString('en-US')} objects` +
            (site ? ` (allocated mostly at ${siteLabel(site)})` : '') +
            '.'
          : site && report.class_source?.startsWith('class census')
            ? ` Meanwhile the heap's growth was allocated mostly at ${siteLabel(site)}.`
            : ''
      return {
        leak: false,
        sentence:
          `No verdict: ${grew} over only ${over}: too few to judge a trend, the leak rule needs ${RULE_WINDOW} on one thread.${what} ` +
          `Run the program longer (a loop of requests or test iterations), or call gc() in its loop.`,
      }
    }
    return { leak: false, sentence: `No leak: over ${over}, ${stayed}.` }
  }
  const thread = report.threads.find((t) => t.id === first.thread)!
  const t0 = Math.min(...report.threads.filter((t) => t.series.time.length).map((t) => t.series.time[0]))
  let s =
    `Leak: the post-GC ${MEMORY[first.memory]} of the ${thread.label.replace(/ \(.*/, ' thread')} grew ${formatSize(first.growth)} ` +
    `over ${first.gcs} full GCs (${first.reason.replace(/^(heap|external memory) growth over \d+ consecutive GCs \(([^)]*)\) - /, '$2, ')}), ` +
    `reported ${formatDuration(Math.max(0, first.time - t0))} after the first GC`
  const other = report.leaks.find((l) => l.memory !== first.memory)
  if (other) s += `; the ${other.memory === 'heap' ? 'heap' : 'external memory'} grew too`
  const top = report.classes[0]
  const site = report.sites[0]
  if (top && top.growth !== null) {
    // Counted by the class census, without a snapshot.
    s += `; ${top.what} +${top.growth.toLocaleString('en-US')} objects`
    if (site && first.memory === 'heap') s += ` (allocated mostly at ${siteLabel(site)})`
  } else {
    if (top) {
      s += `; ${top.what} grew most: ${top.count} objects still alive`
      if (top.retained_size_bytes !== null) s += `, retaining ${formatSize(top.retained_size_bytes)}`
      if (top.allocated_at) s += `, allocated at ${top.allocated_at}`
    }
    if (site && !top?.allocated_at && first.memory === 'heap')
      s += `${top ? ',' : ';'} allocated mostly at ${siteLabel(site)}`
  }
  if (first.memory === 'external' && !top)
    s +=
      '; allocation sampling cannot see the bytes of Buffers, so their sites are unknown: --snapshots on-leak names what holds them'
  return { leak: true, sentence: s + '.' }
}

// ---------------------------------------------------------------------------------------------
// Snapshot files

export async function diffReport(before: string, after: string): Promise<Report> {
  const result = await startDiff(before, after, { grouping: 'devtools', retainers: true }).result.catch((e: Error) => {
    throw new ReportInputError(e.message)
  })
  const report = empty('diff', `heapdiff: ${basename(before)} → ${basename(after)}`, [before, after])
  report.classes = readingOrder(result.change).map((d) => ({
    what: d.what,
    count: d['+'],
    freed: d['-'],
    growth: null,
    size_bytes: d.size_bytes,
    retained_size_bytes: d.retained_size_bytes ?? null,
    allocated_at: allocatedAt(d.allocated_at),
    paths: d.retainers ?? [],
  }))
  report.class_source = `diff ${basename(before)} → ${basename(after)}`
  if (result.comparable === false) {
    report.classes = []
    report.verdict = { leak: false, sentence: `No diff: ${result.warning}.` }
    return report
  }
  const top = report.classes.find((c) => (c.size_bytes ?? 0) > 0)
  const grew = result.change.size_bytes > 0
  report.verdict = {
    leak: grew,
    sentence:
      `The heap ${grew ? 'grew' : 'shrank'} by ${formatSize(Math.abs(result.change.size_bytes))} between ` +
      `${basename(before)} and ${basename(after)} (${result.change.allocated_nodes} objects allocated, ` +
      `${result.change.freed_nodes} freed)` +
      (top
        ? `; ${top.what} grew most: +${top.count - (top.freed ?? 0)} objects, +${formatSize(top.size_bytes ?? 0)}`
        : '') +
      (top?.paths[0] ? `, held by ${top.paths[0].path}` : '') +
      '.',
  }
  return report
}

export async function leaksReport(s1: string, s2: string, s3: string, options: ReportOptions = {}): Promise<Report> {
  const r = await startFindLeaks(s1, s2, s3, { grouping: 'devtools' }).result.catch((e: Error) => {
    throw new ReportInputError(e.message)
  })
  const names = [s1, s2, s3].map((f) => basename(f))
  const report = empty('leaks', `heapdiff: three snapshots ${names.join(', ')}`, [s1, s2, s3])
  report.class_source = `three snapshots: ${names.join(', ')}`
  if (r.comparable === false) {
    report.verdict = { leak: false, sentence: `No leak report: ${r.warning}.` }
    return report
  }
  report.classes = survivorRows(report, r.leaks, options)
  const top = report.classes[0]
  report.verdict = top
    ? {
        leak: true,
        sentence:
          `${r.leaked} of the ${r.allocated} objects allocated between ${names[0]} and ${names[1]} are still alive in ${names[2]}; ` +
          `${top.what} leads with ${top.count} objects` +
          (top.retained_size_bytes !== null ? `, retaining ${formatSize(top.retained_size_bytes)}` : '') +
          (top.paths[0] ? `, held by ${top.paths[0].path}` : '') +
          '.',
      }
    : {
        leak: false,
        sentence: `No leak: none of the ${r.allocated} objects allocated between ${names[0]} and ${names[1]} is still alive in ${names[2]}.`,
      }
  return report
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  selfSize: number
  children?: ProfileNode[]
}

/** A sampling heap profile (`.heapprofile`: DevTools, `node --heap-prof`): live bytes by stack. */
export function profileReport(file: string): Report {
  let profile: { head?: ProfileNode }
  try {
    profile = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    throw new ReportInputError(`${file}: not a heap profile: ${(e as Error).message}`)
  }
  if (!profile || typeof profile !== 'object' || !profile.head?.callFrame) {
    throw new ReportInputError(`${file}: not a heap profile (no "head" call frame)`)
  }
  const report = empty('profile', `heapdiff: ${basename(file)}`, [file])
  const frame = (n: ProfileNode) => {
    const { functionName, url, lineNumber, columnNumber } = n.callFrame
    // The profile's lines and columns are 0-based; people and editors count from 1. Node 20
    // writes -1 and no url for some user functions: then the function's name is all there is.
    return siteLabel({ name: functionName || '(anonymous)', url, line: lineNumber + 1, column: columnNumber + 1 })!
  }
  const sites = new Map<string, Site>()
  const walk = (n: ProfileNode, stack: string[]): FlameNode => {
    const name = frame(n)
    const here = [name, ...stack]
    const children = (n.children ?? []).map((c) => walk(c, here))
    if (n.selfSize > 0) {
      const s = sites.get(name) ?? {
        name: n.callFrame.functionName || '(anonymous)',
        url: n.callFrame.url,
        line: Math.max(0, n.callFrame.lineNumber + 1),
        column: Math.max(0, n.callFrame.columnNumber + 1),
        stack: here,
        growth_bytes: null,
        live_bytes: 0,
        live_count: null,
      }
      s.live_bytes! += n.selfSize
      sites.set(name, s)
    }
    const value = n.selfSize + children.reduce((a, c) => a + c.value, 0)
    return { name, value, children: children.filter((c) => c.value > 0).sort((a, b) => b.value - a.value) }
  }
  const root = walk(profile.head, [])
  root.name = 'all'
  report.flame = root.value > 0 ? root : null
  report.sites = [...sites.values()].sort((a, b) => b.live_bytes! - a.live_bytes!)
  const top = report.sites[0]
  report.verdict = {
    leak: false,
    sentence: top
      ? `Sampled live allocations: ${formatSize(root.value)}; ${Math.round((top.live_bytes! / root.value) * 100)}% ` +
        `allocated at ${siteLabel(top)}.`
      : 'The profile has no sampled allocations.',
  }
  report.notes.push('a heap profile shows where live memory was allocated, not whether it grows')
  return report
}

/** What a report is built from: `heapdiff report`'s arguments, parsed by the CLI. */
export type ReportInput =
  | { kind: 'run'; dir: string }
  | { kind: 'diff'; before: string; after: string }
  | { kind: 'leaks'; s1: string; s2: string; s3: string }
  | { kind: 'profile'; file: string }

/** Builds the report of a run folder or of snapshot or profile files; files are checked first. */
export async function buildReport(input: ReportInput, options: ReportOptions = {}): Promise<Report> {
  switch (input.kind) {
    case 'diff':
      return diffReport(checkFile(input.before), checkFile(input.after))
    case 'leaks': {
      const [a, b, c] = [input.s1, input.s2, input.s3].map(checkFile)
      return leaksReport(a, b, c, options)
    }
    case 'profile':
      return profileReport(checkFile(input.file))
    case 'run':
      return runReport(input.dir, options)
  }
}

function checkFile(p: string): string {
  let st
  try {
    st = statSync(p)
  } catch {
    throw new ReportInputError(`${p}: no such file`)
  }
  if (!st.isFile()) throw new ReportInputError(`${p}: not a file`)
  return p
}
