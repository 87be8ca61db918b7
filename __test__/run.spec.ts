// `heapdiff run -- node app.js`: a leaky and a clean service, recorded from outside; exit codes
// and signals passed through; the program's own NODE_OPTIONS kept; `heapdiff report` refusing
// bad input without leaving a partial file. Serial: each test runs whole programs, and a file
// running them all at once starves the timing-sensitive files that run beside it.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const cli = join(root, 'cli.js')
const fixture = join(__dirname, 'fixtures', 'run-service.js')
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-run-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

interface Ran {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  out: string
}

let n = 0
/** `heapdiff run [flags] -- <this node> --expose-gc run-service.js [args]`, to its end. */
function run(flags: string[], args: string[], env: NodeJS.ProcessEnv = {}): Ran {
  const out = join(dir, `run-${++n}`)
  const r = spawnSync(
    process.execPath,
    [cli, 'run', '--out', out, ...flags, '--', process.execPath, '--expose-gc', fixture, ...args],
    { encoding: 'utf8', timeout: 120000, env: { ...process.env, ...env } },
  )
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, out }
}

function events(folder: string, file: string): { type: string; [k: string]: unknown }[] {
  return readFileSync(join(folder, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
}

const reportOf = (folder: string) => JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8'))

/**
 * The fixture lines (1-based) of the functions that allocate the leaked payload: the constructor,
 * or `handle` when the optimiser inlined the constructor into it. V8's sampler records the
 * allocating function's position, not the statement's.
 */
const fixtureLines = readFileSync(fixture, 'utf8').split('\n')
const leakLines = ['constructor(id) {', 'function handle('].map((s) => fixtureLines.findIndex((l) => l.includes(s)) + 1)

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sampling = typeof (require('..') as { startSampling?: unknown }).startSampling === 'function'

// One leaky run (with a worker thread and the three snapshots) shared by the tests that read it.
let leakyRun: Ran | undefined
const leaky = () =>
  (leakyRun ??= run(['--snapshots', 'on-leak', '--snapshot-gcs', '3'], ['leaky', '--batches', '30', '--worker']))

test.serial('leaky service: the folder has every thread’s events and the report names the leaking class', (t) => {
  const r = leaky()
  t.is(r.status, 0, r.stderr)
  const files = readdirSync(r.out)
  const ev = files.filter((f) => /^events-\d+-\d+\.ndjson$/.test(f)).sort()
  t.is(ev.length, 2, `main thread and worker: ${files.join(', ')}`)
  const main = events(
    r.out,
    ev.find((f) => f.endsWith('-0.ndjson'))!,
  )
  t.is(main[0].type, 'start')
  t.is(main[0].main, true)
  t.is(main[main.length - 1].type, 'exit')
  // The fixture runs gc() after each of its 30 batches: each is a full GC, a stats event.
  t.true(main.filter((e) => e.type === 'stats').length >= 30)
  t.true(
    main.some((e) => e.type === 'leak'),
    'a leak event in the main thread',
  )
  const worker = events(
    r.out,
    ev.find((f) => !f.endsWith('-0.ndjson'))!,
  )
  t.is(worker[0].main, false)
  t.true(worker.filter((e) => e.type === 'stats').length >= 15, 'the worker’s own GCs')
  for (const i of [1, 2, 3]) t.true(files.some((f) => f.startsWith(`s${i}-`) && f.endsWith('-0.heapsnapshot')))

  const report = reportOf(r.out)
  t.true(report.verdict.leak)
  t.is(report.classes[0].what, 'LeakedSession', report.classes.map((c: { what: string }) => c.what).join(', '))
  t.regex(report.verdict.sentence, /^Leak: .*LeakedSession/)
  t.regex(report.classes[0].paths[0].path, /Context\.kept → Array\[·\] → LeakedSession$/)
  const md = readFileSync(join(r.out, 'report.md'), 'utf8')
  t.true(md.includes('`LeakedSession`'))
  t.true(md.includes('[Full report (HTML)](report.html)'))
  t.true(existsSync(join(r.out, 'report.html')))
  t.regex(r.stderr, /heapdiff run: Leak: /)
})

;(sampling ? test.serial : test.skip)(
  sampling
    ? 'leaky service: the report names the allocation line (sampling)'
    : 'leaky service: the report names the allocation line — SKIPPED: memwatch.startSampling is not in this build yet',
  (t) => {
    const report = reportOf(leaky().out)
    const where = leakLines.map((line) => `run-service.js:${line}:`)
    const named = [
      ...report.sites.slice(0, 3).map((s: { url: string; line: number }) => `${s.url}:${s.line}:`),
      ...report.classes.slice(0, 1).map((c: { allocated_at: string | null }) => c.allocated_at ?? ''),
    ]
    t.true(
      named.some((s: string) => where.some((w) => s.includes(w))),
      `${where.join(' or ')} in ${named.join(' | ')}`,
    )
    const md = readFileSync(join(leaky().out, 'report.md'), 'utf8')
    t.true(
      where.some((w) => md.includes(w)),
      md,
    )
  },
)

/**
 * What of heapdiff could show in a report, read from the package itself: the classes its
 * TypeScript sources and its native module declare, the aliases TypeScript gives its modules
 * where they import each other (`sampling_1`), and its files' paths.
 */
function heapdiffNames(): { classes: Set<string>; modules: Set<string>; paths: string[] } {
  const sources: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name))
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) sources.push(join(d, e.name))
    }
  }
  walk(join(root, 'lib'))
  sources.push(...['index.ts', 'cli.ts', 'metrics.ts'].map((f) => join(root, f)))
  const classes = new Set<string>()
  for (const f of sources) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^\s*(?:export\s+)?class\s+(\w+)/gm)) classes.add(m[1])
  }
  for (const m of readFileSync(join(root, 'binding.d.ts'), 'utf8').matchAll(/^export declare class (\w+)/gm)) {
    classes.add(m[1])
  }
  const modules = new Set(sources.map((f) => `${f.replace(/^.*\//, '').replace(/\.ts$/, '')}_1`))
  modules.add('binding_1')
  return { classes, modules, paths: [join(root, 'lib') + '/', ...sources.map((f) => f.replace(/\.ts$/, ''))] }
}

