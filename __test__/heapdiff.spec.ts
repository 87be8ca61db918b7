import test from 'ava'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'

import memwatch = require('..')
import { memwatchWhat } from './helpers/memwatch-what'

const root = resolve(__dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-test-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

class LeakingClass {
  constructor(
    public n: number,
    public tag = 'leak',
  ) {}
}
class FreedClass {
  constructor(public n: number) {}
}

function row(diff: ReturnType<InstanceType<typeof memwatch.HeapDiff>['end']>, what: string) {
  return diff.change.details.find((d) => d.what === what)
}

test.serial('HeapDiff counts exactly the instances allocated and freed in between', (t) => {
  let doomed: FreedClass[] | null = Array.from({ length: 500 }, (_, i) => new FreedClass(i))
  const kept: LeakingClass[] = []
  const hd = new memwatch.HeapDiff()
  for (let i = 0; i < 1234; i++) kept.push(new LeakingClass(i))
  doomed = null
  const diff = hd.end()
  t.is(doomed, null)
  const leaking = row(diff, 'LeakingClass')
  t.truthy(leaking)
  t.is(leaking!['+'], 1234)
  t.is(leaking!['-'], 0)
  t.true(leaking!.size_bytes > 0 && leaking!.size_bytes % 1234 === 0, 'same-shaped instances, equal sizes')
  const freed = row(diff, 'FreedClass')
  t.is(freed!['+'], 0)
  t.is(freed!['-'], 500)
  t.true(freed!.size_bytes < 0 && freed!.size_bytes % 500 === 0)
  t.is(kept.length, 1234)

  // The columns add up (the original dropped node types it did not know).
  const plus = diff.change.details.reduce((s, d) => s + d['+'], 0)
  const minus = diff.change.details.reduce((s, d) => s + d['-'], 0)
  t.is(plus, diff.change.allocated_nodes)
  t.is(minus, diff.change.freed_nodes)
  t.is(diff.change.size_bytes, diff.after.size_bytes - diff.before.size_bytes)
  // Classic order: byte order of `what`.
  const names = diff.change.details.map((d) => d.what)
  t.deepEqual(
    names,
    [...names].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)),
  )
  t.regex(diff.change.size, /^-?[\d.]+ (bytes|kb|mb)$/)
  t.true(diff.before.time instanceof Date && diff.after.time >= diff.before.time)
  t.true(diff.before.nodes > 1000)
  // The HeapDiff's own objects are left out, as in the original.
  t.is(row(diff, 'HeapSnapshotHandle'), undefined)
})

test.serial('classic errors: second end() and calling without new', (t) => {
  const hd = new memwatch.HeapDiff()
  hd.end()
  t.throws(() => hd.end(), { instanceOf: Error, message: 'attempt to end() a HeapDiff that was already ended' })
  t.throws(() => (memwatch.HeapDiff as unknown as () => void)(), { instanceOf: TypeError })
  t.throws(() => new memwatch.HeapDiff({ grouping: 'nope' } as never), { instanceOf: TypeError })
})

test.serial('GCs run by the snapshots produce no stats events', async (t) => {
  // Events arrive on a later tick; a natural GC after end() (other tests allocate) is not the
  // snapshots', so only GCs timed between the first snapshot and the end of end() count.
  const times: number[] = []
  const listener = (s: memwatch.GcStats) => times.push(s.gc_time)
  memwatch.on('stats', listener)
  const from = Date.now()
  const hd = new memwatch.HeapDiff()
  hd.end()
  const to = Date.now()
  await new Promise((r) => setTimeout(r, 50))
  memwatch.removeListener('stats', listener)
  t.deepEqual(
    times.filter((at) => at >= from && at <= to),
    [],
  )
})

test.serial('endAsync gives the same answer without blocking for the diff', async (t) => {
  const kept: LeakingClass[] = []
  const hd = new memwatch.HeapDiff()
  for (let i = 0; i < 777; i++) kept.push(new LeakingClass(i))
  const diff = await hd.endAsync()
  t.is(row(diff, 'LeakingClass')!['+'], 777)
  await t.throwsAsync(() => hd.endAsync(), { message: 'attempt to end() a HeapDiff that was already ended' })
  t.is(kept.length, 777)
})

