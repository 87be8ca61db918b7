#!/usr/bin/env node
/**
 * `heapdiff` command line, eight commands (USAGE below has every option; docs/cli.md the manual):
 * `diff` two snapshot files of any size, `top` retained sizes of one, `leaks` (the three-snapshot
 * technique), `profile` (sites of a sampled heap profile, or their growth), `snapshot` (run a
 * script ready for snapshots, or ask a running process with --pid), `run` (a program with
 * heapdiff loaded, then its report), `report` (of a run folder, a diff, three snapshots or a
 * profile) and `mcp` (the same questions for coding agents, as an MCP server on stdio).
 *
 * Exit codes (for CI jobs): 0 ok; 1 growth above --fail-above, or with `leaks --fail-on-leak` a
 * leaked class of the program's; 2 usage error; 3 missing, unreadable or invalid input. `run`
 * exits with the program's own code, or dies by the signal that ended it (after the report).
 * Snapshots of different processes are readable input, but no diff or leak report: `diff` and
 * `leaks` say so in a `heapdiff: warning:` line on stderr and exit 0 (never 1: nothing was
 * measured to fail on).
 */
import './lib/cli/native' // first: a missing platform package is named before anything loads binding.js
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { constants } from 'node:os'
import { WriteStream } from 'node:tty'
import { parseArgs } from 'node:util'

import { startDiff, startFindLeaks, startTopRetainers, type FileTask } from './lib/files'
import { ANALYSIS_DEFAULTS, TOP_DEFAULTS, type DiffOptions } from './lib/options'
import { checkSnapshotSignal, snapshotFiles, waitForSnapshot } from './lib/cli/signal'
import { parseSize, renderLeaks, renderTable, renderTop } from './lib/cli/table'
import { profileSites, renderSites } from './lib/cli/profiles'
import { formatSize } from './binding'
import { siteGrowth } from './lib/sites'
import { buildReport, ReportInputError, runReport, type ReportInput } from './lib/cli/report/model'
import { FORMATS, formatOf, writeReport, type Format } from './lib/cli/report/output'
import { prepareRunDir, runProgram } from './lib/cli/run'

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
      that are still alive in s3, by class, with retained sizes and retaining paths: the
      program's classes first, then V8's own objects;
      --fail-on-leak exits 1 when any class of the program's is reported (snapshots of different
      processes report none: a warning on stderr, exit 0)
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

  heapdiff run [options] -- <script.js | node [node options] script.js | command> [args...]
      run a program with heapdiff loaded into it (a --require added to its own NODE_OPTIONS, so it
      needs no change; its worker threads and the Node processes it starts are recorded too);
      its stdio, exit code and signals pass through. Every stats and leak event goes to the run
      folder as NDJSON; report.html, report.md and report.json are written when it ends (Ctrl-C
      included)
      --out DIR           run folder (default heapdiff-run-<date>-<pid>)
      --no-sampling       no allocation sampling (on by default where heapdiff has it: the sites
                          of the growth in the report)
      --no-census         no class censuses (on by default: the leak events name the classes that
                          grew, from two censuses per leak window, each a pause like a full GC)
      --snapshots MODE    off (default) or on-leak: after a thread's first leak event, three heap
                          snapshots N full GCs apart, analysed as by 'leaks' (what leaked, what
                          holds it). Off by default because a snapshot stops the program for
                          seconds and needs several times its heap in memory: a service under
                          load freezes and may run out of memory
      --snapshot-gcs N    full GCs between those snapshots (default 5)
      --no-report         only record; 'heapdiff report DIR' builds the report later
      --internals         list V8's own objects among the survivors too (compiled code, hidden
                          classes, the new store of an old Map), after the program's classes;
                          left out of the report and its verdict by default
  heapdiff report <run-folder | diff A B | leaks S1 S2 S3 | file.heapprofile> [-o FILE] [--format F]
                  [--internals]
      the report of a run folder, a diff of two snapshots, three snapshots or a sampling heap
      profile; F is html (one self-contained file, no network request), md (a summary for a pull
      request or a CI step summary) or json (the data both are drawn from); default from -o's
      extension, else html. -o - writes to stdout; default <run-folder>/report.F or
      ./heapdiff-report.F
  heapdiff mcp [--root DIR] [--cache-mb N]
      an MCP server on stdin/stdout for coding agents: tools summary, diff, leaks, top_retainers,
      retainers, object, profile and run_report over snapshot files of any size, each kept parsed
      between calls (up to N MiB of tables, default 4096); read-only, --root limits the files it
      may read. Needs the optional @modelcontextprotocol/sdk and zod packages

Snapshot files may be gzip-compressed (e.g. .heapsnapshot.gz, told by their content, not their
name): they are inflated as they are read, never unpacked to disk.

exit codes: 0 ok, 1 growth above --fail-above (or a leak with --fail-on-leak), 2 usage error, 3 bad input;
run: the program's own exit code, and death by its signal (after the report) when a signal ended it`