test.serial('leaky service: no class and no path step of the survivors is heapdiff’s (sampling on)', (t) => {
  const { classes, modules, paths } = heapdiffNames()
  t.true(classes.has('Sampler') && classes.has('HeapSnapshotHandle') && modules.has('sampling_1'), [...classes].join())
  const r = leaky()
  t.true(
    events(
      r.out,
      readdirSync(r.out).find((f) => f.endsWith('-0.ndjson'))!,
    )[0].sampling as boolean,
    'sampling on',
  )
  const report = reportOf(r.out)
  t.true(report.classes.length > 0)
  const found: string[] = []
  for (const c of report.classes as Array<{ what: string; paths: Array<{ path: string }> }>) {
    if (classes.has(c.what)) found.push(`class ${c.what}`)
    for (const p of c.paths) {
      for (const step of p.path.split(' → ')) {
        // `Class.edge`, `Class[index]` or `Class`; a class name may hold dots (`system / Context`).
        const m = /^(.*?)(?:\.([^.[\]]+)|\[\d+\])?$/.exec(step)!
        const [cls, edge] = [m[1], m[2]]
        if (classes.has(cls) || (edge !== undefined && modules.has(edge)) || paths.some((f) => step.includes(f))) {
          found.push(`${c.what}: ${step} in ${p.path}`)
        }
      }
    }
  }
  t.deepEqual(found, [])
})

