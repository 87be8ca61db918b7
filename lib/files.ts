/**
 * Analyses of snapshot files (any size, plain or gzip), run off the JS thread: the diff of two,
 * the three-snapshot technique, the largest retainers of one. The API awaits their results; the
 * CLI also polls their progress. Both start them here, so they check and default alike.
 */
import binding = require('../binding')
import { ownCode, toClassicDiff, type HeapDiffResult } from './heapdiff'
import { toSurvivorReport, type SurvivorReport, type TopRetainer } from './leaks'
import { checkAnalysisOptions, checkDiffOptions, checkTopRetainerOptions } from './options'
import type { AnalysisOptions, DiffOptions, TopRetainerOptions } from './options'

/** Bytes of the input files read so far (inflated bytes are not counted: file bytes). */
export type Progress = binding.Progress

/** A file analysis under way. */
export interface FileTask<T> {
  progress(): Progress
  result: Promise<T>
}

function checkPaths(name: string, paths: unknown[]): string[] {
  for (const p of paths) {
    if (typeof p !== 'string') throw new TypeError(`${name} takes snapshot file paths, got ${typeof p}`)
  }
  return paths as string[]
}

/** Starts diffing two snapshot files, both parsed at once; same result shape as `end()`. */
export function startDiff(before: string, after: string, options?: DiffOptions): FileTask<HeapDiffResult> {
  if (typeof before !== 'string' || typeof after !== 'string') {
    throw new TypeError('diffFiles(before, after) takes two file paths')
  }
  const checked = checkDiffOptions(options)
  const job = new binding.FileDiffJob(before, after, checked)
  const started = new Date()
  return {
    progress: () => job.progress(),
    result: job.run().then((raw) => toClassicDiff(raw, started, new Date(), checked?.grouping)),
  }
}

/**
 * Starts the three-snapshot technique: objects allocated between `s1` and `s2` that are still
 * alive in `s3`, by class, with retained sizes and retaining paths (in `s3`). What only
 * heapdiff's own objects and module state hold in `s3` (snapshots of a program heapdiff ran in,
 * as `heapdiff run` takes them) is left out. Snapshots of different processes give no rows but
 * `comparable: false` and a `warning` (`toSurvivorReport`).
 */
export function startFindLeaks(
  s1: string,
  s2: string,
  s3: string,
  options?: AnalysisOptions,
): FileTask<SurvivorReport> {
  const files = checkPaths('findLeaks(s1, s2, s3)', [s1, s2, s3])
  const opts = checkAnalysisOptions(options)
  const job = new binding.FileAnalysisJob(files)
  return { progress: () => job.progress(), result: job.leaks(opts, ownCode()).then(toSurvivorReport) }
}

/** Starts finding the objects with the largest retained sizes in a snapshot file. */
export function startTopRetainers(file: string, options?: TopRetainerOptions): FileTask<TopRetainer[]> {
  checkPaths('topRetainers(file)', [file])
  const opts = checkTopRetainerOptions(options)
  const job = new binding.FileAnalysisJob([file])
  return { progress: () => job.progress(), result: job.top(opts) }
}

/** Diffs two `.heapsnapshot` files of any size without blocking the event loop. */
export async function diffFiles(before: string, after: string, options?: DiffOptions): Promise<HeapDiffResult> {
  return startDiff(before, after, options).result
}

/** Three snapshot files (baseline, action, after): what the action allocated that survived. */
export async function findLeaks(
  s1: string,
  s2: string,
  s3: string,
  options?: AnalysisOptions,
): Promise<SurvivorReport> {
  return startFindLeaks(s1, s2, s3, options).result
}

/** The objects with the largest retained sizes in a snapshot file, with their retaining paths. */
export async function topRetainers(file: string, options?: TopRetainerOptions): Promise<TopRetainer[]> {
  return startTopRetainers(file, options).result
}
