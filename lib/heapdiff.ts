/**
 * The classic `HeapDiff`: a snapshot at construction, another at `end()`, compared by V8 node id
 * and grouped by class. Snapshots are parsed into compact Rust tables as V8 streams them, so
 * neither the JSON nor the graph ever sits on the JS heap.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as v8 from 'node:v8'

import binding = require('../binding')
import { checkDiffOptions, type DiffOptions } from './options'
import { startAllocationTracking, stopAllocationTracking } from './tracking'

/** A snapshot's totals (the native diff's) and when it was taken. */
export interface HeapTotals extends binding.Totals {
  time: Date
}

/** One hop of a retaining path: the edge taken (`null` for the first) and the node it reaches. */
export type RetainerStep = binding.PathStep

/** Objects that share one shortest-path shape from the GC roots, with one example path. */
export type RetainerPath = binding.RetainerPath

/** Instances of a class allocated under one stack (snapshots with allocation traces). */
export type AllocationStack = binding.AllocationStack

export interface HeapDiffDetail {
  what: string
  size_bytes: number
  size: string
  '+': number
  '-': number
  /** `grouping: 'devtools'` only: DevTools' "Alloc. Size" (self size of the new instances). */
  allocated_bytes?: number
  /** `grouping: 'devtools'` only: DevTools' "Freed Size" (self size of the deleted instances). */
  freed_bytes?: number
  /** With `retainers`, for the classes that grew most: retained size of the new instances. */
  retained_size_bytes?: number
  retained_size?: string
  /** With `retainers`: shortest retaining paths of the new instances, most common first. */
  retainers?: RetainerPath[]
  /**
   * Where the new instances were allocated, most instances first (at most `maxStacks`): present
   * when the later snapshot carries allocation traces (`allocations: true`, or a file written
   * while V8 tracked allocations); `[]` when none of the row's new instances was traced.
   */
  allocated_at?: AllocationStack[]
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
  /**
   * Only when the snapshots come from different processes (the same ids name different objects
   * there, `id_pairing` in the binding): `false`, and `warning` says so; `change` is then no diff
   * of one heap.
   */
  comparable?: false
  warning?: string
}

/** How `warning` starts for snapshots of different processes, in a diff and a leak report alike. */
const DIFFERENT_PROCESSES = 'the snapshots come from different processes: node ids pair objects only within one process'

/** What `warning` says of snapshots from two processes, and how to take comparable ones. */
export const TWO_PROCESSES =
  `${DIFFERENT_PROCESSES}, so this is no diff of one heap. Take both snapshots in one process: HeapDiff, ` +
  '`heapdiff snapshot --pid` twice, or v8.writeHeapSnapshot() twice'

/** What a three-snapshot report's `warning` says when they are not all of one process. */
export const THREE_PROCESSES =
  `${DIFFERENT_PROCESSES}, so this is no leak report. Take all three in one process: checkLeaks(), ` +
  '`heapdiff run --snapshots on-leak`, `heapdiff snapshot --pid` three times, or v8.writeHeapSnapshot() three times'

/** The evidence behind a pairing's verdict, as `warning` ends. */
export function pairingEvidence(p: binding.IdPairing): string {
  return `of ${p.shared} sampled ids in both, ${p.agreeing} name the same kind of object`
}

/** Shapes the native diff exactly like memwatch's `end()` result. */
export function toClassicDiff(
  raw: binding.DiffResult,
  beforeTime: Date,
  afterTime: Date,
  grouping?: string,
): HeapDiffResult {
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
        if (grouping === 'devtools') {
          row.allocated_bytes = d.allocated_bytes
          row.freed_bytes = d.freed_bytes
        }
        if (d.retainers) {
          if (d.retained_size_bytes !== undefined) row.retained_size_bytes = d.retained_size_bytes
          if (d.retained_size !== undefined) row.retained_size = d.retained_size
          row.retainers = d.retainers
        }
        if (d.allocated_at) row.allocated_at = d.allocated_at
        return row
      }),
    },
  }
  if (raw.explained) result.change.explained = raw.explained
  const p = raw.id_pairing
  if (!p.same_process) {
    result.comparable = false
    result.warning = `${TWO_PROCESSES} (${pairingEvidence(p)})`
  }
  return result
}

/**
 * Time windows (performance.now() ms) in which this thread took fallback snapshots: the
 * perf_hooks fallback drops GC entries that started inside them, as the native hook does.
 */
export const snapshotWindows: Array<[number, number]> = []

/**
 * Read once at load: the status object `gcStatus()` returns would otherwise be created between a
 * HeapDiff's two snapshots and, still held by the calling frame, counted as new in every diff.
 */
const nativeSnapshot = binding.gcStatus().nativeSnapshot

