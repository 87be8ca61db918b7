/**
 * Leak location beyond a two-snapshot diff: the three-snapshot technique (baseline, action,
 * after the action) in process, and the shapes its file form (`files.ts`) shares.
 *
 * Why three: objects the action allocated that are still alive once it is over are what it
 * leaked. Caches warmed before the baseline and temporaries gone by the third snapshot drop out
 * by construction, so no size or count threshold has to guess.
 */
import binding = require('../binding')
import { ownCode, takeSnapshot, toPath, toStack, type AllocationStack, type RetainerPath } from './heapdiff'
import { checkAnalysisOptions, checkCount, checkObject, type AnalysisOptions } from './options'
import { startAllocationTracking, stopAllocationTracking } from './tracking'

/** One class of surviving objects. */
export interface ClassRetention {
  what: string
  count: number
  size_bytes: number
  size: string
  /** Retained size of the instances (for the `maxClasses` largest classes). */
  retained_size_bytes?: number
  retained_size?: string
  retainers: RetainerPath[]
  /**
   * Where the instances were allocated, most instances first (at most `maxStacks`): present when
   * the snapshots carry allocation traces (`checkLeaks` with `allocations: true`, or files
   * written while V8 tracked allocations).
   */
  allocated_at?: AllocationStack[]
}

export interface SurvivorReport {
  /** Objects the second snapshot had and the first had not. */
  allocated: number
  /** Of those, how many the third snapshot still has. */
  leaked: number
  /** By class, largest retained size first (owners before their parts). */
  leaks: ClassRetention[]
}

export interface TopRetainer {
  id: number
  /** Constructor or node name (`Map`, `system / Context`, `(string)`). */
  what: string
  type: string
  self_size: number
  retained_size_bytes: number
  retained_size: string
  /** Shortest retaining path from the GC roots. */
  path: string
}

export interface CheckLeaksOptions extends Omit<AnalysisOptions, 'minCount'> {
  /** Calls between snapshots (default 10); a class is reported with at least this many survivors. */
  iterations?: number
  /** Calls before the first snapshot, to warm caches and lazy initialisation (default 1). */
  warmup?: number
}

export interface LeakCheck {
  /** Whether any class leaked at least one instance per iteration. */
  leaked: boolean
  iterations: number
  /** Classes with at least `iterations` instances allocated by the calls and still alive. */
  leaks: ClassRetention[]
  /** Objects allocated by the first round of calls, and how many survived the second round. */
  allocated: number
  survivors: number
}

function toRow(r: binding.ClassRetention): ClassRetention {
  const row: ClassRetention = {
    what: r.what,
    count: r.count,
    size_bytes: r.size_bytes,
    size: r.size,
    retainers: r.retainers.map(toPath),
  }
  if (r.retained_size_bytes !== undefined) row.retained_size_bytes = r.retained_size_bytes
  if (r.retained_size !== undefined) row.retained_size = r.retained_size
  if (r.allocated_at) row.allocated_at = r.allocated_at.map(toStack)
  return row
}

export function toSurvivorReport(r: binding.SurvivorReport): SurvivorReport {
  return { allocated: r.allocated, leaked: r.leaked, leaks: r.leaks.map(toRow) }
}

/**
 * Runs `fn` (sync or async) `warmup` times, snapshot, `iterations` times, snapshot,
 * `iterations` times again, snapshot; reports the classes of which at least one instance per
 * call was allocated in the first round and is still alive after the second. Usable from any
 * test runner: `assert.equal((await checkLeaks(fn)).leaked, false)`.
 */
export async function checkLeaks(fn: () => unknown, options?: CheckLeaksOptions): Promise<LeakCheck> {
  if (typeof fn !== 'function') throw new TypeError('checkLeaks(fn) takes the function to run')
  const obj = checkObject('checkLeaks options', options)
  const { iterations: it, warmup: wu, ...rest } = obj
  if ('minCount' in rest)
    throw new TypeError('checkLeaks: the minimum count is `iterations`; minCount is not an option here')
  const iterations = checkCount('checkLeaks', 'iterations', it, 10, 1)
  const warmup = checkCount('checkLeaks', 'warmup', wu, 1, 0)
  const analysis = checkAnalysisOptions({ internals: false, ...rest })
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) await fn()
  }
  // Tracking starts before the warm-up, so that whatever starting it makes V8 create is old by
  // the first snapshot; it stops after the third.
  let tracking = analysis.allocations
  const release = () => {
    if (tracking) stopAllocationTracking()
    tracking = false
  }
  if (tracking) startAllocationTracking()
  const handles: binding.HeapSnapshotHandle[] = []
  try {
    await run(warmup)
    handles.push(takeSnapshot())
    await run(iterations)
    handles.push(takeSnapshot())
    await run(iterations)
    handles.push(takeSnapshot(true))
    release()
    const [s1, s2, s3] = handles
    const raw = await binding.findLeaksInSnapshots(s1, s2, s3, { ...analysis, minCount: iterations }, ownCode())
    const leaks = raw.leaks.map(toRow)
    return { leaked: leaks.length > 0, iterations, leaks, allocated: raw.allocated, survivors: raw.leaked }
  } finally {
    release()
    for (const h of handles) h.dispose()
  }
}

/** A readable account of a leak check, for error messages and logs. */
export function formatLeaks(check: Pick<LeakCheck, 'leaks' | 'iterations'>): string {
  const lines: string[] = []
  for (const l of check.leaks) {
    const retained = l.retained_size ? `, retaining ${l.retained_size}` : ''
    lines.push(`${l.what}: ${l.count} instances survived ${check.iterations} calls (${l.size}${retained})`)
    for (const p of l.retainers) lines.push(`    ${p.count} × ${p.path}`)
    for (const s of l.allocated_at ?? []) lines.push(`    allocated at ${formatStack(s)}`)
  }
  return lines.join('\n')
}

/** `3 × makeLeak (/app/a.js:10:20) ← main (/app/a.js:30:1)`, long stacks cut after `frames`. */
export function formatStack(s: AllocationStack, frames = 6): string {
  const shown = s.stack.slice(0, frames).join(' ← ')
  const more = s.stack.length > frames ? ` ← … ${s.stack.length - frames} more` : ''
  return `${s.count} × ${shown}${more}`
}

/** `checkLeaks`, throwing an `Error` that names what leaked and what holds it. */
export async function assertNoLeaks(fn: () => unknown, options?: CheckLeaksOptions): Promise<void> {
  const check = await checkLeaks(fn, options)
  if (!check.leaked) return
  const err = new Error(`memory leak: objects allocated by each call are still alive\n${formatLeaks(check)}`)
  ;(err as Error & { leaks?: ClassRetention[] }).leaks = check.leaks
  throw err
}