/** Two snapshots of one process (ids are only comparable within a process), small enough for JSON.parse. */
/** A fresh pair in a directory of its own: ava runs this file's tests concurrently. */
function makeSnapshots(): [string, string] {
  const pair = mkdtempSync(join(dir, 'pair-'))
  const a = join(pair, 'a.heapsnapshot')
  const b = join(pair, 'b.heapsnapshot')
  execFileSync(process.execPath, [
    '-e',
    `const v8 = require('v8');
     class Widget { constructor(i) { this.i = i; this.name = 'w' + i } }
     let old = Array.from({ length: 300 }, (_, i) => ({ gone: i }));
     v8.writeHeapSnapshot(${JSON.stringify(a)});
     old = null;
     globalThis.keep = Array.from({ length: 4321 }, (_, i) => new Widget(i));
     globalThis.sym = Symbol('s'); globalThis.big = 12345678901234567890n;
     v8.writeHeapSnapshot(${JSON.stringify(b)});`,
  ])
  return [a, b]
}

interface RefRow {
  what: string
  size_bytes: number
  '+': number
  '-': number
}

/**
 * A deliberately naive reference diff: JSON.parse, per-node objects, Maps by id. Written from the
 * format notes, independently of the Rust code, and only usable on small files; classic labels by
 * memwatch's rules (helpers/memwatch-what.ts).
 */
function referenceDiff(aPath: string, bPath: string) {
  const load = (p: string) => {
    const snap = JSON.parse(readFileSync(p, 'utf8'))
    const meta = snap.snapshot.meta
    const f = meta.node_fields as string[]
    const types = meta.node_types[0] as string[]
    const width = f.length
    const nodes = new Map<number, { what: string | null; size: number }>()
    for (let i = 0; i < snap.nodes.length; i += width) {
      const type = types[snap.nodes[i + f.indexOf('type')]]
      const name = snap.strings[snap.nodes[i + f.indexOf('name')]]
      const what = memwatchWhat(type, name)
      nodes.set(snap.nodes[i + f.indexOf('id')], { what, size: snap.nodes[i + f.indexOf('self_size')] })
    }
    return nodes
  }
  const before = load(aPath)
  const after = load(bPath)
  const rows = new Map<string, RefRow>()
  const get = (what: string) => {
    if (!rows.has(what)) rows.set(what, { what, size_bytes: 0, '+': 0, '-': 0 })
    return rows.get(what)!
  }
  let beforeSize = 0
  let beforeNodes = 0
  let afterSize = 0
  let afterNodes = 0
  for (const [id, n] of after) {
    if (n.what === null) continue
    afterNodes++
    afterSize += n.size
    if (!before.has(id)) {
      get(n.what)['+']++
      get(n.what).size_bytes += n.size
    }
  }
  for (const [id, n] of before) {
    if (n.what === null) continue
    beforeNodes++
    beforeSize += n.size
    if (!after.has(id)) {
      get(n.what)['-']++
      get(n.what).size_bytes -= n.size
    }
  }
  const details = [...rows.values()].sort((x, y) => Buffer.from(x.what).compare(Buffer.from(y.what)))
  return { beforeNodes, beforeSize, afterNodes, afterSize, details }
}

test("the reference's classic labels are memwatch's own for the node types memwatch knew", (t) => {
  const original = {
    array: 'Array',
    string: 'String',
    code: 'Code',
    closure: 'Closure',
    regexp: 'RegExp',
    number: 'Number',
    native: 'Native',
  }
  for (const [type, what] of Object.entries(original)) t.is(memwatchWhat(type, 'whatever'), what, type)
  t.is(memwatchWhat('object', 'Widget'), 'Widget', 'objects by constructor name')
  t.is(memwatchWhat('hidden', 'system / Map'), null, 'hidden nodes are not listed')
})

