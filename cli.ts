#!/usr/bin/env node
/**
 * `heapdiff` command line: diff two .heapsnapshot files of any size, or take a snapshot.
 *
 * Exit codes (for CI jobs): 0 diff done (and under --fail-above, if given); 1 growth above
 * --fail-above; 2 usage error; 3 an input file is missing, unreadable or not a valid snapshot.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { WriteStream } from 'node:tty'
import { parseArgs } from 'node:util'

import { startDiff, startFindLeaks, startTopRetainers, type FileTask } from './lib/files'
import { ANALYSIS_DEFAULTS, TOP_DEFAULTS, type DiffOptions } from './lib/options'
import { checkSnapshotSignal, snapshotFiles, waitForSnapshot } from './lib/signal'
import { parseSize, renderLeaks, renderTable, renderTop } from './lib/table'
import { profileSites, renderSites } from './lib/profiles'
import { formatSize } from './binding'
import { siteGrowth } from './lib/sites'

/**
 * One class naming for every command that reads files: DevTools', because the files come from
 * DevTools or from production hosts, and the Memory tab is where their numbers get checked.
 * (The in-process API keeps memwatch's `classic` names, for drop-in compatibility.)
 */
const GROUP = 'devtools'

/** What `--group` says, checked by the library like any caller's option. */
type Grouping = DiffOptions['grouping']

const USAGE = `usage:
  heapdiff diff <before.heapsnapshot> <after.heapsnapshot> [options]
      --json              print the diff as JSON (the shape of HeapDiff.end())
      --top N             show the N classes that grew most (default 25; 0 = all)
      --group G           devtools (DevTools' class names; default) or classic (memwatch's 'what')
      --fail-above SIZE   exit 1 if the heap grew by more than SIZE (e.g. 10mb, 512kb, 1048576)
      --retainers         for the classes with most new instances: retained size and the shortest
                          retaining paths from the GC roots, grouped by shape
      --no-color          no ANSI colour (default: colour where the terminal has it, as Node
                          decides: NO_COLOR, FORCE_COLOR and TERM=dumb are honoured)
      --quiet             no progress on stderr
  heapdiff top <file.heapsnapshot> [--top N] [--json]
      the objects with the largest retained sizes (dominator tree), with their retaining paths
  heapdiff leaks <s1> <s2> <s3> [--top N] [--min-count N] [--group G] [--json] [--fail-on-leak]
      (--group as for diff)
      three snapshots (baseline, after an action, after undoing it): objects the action allocated
      that are still alive in s3, by class, with retained sizes and retaining paths;
      --fail-on-leak exits 1 when any class is reported
  heapdiff profile <file.heapprofile|file.pb.gz> [B] [--top N] [--json]
      allocation sites of a sampled heap profile (writeHeapProfile, DevTools' "Allocation
      sampling", pprof with inuse_space/inuse_objects), most live bytes first; with two files,
      the sites whose live bytes grew from the first to the second
  heapdiff snapshot [--out DIR] -- <script.js> [args...]
      run a Node script with --heapsnapshot-signal=SIGUSR2; each SIGUSR2 sent to it (kill -USR2 <pid>)
      writes a .heapsnapshot into DIR; the paths are printed when the script exits
  heapdiff snapshot --pid <pid> [--timeout SECONDS] [--force]
      ask a running Node process started with --heapsnapshot-signal=SIGUSR2 to write a snapshot,
      wait for it (default up to 600 s) and print its path; refuses (exit 3) a process that would
      be terminated by SIGUSR2 or would run its own handler, as /proc shows (--force: send anyway
      where that cannot be checked, or where the process handles SIGUSR2 itself)

Snapshot files may be gzip-compressed (e.g. .heapsnapshot.gz, told by their content, not their
name): they are inflated as they are read, never unpacked to disk.

exit codes: 0 ok, 1 growth above --fail-above (or a leak with --fail-on-leak), 2 usage error, 3 bad input`

class UsageError extends Error {}

/** Unwinds to `main`'s caller once the message is written; the code is already set. */
class Exit extends Error {}

function report(code: number, message: string): void {
  process.stderr.write(`heapdiff: ${message}\n`)
  process.exitCode = code
}

// Exit codes are set, never `process.exit()`ed: output to a pipe is written asynchronously, and
// exiting at once would cut a large `--json` result short.
function fail(code: number, message: string): never {
  report(code, message)
  throw new Exit()
}

