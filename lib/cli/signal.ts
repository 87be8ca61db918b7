/**
 * `heapdiff snapshot --pid`: asking a running Node process for a heap snapshot without hurting it.
 *
 * SIGUSR2 terminates a process that does not handle it, and runs the app's own handler in one
 * that does (nodemon-style restarts, log rotation). Only `--heapsnapshot-signal=SIGUSR2` turns
 * it into a snapshot, so the signal is sent only when the process is seen to handle it (its
 * caught-signal mask in /proc) AND was started with that option (its command line or
 * NODE_OPTIONS). Where /proc is missing nothing can be checked, and the caller must insist.
 */
import { readFileSync, readdirSync, readlinkSync, statSync, openSync, readSync, closeSync } from 'node:fs'
import { constants } from 'node:os'
import { isAbsolute, join } from 'node:path'

export interface SignalTarget {
  /** The directory V8 writes the snapshot into: `--diagnostic-dir`, else the working directory. */
  dir: string
}

/** What keeps us from signalling, or where the snapshot will appear. */
export type SignalCheck = { ok: true; target: SignalTarget } | { ok: false; reason: string; canForce: boolean }

const FLAG = /--heapsnapshot-signal(?:=|\s+)SIGUSR2(?:\s|$)/
const DIAGNOSTIC_DIR = /--diagnostic-dir(?:=|\s+)(\S+)/

/** Whether bit `signal - 1` is set in a /proc `SigCgt:` hex mask. */
function maskHas(hexMask: string, signal: number): boolean {
  return (BigInt(`0x${hexMask}`) >> BigInt(signal - 1)) & 1n ? true : false
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1')
  } catch {
    return undefined
  }
}

/** Decides whether `pid` can be sent SIGUSR2 for a snapshot, from what Linux's /proc shows. */
export function checkSnapshotSignal(pid: number): SignalCheck {
  if (process.platform !== 'linux') {
    return {
      ok: false,
      reason: `cannot check on ${process.platform} whether process ${pid} handles SIGUSR2 (a process that does not is terminated by it)`,
      canForce: true,
    }
  }
  const status = readProc(pid, 'status')
  if (status === undefined) return { ok: false, reason: `no process ${pid}`, canForce: false }
  const caught = /^SigCgt:\s*([0-9a-f]+)$/im.exec(status)
  if (caught && !maskHas(caught[1], constants.signals.SIGUSR2)) {
    return {
      ok: false,
      reason:
        `process ${pid} does not handle SIGUSR2, so the signal would terminate it: it was not started ` +
        `with --heapsnapshot-signal=SIGUSR2 (start it with NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2)`,
      canForce: false,
    }
  }
  // Arguments are NUL-separated; NODE_OPTIONS is one variable of the environment.
  const cmdline = (readProc(pid, 'cmdline') ?? '').split('\0').join(' ')
  const environ = readProc(pid, 'environ')
  const nodeOptions = (environ ?? '').split('\0').find((v) => v.startsWith('NODE_OPTIONS=')) ?? ''
  const options = `${cmdline} ${nodeOptions.slice('NODE_OPTIONS='.length)} `
  if (!FLAG.test(options)) {
    return {
      ok: false,
      reason:
        environ === undefined
          ? `cannot read the environment of process ${pid} to check for --heapsnapshot-signal=SIGUSR2`
          : `process ${pid} handles SIGUSR2 itself but was not started with --heapsnapshot-signal=SIGUSR2: ` +
            `the signal would run its own handler, not write a snapshot`,
      canForce: true,
    }
  }
  let cwd: string
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`)
  } catch {
    return { ok: false, reason: `cannot read the working directory of process ${pid}`, canForce: false }
  }
  const dir = DIAGNOSTIC_DIR.exec(options)?.[1]
  return { ok: true, target: { dir: dir === undefined ? cwd : isAbsolute(dir) ? dir : join(cwd, dir) } }
}

/** Snapshot files V8 names `Heap.<date>.<time>.<pid>.<thread>.<seq>.heapsnapshot`. */
export function snapshotFiles(dir: string, pid: number): string[] {
  try {
    return readdirSync(dir).filter(
      (f) => f.startsWith('Heap.') && f.endsWith(`.heapsnapshot`) && f.includes(`.${pid}.`),
    )
  } catch {
    return []
  }
}

/** Whether a snapshot file is complete: V8 ends the JSON with `]}` and stops writing. */
function complete(path: string, lastSize: Map<string, number>): boolean {
  let size: number
  try {
    size = statSync(path).size
  } catch {
    return false
  }
  const stable = lastSize.get(path) === size
  lastSize.set(path, size)
  if (!stable || size < 2) return false
  const fd = openSync(path, 'r')
  try {
    const tail = Buffer.alloc(2)
    readSync(fd, tail, 0, 2, size - 2)
    return tail.toString('latin1') === ']}'
  } finally {
    closeSync(fd)
  }
}

/**
 * Waits for the process to finish writing a snapshot not in `before`; resolves with its path,
 * or rejects when the process exits or `timeoutMs` passes first.
 */
export async function waitForSnapshot(
  pid: number,
  target: SignalTarget,
  before: Set<string>,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs
  const sizes = new Map<string, number>()
  for (;;) {
    for (const f of snapshotFiles(target.dir, pid)) {
      const path = join(target.dir, f)
      if (!before.has(f) && complete(path, sizes)) return path
    }
    try {
      process.kill(pid, 0)
    } catch {
      throw new Error(`process ${pid} exited before its snapshot was complete`)
    }
    if (Date.now() > deadline) {
      throw new Error(`no complete snapshot from process ${pid} in ${target.dir} after ${timeoutMs / 1000} s`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}
