/**
 * Loaded into the program `heapdiff run` starts, by the `--require` it adds to the program's own
 * `NODE_OPTIONS`: so into the main thread, into every worker thread (they inherit the options)
 * and into any Node process the program starts with its environment. Each thread appends its
 * `stats` and `leak` events to its own NDJSON file in the run folder.
 *
 * It must not change the program: every write is synchronous (nothing is buffered, so nothing
 * is lost when the process exits or is killed between events, and no timer or stream keeps it
 * alive), every failure here is reported once on stderr and then recording stops, and nothing
 * here ever throws into the program.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import * as v8 from 'node:v8'
import { isMainThread, threadId } from 'node:worker_threads'

import type { GcStats, LeakEvent } from '../../index'
import { ENV } from './env'
import type { RunEvent } from './events'

/** Once per thread, even if the program's own NODE_OPTIONS name this file too. */
const LOADED = Symbol.for('heapdiff.run.preload')

interface Memwatch {
  on(event: 'stats', listener: (stats: GcStats) => void): unknown
  on(event: 'leak', listener: (info: LeakEvent) => void): unknown
  status(): { installed: boolean; reason: string | null; census?: boolean }
  startSampling?: (...args: unknown[]) => unknown
  setLeakOptions(options: { census?: boolean }): void
}

function start(dir: string): void {
  const file = join(dir, `events-${process.pid}-${threadId}.ndjson`)
  let fd: number | null = openSync(file, 'a')
  let failed = false
  const write = (record: RunEvent) => {
    if (fd === null) return
    try {
      writeSync(fd, JSON.stringify(record) + '\n')
    } catch (e) {
      stop(e)
    }
  }
  const stop = (e: unknown) => {
    if (!failed) process.stderr.write(`heapdiff run: recording ${file} stopped: ${(e as Error).message}\n`)
    failed = true
    if (fd !== null) {
      try {
        closeSync(fd)
      } catch {
        // already gone: nothing left to record into
      }
    }
    fd = null
  }

  // The package root's index.js, wherever this file was installed, and its native module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const memwatch = require('../../index') as Memwatch
  // Loaded here, not at the top: a native module that fails to load stops this thread's
  // recording (below), never the program.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const binding = require('../../binding') as typeof import('../../binding')
  const { sampler } = require('../sampling') as typeof import('../sampling')
  const { LEAK_CLASSES } = require('../options') as typeof import('../options')
  /* eslint-enable @typescript-eslint/no-require-imports */
  let sampling = false
  if (process.env[ENV.sampling] !== '0' && typeof memwatch.startSampling === 'function') {
    try {
      memwatch.startSampling()
      sampling = true
    } catch (e) {
      process.stderr.write(`heapdiff run: allocation sampling not started: ${(e as Error).message}\n`)
    }
  }
  // Leak events name the classes that grew (two censuses per leak window, none while nothing grows).
  const census = process.env[ENV.census] !== '0' && memwatch.status().census === true
  if (census) memwatch.setLeakOptions({ census: true })
  const status = memwatch.status()
  write({
    type: 'start',
    time: Date.now(),
    pid: process.pid,
    thread_id: threadId,
    main: isMainThread,
    argv: process.argv,
    node: process.version,
    hook: status.installed ? 'v8-gc-callback' : 'perf_hooks',
    sampling,
    sampling_available: typeof memwatch.startSampling === 'function',
  })

  const snapshots = process.env[ENV.snapshots] === 'on-leak' ? onLeakSnapshots(dir, write) : null
  let leaked = false
  memwatch.on('stats', (stats) => {
    write({ type: 'stats', ...stats })
    snapshots?.afterGc(stats.gc_time)
  })
  memwatch.on('leak', (info) => {
    leaked = true
    const census = info.census ? { since: info.census.since.getTime(), ms: info.census.ms } : undefined
    write({ type: 'leak', time: Date.now(), ...info, start: info.start.getTime(), end: info.end.getTime(), census })
    snapshots?.afterLeak()
  })
  process.on('exit', (code) => {
    // Growth showed but no event came (the program ended before the rule could judge it): what
    // grew as last counted, while the program's state was still reachable (at exit a service's
    // state often is not: its server closed, its caches with it). No census is taken here.
    if (census && !leaked) {
      try {
        const grown = binding.censusGrowthSoFar(LEAK_CLASSES)
        if (grown) {
          const { sinceMs, classes, censusMs } = grown.growth
          const sites = sampling ? sampler.sitesFor(sinceMs) : undefined
          write({ type: 'growth', time: grown.atMs, classes, census: { since: sinceMs, ms: censusMs }, sites })
        }
      } catch (e) {
        process.stderr.write(`heapdiff run: what grew is not recorded: ${(e as Error).message}\n`)
      }
    }
    write({ type: 'exit', time: Date.now(), code })
    if (fd !== null) closeSync(fd)
    fd = null
  })
}

/**
 * The three-snapshot sequence after this thread's first `leak` event: s1 at once, s2 and s3
 * each after N more full GCs (GCs run by the snapshots themselves do not count). Objects
 * allocated between s1 and s2 that are still alive in s3 are what leaks; temporaries and
 * warmed caches drop out.
 */
function onLeakSnapshots(dir: string, write: (record: RunEvent) => void) {
  const every = Math.max(1, Number(process.env[ENV.snapshotGcs]) || 5)
  let taken = 0
  let gcs = 0
  let lastEnd = 0
  const take = () => {
    taken += 1
    gcs = 0
    const file = `s${taken}-${process.pid}-${threadId}.heapsnapshot`
    const start = Date.now()
    try {
      v8.writeHeapSnapshot(join(dir, file))
    } catch (e) {
      process.stderr.write(`heapdiff run: snapshot ${file} failed: ${(e as Error).message}\n`)
      taken = 3
      return
    }
    lastEnd = Date.now()
    write({ type: 'snapshot', index: taken, file, start, end: lastEnd })
  }
  return {
    afterLeak() {
      if (taken === 0) take()
    },
    afterGc(gcTime: number) {
      if (taken === 0 || taken >= 3 || gcTime <= lastEnd) return
      gcs += 1
      if (gcs >= every) take()
    },
  }
}

const dir = process.env[ENV.dir]
const state = globalThis as { [LOADED]?: boolean }
if (dir && !state[LOADED]) {
  state[LOADED] = true
  try {
    start(dir)
  } catch (e) {
    process.stderr.write(`heapdiff run: not recording this thread: ${(e as Error).message}\n`)
  }
}