test('diffFiles agrees exactly with a naive reference diff', async (t) => {
  const [a, b] = makeSnapshots()
  const ref = referenceDiff(a, b)
  const diff = await memwatch.diffFiles(a, b, { grouping: 'classic' })
  t.is(diff.before.nodes, ref.beforeNodes)
  t.is(diff.before.size_bytes, ref.beforeSize)
  t.is(diff.after.nodes, ref.afterNodes)
  t.is(diff.after.size_bytes, ref.afterSize)
  t.deepEqual(
    diff.change.details.map(({ what, size_bytes, '+': p, '-': m }) => ({ what, size_bytes, '+': p, '-': m })),
    ref.details,
  )
  t.is(row(diff, 'Widget')!['+'], 4321)

  // The same files gzipped by Node's zlib (another implementation than heapdiff's inflater)
  // give the same answer, without being unpacked to disk first.
  const gz = (p: string) => {
    const out = `${p}.gz`
    writeFileSync(out, gzipSync(readFileSync(p), { level: 1 }))
    return out
  }
  const [gzA, gzB] = [gz(a), gz(b)]
  const packed = await memwatch.diffFiles(gzA, gzB, { grouping: 'classic' })
  t.deepEqual(
    packed.change.details.map(({ what, size_bytes, '+': p, '-': m }) => ({ what, size_bytes, '+': p, '-': m })),
    ref.details,
  )
  t.is(packed.after.size_bytes, ref.afterSize)
  const mixed = await memwatch.diffFiles(a, gzB, { grouping: 'classic', retainers: true })
  t.is(row(mixed, 'Widget')!['+'], 4321)
  t.true((row(mixed, 'Widget')!.retainers ?? []).length > 0)
})

test('browser snapshots (Chromium over the DevTools protocol, gzipped) diff like Node ones', async (t) => {
  // Fixtures from __test__/fixtures/make-chromium-snapshots.mjs: what its page script did between
  // the two snapshots is the truth here.
  const [a, b] = ['a', 'b'].map((k) => join(root, '__test__', 'fixtures', `chromium-${k}.heapsnapshot.gz`))
  const tools = await memwatch.diffFiles(a, b, { grouping: 'devtools' })
  const got = (what: string) => {
    const r = tools.change.details.find((d) => d.what === what)
    return r && [r['+'], r['-']]
  }
  t.deepEqual(got('Widget'), [1234, 0])
  t.deepEqual(got('Keeper'), [0, 300])
  t.deepEqual(got('Detached <div>'), [77, 0], 'never-attached elements are detached DOM')
  t.deepEqual(got('<span>'), [55, 0], 'attached elements keep their tag')
  t.is(got('<div>'), undefined)
  // Their retaining paths group by tag, not by each element's attributes: one line of 77.
  const held = await memwatch.diffFiles(a, b, { grouping: 'devtools', retainers: true })
  const paths = held.change.details.find((d) => d.what === 'Detached <div>')!.retainers!
  t.is(paths.length, 1)
  t.is(paths[0].count, 77)
  t.regex(paths[0].path, /\.detached → Array\[·\] → <div>$/)

  // Classic grouping against the naive reference on the inflated JSON.
  const plain = [a, b].map((p, k) => {
    const out = join(dir, `chromium-${k}.heapsnapshot`)
    writeFileSync(out, gunzipSync(readFileSync(p)))
    return out
  })
  const ref = referenceDiff(plain[0], plain[1])
  const classic = await memwatch.diffFiles(a, b, { grouping: 'classic' })
  t.is(classic.before.nodes, ref.beforeNodes)
  t.is(classic.after.size_bytes, ref.afterSize)
  t.deepEqual(
    classic.change.details.map(({ what, size_bytes, '+': p, '-': m }) => ({ what, size_bytes, '+': p, '-': m })),
    ref.details,
  )
})

