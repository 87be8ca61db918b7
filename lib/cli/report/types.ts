/**
 * The report's document types, declared once: the Node side builds a `Report` (model.ts) and the
 * browser code (report-ui/app.ts) reads it, importing these with `import type` only, so nothing
 * of this module reaches the page. Only types here, and only the binding's types imported: the
 * browser build type-checks this file without Node's types.
 */
import type { RetainerPath } from '../../../binding'

/** One thread's post-GC series, columnar (one entry per full GC). */
export interface ThreadSeries {
  /** `<pid>-<threadId>` */
  id: string
  /** `main (pid 123)`, `worker 2 (pid 123)` */
  label: string
  pid: number
  thread_id: number
  argv: string[]
  node: string | null
  /** Where the figures came from: `'v8-gc-callback'` or `'perf_hooks'`. */
  hook: string | null
  sampling: boolean
  exit_code: number | null
  series: {
    /** ms since the epoch */
    time: number[]
    /** `current_base`: used heap right after the GC */
    heap: number[]
    /** `estimated_base` */
    base: number[]
    /** `external_memory`: Buffers and other ArrayBuffer backing stores (0 from older versions) */
    external: number[]
    pause_ms: number[]
  }
  /** Heap snapshots taken by `--snapshots on-leak`: [start, end] ms, to tell their GCs apart. */
  snapshots: { file: string; start: number; end: number }[]
}

/** An allocation site of the growth (from sampling on `leak` events, or a heap profile). */
export interface Site {
  name: string
  url: string
  line: number
  column: number
  /** Frames, innermost (the allocation) first, as `name (url:line:column)`. */
  stack: string[]
  growth_bytes: number | null
  live_bytes: number | null
  live_count: number | null
}

export interface LeakMark {
  thread: string
  /** Which memory grew (`'heap'` from versions before external memory was judged). */
  memory: 'heap' | 'external'

  /** When the rule fired, ms since the epoch. */
  time: number
  start: number
  end: number
  growth: number
  gcs: number
  reason: string
  sites: Site[]
  /** With the `census` leak option: the classes that grew most between the leak window's two
   *  censuses, most growth first. */
  classes: { what: string; count: number; growth: number }[]
  /** When the first of those censuses was taken (ms since the epoch), and both censuses' cost. */
  census: { since: number; ms: number } | null
}

/** Icicle node: a frame and the bytes allocated below it. */
export interface FlameNode {
  name: string
  value: number
  children: FlameNode[]
}

export interface ClassRow {
  what: string
  /** New instances (diff), instances still alive in s3 (three snapshots), or live objects at
   *  the leak event's census (class census). */
  count: number
  /** Class census only: objects more than at the leak window's first census; null otherwise. */
  growth: number | null
  /** Freed instances (diff only). */
  freed: number | null
  /** Null for a class census, which counts objects, not bytes. */
  size_bytes: number | null
  retained_size_bytes: number | null
  /** Where the instances were allocated, when the analysis knows (`name (url:line:column)`). */
  allocated_at: string | null
  paths: RetainerPath[]
}

export interface Report {
  heapdiff_report: 1
  kind: 'run' | 'diff' | 'leaks' | 'profile'
  title: string
  generated: string
  inputs: string[]
  verdict: { leak: boolean; sentence: string }
  threads: ThreadSeries[]
  leaks: LeakMark[]
  /** Sites of the growth, largest first. */
  sites: Site[]
  flame: FlameNode | null
  /** What grew (diff) or survived (three snapshots), in reading order: owners first. */
  classes: ClassRow[]
  /** What the class table is: `diff a → b` or `three snapshots: s1, s2, s3`. */
  class_source: string | null
  notes: string[]
}
