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

export interface HeapDiffDetail {
  what: string
  size_bytes: number
  size: string
  '+': number
  '-': number
}

export interface HeapDiffResult {
  before: HeapTotals
  after: HeapTotals
  change: {
    size_bytes: number
    size: string
    freed_nodes: number
    allocated_nodes: number
    details: HeapDiffDetail[]
  }
}

/** Shapes the native diff exactly like memwatch's `end()` result. */
export function toClassicDiff(raw: binding.DiffJs, beforeTime: Date, afterTime: Date): HeapDiffResult {
  return {
    before: { ...raw.before, time: beforeTime },
    after: { ...raw.after, time: afterTime },
    change: {
      size_bytes: raw.size_bytes,
      size: raw.size,
      freed_nodes: raw.freed_nodes,
      allocated_nodes: raw.allocated_nodes,
      details: raw.details.map((d) => ({
        what: d.what,
        size_bytes: d.size_bytes,
        size: d.size,
        '+': d.allocated,
        '-': d.freed,
      })),
    },
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
export function takeSnapshot(): binding.HeapSnapshotHandle {
  if (binding.gcStatus().nativeSnapshot) return binding.takeHeapSnapshot()
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-'))
  const start = performance.now()
  try {
    const file = v8.writeHeapSnapshot(join(dir, 'snapshot.heapsnapshot'))
    return binding.parseSnapshotFile(file)
  } finally {
    snapshotWindows.push([start, performance.now()])
    if (snapshotWindows.length > 64) snapshotWindows.shift()
    rmSync(dir, { recursive: true, force: true })
  }
}

export class HeapDiff {
  private before: binding.HeapSnapshotHandle | null
  private readonly beforeTime: Date
  private readonly grouping: 'classic' | 'devtools'
  private ended = false

  constructor(options?: DiffOptions) {
    this.grouping = checkDiffOptions(options).grouping
    this.beforeTime = new Date()
    this.before = takeSnapshot()
  }

  /** Takes the second snapshot and compares; the classic, synchronous form. */
  end(): HeapDiffResult {
    const before = this.claim()
    const after = takeSnapshot()
    const afterTime = new Date()
    const raw = binding.diffSnapshots(before, after, { grouping: this.grouping })
    before.dispose()
    after.dispose()
    return toClassicDiff(raw, this.beforeTime, afterTime)
  }

  /**
   * Takes the second snapshot (V8 needs the JS thread for that, as for any snapshot) and runs the
   * comparison on the thread pool, so the event loop is blocked no longer than V8's own snapshot.
   */
  async endAsync(): Promise<HeapDiffResult> {
    const before = this.claim()
    const after = takeSnapshot()
    const afterTime = new Date()
    try {
      const raw = await binding.diffSnapshotsAsync(before, after, { grouping: this.grouping })
      return toClassicDiff(raw, this.beforeTime, afterTime)
    } finally {
      before.dispose()
      after.dispose()
    }
  }

  private claim(): binding.HeapSnapshotHandle {
    if (this.ended || !this.before) throw new Error('attempt to end() a HeapDiff that was already ended')
    this.ended = true
    const before = this.before
    this.before = null
    return before
  }
}