// Without sampling, so that this checks the recording alone. (Until issue 19 it had to: the
// sampler's own tables grew on this small heap over the first window of full GCs, ~340 KB seen
// once on Node 22, past the trend rule's 256 KiB floor; they are native now.)
test.serial('clean service: no leak; its own NODE_OPTIONS are kept and in force', (t) => {
  // This service's post-GC heap is ~6 MB, and V8's own cycle on it (code and feedback made,
  // then flushed) rises ~300 KB over some 8 full GCs and drops: past the trend rule's 256 KiB
  // floor, so a leak is reported in about 1 run of 8 (Node 22; also with a bare `leak` listener
  // and no `heapdiff run`; docs/api.md, "A limit on very small heaps"). Up to three runs, one clean.
  const clean = () =>
    run(['--no-sampling'], ['clean', '--batches', '30'], {
      NODE_OPTIONS: '--max-old-space-size=300 --no-deprecation',
    })
  let r = clean()
  for (let attempt = 1; attempt < 3 && reportOf(r.out).verdict.leak; attempt++) {
    t.log(`run ${attempt}: ${reportOf(r.out).verdict.sentence}`)
    r = clean()
  }
  t.is(r.status, 0, r.stderr)
  const report = reportOf(r.out)
  t.false(report.verdict.leak, report.verdict.sentence)
  t.deepEqual(report.leaks, [])
  t.regex(report.verdict.sentence, /^No leak: over \d+ full GCs/)
  t.deepEqual(report.classes, [])
  // The program sees its options and heapdiff's preload after them…
  t.regex(r.stdout, /NODE_OPTIONS=--max-old-space-size=300 --no-deprecation --require ".*preload\.js"/)
  // …and they are in force: V8's heap limit is what this Node gives --max-old-space-size=300
  // (asked of it directly), not its default.
  const limitOf = (opts: string[]) =>
    Number(
      spawnSync(process.execPath, [...opts, '-p', 'require("v8").getHeapStatistics().heap_size_limit'], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      }).stdout,
    )
  const expected = limitOf(['--max-old-space-size=300'])
  t.not(expected, limitOf([]))
  const ev = readdirSync(r.out).find((f) => f.endsWith('-0.ndjson'))!
  const stats = events(r.out, ev).filter((e) => e.type === 'stats')
  t.true(stats.length >= 30)
  t.is(stats[0].heap_size_limit, expected)
})

test.serial('leaky service that ends before the second snapshot: the verdict says so', (t) => {
  const r = run(['--no-sampling', '--snapshots', 'on-leak', '--snapshot-gcs', '500'], ['leaky', '--batches', '20'])
  t.is(r.status, 0, r.stderr)
  const report = reportOf(r.out)
  t.true(report.verdict.leak, report.verdict.sentence)
  // The class census still names the class; the retaining paths needed the snapshots.
  t.regex(report.verdict.sentence, / The program ended after 1 of the 3 snapshots, too soon for retaining paths: /)
  t.regex(report.class_source, /^class census: /)
})

test.serial('the program’s exit code comes back unchanged', (t) => {
  const r = run(['--no-sampling'], ['clean', '--batches', '3', '--exit', '3'])
  t.is(r.status, 3, r.stderr)
  t.is(r.signal, null)
  t.true(existsSync(join(r.out, 'report.json')), 'the report is written for a failing program too')
})

/** Starts a waiting service under `heapdiff run`, sends `sig` to heapdiff once it serves. */
function killed(sig: NodeJS.Signals): Promise<Ran> {
  const out = join(dir, `run-${++n}`)
  const child = spawn(
    process.execPath,
    [cli, 'run', '--out', out, '--', process.execPath, '--expose-gc', fixture, 'clean', '--wait'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(new Error(`no exit after ${sig}: ${stderr}`))
    }, 60000)
    child.stdout.on('data', (d) => {
      if (!stdout.includes('ready') && (stdout += d).includes('ready')) {
        // Signal once a stats event is on disk: "ready" follows a full GC, its event a moment later.
        const recorded = () =>
          existsSync(out) &&
          readdirSync(out).some((f) => f.endsWith('.ndjson') && readFileSync(join(out, f), 'utf8').includes('"stats"'))
        const poll = setInterval(() => {
          if (!recorded()) return
          clearInterval(poll)
          child.kill(sig)
        }, 50)
      }
    })
    child.on('exit', (status, signal) => {
      clearTimeout(timer)
      res({ status, signal, stdout, stderr, out })
    })
  })
}

test.serial('death by SIGTERM: the report is written, then heapdiff dies by the same signal', async (t) => {
  const r = await killed('SIGTERM')
  t.is(r.signal, 'SIGTERM', `status ${r.status}: ${r.stderr}`)
  t.is(r.status, null)
  const report = reportOf(r.out)
  t.true(report.threads[0].series.time.length > 0, 'GCs recorded until the signal')
  t.is(report.threads[0].exit_code, null, 'killed: no exit event')
})

