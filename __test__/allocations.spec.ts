/**
 * Allocation stacks (`allocated_at`): a known leak — K instances of `Tracked` made by
 * `allocateTracked` in fixtures/allocation-scenario.js — must be named with its function, file,
 * line and column and a count of K, in process (HeapDiff, checkLeaks, a worker) and from files
 * that V8 wrote while tracking allocations (diffFiles, findLeaks, the CLI). The expected line and
 * column are read from the fixture's text, not from any snapshot: V8 records the start of each
 * function, which is its parameter list's `(`, and writes it 1-based (measured on Node 20–26).
 */
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import memwatch = require('..')

const root = resolve(__dirname, '..')
const fixture = join(__dirname, 'fixtures', 'allocation-scenario.js')
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-alloc-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

const K = 40

/** `allocateTracked (file:line:column)` from the fixture's source text. */
function expectedFrame(): string {
  const lines = readFileSync(fixture, 'utf8').split('\n')
  const at = lines.findIndex((l) => l.startsWith('function allocateTracked('))
  const column = lines[at].indexOf('(') + 1
  return `allocateTracked (${fixture}:${at + 1}:${column})`
}

function scenario(mode: string, k = K, env: Record<string, string> = {}): any {
  const out = execFileSync(process.execPath, [fixture, mode, String(k), dir], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, ...env },
  })
  return JSON.parse(out.trim().split('\n').pop()!)
}

function assertNamed(t: any, sites: memwatch.AllocationStack[] | undefined, count: number): void {
  t.truthy(sites, 'allocated_at present')
  t.true(sites!.length >= 1)
  // Callers may differ (a loop's first call runs before its first await), the allocating frame not.
  const here = sites!.filter((s) => s.stack[0] === expectedFrame())
  t.is(
    here.reduce((n, s) => n + s.count, 0),
    count,
  )
  t.is(sites![0].stack[0], expectedFrame())
  t.true(
    sites!.every((s, k) => k === 0 || s.count <= sites![k - 1].count),
    'most instances first',
  )
}

test('HeapDiff({ allocations: true }) names the allocating function and line for the K new instances', (t) => {
  const { row, traced } = scenario('heapdiff')
  t.is(row['+'], K)
  assertNamed(t, row.allocated_at, K)
  t.is(row.allocated_at[0].size_bytes, row.size_bytes)
  t.true(traced >= 1)
})

test('where V8 entry points are off, the inspector route names the same frame and the process still exits', (t) => {
  // execFileSync returning is the exit: the inspector's tracking timer stops with tracking.
  const { row } = scenario('heapdiff', K, { HEAPDIFF_DISABLE_V8_HOOKS: '1' })
  t.is(row['+'], K)
  assertNamed(t, row.allocated_at, K)
})

test('without allocations: true there is no allocated_at', (t) => {
  const { row, traced } = scenario('plain')
  t.is(row['+'], K)
  t.false('allocated_at' in row)
  t.is(traced, 0)
})

test('in a worker, HeapDiff({ allocations: true }) names the same frame', (t) => {
  const { row } = scenario('worker')
  t.is(row['+'], K)
  assertNamed(t, row.allocated_at, K)
})