/**
 * A snapshot of this thread's heap: streamed natively where V8's entry points are reachable,
 * otherwise written by `v8.writeHeapSnapshot()` to a temporary file and parsed from there.
 */
export function takeSnapshot(keepEdges = false): binding.HeapSnapshotHandle {
  return nativeSnapshot ? binding.takeHeapSnapshot(keepEdges) : fallbackSnapshot(keepEdges)
}

/**
 * A snapshot into `into` where V8 streams natively (a handle made before the HeapDiff's first
 * snapshot), else a new handle from the fallback; `null` without a snapshot while `warmUp` runs.
 */
function snapshotInto(into: binding.HeapSnapshotHandle | null, keepEdges: boolean): binding.HeapSnapshotHandle | null {
  if (dryRun) return null
  if (into) {
    into.take(keepEdges)
    return into
  }
  return fallbackSnapshot(keepEdges)
}

/** An empty handle to take a snapshot into, where snapshots are native. */
function spareHandle(): binding.HeapSnapshotHandle | null {
  return nativeSnapshot && !dryRun ? new binding.HeapSnapshotHandle() : null
}

function fallbackSnapshot(keepEdges: boolean): binding.HeapSnapshotHandle {
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

/**
 * Script names of heapdiff's own JS files (paths for CommonJS, URLs for ESM): the in-process
 * diff leaves out what V8 compiles and caches for their functions (see `heapsnap::own`). For
 * that the second snapshot always keeps its edges.
 */
export const OWN_SCRIPTS: string[] = ownScripts()

function ownScripts(): string[] {
  const root = join(__dirname, '..')
  const files = ['index', 'binding', 'cli', 'metrics'].map((f) => join(root, f))
  // lib/ and its folders (lib/run/preload.js runs in every program `heapdiff run` starts).
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name))
      else if (/\.(js|ts)$/.test(e.name) && !e.name.endsWith('.d.ts'))
        files.push(join(dir, e.name.replace(/\.(js|ts)$/, '')))
    }
  }
  walk(join(root, 'lib'))
  const paths = files.filter((f, k) => files.indexOf(f) === k).flatMap((f) => [`${f}.js`, `${f}.ts`, `${f}.mjs`])
  return [...paths, ...paths.map((p) => pathToFileURL(p).href)]
}

let ownCodeRead: binding.OwnCode | undefined

/**
 * heapdiff's own scripts and classes, for the analyses of snapshots taken in a program heapdiff
 * runs in (`heapdiff run`'s three, `checkLeaks`'): what only heapdiff's objects and module state
 * hold is left out of them (`heapsnap::own_held_ids`). The classes are read from the package's
 * own files once, when first needed: those its JS files declare and those of the native module.
 */
export function ownCode(): binding.OwnCode {
  if (ownCodeRead) return ownCodeRead
  const classes = new Set<string>()
  const read = (file: string, pattern: RegExp) => {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return // a file of the list that this install does not have (.ts next to .js)
    }
    // An exec loop, not matchAll: the package's sources also compile for ES5 targets.
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) classes.add(m[1])
  }
  for (const f of OWN_SCRIPTS)
    if (f.endsWith('.js') && !f.startsWith('file:')) read(f, /^\s*(?:export\s+)?class\s+([A-Za-z_$][\w$]*)/gm)
  read(join(__dirname, '..', 'binding.d.ts'), /^export declare class (\w+)/gm)
  ownCodeRead = { scripts: OWN_SCRIPTS, classes: Array.from(classes) }
  return ownCodeRead
}

/**
 * Set while `warmUp` drives the code between a HeapDiff's two snapshots without taking them.
 */
let dryRun = false
let warmedUp = false

/**
 * V8 compiles a function on its first call and gives it a feedback vector after a few more, and
 * whatever V8 creates between a HeapDiff's two snapshots is counted as new in its diff. So before
 * the first snapshot of a process, the code that runs between the snapshots (the end of the
 * constructor, `end()` up to its snapshot, `gc()`'s native call) runs a few times on instances that
 * take no snapshot, so that its bytecode, feedback and the instances' shapes already exist.
 * Measured at about 2 ms (Node 20–26), once per thread.
 */
function warmUp(): void {
  warmedUp = true
  dryRun = true
  try {
    for (let i = 0; i < WARM_UP_ROUNDS; i++) {
      new HeapDiff().end()
      new HeapDiff().end({ retainers: false })
    }
  } finally {
    dryRun = false
  }
}

/** Above V8's invocation count for allocating feedback (8 calls on Node 20–26). */
const WARM_UP_ROUNDS = 10

/**
 * Checked options, one frozen object per distinct value: an object per HeapDiff would be freed
 * with it, and counted as freed by the next diff that still saw it.
 */
