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
import { parseArgs } from 'node:util'

import * as binding from './binding'
import { toClassicDiff, type HeapDiffResult } from './lib/heapdiff'
import { checkDiffOptions } from './lib/options'
import { parseSize, renderTable } from './lib/table'

const USAGE = `usage:
  heapdiff diff <before.heapsnapshot> <after.heapsnapshot> [options]
      --json              print the diff as JSON (the shape of HeapDiff.end())
      --top N             show the N classes that grew most (default 25; 0 = all)
      --group G           classic (memwatch's 'what') or devtools (DevTools' class names; default)
      --fail-above SIZE   exit 1 if the heap grew by more than SIZE (e.g. 10mb, 512kb, 1048576)
      --no-color          no ANSI colour (default: colour on a TTY unless NO_COLOR is set)
      --quiet             no progress on stderr
  heapdiff snapshot [--out DIR] -- <script.js> [args...]
      run a Node script with --heapsnapshot-signal=SIGUSR2; each SIGUSR2 sent to it (kill -USR2 <pid>)
      writes a .heapsnapshot into DIR; the paths are printed when the script exits
  heapdiff snapshot --pid <pid>
      ask a running Node process started with --heapsnapshot-signal=SIGUSR2 to write a snapshot

exit codes: 0 ok, 1 growth above --fail-above, 2 usage error, 3 bad input`

class UsageError extends Error {}

function fail(code: number, message: string): never {
  process.stderr.write(`heapdiff: ${message}\n`)
  process.exit(code)
}

async function diffCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      top: { type: 'string', default: '25' },
      group: { type: 'string', default: 'devtools' },
      'fail-above': { type: 'string' },
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
  let grouping: 'classic' | 'devtools'
  try {
    grouping = checkDiffOptions({ grouping: values.group }).grouping
  } catch (e) {
    throw new UsageError(`--group: ${(e as Error).message}`)
  }
  const [before, after] = positionals.map((p) => resolve(p))
  for (const p of [before, after]) {
    if (!existsSync(p)) fail(3, `${p}: no such file`)
    if (!statSync(p).isFile()) fail(3, `${p}: not a file`)
  }

  const job = new binding.FileDiffJob(before, after, { grouping })
  const started = new Date()
  const showProgress = !values.quiet && process.stderr.isTTY
  const timer = showProgress
    ? setInterval(() => {
        const { bytesRead, totalBytes } = job.progress()
        if (totalBytes > 0) {
          const pct = ((bytesRead / totalBytes) * 100).toFixed(1)
          process.stderr.write(`\rparsing ${pct}% of ${(totalBytes / 1048576).toFixed(0)} MiB`)
        }
      }, 200)
    : undefined
  let result: HeapDiffResult
  try {
    result = toClassicDiff(await job.run(), started, new Date())
  } catch (e) {
    fail(3, (e as Error).message)
  } finally {
    if (timer) {
      clearInterval(timer)
      process.stderr.write('\r\x1b[K')
    }
  }

  const color = values.color || (!values['no-color'] && process.stdout.isTTY && !process.env.NO_COLOR)
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  else process.stdout.write(renderTable(result, { top, color, before: basename(before), after: basename(after) }))
  if (failAbove !== undefined && result.change.size_bytes > failAbove) {
    process.stderr.write(`heapdiff: heap grew by ${result.change.size}, above --fail-above\n`)
    return 1
  }
  return 0
}

async function snapshotCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash >= 0 ? argv.slice(0, dash) : argv
  const script = dash >= 0 ? argv.slice(dash + 1) : []
  const { values } = parseArgs({
    args: own,
    options: { pid: { type: 'string' }, out: { type: 'string', default: '.' } },
  })
  if (values.pid !== undefined) {
    const pid = Number(values.pid)
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`--pid must be a process id, got ${values.pid}`)
    try {
      process.kill(pid, 'SIGUSR2')
    } catch (e) {
      fail(3, `cannot signal process ${pid}: ${(e as Error).message}`)
    }
    process.stdout.write(
      `sent SIGUSR2 to ${pid}; if it runs with --heapsnapshot-signal=SIGUSR2 it writes Heap.*.heapsnapshot into its working directory\n`,
    )
    return 0
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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return command ? 0 : 2
  }
  if (command === 'diff') return diffCommand(rest)
  if (command === 'snapshot') return snapshotCommand(rest)
  throw new UsageError(`unknown command ${JSON.stringify(command)}`)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      fail(2, `${(e as Error).message}\n\n${USAGE}`)
    }
    fail(3, (e as Error).stack ?? String(e))
  },
)