test('checkLeaks(fn, { allocations: true }) names the allocating frame of the leaked class', (t) => {
  // V8 drops the traces of objects allocated between two snapshots in some runs, with its own
  // writeHeapSnapshot() too (docs/api.md, "Allocation stacks"): then the row says it has traces but
  // none for these instances (`[]`). Seen on Node 22 and 24 (a third of the runs on 24.21); such
  // a run is repeated, up to six, and anything else than `[]` is judged at once.
  // Node 22 (V8 12.4) also gave, once in a CI rehearsal's run (and in none of 48 runs by hand),
  // stacks that were not these instances' (none named allocateTracked): repeated there as well.
  const node22 = process.versions.node.startsWith('22.')
  // Node 22 also keeps, in some runs, the traces of only a few of these instances (2 of 40 in a
  // run by hand at the end of the census stop): such a run is repeated too.
  const named = (r: any) =>
    (r.allocated_at ?? [])
      .filter((s: any) => s.stack[0] === expectedFrame())
      .reduce((n: number, s: any) => n + s.count, 0) === 40
  let row: any
  for (let run = 1; run <= 6; run++) {
    ;({ row } = scenario('checkleaks', 8))
    // Five calls between the first two snapshots, 8 instances each, all still alive.
    t.is(row.count, 40)
    if (row.allocated_at?.length !== 0 && (!node22 || named(row))) break
    const kept = (row.allocated_at ?? []).map((s: any) => `${s.count} × ${s.stack[0]}`).join(' | ')
    t.log(`run ${run}: V8 kept no full allocation trace for these instances${kept ? ` (only: ${kept})` : ''}`)
  }
  if (node22 && !named(row)) {
    // Node 22 (V8 12.4) keeps the acceptance it had before the repeats (docs/api.md): no trace
    // for these instances, or traces of some of them, and then only of their own frame.
    t.true(
      (row.allocated_at ?? []).every((s: any) => s.stack[0] === expectedFrame()),
      JSON.stringify(row.allocated_at),
    )
    return
  }
  assertNamed(t, row.allocated_at, 40)
})

const written = (() => {
  let files: string[] | null = null
  return () => (files ??= scenario('write').files as string[])
})()

test('diffFiles on snapshots written while V8 tracked allocations gives the same', async (t) => {
  const [a, b] = written()
  const d = await memwatch.diffFiles(a, b, { grouping: 'classic' })
  const row = d.change.details.find((r) => r.what === 'Tracked')!
  t.is(row['+'], K)
  assertNamed(t, row.allocated_at, K)
  const bounded = await memwatch.diffFiles(a, b, { grouping: 'classic', maxStacks: 1 })
  t.true(bounded.change.details.every((r) => (r.allocated_at?.length ?? 0) <= 1))
})

test('findLeaks on traced files names the allocating frame', async (t) => {
  const [a, b, c] = written()
  const r = await memwatch.findLeaks(a, b, c, { grouping: 'classic' })
  const row = r.leaks.find((l) => l.what === 'Tracked')!
  t.is(row.count, K)
  assertNamed(t, row.allocated_at, K)
})

const cli = (args: string[]) =>
  spawnSync(process.execPath, [join(root, 'cli.js'), ...args], { encoding: 'utf8', timeout: 120000 })

test('the CLI prints `allocated at` lines under each class, for diff and leaks', (t) => {
  const [a, b, c] = written()
  const want = `    allocated at ${K} × ${expectedFrame()}`
  const diff = cli(['diff', a, b, '--top', '0', '--quiet'])
  t.is(diff.status, 0, diff.stderr)
  const lines = diff.stdout.split('\n')
  const at = lines.findIndex((l) => l.startsWith('Tracked '))
  t.true(at >= 0, diff.stdout)
  t.true(lines[at + 1].startsWith(want), lines[at + 1])
  const leaks = cli(['leaks', a, b, c, '--quiet'])
  t.is(leaks.status, 0, leaks.stderr)
  t.regex(leaks.stdout, new RegExp(`^Tracked: ${K} leaked[^\n]*\n(?:    .*\n)*?${escape(want)}`, 'm'))
  const json = JSON.parse(cli(['diff', a, b, '--json', '--quiet']).stdout)
  assertNamed(t, json.change.details.find((r: any) => r.what === 'Tracked').allocated_at, K)
})

