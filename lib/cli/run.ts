/**
 * `heapdiff run`: starts a program with the preload added to its own NODE_OPTIONS, passes its
 * stdio, exit code and signals through, and writes the report of its run folder when it ends.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { isatty } from 'node:tty'

import { ENV } from '../run/env'

export const PRELOAD = join(__dirname, '..', 'run', 'preload.js')

export interface RunOptions {
  dir: string
  sampling: boolean
  census: boolean
  snapshots: 'off' | 'on-leak'
  snapshotGcs: number
}

export interface RunExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/**
 * The program's own NODE_OPTIONS, then the preload: Node reads NODE_OPTIONS with double quotes
 * and backslash escapes, so a path with spaces stays one argument.
 */
export function withPreload(nodeOptions: string | undefined, preload = PRELOAD): string {
  const quoted = `"${preload.replace(/["\\]/g, (c) => `\\${c}`)}"`
  return [nodeOptions?.trim(), `--require ${quoted}`].filter(Boolean).join(' ')
}

/**
 * `script.js args` runs with this Node; `node …` (or a path to a node binary) runs that Node;
 * anything else (`npm start`, `./server`) runs as given, and every Node process it starts with
 * this environment is recorded.
 */
export function commandOf(args: string[]): [string, string[]] {
  const [first, ...rest] = args
  if (/\.(c|m)?[jt]s$/.test(first) || (existsSync(first) && statSync(first).isFile() && !isExecutable(first))) {
    return [process.execPath, args]
  }
  return [first, rest]
}

function isExecutable(p: string): boolean {
  try {
    return (statSync(p).mode & 0o111) !== 0
  } catch {
    return false
  }
}

/** A fresh folder for this run (events of an earlier run in it would mix into its report). */
export function prepareRunDir(dir: string): string {
  const abs = resolve(dir)
  mkdirSync(abs, { recursive: true })
  if (readdirSync(abs).some((f) => f.startsWith('events-'))) {
    throw new Error(`${abs} already holds a run's events; give another --out`)
  }
  return abs
}

/** Signals passed on to the program. SIGINT only when it did not come from the terminal (see below). */
const FORWARD: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2']

/**
 * Runs the program to its end. Ctrl-C in a terminal reaches the whole foreground process group,
 * the program included, so heapdiff then only stays alive to write the report; sending SIGINT
 * to the program a second time would break a program that shuts down gracefully on the first
 * and exits at once on the second. A SIGINT sent to heapdiff alone (no terminal) is passed on.
 */
export function runProgram(command: string[], opts: RunOptions): { exit: Promise<RunExit>; release(): void } {
  const [file, args] = commandOf(command)
  const env = {
    ...process.env,
    NODE_OPTIONS: withPreload(process.env.NODE_OPTIONS),
    [ENV.dir]: opts.dir,
    [ENV.sampling]: opts.sampling ? '1' : '0',
    [ENV.census]: opts.census ? '1' : '0',
    [ENV.snapshots]: opts.snapshots,
    [ENV.snapshotGcs]: String(opts.snapshotGcs),
  }
  const child = spawn(file, args, { stdio: 'inherit', env })
  const handlers = new Map<NodeJS.Signals, () => void>()
  for (const sig of FORWARD) {
    // On a terminal (any of heapdiff's stdio is one), Ctrl-C has reached the program already.
    const fromTerminal = sig === 'SIGINT' && [0, 1, 2].some((fd) => isatty(fd))
    const h = () => {
      if (!fromTerminal && child.exitCode === null && child.signalCode === null) child.kill(sig)
    }
    handlers.set(sig, h)
    process.on(sig, h)
  }
  // Handlers stay until the caller has written the report: a second Ctrl-C must not cut it short.
  const release = () => {
    for (const [s, h] of handlers) process.off(s, h)
    handlers.clear()
  }
  const exit = new Promise<RunExit>((res, rej) => {
    child.on('error', (e) => rej(new Error(`cannot start ${file}: ${e.message}`)))
    child.on('exit', (code, signal) => res({ code, signal }))
  })
  return { exit, release }
}