async function diffCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      top: { type: 'string', default: '25' },
      group: { type: 'string', default: GROUP },
      'fail-above': { type: 'string' },
      retainers: { type: 'boolean', default: false },
      'no-color': { type: 'boolean', default: false },
      color: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  })
  if (positionals.length !== 2) throw new UsageError('diff needs exactly two snapshot files')
  const top = Number(values.top)
  if (!Number.isInteger(top) || top < 0) throw new UsageError(`--top must be a whole number >= 0, got ${values.top}`)
  let failAbove: number | undefined
  if (values['fail-above'] !== undefined) {
    failAbove = parseSize(values['fail-above'])
    if (failAbove === undefined)
      throw new UsageError(`--fail-above: cannot read ${JSON.stringify(values['fail-above'])} as a size`)
  }
  const [before, after] = inputFiles(positionals)
  const task = usage('--group', () =>
    startDiff(before, after, { grouping: values.group as Grouping, retainers: values.retainers }),
  )
  const result = await withProgress(task, !values.quiet)

  const color = values.color || (!values['no-color'] && takesColor(process.stdout))
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  else process.stdout.write(renderTable(result, { top, color, before: basename(before), after: basename(after) }))
  if (failAbove !== undefined && result.change.size_bytes > failAbove) {
    process.stderr.write(`heapdiff: heap grew by ${result.change.size}, above --fail-above\n`)
    return 1
  }
  return 0
}

/** Resolves input paths, exiting with code 3 for a missing path or a directory. */
function inputFiles(paths: string[]): string[] {
  const files = paths.map((p) => resolve(p))
  for (const p of files) {
    if (!existsSync(p)) fail(3, `${p}: no such file`)
    if (!statSync(p).isFile()) fail(3, `${p}: not a file`)
  }
  return files
}

/**
 * Node's own rule (its `util.styleText` since 22.13, not yet on 20): FORCE_COLOR decides for any
 * stream (CI logs are pipes), otherwise a terminal that has colours; `hasColors()` reads
 * FORCE_COLOR, NO_COLOR and TERM=dumb.
 */
function takesColor(stream: NodeJS.WriteStream): boolean {
  if (!stream.isTTY && process.env.FORCE_COLOR === undefined) return false
  return WriteStream.prototype.hasColors.call(stream, 16)
}

/** Options the library rejects are usage errors of the flag they came from. */
function usage<T>(flag: string, start: () => T): T {
  try {
    return start()
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`)
  }
}

/** Awaits a file task with a progress line on stderr (TTY only); a failure exits with code 3. */
async function withProgress<T>(task: FileTask<T>, enabled: boolean): Promise<T> {
  const timer =
    enabled && process.stderr.isTTY
      ? setInterval(() => {
          const { bytesRead, totalBytes } = task.progress()
          if (totalBytes > 0) {
            const pct = ((bytesRead / totalBytes) * 100).toFixed(1)
            const phase = bytesRead >= totalBytes ? 'analysing' : `parsing ${pct}% of`
            process.stderr.write(`\r\x1b[K${phase} ${(totalBytes / 1048576).toFixed(0)} MiB`)
          }
        }, 200)
      : undefined
  try {
    return await task.result
  } catch (e) {
    return fail(3, (e as Error).message)
  } finally {
    if (timer) {
      clearInterval(timer)
      process.stderr.write('\r\x1b[K')
    }
  }
}

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number >= ${min}, got ${text}`)
  return n
}

async function topCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      top: { type: 'string', default: String(TOP_DEFAULTS.top) },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  })
  if (positionals.length !== 1) throw new UsageError('top needs exactly one snapshot file')
  const top = wholeNumber('--top', values.top, 1)
  const [file] = inputFiles(positionals)
  const rows = await withProgress(startTopRetainers(file, { top }), !values.quiet)
  if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n')
  else process.stdout.write(renderTop(rows))
  return 0
}

async function leaksCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      top: { type: 'string', default: String(ANALYSIS_DEFAULTS.maxClasses) },
      'min-count': { type: 'string', default: String(ANALYSIS_DEFAULTS.minCount) },
      group: { type: 'string', default: GROUP },
      json: { type: 'boolean', default: false },
      'fail-on-leak': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  })
  if (positionals.length !== 3) throw new UsageError('leaks needs three snapshot files: baseline, action, after')
  const maxClasses = wholeNumber('--top', values.top, 1)
  const minCount = wholeNumber('--min-count', values['min-count'], 1)
  const [s1, s2, s3] = inputFiles(positionals)
  const task = usage('--group', () =>
    startFindLeaks(s1, s2, s3, { grouping: values.group as Grouping, maxClasses, minCount }),
  )
  const report = await withProgress(task, !values.quiet)
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  else
    process.stdout.write(
      renderLeaks(
        report,
        [s1, s2, s3].map((f) => basename(f)),
      ),
    )
  return values['fail-on-leak'] && report.leaks.length > 0 ? 1 : 0
}