test('the report of traced files names the allocating frame in its table and verdict', (t) => {
  const [a, b, c] = written()
  for (const args of [
    ['diff', a, b],
    ['leaks', a, b, c],
  ]) {
    const r = cli(['report', ...args, '-o', '-', '--format', 'json'])
    t.is(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    const row = report.classes.find((x: { what: string }) => x.what === 'Tracked')
    t.truthy(row, `${args[0]}: ${report.classes.map((x: { what: string }) => x.what).join(', ')}`)
    t.is(row?.allocated_at, expectedFrame(), args[0])
  }
})

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

test('snapshots without traces give no allocated_at', async (t) => {
  const plain = [join(dir, 'p1.heapsnapshot'), join(dir, 'p2.heapsnapshot')]
  execFileSync(process.execPath, [
    '-e',
    `const v8 = require('v8'); v8.writeHeapSnapshot(${JSON.stringify(plain[0])}); globalThis.x = Array.from({ length: 50 }, () => ({})); v8.writeHeapSnapshot(${JSON.stringify(plain[1])})`,
  ])
  const d = await memwatch.diffFiles(plain[0], plain[1])
  t.true(d.change.details.length > 0)
  t.true(d.change.details.every((r) => !('allocated_at' in r)))
})

/** A minimal traced snapshot (Node 20's layout) with a bad trace section. */
function tracedDoc(tree: string, nodeTrace = 2, withA = true): string {
  return JSON.stringify({
    snapshot: {
      meta: {
        node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
        node_types: [['hidden', 'object', 'synthetic']],
        edge_fields: ['type', 'name_or_index', 'to_node'],
        edge_types: [['element']],
        trace_function_info_fields: ['function_id', 'name', 'script_name', 'script_id', 'line', 'column'],
        trace_node_fields: ['id', 'function_info_index', 'count', 'size', 'children'],
      },
      node_count: withA ? 2 : 1,
      edge_count: 0,
      trace_function_count: 2,
    },
    nodes: [2, 0, 1, 0, 0, 0, 0, ...(withA ? [1, 1, 3, 16, 0, nodeTrace, 0] : [])],
    edges: [],
    trace_function_infos: [0, 2, 0, 0, 0, 0, 5, 3, 4, 1, 2, 3],
    trace_tree: JSON.parse(tree),
    samples: [],
    locations: [],
    strings: ['', 'A', '(root)', 'f', '/x.js'],
  })
}

test('corrupt trace sections are refused with an error naming the problem', async (t) => {
  const good = join(dir, 'good.heapsnapshot')
  const empty = join(dir, 'empty.heapsnapshot')
  writeFileSync(good, tracedDoc('[1,0,0,0,[2,1,1,16,[]]]'))
  writeFileSync(empty, tracedDoc('[1,0,0,0,[]]', 0, false))
  const d = await memwatch.diffFiles(empty, good, { grouping: 'classic' })
  t.deepEqual(d.change.details, [
    {
      what: 'A',
      size_bytes: 16,
      size: '16 bytes',
      '+': 1,
      '-': 0,
      allocated_at: [{ stack: ['f (/x.js:2:3)'], count: 1, size_bytes: 16 }],
    },
  ])
  const cases: Array<[string, RegExp]> = [
    [tracedDoc('[1,0,0,0,[2,9,1,16,[]]]'), /trace_tree node #1 \(id 2\) has function_info_index 9/],
    [tracedDoc('[1,0,0,0,[2,1,1,16,[]]]', 7), /node #1 has trace_node_id 7, but trace_tree has no node/],
    [tracedDoc('[1,0,0,[2,1,1,16,[]]]'), /trace_tree: expected a number for field #3/],
  ]
  for (const [doc, message] of cases) {
    const bad = join(dir, 'bad.heapsnapshot')
    writeFileSync(bad, doc)
    await t.throwsAsync(() => memwatch.diffFiles(good, bad), { message })
  }
})

test('options: allocations and maxStacks are checked like the others', (t) => {
  t.throws(() => new memwatch.HeapDiff({ maxStacks: 0 }), {
    instanceOf: RangeError,
    message: 'diff option "maxStacks" must be at least 1, got 0',
  })
  t.throws(() => new memwatch.HeapDiff({ allocations: 1 as unknown as boolean }), {
    instanceOf: TypeError,
    message: 'diff option "allocations" must be a boolean, got number 1',
  })
  const hd = new memwatch.HeapDiff()
  t.throws(() => hd.end({ allocations: true }), {
    instanceOf: TypeError,
    message: /chosen when the HeapDiff is made/,
  })
  t.notThrows(() => hd.end())
})
