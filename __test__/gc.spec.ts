import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as v8 from 'node:v8'

import memwatch = require('..')
import type { GcStats } from '..'

const root = resolve(__dirname, '..')
const nodeMajor = Number(process.versions.node.split('.')[0])

/** Resolves with the next `stats` event. */
function nextStats(): Promise<GcStats> {
  return new Promise((resolve) => memwatch.once('stats', resolve))
}

/** Lets queued native deliveries run. */
const settle = () => new Promise((r) => setTimeout(r, 30))

test.serial('the V8 hook is installed on this runtime and names its source', async (t) => {
  const status = memwatch.status()
  t.true(status.installed, `hook not installed: ${status.reason}`)
  t.true(status.nativeGc)
  t.is(status.v8Version, process.versions.v8)
  const pending = nextStats()
  memwatch.gc()
  const s = await pending
  t.is(s.source, 'v8-gc-callback')
  t.true(s.forced)
})

test.serial('stats after gc(): every field present and current_base matches V8 right after the GC', async (t) => {
  memwatch.gc()
  await settle()
  const pending = nextStats()
  memwatch.gc()
  // Read by an independent path (v8.getHeapStatistics) right after the same GC, before much JS.
  const used = v8.getHeapStatistics().used_heap_size
  const s = await pending
  for (const key of [
    'num_full_gc',
    'num_inc_gc',
    'heap_compactions',
    'estimated_base',
    'current_base',
    'min',
    'max',
    'usage_trend',
  ] as const) {
    t.is(typeof s[key], 'number', key)
  }
  // Only the few objects getHeapStatistics itself creates lie between the two readings.
  t.true(Math.abs(s.current_base - used) < 256 * 1024, `current_base ${s.current_base} vs used ${used}`)
  t.is(s.used_heap_size, s.current_base)
  t.true(s.total_heap_size >= s.used_heap_size)
  t.is(s.heap_size_limit, v8.getHeapStatistics().heap_size_limit)
  t.true(s.pause_ms > 0 && s.pause_ms < 5000)
  t.true(Math.abs(s.gc_time - Date.now()) < 5000)
  t.true(s.gc_counts.mark_sweep_compact >= 2)
  t.is(s.num_full_gc, s.gc_counts.mark_sweep_compact)
  t.true(s.gc_pause_ms.mark_sweep_compact > 0)
  t.true(s.estimated_base > 0)
  // memwatch records min/max from the 3rd compaction on.
  if (s.heap_compactions < 3) t.deepEqual([s.min, s.max], [0, 0])
  else t.true(s.min > 0 && s.min <= s.current_base && s.current_base <= s.max)
  if (nodeMajor >= 26) t.is(typeof s.total_allocated_bytes, 'number')
  else t.is(s.total_allocated_bytes, null)
})

test.serial('counts increase with every gc() and one gc() gives one stats event', async (t) => {
  const seen: GcStats[] = []
  const listener = (s: GcStats) => seen.push(s)
  memwatch.on('stats', listener)
  for (let i = 0; i < 3; i++) {
    memwatch.gc()
    await settle()
  }
  memwatch.removeListener('stats', listener)
  t.is(seen.length, 3)
  const last = seen[2]
  t.true(last.heap_compactions >= 3)
  t.true(last.min > 0 && last.min <= last.current_base && last.current_base <= last.max)
  for (let i = 1; i < 3; i++) {
    t.is(seen[i].heap_compactions, seen[i - 1].heap_compactions + 1)
    // LowMemoryNotification runs two mark-compacts per call.
    t.true(seen[i].num_full_gc >= seen[i - 1].num_full_gc + 2)
    t.true(seen[i].num_inc_gc >= seen[i - 1].num_inc_gc)
  }
})

test.serial('once() fires once; removed listeners stop; no work without listeners', async (t) => {
  let onceCalls = 0
  memwatch.once('stats', () => onceCalls++)
  t.true(memwatch.status().active)
  memwatch.gc()
  await settle()
  memwatch.gc()
  await settle()
  t.is(onceCalls, 1)
  t.false(memwatch.status().active, 'no listener left, so no heap figures are read')

  let calls = 0
  const listener = () => calls++
  memwatch.on('stats', listener)
  memwatch.gc()
  await settle()
  memwatch.off('stats', listener)
  memwatch.gc()
  await settle()
  t.is(calls, 1)

  // GCs without listeners are counted but produce no queued events for a later listener.
  const before = memwatch.status().counts.mark_sweep_compact
  memwatch.gc()
  await settle()
  t.true(memwatch.status().counts.mark_sweep_compact >= before + 2)
  let late = 0
  memwatch.on('stats', () => late++)
  await settle()
  memwatch.removeAllListeners('stats')
  t.is(late, 0)
  t.false(memwatch.status().active)

  // removeAllListeners() with no argument must not break the bookkeeping.
  memwatch.on('leak', () => {})
  t.true(memwatch.status().active)
  memwatch.removeAllListeners()
  t.false(memwatch.status().active)
  let after = 0
  memwatch.prependOnceListener('stats', () => after++)
  t.true(memwatch.status().active)
  memwatch.gc()
  await settle()
  t.is(after, 1)
  t.false(memwatch.status().active)
})