class UsageError extends Error {}

/** The commands `main` dispatches, in USAGE's order. */
const COMMANDS = ['diff', 'top', 'leaks', 'profile', 'snapshot', 'run', 'report', 'mcp']

/** What `parseArgs` takes (the type of node:util's `ParseArgsConfig`). */
type ParseArgsConfig = NonNullable<Parameters<typeof parseArgs>[0]>

/** The command whose arguments are being read, for the hint after a usage error. */
let current: string | undefined

/** `parseArgs`, with its errors as usage errors: an unknown option names the nearest known one. */
function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (e) {
    const err = e as Error & { code?: string }
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /^Unknown option '([^']*)'/.exec(err.message)?.[1] ?? err.message
      const known = Object.entries(config.options ?? {}).flatMap(([name, o]) =>
        o.short ? [`--${name}`, `-${o.short}`] : [`--${name}`],
      )
      const near = closest(option, known)
      const where = current ? ` for ${current}` : ''
      throw new UsageError(`unknown option '${option}'${where}` + (near ? `; did you mean '${near}'?` : ''))
    }
    if (err.code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(err.message)
    throw e
  }
}

/** The one candidate within a typo's reach of `word` (edit distance), or none when none or several are. */
function closest(word: string, candidates: string[]): string | undefined {
  const bare = (w: string) => w.replace(/^-+/, '')
  const reach = bare(word).length <= 4 ? 1 : 2
  let best: string[] = []
  let bestDistance = reach + 1
  for (const c of candidates) {
    const d = editDistance(bare(word), bare(c))
    if (d < bestDistance) [best, bestDistance] = [[c], d]
    else if (d === bestDistance) best.push(c)
  }
  return best.length === 1 ? best[0] : undefined
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]
}

/** A command's part of USAGE: its synopsis lines and their indented detail. */
function commandUsage(command: string): string {
  const out: string[] = []
  let inside = false
  for (const line of USAGE.split('\n')) {
    const start = /^ {2}heapdiff (\w+)/.exec(line)
    if (start) inside = start[1] === command
    else if (!/^ {4}/.test(line)) inside = false
    if (inside) out.push(line)
  }
  return `usage:\n${out.join('\n')}\n\n${USAGE.slice(USAGE.indexOf('\nexit codes:') + 1)}`
}

/** The package's version, from the package.json beside this file. */
function version(): string {
  return (require('./package.json') as { version: string }).version
}