test('bad files and arguments give clear errors, never a crash', async (t) => {
  const [a] = makeSnapshots()
  const truncated = join(dir, 'truncated.heapsnapshot')
  const bytes = readFileSync(a)
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)))
  await t.throwsAsync(() => memwatch.diffFiles(a, truncated), { message: /truncated\.heapsnapshot.*truncated/ })

  const foreign = join(root, 'package.json')
  await t.throwsAsync(() => memwatch.diffFiles(foreign, a), { message: /package\.json.*not a V8 heap snapshot/ })

  const corrupt = join(dir, 'corrupt.heapsnapshot')
  const text = bytes.toString('latin1')
  const at = text.indexOf('"nodes":[') + 20
  writeFileSync(corrupt, Buffer.from(text.slice(0, at) + 'x' + text.slice(at + 1), 'latin1'))
  await t.throwsAsync(() => memwatch.diffFiles(a, corrupt), { message: /corrupt\.heapsnapshot.*corrupt/ })

  const cutGz = join(dir, 'cut.heapsnapshot.gz')
  const packed = gzipSync(bytes, { level: 1 })
  writeFileSync(cutGz, packed.subarray(0, packed.length >> 1))
  await t.throwsAsync(() => memwatch.diffFiles(a, cutGz), {
    message: `${cutGz}: truncated heap snapshot: input ended inside the gzip data at byte ${packed.length >> 1}`,
  })

  const png = join(dir, 'image.heapsnapshot')
  writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))
  await t.throwsAsync(() => memwatch.diffFiles(png, a), { message: /not a V8 heap snapshot/ })

  await t.throwsAsync(() => memwatch.diffFiles(join(dir, 'missing.heapsnapshot'), a), {
    message: /missing\.heapsnapshot/,
  })
  await t.throwsAsync(() => memwatch.diffFiles(a as never, 42 as never), { instanceOf: TypeError })
  await t.throwsAsync(() => memwatch.diffFiles(a, a, { group: 'x' } as never), { instanceOf: TypeError })
})

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'cli.js'), ...args], { encoding: 'utf8', timeout: 60000 })
}

