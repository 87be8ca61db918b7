// Sampling: leak sites from a child process with known allocation sites, profile files read back
// by independent decoders, the CLI, option errors, and exits with sampling on.
import test from 'ava'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import type { AllocationSite } from '../lib/sites'

const root = resolve(__dirname, '..')
const fixture = join(__dirname, 'fixtures', 'sampling-sites.js')

/** The shipped type of a `leak` event's site, so the test reads what users get. */
type Site = AllocationSite

/** Line (1-based) of `function name(` in the fixture, found by reading it. */
function lineOf(name: string): number {
  const lines = readFileSync(fixture, 'utf8').split('\n')
  const i = lines.findIndex((l) => l.startsWith(`function ${name}(`))
  if (i < 0) throw new Error(`no function ${name} in the fixture`)
  return i + 1
}

function runFixture(
  args: string[],
): Promise<{ sites?: Site[]; timedOut?: boolean; ticks?: number; sampling: { mechanism: string } }> {
  return new Promise((res, rej) => {
    execFile(process.execPath, [fixture, ...args], { timeout: 120000 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`${err.message}\n${stderr}`))
      res(JSON.parse(stdout.trim().split('\n').pop()!))
    })
  })
}

for (const where of ['main thread', 'worker']) {
  test(`${where}: the first leak event's top site is the leaking function; churn and the full cache are not listed`, async (t) => {
    // Half the default interval: the sign test needs 10 new samples of a site with none gone,
    // and the ~9 MiB the leak adds over the window holds about 18 samples at the default, fewer
    // than 10 in 1.5% of runs (Poisson; CI saw one); at 256 KiB about 36, fewer in 10^-7.
    const out = await runFixture(['262144', ...(where === 'worker' ? ['--worker'] : [])])
    t.falsy(out.timedOut, 'a leak event came')
    t.is(out.sampling.mechanism, 'v8-api')
    const sites = out.sites!
    t.true(
      Array.isArray(sites) && sites.length >= 1,
      JSON.stringify({ sites, ticks: out.ticks, sampling: out.sampling }),
    )
    t.like(sites[0], { name: 'leak', url: fixture, line: lineOf('leak') })
    // V8 records the position of the function's parameter list.
    const src = readFileSync(fixture, 'utf8').split('\n')[lineOf('leak') - 1]
    t.is(sites[0].column, src.indexOf('(') + 1)
    t.is(
      sites[0].stack[sites[0].stack.findIndex((f) => f.startsWith('leak '))],
      `leak (${fixture}:${lineOf('leak')}:${sites[0].column})`,
    )
    // About 1 MB retained per full GC over a 10-GC window; the estimate is within a factor 2.
    t.true(sites[0].growth_bytes > 5e6 && sites[0].growth_bytes < 20e6, `growth ${sites[0].growth_bytes}`)
    t.true(sites[0].live_bytes >= sites[0].growth_bytes)
    t.true(sites[0].live_count > 0)
    const names = sites.map((s) => s.name)
    t.false(names.includes('churn'), JSON.stringify(names))
    t.false(names.includes('fillCache'), JSON.stringify(names))
    for (let i = 1; i < sites.length; i++) t.true(sites[i - 1].growth_bytes >= sites[i].growth_bytes)
  })
}

/** Runs a script in a fresh process; returns stdout, failing on a crash or any stderr output. */
function node(script: string, env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, HEAPDIFF_ROOT: root, ...env },
  })
  if (r.status !== 0 || r.signal || r.stderr) {
    throw new Error(`exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`)
  }
  return r.stdout
}