const optionsCache = new Map<string, Readonly<Required<DiffOptions>>>()

function sharedOptions(options: DiffOptions | undefined): Readonly<Required<DiffOptions>> {
  const o = checkDiffOptions(options)
  const key = `${o.grouping}|${o.retainers}|${o.retainerClasses}|${o.maxPaths}|${o.allocations}|${o.maxStacks}`
  let shared = optionsCache.get(key)
  if (!shared) optionsCache.set(key, (shared = Object.freeze(o)))
  return shared
}

export class HeapDiff {
  private before: binding.HeapSnapshotHandle | null
  /** The second snapshot's handle, made with the first (see `snapshotInto`). */
  private spare: binding.HeapSnapshotHandle | null
  private readonly options: Readonly<Required<DiffOptions>>
  private ended = false
  /** Whether this diff holds V8's allocation tracking on (`allocations: true`) until `end()`. */
  private tracking = false

  constructor(options?: DiffOptions) {
    this.options = sharedOptions(options)
    if (!warmedUp) warmUp()
    this.spare = spareHandle()
    if (this.options.allocations && !dryRun) {
      startAllocationTracking()
      this.tracking = true
    }
    try {
      this.before = snapshotInto(spareHandle(), false)
    } catch (e) {
      this.release()
      throw e
    }
  }

  /** Stops this diff's share of allocation tracking, once. */
  private release(): void {
    if (!this.tracking) return
    this.tracking = false
    stopAllocationTracking()
  }

  /**
   * Takes the second snapshot and compares; the classic, synchronous form. Options given here
   * (e.g. `{ retainers: true }`) override the constructor's.
   */
  end(options?: DiffOptions): HeapDiffResult {
    const pair = this.second(options)
    if (pair === null) return DRY_RESULT
    const [before, after] = pair
    try {
      const merged = this.merge(options)
      const raw = binding.diffSnapshots(before, after, merged, OWN_SCRIPTS)
      return toClassicDiff(raw, new Date(before.takenMs), new Date(after.takenMs), merged?.grouping)
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
    const pair = this.second(options)
    if (pair === null) return DRY_RESULT
    const [before, after] = pair
    try {
      const merged = this.merge(options)
      const raw = await binding.diffSnapshotsAsync(before, after, merged, OWN_SCRIPTS)
      return toClassicDiff(raw, new Date(before.takenMs), new Date(after.takenMs), merged?.grouping)
    } finally {
      before.dispose()
      after.dispose()
    }
  }

  /**
   * Both snapshots, the second taken now (one path for `end()` and `endAsync()`, which warm-up
   * runs); `null` for the snapshot-less instances of `warmUp`.
   */
  private second(options: DiffOptions | undefined): [binding.HeapSnapshotHandle, binding.HeapSnapshotHandle] | null {
    this.check(options)
    const before = this.claim()
    let after: binding.HeapSnapshotHandle | null
    try {
      after = snapshotInto(this.spare, true)
    } finally {
      this.release()
    }
    this.spare = null
    return before === null || after === null ? null : [before, after]
  }

  /**
   * Throws for bad `options` before the second snapshot is taken. The merged options are made
   * again after it: made here, `end()`'s frame would still hold them during the snapshot, and
   * they would count as new.
   */
  private check(options: DiffOptions | undefined): void {
    const merged = this.merge(options)
    if (merged.allocations !== this.options.allocations)
      throw new TypeError('diff option "allocations" is chosen when the HeapDiff is made, not at end()')
  }

  private merge(options: DiffOptions | undefined): Readonly<Required<DiffOptions>> {
    if (options === undefined) return this.options
    const given = checkDiffOptions(options)
    const explicit = Object.keys(options) as Array<keyof DiffOptions>
    return { ...this.options, ...Object.fromEntries(explicit.map((k) => [k, given[k]])) }
  }

  /** The first snapshot, once; `null` for the snapshot-less instances of `warmUp`. */
  private claim(): binding.HeapSnapshotHandle | null {
    if (this.ended || (!this.before && !dryRun)) throw new Error('attempt to end() a HeapDiff that was already ended')
    this.ended = true
    const before = this.before
    this.before = null
    return before
  }
}

/** What `end()` returns on `warmUp`'s instances; never seen by users. */
const DRY_RESULT: HeapDiffResult = {
  before: { nodes: 0, size_bytes: 0, size: '0 bytes', time: new Date(0) },
  after: { nodes: 0, size_bytes: 0, size: '0 bytes', time: new Date(0) },
  change: { size_bytes: 0, size: '0 bytes', freed_nodes: 0, allocated_nodes: 0, details: [] },
}