test('CLI: table, --json, --top, --fail-above and exit codes', (t) => {
  const [a, b] = makeSnapshots()
  const json = cli(['diff', a, b, '--json', '--group', 'classic'])
  t.is(json.status, 0, json.stderr)
  const parsed = JSON.parse(json.stdout)
  const ref = referenceDiff(a, b)
  t.is(parsed.change.details.find((d: RefRow) => d.what === 'Widget')['+'], 4321)
  t.is(parsed.change.details.length, ref.details.length)

  const table = cli(['diff', a, b, '--top', '3', '--group', 'classic'])
  t.is(table.status, 0, table.stderr)
  t.regex(table.stdout, /Widget\s+4321\s+0\s+\+4321/)
  t.regex(table.stdout, /more classes \(--top 0 shows all\)/)
  t.notRegex(table.stdout, /\x1b\[/, 'no colour when stdout is not a TTY')
  const lines = table.stdout.split('\n').filter((l) => /^\S.*\s[+-]?\d/.test(l) && !/^(before|after|change|…)/.test(l))
  t.is(lines.length, 3)

  t.is(cli(['diff', a, b, '--fail-above', '1kb']).status, 1)
  t.is(cli(['diff', a, b, '--fail-above', '1gb']).status, 0)
  t.is(cli(['diff', a]).status, 2)
  t.is(cli(['diff', a, b, '--top', '-1']).status, 2)
  t.is(cli(['frobnicate']).status, 2)
  const bad = cli(['diff', a, join(root, 'package.json')])
  t.is(bad.status, 3)
  t.regex(bad.stderr, /not a V8 heap snapshot/)
  t.is(cli(['diff', a, join(dir, 'nope.heapsnapshot')]).status, 3)
})

test('without the V8 entry points HeapDiff falls back to v8.writeHeapSnapshot and still counts exactly', (t) => {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const mw = require(${JSON.stringify(root)});
       let stats = 0;
       mw.on('stats', () => stats++);
       class Fallback { constructor(i) { this.i = i } }
       const keep = [];
       const hd = new mw.HeapDiff();
       for (let i = 0; i < 321; i++) keep.push(new Fallback(i));
       const d = hd.end();
       const row = d.change.details.find((x) => x.what === 'Fallback');
       setTimeout(() => console.log(JSON.stringify({ native: mw.status().nativeSnapshot, plus: row['+'], stats })), 200);`,
    ],
    { env: { ...process.env, HEAPDIFF_DISABLE_V8_HOOKS: '1' }, encoding: 'utf8', timeout: 60000 },
  )
  t.deepEqual(JSON.parse(out), { native: false, plus: 321, stats: 0 })
})

test('CLI: `snapshot -- script` runs a script whose SIGUSR2 writes a snapshot, and lists it', (t) => {
  const out = mkdtempSync(join(dir, 'snap-'))
  const script = join(out, 'app.js')
  writeFileSync(
    script,
    `globalThis.keep = Array.from({ length: 1000 }, (_, i) => ({ i }));
     process.kill(process.pid, 'SIGUSR2');
     setTimeout(() => {}, 1500);`,
  )
  const r = cli(['snapshot', '--out', out, '--', script])
  t.is(r.status, 0, r.stderr)
  const files = r.stdout.trim().split('\n').filter(Boolean)
  t.is(files.length, 1)
  t.regex(files[0], /\.heapsnapshot$/)
  t.regex(readFileSync(files[0], 'latin1').slice(0, 30), /^\{"snapshot":\{"meta":/)
  t.is(cli(['snapshot', '--pid', 'abc']).status, 2)
  t.is(cli(['snapshot']).status, 2)
})

/** A Node process that says `ready` once its code ran, so its signal handlers are in place. */
async function idleNode(args: string[], code: string, cwd: string) {
  const child = spawn(process.execPath, [...args, '-e', `${code}; console.log('ready'); setInterval(() => {}, 1000)`], {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('ready')) ready()
    })
    child.on('exit', () => fail(new Error('the child exited early')))
  })
  return { child, output: () => out }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// Skipped, not passed, off Linux: the CLI decides from /proc/<pid> (the target's SIGUSR2 handling,
// command line and working directory), which other platforms do not have.
const needsProc = process.platform === 'linux' ? test : test.skip
needsProc(
  'CLI: `snapshot --pid` signals only a process that turns SIGUSR2 into a snapshot, and waits for the file (Linux only: needs /proc)',
  async (t) => {
    const cwd = mkdtempSync(join(dir, 'pid-'))
    const plain = await idleNode([], '', cwd)
    const ownHandler = await idleNode([], `process.on('SIGUSR2', () => console.log('own handler ran'))`, cwd)
    const flagged = await idleNode(['--heapsnapshot-signal=SIGUSR2'], 'globalThis.keep = [1, 2, 3]', cwd)
    try {
      // SIGUSR2 would terminate this one: refused, nothing sent, still running.
      let r = cli(['snapshot', '--pid', String(plain.child.pid)])
      t.is(r.status, 3)
      t.regex(r.stderr, /does not handle SIGUSR2, so the signal would terminate it.*nothing sent/)
      t.true(alive(plain.child.pid!))

      // This one would run its own handler: refused unless forced.
      r = cli(['snapshot', '--pid', String(ownHandler.child.pid)])
      t.is(r.status, 3)
      t.regex(r.stderr, /handles SIGUSR2 itself/)
      t.notRegex(ownHandler.output(), /own handler ran/)

      // The real thing: the path of a complete snapshot of that process, in its working directory.
      r = cli(['snapshot', '--pid', String(flagged.child.pid)])
      t.is(r.status, 0, r.stderr)
      const file = r.stdout.trim()
      t.is(dirname(file), cwd)
      t.regex(file, new RegExp(`Heap\\..*\\.${flagged.child.pid}\\..*\\.heapsnapshot$`))
      const top = await memwatch.topRetainers(file, { top: 1 })
      t.is(top.length, 1)
      t.true(alive(flagged.child.pid!))

      t.is(cli(['snapshot', '--pid', '2147483646']).status, 3)
      t.is(cli(['snapshot', '--pid', String(flagged.child.pid), '--timeout', 'soon']).status, 2)
    } finally {
      for (const c of [plain, ownHandler, flagged]) c.child.kill()
    }
  },
)