test('a process and a worker exit cleanly with sampling still on', (t) => {
  // Without the stop in the environment's cleanup hook, V8 (Node 24) frees the heap's spaces
  // before the profiler that observes them: glibc aborts at exit.
  for (let i = 0; i < 3; i++) {
    node(`
      const mw = require(process.env.HEAPDIFF_ROOT);
      mw.startSampling({ interval: 4096 });
      const keep = [];
      for (let i = 0; i < 300000; i++) keep[i % 1000] = { i };
      mw.gc();
    `)
  }
  const out = node(`
    const { Worker } = require('node:worker_threads');
    const w = new Worker(\`
      const mw = require(process.env.HEAPDIFF_ROOT);
      mw.startSampling({ interval: 4096 });
      const keep = [];
      for (let i = 0; i < 300000; i++) keep[i % 1000] = { i };
      mw.gc();
      require('node:worker_threads').parentPort.postMessage(mw.status().sampling.active);
    \`, { eval: true });
    w.on('message', (m) => console.log('active', m));
    w.on('exit', (c) => console.log('exit', c));
  `)
  t.regex(out, /active true/)
  t.regex(out, /exit 0/)
})

test('bad options, double start and stop when not started throw TypeError / RangeError', (t) => {
  const out = node(`
    const mw = require(process.env.HEAPDIFF_ROOT);
    const seen = [];
    const tryIt = (f) => { try { f(); seen.push('ok') } catch (e) { seen.push(e.constructor.name + ': ' + e.message) } };
    tryIt(() => mw.stopSampling());
    tryIt(() => mw.startSampling('fast'));
    tryIt(() => mw.startSampling({ interval: '1k' }));
    tryIt(() => mw.startSampling({ interval: 0 }));
    tryIt(() => mw.startSampling({ interval: 1.5 }));
    tryIt(() => mw.startSampling({ depth: 0 }));
    tryIt(() => mw.startSampling({ depth: 5000 }));
    tryIt(() => mw.startSampling({ rate: 5 }));
    tryIt(() => mw.heapProfile());
    tryIt(() => mw.startSampling({ interval: 8192, depth: 2 }));
    tryIt(() => mw.startSampling());
    tryIt(() => mw.writeHeapProfile(42));
    tryIt(() => mw.writeHeapProfile('/tmp/x', { format: 'json' }));
    const st = mw.status().sampling;
    const keep = [];
    for (let i = 0; i < 50000; i++) keep.push({ i, a: [i] });
    const p = mw.heapProfile();
    const depth = (n) => 1 + Math.max(0, ...n.children.map(depth));
    tryIt(() => mw.stopSampling());
    tryIt(() => mw.stopSampling());
    console.log(JSON.stringify({ seen, st, depth: depth(p.head) - 1, after: mw.status().sampling.active }));
  `)
  const { seen, st, depth, after } = JSON.parse(out)
  const expected = [
    /^TypeError: stopSampling\(\): sampling is not on/,
    /^TypeError: startSampling\(options\): options must be an object, got the string "fast"/,
    /^TypeError: .*"interval" must be a number, got the string "1k"/,
    /^RangeError: .*"interval" must be a whole number from 1 to 2147483648, got 0/,
    /^RangeError: .*"interval" must be a whole number .* got 1.5/,
    /^RangeError: .*"depth" must be a whole number from 1 to 1024, got 0/,
    /^RangeError: .*"depth" .* got 5000/,
    /^TypeError: .*unknown option "rate"/,
    /^Error: heapProfile\(\): sampling is not on/,
    /^ok$/,
    /^TypeError: startSampling\(\): sampling is already on/,
    /^TypeError: writeHeapProfile\(path\): path must be a file name, got number/,
    /^TypeError: writeHeapProfile\(\): "format" must be 'heapprofile' or 'pprof'/,
    /^ok$/,
    /^TypeError: stopSampling\(\): sampling is not on/,
  ]
  t.is(seen.length, expected.length)
  expected.forEach((re, i) => t.regex(seen[i], re))
  t.like(st, { active: true, mechanism: 'v8-api', interval: 8192, depth: 2, reason: null })
  // The native start honours the depth on every Node (the inspector's own start keeps 128).
  t.true(depth >= 1 && depth <= 2, `depth ${depth}`)
  t.false(after)
})

