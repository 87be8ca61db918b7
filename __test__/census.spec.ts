// census(): exact counts of known classes on every runtime the suite runs on (npm test runs this
// file under Node 20, 22, 24 and 26), on the main thread and in a worker, under gc() and sampling,
// against v8.queryObjects and against a snapshot diff by heapdiff's own reader.
import test, { type ExecutionContext } from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import * as binding from '../binding'

const root = resolve(__dirname, '..')
const fixture = join(__dirname, 'fixtures', 'census-heap.js')

type Counts = Record<string, number>
interface Measured {
  expected: Counts
  thread: string
  census: Counts
  again: Counts
  queryObjects: Counts | null
  snapshot: Counts
  sorted: boolean
  top2: boolean
  min300: boolean
  functions: number
  sampling?: boolean
  status: boolean
}

/** Runs the fixture in a fresh process (a crash is an exit code, not a dead runner); its JSON lines. */
function run(mode: string, env: Record<string, string> = {}): any[] {
  const out = execFileSync(process.execPath, ['--no-warnings', fixture, mode], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, HEAPDIFF_ROOT: root, ...env },
  })
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
}

/** queryObjects counts by prototype chain: CensusBeta's includes CensusGamma's instances. */
function byPrototypeChain(census: Counts): Counts {
  return { ...census, CensusBeta: census.CensusBeta + census.CensusGamma }
}

function checkMeasured(t: any, m: Measured): void {
  t.deepEqual(m.census, m.expected, `${m.thread}: census counts each class exactly, the dropped one as 0`)
  t.deepEqual(m.again, m.expected, `${m.thread}: a second census counts the same`)
  t.deepEqual(m.snapshot, m.census, `${m.thread}: a snapshot diff by heapdiff's reader counts the same`)
  if (m.queryObjects) {
    t.deepEqual(m.queryObjects, byPrototypeChain(m.census), `${m.thread}: v8.queryObjects agrees`)
  }
  t.true(m.sorted, 'most first')
  t.true(m.top2, 'top: 2 keeps the two most numerous')
  t.true(m.min300, 'min: 300 keeps only classes of 300 or more')
  t.true(m.functions > 100, 'functions are counted as Function')
  t.true(m.status, 'status().census')
}

test('census counts known classes exactly and dropped ones as 0, like v8.queryObjects and a snapshot', (t) => {
  const [m] = run('main')
  t.is(m.thread, 'main')
  t.not(m.queryObjects, null, 'v8.queryObjects exists on every supported Node (20.13+)')
  checkMeasured(t, m)
})

test('census in a worker counts its own heap while the main thread churns and forces GCs', (t) => {
  const lines = run('worker')
  const worker = lines.find((l) => l.thread === 'worker')
  const after = lines.find((l) => l.thread === 'main-after')
  t.truthy(worker)
  checkMeasured(t, worker)
  t.deepEqual(after, { thread: 'main-after', code: 0, alpha: 0 }, "the worker's objects are not the main thread's")
})

test('census while sampling is on and after gc() counts the same', (t) => {
  const [m] = run('sampling')
  t.true(m.sampling, 'sampling was on during the census')
  checkMeasured(t, m)
})

test('names built at run time (cons strings, read only after the walk) are counted and merged by text', (t) => {
  // Symbol.toStringTag values made by concatenation are cons strings: reading one as text flattens
  // it, which allocates, which V8's heap walk forbids (this crashed Node 20, 24 and 26 before the
  // names were read after the walk). 2000 objects, 7 names, each object its own string.
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const memwatch = require(process.env.HEAPDIFF_ROOT);
       const hd = new memwatch.HeapDiff();
       globalThis.keep = [];
       for (let i = 0; i < 2000; i++) keep.push({ [Symbol.toStringTag]: 'RuntimeNamedThing' + String(i % 7) + '-'.repeat(20) });
       const rows = memwatch.census().filter((r) => r.what.startsWith('RuntimeNamed'));
       const diff = hd.end().change.details.filter((d) => d.what.startsWith('RuntimeNamed'));
       const census = Object.fromEntries(rows.map((r) => [r.what, r.count]));
       const snapshot = Object.fromEntries(diff.map((d) => [d.what, d['+'] - d['-']]));
       console.log(JSON.stringify({ census, snapshot }))`,
    ],
    { cwd: root, encoding: 'utf8', timeout: 120000, env: { ...process.env, HEAPDIFF_ROOT: root } },
  )
  const { census, snapshot } = JSON.parse(out)
  const expected: Counts = {}
  for (let k = 0; k < 7; k++) expected['RuntimeNamedThing' + k + '-'.repeat(20)] = k < 5 ? 286 : 285
  t.deepEqual(census, expected)
  t.deepEqual(snapshot, expected, "heapdiff's snapshot reader names and counts them the same")
})

test('workers terminated in the middle of censuses, and a census inside a stats listener, do not crash', (t) => {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const { Worker } = require('node:worker_threads');
       const memwatch = require(process.env.HEAPDIFF_ROOT);
       let inStats = null;
       memwatch.on('stats', () => { if (!inStats) inStats = memwatch.census({ top: 1 }) });
       memwatch.gc();
       let n = 0;
       const next = () => {
         if (n++ === 6) return setTimeout(() => console.log(JSON.stringify({ done: n - 1, inStats })), 100);
         const w = new Worker('const m = require(process.env.HEAPDIFF_ROOT); const keep = []; for (;;) { for (let i = 0; i < 1e4; i++) keep.push({ i }); m.census() }', { eval: true });
         setTimeout(() => w.terminate().then(next), 150 + Math.random() * 200);
       };
       next();`,
    ],
    { cwd: root, encoding: 'utf8', timeout: 120000, env: { ...process.env, HEAPDIFF_ROOT: root } },
  )
  const r = JSON.parse(out)
  t.is(r.done, 6)
  t.is(r.inStats.length, 1)
  t.true(r.inStats[0].count > 0)
})

