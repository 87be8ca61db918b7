/**
 * The events of a `heapdiff run` folder, one union for both sides: `preload.ts` writes them, one
 * JSON object a line, to `events-<pid>-<threadId>.ndjson` (a file per thread), and the report
 * (`lib/cli/report/model.ts`) reads them back. A folder can be cut short or come from another
 * version of heapdiff, so the reader still checks each field it uses.
 */
import type { GcStats, LeakEvent } from '../../index'

/** The thread's first line: who it is and how its figures are gathered. */
export interface StartEvent {
  type: 'start'
  /** ms since the epoch */
  time: number
  pid: number
  thread_id: number
  main: boolean
  argv: string[]
  /** `process.version` */
  node: string
  /** Where the `stats` figures come from. */
  hook: 'v8-gc-callback' | 'perf_hooks'
  /** Allocation sampling runs in this thread. */
  sampling: boolean
  /** This heapdiff build can sample allocations. */
  sampling_available: boolean
}

/** A `stats` event, as the program's heapdiff emitted it. */
export type StatsEvent = { type: 'stats' } & GcStats

/** A `leak` event: its `start`, `end` and `census.since` as ms since the epoch, and when it was written. */
export type LeakRecord = { type: 'leak'; time: number } & Omit<LeakEvent, 'start' | 'end' | 'census'> & {
    start: number
    end: number
    census?: { since: number; ms: number }
  }

/** One of the three snapshots of `--snapshots on-leak`, written to the run folder. */
export interface SnapshotEvent {
  type: 'snapshot'
  /** 1, 2 or 3 */
  index: number
  /** File name in the run folder. */
  file: string
  /** When writing it started and ended, ms since the epoch. */
  start: number
  end: number
}

/**
 * Before `exit`, when a leak rule saw growth but the thread reported no leak (too few full GCs):
 * what grew since the baseline census, as a leak event's `classes`, `census` and `sites`.
 */
export type GrowthRecord = { type: 'growth'; time: number } & Pick<LeakEvent, 'classes' | 'sites'> & {
    census: { since: number; ms: number }
  }

/** The thread's last line, when the process exits normally. */
export interface ExitEvent {
  type: 'exit'
  time: number
  code: number
}

export type RunEvent = StartEvent | StatsEvent | LeakRecord | SnapshotEvent | GrowthRecord | ExitEvent