test("another user's sampling is refused rather than shared, and the inspector fallback works", (t) => {
  const busy = node(`
    const s = new (require('node:inspector').Session)(); s.connect();
    s.post('HeapProfiler.startSampling', { samplingInterval: 4096 }, () => {});
    const mw = require(process.env.HEAPDIFF_ROOT);
    try { mw.startSampling(); console.log('started') } catch (e) { console.log(e.constructor.name + ': ' + e.message) }
    s.post('HeapProfiler.stopSampling', () => {});
  `)
  t.regex(busy, /^Error: startSampling\(\): V8's sampling heap profiler is already running on this thread/)
  // Without V8's C++ entry points: started through the inspector; its reads' GCs are hidden.
  const out = node(
    `
    const mw = require(process.env.HEAPDIFF_ROOT);
    let stats = 0;
    mw.on('stats', () => stats++);
    mw.startSampling({ interval: 4096 });
    const keep = [];
    function leak() { for (let i = 0; i < 20000; i++) keep.push({ i, a: [i, i] }) }
    leak();
    const p = mw.heapProfile();
    const walk = (n) => n.callFrame.functionName === 'leak' ? n.selfSize : n.children.reduce((a, c) => a + walk(c), 0);
    setTimeout(() => {
      console.log(JSON.stringify({ st: mw.status().sampling, leakBytes: walk(p.head), stats }));
      mw.stopSampling();
    }, 200);
  `,
    { HEAPDIFF_DISABLE_V8_HOOKS: '1' },
  )
  const { st, leakBytes, stats } = JSON.parse(out)
  t.like(st, { active: true, mechanism: 'inspector' })
  t.truthy(st.reason)
  t.true(leakBytes > 500000, `leak bytes ${leakBytes}`)
  t.is(stats, 0, 'the full GC of a read is not reported as a stats event')
})

/** Object sizes `s` with s × round(1/(1 − e^(−s/i))) = v, by brute force (the naive reference). */
function sizesFor(v: number, i: number): number[] {
  const out = []
  for (let s = 8; s <= v; s += 8) if (s * Math.floor(1 / -Math.expm1(-s / i) + 0.5) === v) out.push(s)
  return out
}

test('writeHeapProfile: .heapprofile and pprof files read back by JSON.parse and pprof-format match heapProfile()', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-prof-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = node(`
    const mw = require(process.env.HEAPDIFF_ROOT);
    mw.startSampling({ interval: 16384 });
    const keep = new Map();
    function leak(n) { for (let i = 0; i < n; i++) keep.set(i, { i, a: new Array(50).fill(i) }) }
    leak(20000);
    const p = mw.heapProfile();
    mw.writeHeapProfile(${JSON.stringify(join(dir, 'p.heapprofile'))}, { profile: p });
    mw.writeHeapProfile(${JSON.stringify(join(dir, 'p.pb.gz'))}, { profile: p });
    mw.writeHeapProfile(${JSON.stringify(join(dir, 'live.pprof'))}, { format: 'pprof' });
    require('fs').writeFileSync(${JSON.stringify(join(dir, 'expected.json'))}, JSON.stringify(p));
  `)
  t.is(out, '')
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'))
  // .heapprofile: the DevTools shape, every node and sample as heapProfile() gave them.
  const file = JSON.parse(readFileSync(join(dir, 'p.heapprofile'), 'utf8'))
  t.deepEqual({ head: file.head, samples: file.samples }, expected)
  t.is(file.samplingInterval, 16384)
  const nodes: Array<{ id: number; selfSize: number; callFrame: Record<string, unknown>; depth: number }> = []
  const walk = (n: any, depth: number): void => {
    t.is(typeof n.id, 'number')
    t.is(typeof n.selfSize, 'number')
    t.true(Array.isArray(n.children))
    for (const k of ['functionName', 'scriptId', 'url']) t.is(typeof n.callFrame[k], 'string')
    for (const k of ['lineNumber', 'columnNumber']) t.is(typeof n.callFrame[k], 'number')
    nodes.push({ ...n, depth })
    for (const c of n.children) walk(c, depth + 1)
  }
  walk(file.head, 0)
  const ids = new Set(nodes.map((n) => n.id))
  for (const s of file.samples) t.true(ids.has(s.nodeId) && s.size > 0 && typeof s.ordinal === 'number')
  // The samples' values agree with the nodes' selfSize in total (V8 rounds per node, not per
  // sample). Not per node: V8 itself once gave a node selfSize 17928 with samples of 48840 bytes
  // (Node 20, CI rehearsal 2026-12-01), and the files hold exactly what it gave (above).
  const sampled = file.samples.reduce((a: number, s: { size: number }) => a + s.size, 0)
  const own = nodes.reduce((a, n) => a + n.selfSize, 0)
  t.true(Math.abs(sampled - own) <= own * 0.02 + 16384, `samples ${sampled} vs nodes ${own}`)

  // pprof, decoded by pprof-format: sample types, totals and the leak's location.
  const prof = Profile.decode(gunzipSync(readFileSync(join(dir, 'p.pb.gz'))))
  const str = (i: number | bigint) => prof.stringTable.strings[Number(i)]
  t.deepEqual(
    prof.sampleType.map((v) => [str(v.type), str(v.unit)]),
    [
      ['inuse_objects', 'count'],
      ['inuse_space', 'bytes'],
    ],
  )
  t.is(Number(prof.period), 16384)
  const total = (k: number) => prof.sample.reduce((a, s) => a + Number(s.value[k]), 0)
  t.is(
    total(1),
    nodes.reduce((a, n) => a + n.selfSize, 0),
  )
  // Objects: per node, V8's count for its samples; with one size per node, the naive reference
  // finds the candidate sizes and the selfSize settles which.
  let objects = 0
  for (const n of nodes.filter((n) => n.selfSize > 0)) {
    const own = expected.samples.filter((s: { nodeId: number }) => s.nodeId === n.id)
    const byValue = new Map<number, number>()
    for (const s of own) byValue.set(s.size, (byValue.get(s.size) ?? 0) + 1)
    if (byValue.size !== 1) {
      objects = NaN
      break
    }
    const [[v, count]] = [...byValue]
    const sizes = sizesFor(v, 16384).filter((s) => s * Math.floor(count / -Math.expm1(-s / 16384) + 0.5) === n.selfSize)
    objects += Math.floor(count / -Math.expm1(-sizes[0] / 16384) + 0.5)
  }
  if (!Number.isNaN(objects)) t.is(total(0), objects)
  else t.true(total(0) > 0)
  const fn = prof.function.find((f) => str(f.name) === 'leak')
  t.truthy(fn, 'the leak function is in the pprof')
  t.true(str(fn!.filename) === '[eval]' || str(fn!.filename).endsWith('[eval]'), str(fn!.filename))
  const leakLoc = prof.location.find((l) => l.line.some((ln) => ln.functionId === fn!.id))!
  const leakBytes = prof.sample
    .filter((s) => Number(s.locationId[0]) === Number(leakLoc.id))
    .reduce((a, s) => a + Number(s.value[1]), 0)
  t.true(leakBytes > 5e6, `leak ${leakBytes}`)
  // The live profile written directly is a valid pprof too.
  const live = Profile.decode(gunzipSync(readFileSync(join(dir, 'live.pprof'))))
  t.true(live.sample.length > 0)
})