test.serial('SIGINT (Ctrl-C) stops the program and still writes the report', async (t) => {
  const r = await killed('SIGINT')
  t.is(r.signal, 'SIGINT', `status ${r.status}: ${r.stderr}`)
  t.true(existsSync(join(r.out, 'report.html')))
  t.true(existsSync(join(r.out, 'report.md')))
})

// ---------------------------------------------------------------------------------------------
// heapdiff report: bad input

function report(args: string[]) {
  return spawnSync(process.execPath, [cli, 'report', ...args], { encoding: 'utf8', timeout: 60000 })
}

/** The folder holds no report file and no temporary file after a refused report. */
function untouched(t: import('ava').ExecutionContext, folder: string, before: string[]) {
  t.deepEqual(readdirSync(folder).sort(), before.sort())
}

test.serial('report: a missing folder is exit code 3, named', (t) => {
  const missing = join(dir, 'no-such-run')
  const r = report([missing, '-o', join(dir, 'missing.html')])
  t.is(r.status, 3)
  t.true(r.stderr.includes(`${missing}: no such run folder`), r.stderr)
  t.false(existsSync(join(dir, 'missing.html')))
})

test.serial('report: a truncated NDJSON line is exit code 3 naming file and line, no partial file', (t) => {
  const src = run(['--no-sampling'], ['clean', '--batches', '4'])
  t.is(src.status, 0, src.stderr)
  const folder = join(dir, 'truncated')
  cpSync(src.out, folder, { recursive: true })
  for (const f of readdirSync(folder)) if (f.startsWith('report.')) rmSync(join(folder, f))
  const ev = readdirSync(folder).find((f) => f.endsWith('.ndjson'))!
  const lines = readFileSync(join(folder, ev), 'utf8').split('\n')
  // Cut the third line short, as a process killed in the middle of a write would leave it.
  const cut = [...lines.slice(0, 2), lines[2].slice(0, 40)].join('\n')
  writeFileSync(join(folder, ev), cut)
  const before = readdirSync(folder)
  const r = report([folder])
  t.is(r.status, 3)
  t.true(r.stderr.includes(`${join(folder, ev)}:3: truncated`), r.stderr)
  untouched(t, folder, before)
  // A bad line in the middle is named too.
  writeFileSync(join(folder, ev), [...lines.slice(0, 2), '{"type":"stats",', ...lines.slice(3)].join('\n'))
  const mid = report([folder, '--format', 'md'])
  t.is(mid.status, 3)
  t.true(mid.stderr.includes(`${join(folder, ev)}:3: not a JSON event line`), mid.stderr)
  untouched(t, folder, before)
})

test.serial('report: a snapshot that fails to parse is exit code 3 naming the file, no partial file', (t) => {
  const out = join(dir, 'bad-snap')
  spawnSync('mkdir', ['-p', out])
  const good = join(out, 'good.heapsnapshot')
  spawnSync(process.execPath, ['-e', `require('v8').writeHeapSnapshot(${JSON.stringify(good)})`])
  const bad = join(out, 'bad.heapsnapshot')
  writeFileSync(bad, readFileSync(good, 'utf8').slice(0, 5000))
  const before = readdirSync(out)
  const target = join(out, 'report.html')
  const r = report(['diff', good, bad, '-o', target])
  t.is(r.status, 3)
  t.true(r.stderr.includes(bad), r.stderr)
  untouched(t, out, before)
  const l = report(['leaks', good, good, bad, '-o', target])
  t.is(l.status, 3)
  t.true(l.stderr.includes(bad), l.stderr)
  untouched(t, out, before)
  // The same file whole makes a report.
  t.is(report(['diff', good, good, '-o', target]).status, 0)
  t.true(readFileSync(target, 'utf8').startsWith('<!doctype html>'))
})

test.serial('run: usage errors are exit code 2', (t) => {
  const r = spawnSync(process.execPath, [cli, 'run', '--snapshots', 'always', '--', 'x.js'], { encoding: 'utf8' })
  t.is(r.status, 2)
  t.regex(r.stderr, /--snapshots must be off or on-leak/)
  t.is(spawnSync(process.execPath, [cli, 'run'], { encoding: 'utf8' }).status, 2)
})