async function profileCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
    },
  })
  if (positionals.length !== 1 && positionals.length !== 2) {
    throw new UsageError('profile needs one profile file, or two to compare')
  }
  const top = wholeNumber('--top', values.top, 0)
  const files = inputFiles(positionals)
  let sites
  try {
    sites = files.map(profileSites)
  } catch (e) {
    return fail(3, (e as Error).message)
  }
  const growth = files.length === 2
  const rows = growth ? siteGrowth(sites[0], sites[1]) : sites[0]
  const shown = top === 0 ? rows : rows.slice(0, top)
  if (values.json) process.stdout.write(JSON.stringify(shown, null, 2) + '\n')
  else {
    const total = sites[sites.length - 1].reduce((a, s) => a + s.live_bytes, 0)
    const head = growth
      ? `${rows.length} sites grew from ${basename(files[0])} to ${basename(files[1])}`
      : `${basename(files[0])}: ${sites[0].length} sites`
    process.stdout.write(`${head}; ${formatSize(total)} live (estimated from samples)\n\n`)
    process.stdout.write(renderSites(shown, growth))
    if (shown.length < rows.length)
      process.stdout.write(`… ${rows.length - shown.length} more sites (--top 0 shows all)\n`)
  }
  return 0
}

async function snapshotCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash >= 0 ? argv.slice(0, dash) : argv
  const script = dash >= 0 ? argv.slice(dash + 1) : []
  const { values } = parseArgs({
    args: own,
    options: {
      pid: { type: 'string' },
      out: { type: 'string', default: '.' },
      force: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '600' },
    },
  })
  if (values.pid !== undefined) {
    const pid = Number(values.pid)
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`--pid must be a process id, got ${values.pid}`)
    const timeout = Number(values.timeout)
    if (!(timeout > 0)) throw new UsageError(`--timeout must be a number of seconds, got ${values.timeout}`)
    return signalForSnapshot(pid, values.force, timeout * 1000)
  }
  if (script.length === 0) throw new UsageError('snapshot needs --pid <pid> or -- <script.js> [args]')
  const outDir = resolve(values.out)
  const before = new Set(existsSync(outDir) ? readdirSync(outDir) : [])
  const child = spawn(process.execPath, ['--heapsnapshot-signal=SIGUSR2', ...script], {
    cwd: outDir,
    stdio: 'inherit',
  })
  process.stderr.write(`heapdiff: started pid ${child.pid}; run \`kill -USR2 ${child.pid}\` to take a snapshot\n`)
  const code: number = await new Promise((res) => child.on('exit', (c) => res(c ?? 1)))
  const taken = readdirSync(outDir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f))
  for (const f of taken) process.stdout.write(resolve(outDir, f) + '\n')
  return code
}

/** Sends SIGUSR2 only where it makes a snapshot (see lib/signal.ts), then waits for the file. */
async function signalForSnapshot(pid: number, force: boolean, timeoutMs: number): Promise<number> {
  const check = checkSnapshotSignal(pid)
  if (!check.ok && !(force && check.canForce)) {
    fail(3, `${check.reason}; nothing sent${check.canForce ? ' (--force sends it anyway)' : ''}`)
  }
  const target = check.ok ? check.target : undefined
  const before = new Set(target ? snapshotFiles(target.dir, pid) : [])
  try {
    process.kill(pid, 'SIGUSR2')
  } catch (e) {
    fail(3, `cannot signal process ${pid}: ${(e as Error).message}`)
  }
  if (!target) {
    process.stdout.write(`sent SIGUSR2 to ${pid}; a snapshot, if any, goes to its working directory\n`)
    return 0
  }
  process.stderr.write(`heapdiff: asked process ${pid} for a heap snapshot in ${target.dir} ...\n`)
  try {
    process.stdout.write((await waitForSnapshot(pid, target, before, timeoutMs)) + '\n')
  } catch (e) {
    fail(3, (e as Error).message)
  }
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return command ? 0 : 2
  }
  if (command === 'diff') return diffCommand(rest)
  if (command === 'snapshot') return snapshotCommand(rest)
  if (command === 'top') return topCommand(rest)
  if (command === 'leaks') return leaksCommand(rest)
  if (command === 'profile') return profileCommand(rest)
  throw new UsageError(`unknown command ${JSON.stringify(command)}`)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    if (e instanceof Exit) return
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      report(2, `${(e as Error).message}\n\n${USAGE}`)
      return
    }
    report(3, (e as Error).stack ?? String(e))
  },
)