test('heapdiff profile: top sites of either format, growth between two, clear errors for bad files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-cli-prof-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = (n: string) => join(dir, n)
  node(`
    const mw = require(process.env.HEAPDIFF_ROOT);
    mw.startSampling({ interval: 16384 });
    const keep = [];
    function grow(n) { for (let i = 0; i < n; i++) keep.push({ i, a: new Array(50).fill(i) }) }
    grow(2000);
    mw.writeHeapProfile(${JSON.stringify(f('a.heapprofile'))});
    mw.writeHeapProfile(${JSON.stringify(f('a.pb.gz'))});
    grow(30000);
    mw.writeHeapProfile(${JSON.stringify(f('b.heapprofile'))});
    mw.writeHeapProfile(${JSON.stringify(f('b.pb.gz'))});
  `)
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'cli.js'), 'profile', ...args], { encoding: 'utf8' })
  for (const file of ['b.heapprofile', 'b.pb.gz']) {
    const r = cli(f(file), '--json', '--top', '3')
    t.is(r.status, 0, r.stderr)
    const sites = JSON.parse(r.stdout)
    t.like(sites[0], { name: 'grow', url: '[eval]' })
    t.true(sites[0].live_bytes > 10e6 && sites[0].live_count > 30000, JSON.stringify(sites[0]))
    t.true(sites.length <= 3)
    const table = cli(f(file))
    t.regex(table.stdout, /grow \(\[eval\]:\d+:\d+\)/)
  }
  for (const [a, b] of [
    ['a.heapprofile', 'b.heapprofile'],
    ['a.pb.gz', 'b.pb.gz'],
  ]) {
    const r = cli(f(a), f(b), '--json')
    t.is(r.status, 0, r.stderr)
    const grown = JSON.parse(r.stdout)
    t.is(grown[0].name, 'grow')
    t.true(grown[0].growth_bytes > 8e6, JSON.stringify(grown[0]))
    t.true(grown.every((s: { growth_bytes: number }) => s.growth_bytes > 0))
  }
  writeFileSync(f('text.txt'), 'hello, not a profile\n')
  writeFileSync(f('snap.heapsnapshot'), '{"snapshot":{"meta":{}},"nodes":[]}')
  writeFileSync(f('cut.pb.gz'), readFileSync(f('b.pb.gz')).subarray(0, 40))
  writeFileSync(f('cpu.cpuprofile'), '{"nodes":[],"startTime":0}')
  for (const [file, re] of [
    ['text.txt', /text\.txt: not a pprof profile/],
    ['snap.heapsnapshot', /snap\.heapsnapshot: not a sampling heap profile.*heap snapshot/],
    ['cut.pb.gz', /cut\.pb\.gz: damaged gzip data/],
    ['cpu.cpuprofile', /cpu\.cpuprofile: not a sampling heap profile/],
    ['missing.pb.gz', /missing\.pb\.gz: no such file/],
  ] as const) {
    const r = cli(f(file))
    t.is(r.status, 3, `${file}: ${r.stderr}`)
    t.regex(r.stderr, re)
    t.notRegex(r.stderr, /at .*\.js:\d+/, 'no stack trace')
  }
  t.is(cli().status, 2)
})

