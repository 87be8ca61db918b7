/**
 * V8's allocation tracking for this thread (what DevTools' "Allocation instrumentation" turns on),
 * for `new HeapDiff({ allocations: true })` and `checkLeaks(fn, { allocations: true })`: while it
 * is on, V8 records the call path of every allocation, and every heap snapshot (ours included)
 * carries those paths as `trace_function_infos`/`trace_tree`/`trace_node_id`.
 *
 * Two routes, both measured on Node 20–26:
 * - Native (preferred): `HeapProfiler::StartTrackingHeapObjects(true)` /
 *   `StopTrackingHeapObjects()`, exported by every supported Node, called as the module calls
 *   its other V8 entry points. Nothing but the tracker itself.
 * - `node:inspector` (where those entry points cannot be reached): an in-process session posting
 *   `HeapProfiler.startTrackingHeapObjects`. Costlier and rougher, as measured: the agent runs a
 *   50 ms heap-statistics timer while tracking (which keeps the process alive, and on Node 22 and
 *   24 lost the traces of objects allocated between two snapshots of `checkLeaks`), and its
 *   `stopTrackingHeapObjects` takes and streams a full snapshot.
 * Whichever route: the inspector session, once made, stays connected for the life of the thread,
 * since disconnecting it (or `HeapProfiler.disable`) makes V8 clear its object ids, and every
 * HeapDiff spanning that moment would see the whole heap as freed and allocated. Starting twice
 * resets V8's one tracker per isolate, so overlapping users share it: it starts with the first
 * and stops with the last.
 */
import type { Session } from 'node:inspector'

import binding = require('../binding')

let session: Session | null = null
let users = 0
/** The route the current tracking took, to stop it the same way. */
let route: 'native' | 'inspector' | null = null

function connect(): Session {
  if (session) return session
  let inspector: typeof import('node:inspector')
  try {
    inspector = require('node:inspector')
  } catch (e) {
    throw new Error(`allocations: true needs node:inspector, which this Node lacks (${(e as Error).message})`)
  }
  const s = new inspector.Session()
  s.connect()
  session = s
  return s
}

/** Posts a command; an in-process session answers before `post` returns. */
function post(method: string, params: Record<string, unknown>): void {
  const s = connect()
  let answered = false
  let failure: Error | null = null
  s.post(method, params, (err) => {
    answered = true
    failure = err
  })
  if (failure) throw new Error(`${method} failed: ${(failure as Error).message}`)
  if (!answered) throw new Error(`${method}: the inspector did not answer synchronously`)
}

/** Turns allocation tracking on for one more user. */
export function startAllocationTracking(): void {
  if (users === 0) {
    if (binding.trackAllocations(true)) route = 'native'
    else {
      post('HeapProfiler.startTrackingHeapObjects', { trackAllocations: true })
      route = 'inspector'
    }
  }
  users++
}

/** One user fewer; tracking stops with the last. */
export function stopAllocationTracking(): void {
  if (users === 0) return
  users--
  if (users > 0) return
  const was = route
  route = null
  if (was === 'native') binding.trackAllocations(false)
  else post('HeapProfiler.stopTrackingHeapObjects', { reportProgress: false })
}

/** How this thread tracks allocations now (`null`: it does not). */
export function allocationTracking(): 'native' | 'inspector' | null {
  return route
}