const osSignals = constants.signals as Record<string, number>

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
  const { values, positionals } = parseOptions({
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

  if (result.comparable === false) process.stderr.write(`heapdiff: warning: ${result.warning}\n`)
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
            process.stderr.write(`\r\x1b[K${phase} ${formatSize(totalBytes)}`)
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
  const { values, positionals } = parseOptions({
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
  const { values, positionals } = parseOptions({
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
  if (report.comparable === false) process.stderr.write(`heapdiff: warning: ${report.warning}\n`)
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  else
    process.stdout.write(
      renderLeaks(
        report,
        [s1, s2, s3].map((f) => basename(f)),
      ),
    )
  return values['fail-on-leak'] && report.leaks.some((l) => !l.internal) ? 1 : 0
}

async function profileCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions({
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
  const { values } = parseOptions({
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

/** Sends SIGUSR2 only where it makes a snapshot (see lib/cli/signal.ts), then waits for the file. */
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

async function runCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--')
  if (dash < 0 || dash === argv.length - 1) throw new UsageError('run needs -- <script.js | node ... | command> [args]')
  const { values } = parseOptions({
    args: argv.slice(0, dash),
    options: {
      out: { type: 'string' },
      'no-sampling': { type: 'boolean', default: false },
      'no-census': { type: 'boolean', default: false },
      snapshots: { type: 'string', default: 'off' },
      'snapshot-gcs': { type: 'string', default: '5' },
      'no-report': { type: 'boolean', default: false },
      internals: { type: 'boolean', default: false },
    },
  })
  if (values.snapshots !== 'off' && values.snapshots !== 'on-leak')
    throw new UsageError(`--snapshots must be off or on-leak, got ${values.snapshots}`)
  const snapshotGcs = wholeNumber('--snapshot-gcs', values['snapshot-gcs'], 1)
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')
  let dir: string
  try {
    dir = prepareRunDir(values.out ?? `heapdiff-run-${stamp}-${process.pid}`)
  } catch (e) {
    return fail(3, (e as Error).message)
  }
  const program = runProgram(argv.slice(dash + 1), {
    dir,
    sampling: !values['no-sampling'],
    census: !values['no-census'],
    snapshots: values.snapshots,
    snapshotGcs,
  })
  let exit
  try {
    exit = await program.exit
  } catch (e) {
    program.release()
    return fail(127, (e as Error).message)
  }
  if (!values['no-report']) {
    try {
      const report = await runReport(dir, { internals: values.internals })
      for (const f of FORMATS) writeReport(report, f, join(dir, `report.${f}`))
      process.stderr.write(
        `heapdiff run: ${report.verdict.sentence}\nheapdiff run: report in ${join(dir, 'report.html')}\n`,
      )
    } catch (e) {
      process.stderr.write(`heapdiff run: no report: ${(e as Error).message}\n`)
    }
  } else process.stderr.write(`heapdiff run: events in ${dir}\n`)
  program.release()
  if (exit.signal) {
    // Die as the program died, so that a supervisor or shell sees the same signal.
    process.kill(process.pid, exit.signal)
    // Signals the default disposition ignores (none of the forwarded ones): report 128 + n.
    return 128 + (osSignals[exit.signal] ?? 0)
  }
  return exit.code ?? 1
}

/** `heapdiff report`'s positionals: a run folder, `diff A B`, `leaks S1 S2 S3` or a `.heapprofile`. */
function reportInput(args: string[]): ReportInput {
  const [first, ...rest] = args
  if (first === 'diff' && rest.length === 2) return { kind: 'diff', before: rest[0], after: rest[1] }
  if (first === 'leaks' && rest.length === 3) return { kind: 'leaks', s1: rest[0], s2: rest[1], s3: rest[2] }
  if (args.length === 1 && /\.heapprofile$/i.test(first)) return { kind: 'profile', file: first }
  if (args.length === 1) return { kind: 'run', dir: first }
  throw new UsageError('report takes <run-folder>, diff A B, leaks S1 S2 S3 or <file.heapprofile>')
}

async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      format: { type: 'string' },
      internals: { type: 'boolean', default: false },
    },
  })
  if (values.format !== undefined && !FORMATS.includes(values.format as Format))
    throw new UsageError(`--format must be html, md or json, got ${values.format}`)
  const format = (values.format as Format | undefined) ?? (values.output ? formatOf(values.output) : 'html')
  if (positionals.length === 0) throw new UsageError('report needs a run folder or snapshot files')
  const input = reportInput(positionals)
  let report
  try {
    report = await buildReport(input, { internals: values.internals })
  } catch (e) {
    if (e instanceof ReportInputError) return fail(3, e.message)
    throw e
  }
  const out =
    values.output ?? (input.kind === 'run' ? join(input.dir, `report.${format}`) : `heapdiff-report.${format}`)
  writeReport(report, format, out)
  if (out !== '-') process.stderr.write(`heapdiff: ${report.verdict.sentence}\nheapdiff: wrote ${resolve(out)}\n`)
  return 0
}

async function mcpCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions({
    args: argv,
    allowPositionals: false,
    options: {
      root: { type: 'string' },
      'cache-mb': { type: 'string', default: '4096' },
    },
  })
  void positionals
  const cacheMb = wholeNumber('--cache-mb', values['cache-mb'], 1)
  if (values.root !== undefined && !existsSync(values.root)) return fail(3, `--root ${values.root}: no such directory`)
  // Loaded here only: the SDK is an optional peer dependency of this one command.
  const { createMcpServer } = require('./lib/cli/mcp/server') as typeof import('./lib/cli/mcp/server')
  let mcp
  try {
    mcp = createMcpServer({ root: values.root ?? null, cacheBytes: cacheMb * 1024 * 1024 })
  } catch (e) {
    return fail(3, (e as Error).message)
  }
  await mcp.connect()
  // Serves until the client closes stdin.
  await new Promise<void>((done) => process.stdin.once('close', done))
  mcp.cache.clear()
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return command ? 0 : 2
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(version() + '\n')
    return 0
  }
  if (COMMANDS.includes(command)) {
    current = command
    // `heapdiff diff --help`: that command's part of the help. After `--` the words are the
    // program's (`run -- node app.js --help`).
    const dash = rest.indexOf('--')
    const own = dash >= 0 ? rest.slice(0, dash) : rest
    if (own.includes('--help') || own.includes('-h')) {
      process.stdout.write(commandUsage(command) + '\n')
      return 0
    }
  }
  if (command === 'diff') return diffCommand(rest)
  if (command === 'snapshot') return snapshotCommand(rest)
  if (command === 'top') return topCommand(rest)
  if (command === 'leaks') return leaksCommand(rest)
  if (command === 'profile') return profileCommand(rest)
  if (command === 'run') return runCommand(rest)
  if (command === 'report') return reportCommand(rest)
  if (command === 'mcp') return mcpCommand(rest)
  const near = closest(command, COMMANDS)
  throw new UsageError(`unknown command '${command}'` + (near ? `; did you mean '${near}'?` : ''))
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    if (e instanceof Exit) return
    if (e instanceof UsageError) {
      // One line naming the problem, and where the help is; not the whole help.
      report(2, `${e.message}\nrun 'heapdiff ${current ? `${current} ` : ''}--help' for usage`)
      return
    }
    report(3, (e as Error).stack ?? String(e))
  },
)
