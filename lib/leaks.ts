/**
 * Leak location beyond a two-snapshot diff: the three-snapshot technique (baseline, action,
 * after the action) in process, and the shapes its file form (`files.ts`) shares.
 *
 * Why three: objects the action allocated that are still alive once it is over are what it
 * leaked. Caches warmed before the baseline and temporaries gone by the third snapshot drop out
 * by construction, so no size or count threshold has to guess.
 */
import { setImmediate } from 'node:timers'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'

import binding = require('../binding')
import {
  ownCode,
  pairingEvidence,
  snapshotWindows,
  takeSnapshot,
  THREE_PROCESSES,
  type AllocationStack,
} from './heapdiff'
import { checkAnalysisOptions, checkCount, checkObject, type AnalysisOptions } from './options'
import { startAllocationTracking, stopAllocationTracking } from './tracking'

/** One class of surviving objects, with what keeps them alive. */
export type ClassRetention = binding.ClassRetention

/** What the action of a three-snapshot check allocated that survived, by class. */
export interface SurvivorReport extends Omit<binding.SurvivorReport, 'id_pairing' | 'same_process'> {
  /**
   * Only when the snapshots are not all of one process (the same ids name different objects
   * there, `id_pairing` in the binding): `false`, and `warning` says so; `leaks` is then empty
   * (its rows would be objects that merely share ids), and `allocated` and `leaked` count ids,
   * not objects.
   */
  comparable?: false
  warning?: string
}

/**
 * The native report as `findLeaks` returns it: the rows of one process as they are, and for
 * snapshots of different processes no rows but `comparable: false` and a `warning`.
 */
export function toSurvivorReport(raw: binding.SurvivorReport): SurvivorReport {
  const { id_pairing: pairs, same_process: same, ...report } = raw
  if (same) return report
  const apart = pairs.flatMap((p, i) => (p.same_process ? [] : [`s${i + 1} and s${i + 2}: ${pairingEvidence(p)}`]))
  return { ...report, leaks: [], comparable: false, warning: `${THREE_PROCESSES} (${apart.join('; ')})` }
}

/** One of the objects with the largest retained sizes in a snapshot. */
export type TopRetainer = binding.TopRetainer

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

/** Whether `await` would wait for `value`: only then does the check await a call's result. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

let exposedGc: (() => void) | null = null

/** A full GC, hidden from `stats` and the leak rule: it is the check's, not the application's. */
function collect(): void {
  if (!exposedGc) {
    v8.setFlagsFromString('--expose-gc')
    exposedGc = vm.runInNewContext('gc') as () => void
  }
  const from = performance.now()
  binding.gcHide(true)
  try {
    exposedGc()
  } finally {
    binding.gcHide(false)
    snapshotWindows.push([from, performance.now()])
    if (snapshotWindows.length > 64) snapshotWindows.shift()
  }
}

/**
 * Before the first and the last snapshot: a full GC, then one turn of the event loop, so that
 * what is garbage is gone from the runner's bookkeeping as well as from the heap, and what the
 * runner had pending is done before the baseline. Measured under node:test (Node 20–26):
 * - Its harness puts every async resource created inside a test (each promise an `await`
 *   makes) in a `testResources` Map, asyncId → test, and deletes it in the `destroy` hook. A
 *   promise's `destroy` is only queued when a GC collects it, and runs from an immediate, so
 *   after the event loop turns. Calls that settle through microtasks alone never let it turn:
 *   `await fn()` on a function returning a number made 2 promises a call, and their 22 asyncIds
 *   (HeapNumbers keying that Map) survived 10 calls of a function that keeps nothing.
 * - A check started right after a test failed ran while the runner was still reporting that
 *   failure: its reporter (the v8-serializer one of `node --test`'s child process) reads the
 *   error's `stack`, which V8 formats on first read, and serializes the error, flattening its
 *   strings, in microtasks that interleaved with the first round of calls; on Node 20–24 that
 *   reporter keeps one `v8.Serializer` for the whole run, whose identity map (a V8 strong root)
 *   holds every object it wrote, so those new strings were counted as survivors of the calls
 *   (`(Strong roots) → IdentityMapBase → Object.error → Error.<symbol> → String`). The turn
 *   before the first snapshot lets that report finish before the baseline.
 * The timer is `node:timers`' own: a runner's fake timers (jest, vitest, sinon) replace only the
 * global one.
 */
async function settle(): Promise<void> {
  collect()
  await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Runs `fn` (sync or async) `warmup` times, snapshot, `iterations` times, snapshot,
 * `iterations` times again, snapshot; reports the classes of which at least one instance per
 * call was allocated in the first round and is still alive after the second. The first and
 * last snapshots follow a full GC and a turn of the event loop (`settle`), so the answer is the
 * same in every test runner: `assert.equal((await checkLeaks(fn)).leaked, false)`.
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
  // A result that is not a thenable is not awaited: an `await` makes promises of its own, which
  // a runner tracking async resources (node:test) would count against the calls.
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const result = fn()
      if (isThenable(result)) await result
    }
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
    await settle()
    handles.push(takeSnapshot())
    await run(iterations)
    // No turn of the event loop here: whatever else the process has pending would run inside the
    // first round's window. Under jest on Node 22 (whose test processes load undici, which starts
    // compiling its llhttp WebAssembly as it loads), the instance was made there: 39 Closures and
    // 63 Strings survived a function that keeps nothing. Run after this snapshot, such work is
    // allocated too late to count.
    handles.push(takeSnapshot())
    await run(iterations)
    await settle()
    handles.push(takeSnapshot(true))
    release()
    const [s1, s2, s3] = handles
    const raw = await binding.findLeaksInSnapshots(s1, s2, s3, { ...analysis, minCount: iterations }, ownCode())
    const leaks = raw.leaks
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