test('census holds no native memory once it has returned', (t) => {
  const memwatch = require('..')
  memwatch.census() // first call: the symbol table and per-thread state are made once
  const base = memwatch.status().nativeBytes
  for (let i = 0; i < 5; i++) memwatch.census({ top: 3 })
  const grown = memwatch.status().nativeBytes - base
  t.true(grown <= 256, `${grown} more bytes held after 5 more censuses`)
})

test('census options: ranges from the native side, names and kinds from the JS side', (t) => {
  const memwatch = require('..')
  t.throws(() => memwatch.census({ top: 0 }), {
    instanceOf: RangeError,
    message: 'census option "top" must be at least 1, got 0',
  })
  t.throws(() => memwatch.census({ min: 1.5 }), {
    instanceOf: RangeError,
    message: 'census option "min" must be a whole number, got 1.5',
  })
  t.throws(() => memwatch.census({ depth: 1 }), { instanceOf: TypeError, message: /unknown census option "depth"/ })
  t.throws(() => memwatch.census({ top: '3' }), {
    instanceOf: TypeError,
    message: 'census option "top" must be a number, got the string "3"',
  })
  const rows = memwatch.census({ top: 3 })
  t.is(rows.length, 3)
  for (const r of rows) t.deepEqual(Object.keys(r).sort(), ['count', 'what'])
  t.deepEqual(binding.censusOptionDefaults(), { min: 1 })
  // binding.d.ts carries the default as a @default tag, as the other option types do
  const dts = readFileSync(join(root, 'binding.d.ts'), 'utf8')
  const body = /export interface CensusOptions \{([\s\S]*?)\n\}/.exec(dts)?.[1] ?? ''
  t.regex(body, /@default 1\s*\*\/\s*min\?:/)
})