test('sampling keeps the GC hook active without listeners, and stop releases it', (t) => {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const mw = require(process.env.HEAPDIFF_ROOT);
       const a = mw.status().active; mw.startSampling(); const b = mw.status().active;
       mw.gc(); setTimeout(() => { const n = mw.status().sampling.summaries; mw.stopSampling();
       console.log(JSON.stringify([a, b, n, mw.status().active])) }, 100)`,
    ],
    { encoding: 'utf8', env: { ...process.env, HEAPDIFF_ROOT: root } },
  )
  t.deepEqual(JSON.parse(out), [false, true, 1, false])
})

test('sampling stopped by someone else shows in status(), and stopSampling() is then quiet', (t) => {
  const out = node(`
    const mw = require(process.env.HEAPDIFF_ROOT);
    mw.startSampling();
    const other = new (require('node:inspector').Session)(); other.connect();
    other.post('HeapProfiler.stopSampling', () => {});
    let err = null;
    try { mw.heapProfile() } catch (e) { err = e.message }
    const st = mw.status().sampling;
    mw.stopSampling();
    let again = null;
    try { mw.stopSampling() } catch (e) { again = e.constructor.name }
    console.log(JSON.stringify({ err, st, again }));
  `)
  const { err, st, again } = JSON.parse(out)
  t.regex(err, /stopped by another user of V8's sampling heap profiler/)
  t.like(st, { active: false, mechanism: null })
  t.regex(st.reason, /^stopped by another/)
  t.is(again, 'TypeError')
})