test.serial('natural full GCs produce stats without gc()', async (t) => {
  const pending = nextStats()
  const keep: unknown[] = []
  // Allocate until V8 decides on its own to run a full GC.
  const deadline = Date.now() + 20000
  let s: GcStats | undefined
  pending.then((x) => (s = x))
  while (!s && Date.now() < deadline) {
    for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x' + i })
    if (keep.length > 2e6) keep.length = 0
    await new Promise((r) => setImmediate(r))
  }
  t.truthy(s, 'no natural full GC within 20 s')
  t.false(s!.forced)
  t.is(s!.source, 'v8-gc-callback')
})

test('bad arguments throw TypeError or RangeError naming the problem', (t) => {
  t.throws(() => memwatch.gc(1 as never), { instanceOf: TypeError, message: /no arguments/ })
  t.throws(() => memwatch.setLeakOptions({ windw: 5 } as never), {
    instanceOf: TypeError,
    message: /unknown leak option "windw"/,
  })
  t.throws(() => memwatch.setLeakOptions({ window: -1 }), { instanceOf: RangeError, message: /"window"/ })
  t.throws(() => memwatch.setLeakOptions({ window: 2 }), { instanceOf: RangeError })
  t.throws(() => memwatch.setLeakOptions({ minGrowth: 1.5 }), { instanceOf: RangeError, message: /whole number/ })
  t.throws(() => memwatch.setLeakOptions({ significance: 0 }), { instanceOf: RangeError })
  t.throws(() => memwatch.setLeakOptions({ minGrowth: '1mb' } as never), { instanceOf: TypeError })
  t.throws(() => memwatch.setLeakOptions({ rule: 'magic' } as never), {
    instanceOf: TypeError,
    message: /'trend' or 'classic'/,
  })
  t.throws(() => memwatch.setLeakOptions(null as never), { instanceOf: TypeError })
  t.throws(() => memwatch.on('stats', 42 as never), { instanceOf: TypeError })
  t.notThrows(() => memwatch.setLeakOptions({}))
})

function runNode(args: string[], env: NodeJS.ProcessEnv = {}, cwd = root): string {
  return execFileSync(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60000,
  })
}

test('falls back to perf_hooks where the V8 hook cannot be installed, and says so', (t) => {
  const out = runNode(
    [
      '-e',
      `const mw = require(${JSON.stringify(root)});
       const st = mw.status();
       mw.on('stats', (s) => { console.log(JSON.stringify({ st, s })); process.exit(0) });
       mw.gc();
       setTimeout(() => { console.log('timeout'); process.exit(1) }, 10000);`,
    ],
    { HEAPDIFF_DISABLE_V8_HOOKS: '1' },
  )
  const { st, s } = JSON.parse(out)
  t.false(st.installed)
  t.regex(st.reason, /HEAPDIFF_DISABLE_V8_HOOKS/)
  t.is(s.source, 'perf_hooks')
  t.true(s.current_base > 0)
  t.true(s.num_full_gc >= 1)
})

test('ESM import and named use work', (t) => {
  const out = runNode([
    '--input-type=module',
    '-e',
    `import memwatch from ${JSON.stringify(join(root, 'index.mjs'))};
     import { HeapDiff, gc } from ${JSON.stringify(join(root, 'index.mjs'))};
     console.log(typeof memwatch.on, typeof memwatch.gc, typeof HeapDiff, typeof gc);`,
  ])
  t.is(out.trim(), 'function function function function')
})

test('old code runs unchanged through a "memwatch" alias', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-alias-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(root, join(dir, 'node_modules', 'memwatch'), 'dir')
  writeFileSync(
    join(dir, 'old.js'),
    `var memwatch = require('memwatch');
     memwatch.on('stats', function (stats) {
       console.log(stats.num_full_gc > 0, typeof stats.usage_trend, stats.estimated_base > 0);
       var hd = new memwatch.HeapDiff();
       var diff = hd.end();
       console.log(Array.isArray(diff.change.details), typeof diff.before.size);
       process.exit(0);
     });
     memwatch.gc();`,
  )
  const out = runNode([join(dir, 'old.js')], {}, dir)
  t.is(out.trim(), 'true number true\ntrue string')
})