test('without the V8 entry points census() throws naming why, and status() says so', (t) => {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const m = require(process.env.HEAPDIFF_ROOT);
       let err = null; try { m.census() } catch (e) { err = e.message }
       console.log(JSON.stringify({ census: m.status().census, err }))`,
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, HEAPDIFF_ROOT: root, HEAPDIFF_DISABLE_V8_HOOKS: '1' } },
  )
  t.deepEqual(JSON.parse(out), {
    census: false,
    err: 'census() is not available: disabled by HEAPDIFF_DISABLE_V8_HOOKS',
  })
})

test('with the census leak option, the first leak event names the leaking class and its growth; a full cache is not listed', (t) => {
  // The fixture keeps 500 LeakyThings per tick beside a Map of 5000 CacheEntries filled before,
  // and reports what it added between the event's two censuses (logged at each stats event,
  // right before a baseline census can run).
  const out = execFileSync(process.execPath, [join(__dirname, 'fixtures', 'census-leak.js')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120000,
  })
  const got = JSON.parse(out.trim().split('\n').pop()!)
  t.truthy(got.classes, out)
  t.is(got.classes[0].what, 'LeakyThing')
  t.true(got.added > 0)
  t.true(
    Math.abs(got.classes[0].growth - got.added) <= got.added * 0.1,
    `growth ${got.classes[0].growth}, added ${got.added}`,
  )
  t.false(
    got.classes.some((c: { what: string }) => c.what === 'CacheEntry'),
    'the full cache did not grow',
  )
  t.true(got.census_ms > 0)
})

/** `heapdiff run [flags] --out <dir> -- node --expose-gc census-run.js [args]`, checked to exit 0. */
function runCensusFixture(t: ExecutionContext, out: string, flags: string[] = [], args: number[] = []) {
  const fixture = [join(__dirname, 'fixtures', 'census-run.js'), ...args.map(String)]
  const r = spawnSync(
    process.execPath,
    [join(root, 'cli.js'), 'run', ...flags, '--out', out, '--', process.execPath, '--expose-gc', ...fixture],
    { encoding: 'utf8', timeout: 120000 },
  )
  t.is(r.status, 0, r.stderr)
  return JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))
}

test('heapdiff run without snapshots: the verdict and the report name the class from the census, and no snapshot is written', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-census-run-'))
  try {
    const report = runCensusFixture(t, dir)
    t.regex(report.verdict.sentence, /^Leak: the post-GC heap of the main thread grew .*; LeakyThing \+[\d,]+ objects/)
    t.regex(report.class_source, /^class census: /)
    t.is(report.classes[0].what, 'LeakyThing')
    // 2000 per tick: the growth is whole ticks' worth.
    t.is(report.classes[0].growth % 2000, 0)
    t.true(readFileSync(join(dir, 'report.md'), 'utf8').includes('| `LeakyThing` | +'))
    t.deepEqual(
      readdirSync(dir).filter((f) => f.includes('heapsnapshot')),
      [],
    )
    // --no-census: no class.
    t.deepEqual(runCensusFixture(t, join(dir, 'plain'), ['--no-census']).classes, [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('heapdiff run on a program that ends before the rule can judge: the verdict still names what grew, counted while it ran', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-census-exit-'))
  try {
    // 8 ticks of 20,000: 8 forced full GCs, fewer than the rule's window of 10, so no leak event.
    const report = runCensusFixture(t, dir, [], [8, 20000])
    t.deepEqual(report.leaks, [])
    t.regex(report.verdict.sentence, /^No verdict: .* Meanwhile LeakyThing grew by [\d,]+ objects/)
    t.regex(report.class_source, /^class census: growth over the .* before main \(pid \d+\) ended/)
    const top = report.classes[0]
    t.is(top.what, 'LeakyThing')
    // Counted while the program ran (at exit its LeakyThings are unreachable): from the baseline,
    // taken once growth showed, to the newest census, taken as the heap grew 1.5-fold. Both
    // counts are whole ticks' worth, the baseline at least one tick in.
    t.is(top.growth % 20000, 0, `growth ${top.growth}`)
    t.is(top.count % 20000, 0, `count ${top.count}`)
    t.true(
      top.growth >= 20000 && top.count - top.growth >= 20000 && top.count <= 160000,
      `${top.count}, +${top.growth}`,
    )
    // --no-census: no class either.
    t.deepEqual(runCensusFixture(t, join(dir, 'plain'), ['--no-census'], [8, 20000]).classes, [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('whatGrew(): null until growth shows or with census off; then the class that grew, counted exactly, the baseline kept', (t) => {
  // 20,000 LeakyThings per tick, a forced full GC per tick, 8 ticks; whatGrew() asked at every
  // stats event and twice at the end.
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const m = require(process.env.HEAPDIFF_ROOT)
       const r = { off: m.whatGrew(), asks: [] }
       try { m.whatGrew(1) } catch (e) { r.args = e.message }
       m.setLeakOptions({ census: true })
       r.quiet = m.whatGrew()
       class LeakyThing { constructor(i) { this.i = i } }
       const kept = (globalThis.kept = [])
       m.on('stats', () => {
         const g = m.whatGrew()
         r.asks.push(g && { kept: kept.length, since: g.census.since.getTime(), count: g.classes[0]?.count, growth: g.classes[0]?.growth })
       })
       let ticks = 0
       const timer = setInterval(() => {
         for (let i = 0; i < 20000; i++) kept.push(new LeakyThing(i))
         m.gc()
         if (++ticks < 8) return
         clearInterval(timer)
         setTimeout(() => {
           const [a, b] = [m.whatGrew(), m.whatGrew()]
           r.end = { kept: kept.length, top: a.classes[0], since: [a.census.since.getTime(), b.census.since.getTime()], ms: a.census.ms }
           console.log(JSON.stringify(r))
         }, 50)
       }, 20)`,
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, HEAPDIFF_ROOT: root }, timeout: 120000 },
  )
  const r = JSON.parse(out.trim().split('\n').pop()!)
  t.is(r.off, null, 'census option off')
  t.is(r.args, 'whatGrew() takes no arguments')
  t.is(r.quiet, null, 'no growth yet')
  const answered = r.asks.filter((a: unknown) => a !== null)
  t.true(answered.length > 0, JSON.stringify(r.asks))
  t.is(r.end.top.what, 'LeakyThing')
  // Every LeakyThing the program made is alive and counted; the growth is whole ticks' worth.
  t.is(r.end.top.count, 160000)
  t.is(r.end.top.growth % 20000, 0)
  t.true(r.end.top.growth >= 20000 && r.end.top.growth < 160000, `growth ${r.end.top.growth}`)
  // Asking keeps the baseline: every answer counts from the same census.
  const since = answered[0].since
  t.deepEqual(r.end.since, [since, since])
  for (const a of answered) {
    t.is(a.since, since)
    t.is(a.count, a.kept)
    t.is(a.count - a.growth, r.end.top.count - r.end.top.growth, 'one baseline count')
  }
  t.true(r.end.ms > 0)
})
