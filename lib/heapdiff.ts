/**
 * The classic `HeapDiff`: a snapshot at construction, another at `end()`, compared by V8 node id
 * and grouped by class. Snapshots are parsed into compact Rust tables as V8 streams them, so
 * neither the JSON nor the graph ever sits on the JS heap.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as v8 from 'node:v8'

import * as binding from '../binding'
import { checkDiffOptions, type DiffOptions } from './options'

export interface HeapTotals {
  nodes: number
  size_bytes: number
  size: string
  time: Date
}

/** One hop of a retaining path: the edge taken (none for the first) and the node it reaches. */
export interface RetainerStep {
  edge: string | null
  edge_type: string | null
  /** Constructor or node name; `(string)`, `(number)` for primitives. */
  node: string
  type: string
  id: number
}

/** New instances that share one shortest-path shape from the GC roots, with one example path. */
export interface RetainerPath {
  /** `global.cache → Map.table → (object elements)[12] → LeakingClass` */
  path: string
  count: number
  steps: RetainerStep[]
}

export interface HeapDiffDetail {
  what: string
  size_bytes: number
  size: string
  '+': number
  '-': number
  /** With `retainers`, for the classes that grew most: retained size of the new instances. */
  retained_size_bytes?: number
  retained_size?: string
  /** With `retainers`: shortest retaining paths of the new instances, most common first. */
  retainers?: RetainerPath[]
}

export interface HeapDiffResult {
  before: HeapTotals
  after: HeapTotals
  change: {
    size_bytes: number
    size: string
    freed_nodes: number
    allocated_nodes: number
    /** memwatch's order (classic grouping: byte order of `what`), with or without `retainers`. */
    details: HeapDiffDetail[]
    /**
     * With `retainers`: the `what` of the rows that got retainers, owners before their parts
     * (largest retained size of the new instances first, as `findLeaks` ranks), the order to
     * read them in.
     */
    explained?: string[]
  }
}

/** Shapes the native diff exactly like memwatch's `end()` result. */
export function toClassicDiff(raw: binding.DiffResult, beforeTime: Date, afterTime: Date): HeapDiffResult {
  const result: HeapDiffResult = {
    before: { ...raw.before, time: beforeTime },
    after: { ...raw.after, time: afterTime },
    change: {
      size_bytes: raw.size_bytes,
      size: raw.size,
      freed_nodes: raw.freed_nodes,
      allocated_nodes: raw.allocated_nodes,
      details: raw.details.map((d) => {
        const row: HeapDiffDetail = {
          what: d.what,
          size_bytes: d.size_bytes,
          size: d.size,
          '+': d.allocated,
          '-': d.freed,
        }
        if (d.retainers) {
          if (d.retained_size_bytes !== undefined) row.retained_size_bytes = d.retained_size_bytes
          if (d.retained_size !== undefined) row.retained_size = d.retained_size
          row.retainers = d.retainers.map(toPath)
        }
        return row
      }),
    },
  }
  if (raw.explained) result.change.explained = raw.explained
  return result
}

export function toPath(p: binding.RetainerPath): RetainerPath {
  return {
    path: p.path,
    count: p.count,
    steps: p.steps.map((s) => ({
      edge: s.edge ?? null,
      edge_type: s.edge_type ?? null,
      node: s.node,
      type: s.type,
      id: s.id,
    })),
  }
}

/**
 * Time windows (performance.now() ms) in which this thread took fallback snapshots: the
 * perf_hooks fallback drops GC entries that started inside them, as the native hook does.
 */
export const snapshotWindows: Array<[number, number]> = []

/**
 * A snapshot of this thread's heap: streamed natively where V8's entry points are reachable,
 * otherwise written by `v8.writeHeapSnapshot()` to a temporary file and parsed from there.
 */
export function takeSnapshot(keepEdges = false): binding.HeapSnapshotHandle {
  if (binding.gcStatus().nativeSnapshot) return binding.takeHeapSnapshot(keepEdges)
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-'))
  const start = performance.now()
  try {
    const file = v8.writeHeapSnapshot(join(dir, 'snapshot.heapsnapshot'))
    return binding.parseSnapshotFile(file, keepEdges)
  } finally {
    snapshotWindows.push([start, performance.now()])
    if (snapshotWindows.length > 64) snapshotWindows.shift()
    rmSync(dir, { recursive: true, force: true })
  }
}

export class HeapDiff {
  private before: binding.HeapSnapshotHandle | null
  private readonly beforeTime: Date
  private readonly options: Required<DiffOptions>
  private ended = false

  constructor(options?: DiffOptions) {
    this.options = checkDiffOptions(options)
    this.beforeTime = new Date()
    this.before = takeSnapshot()
  }

  /**
   * Takes the second snapshot and compares; the classic, synchronous form. Options given here
   * (e.g. `{ retainers: true }`) override the constructor's.
   */
  end(options?: DiffOptions): HeapDiffResult {
    const opts = this.merge(options)
    const before = this.claim()
    const after = takeSnapshot(opts.retainers)
    const afterTime = new Date()
    try {
      const raw = binding.diffSnapshots(before, after, opts)
      return toClassicDiff(raw, this.beforeTime, afterTime)
    } finally {
      before.dispose()
      after.dispose()
    }
  }

  /**
   * Takes the second snapshot (V8 needs the JS thread for that, as for any snapshot) and runs the
   * comparison on the thread pool, so the event loop is blocked no longer than V8's own snapshot.
   */
  async endAsync(options?: DiffOptions): Promise<HeapDiffResult> {
    const opts = this.merge(options)
    const before = this.claim()
    const after = takeSnapshot(opts.retainers)
    const afterTime = new Date()
    try {
      const raw = await binding.diffSnapshotsAsync(before, after, opts)
      return toClassicDiff(raw, this.beforeTime, afterTime)
    } finally {
      before.dispose()
      after.dispose()
    }
  }

  private merge(options: DiffOptions | undefined): Required<DiffOptions> {
    if (options === undefined) return this.options
    const given = checkDiffOptions(options)
    const explicit = Object.keys(options) as Array<keyof DiffOptions>
    return { ...this.options, ...Object.fromEntries(explicit.map((k) => [k, given[k]])) }
  }

  private claim(): binding.HeapSnapshotHandle {
    if (this.ended || !this.before) throw new Error('attempt to end() a HeapDiff that was already ended')
    this.ended = true
    const before = this.before
    this.before = null
    return before
  }
}