test.serial('report of a sampling heap profile (node --heap-prof): the allocating function and line', (t) => {
  const out = join(dir, 'heap-prof')
  spawnSync('mkdir', ['-p', out])
  const script = join(out, 'alloc.js')
  // keepRecords (declared on line 2) allocates what stays alive; churn only churns. A sampling
  // heap profile places samples by function: its frames carry the function's own position.
  writeFileSync(
    script,
    [
      'globalThis.kept = []',
      'function keepRecords(n) {',
      '  for (let i = 0; i < n; i++) globalThis.kept.push({ i, s: "record-" + i, a: [i, i, i] })',
      '}',
      'function churn(n) {',
      '  let x = 0; for (let i = 0; i < n; i++) x += [i, i + 1].length',
      '  return x',
      '}',
      'keepRecords(300000); churn(100000)',
      '',
    ].join('\n'),
  )
  const prof = spawnSync(process.execPath, ['--heap-prof', '--heap-prof-dir', out, script], { encoding: 'utf8' })
  t.is(prof.status, 0, prof.stderr)
  const file = readdirSync(out).find((f) => f.endsWith('.heapprofile'))!
  const jsonOut = join(out, 'profile.json')
  const r = report([join(out, file), '-o', jsonOut])
  t.is(r.status, 0, r.stderr)
  const rep = JSON.parse(readFileSync(jsonOut, 'utf8'))
  t.is(rep.kind, 'profile')
  const top = rep.sites[0]
  t.is(top.name, 'keepRecords')
  // Where the profile has the function's position (Node 22+; Node 20 writes url "" and line -1
  // for it), the report gives it, 1-based.
  interface Frame {
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: Frame[]
  }
  const find = (n: Frame): Frame | undefined =>
    n.callFrame.functionName === 'keepRecords' ? n : (n.children ?? []).map(find).find(Boolean)
  const raw = find(JSON.parse(readFileSync(join(out, file), 'utf8')).head)!
  if (raw.callFrame.url) {
    t.is(top.line, 2)
    t.true(top.url.endsWith('alloc.js'))
    t.regex(rep.verdict.sentence, /allocated at keepRecords \(.*alloc\.js:2:\d+\)/)
  } else {
    t.log(`this Node's profile has no position for keepRecords (line ${raw.callFrame.lineNumber}): name only`)
    t.regex(rep.verdict.sentence, /allocated at keepRecords\.$/)
  }
  t.is(rep.flame.name, 'all')
  t.true(rep.flame.value >= 300000 * 16, `sampled ${rep.flame.value} bytes`)
})

test.serial('report diff A B: the grown class, its count and retaining path, in JSON and Markdown', (t) => {
  const out = join(dir, 'diff')
  spawnSync('mkdir', ['-p', out])
  const [a, b] = ['a', 'b'].map((x) => join(out, `${x}.heapsnapshot`))
  spawnSync(process.execPath, [
    '-e',
    `const v8 = require('v8'); class Order { constructor(i) { this.i = i } }
     v8.writeHeapSnapshot(${JSON.stringify(a)});
     globalThis.orders = Array.from({ length: 1000 }, (_, i) => new Order(i));
     v8.writeHeapSnapshot(${JSON.stringify(b)})`,
  ])
  const r = report(['diff', a, b, '-o', join(out, 'r.json')])
  t.is(r.status, 0, r.stderr)
  const rep = JSON.parse(readFileSync(join(out, 'r.json'), 'utf8'))
  const order = rep.classes.find((c: { what: string }) => c.what === 'Order')
  t.is(order.count, 1000)
  t.is(order.freed, 0)
  t.regex(order.paths[0].path, /orders → Array\[·\] → Order$/)
  t.is(report(['diff', a, b, '-o', join(out, 'r.md')]).status, 0)
  const md = readFileSync(join(out, 'r.md'), 'utf8')
  t.regex(md, /\| `Order` \| 1000 \|/)
  t.true(md.includes('[Full report (HTML)](r.html)'))
})
