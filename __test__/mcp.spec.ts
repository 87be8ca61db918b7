// `heapdiff mcp` through the real MCP SDK client (Client + StdioClientTransport) on snapshots of
// a known leak: each tool's answer against the CLI's `--json` answer on the same files, or
// against the naive reference decoder; ids chained from `leaks` to `retainers` to `object`;
// limits clamped and said; bad input as tool errors while the server keeps answering; a repeat
// question answered from the loaded snapshot.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'

import { RefSnapshot } from './helpers/snapshot-ref'

const root = resolve(__dirname, '..')
const cli = join(root, 'cli.js')
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-mcp-'))
const file = (name: string) => join(dir, name)
let client: Client

test.before(async () => {
  execFileSync(process.execPath, [join(__dirname, 'fixtures', 'mcp-snapshots.js'), dir], { timeout: 120000 })
  // A cut-short snapshot and a file that is no snapshot at all.
  const s1 = readFileSync(file('s1.heapsnapshot'))
  writeFileSync(file('truncated.heapsnapshot'), s1.subarray(0, s1.length >> 1))
  writeFileSync(file('notes.txt'), 'not a snapshot\n')
  // A copy that no other test has loaded yet.
  writeFileSync(file('action-b.heapsnapshot'), readFileSync(file('s2.heapsnapshot')))
  client = new Client({ name: 'heapdiff-test', version: '1.0.0' })
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', '--root', dir], stderr: 'inherit' }),
  )
})

test.after.always(async () => {
  await client?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The CLI's `--json` answer. */
const cliJson = (...args: string[]) =>
  JSON.parse(execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 }))

async function call(name: string, args: Record<string, unknown>): Promise<any> {
  const r: any = await client.callTool({ name, arguments: args })
  if (r.isError) throw new Error(`${name}: ${r.content[0].text}`)
  // The text is the same data, for clients that read only text.
  if (JSON.stringify(r.structuredContent) !== r.content[0].text) throw new Error(`${name}: text and data differ`)
  return r.structuredContent
}

async function toolError(name: string, args: Record<string, unknown>): Promise<string> {
  const r: any = await client.callTool({ name, arguments: args })
  if (!r.isError) throw new Error(`${name} should have failed: ${JSON.stringify(r.structuredContent)}`)
  return r.content[0].text
}

test.serial('the server lists its eight tools, each with an input schema', async (t) => {
  const { tools } = await client.listTools()
  t.deepEqual(tools.map((x) => x.name).sort(), [
    'diff',
    'leaks',
    'object',
    'profile',
    'retainers',
    'run_report',
    'summary',
    'top_retainers',
  ])
  for (const x of tools) {
    t.is(x.inputSchema.type, 'object', x.name)
    t.true(Object.keys(x.inputSchema.properties ?? {}).length > 0, x.name)
    t.truthy(x.description?.includes('Output'), `${x.name} documents its output`)
  }
})

test.serial('diff, leaks, top_retainers and profile answer as the CLI’s --json', async (t) => {
  const diff = await call('diff', { before: 's1.heapsnapshot', after: 's3.heapsnapshot', top: 5 })
  const cliDiff = cliJson('diff', file('s1.heapsnapshot'), file('s3.heapsnapshot'), '--json', '--quiet')
  // The sides' times differ by design (the CLI stamps its run, the server the files' mtimes).
  t.deepEqual(diff.change.details, cliDiff.change.details.slice(0, 5))
  const { details: _d, ...change } = diff.change
  const { details: _c, ...cliChange } = cliDiff.change
  t.deepEqual(change, cliChange)
  t.is(diff.details_left_out, cliDiff.change.details.length - 5)
  t.deepEqual([diff.before.nodes, diff.after.size_bytes], [cliDiff.before.nodes, cliDiff.after.size_bytes])

  const leaks = await call('leaks', { s1: 's1.heapsnapshot', s2: 's2.heapsnapshot', s3: 's3.heapsnapshot', top: 3 })
  const cliLeaks = cliJson(
    'leaks',
    ...['s1', 's2', 's3'].map((s) => file(`${s}.heapsnapshot`)),
    '--json',
    '--top',
    '3',
    '--quiet',
  )
  t.deepEqual({ allocated: leaks.allocated, leaked: leaks.leaked, leaks: leaks.leaks }, cliLeaks)
  t.is(leaks.leaks[0].what, 'LeakyThing')
  t.is(leaks.leaks[0].count, 200)

  const top = await call('top_retainers', { file: 's3.heapsnapshot', top: 4 })
  t.deepEqual(top.retainers, cliJson('top', file('s3.heapsnapshot'), '--json', '--top', '4', '--quiet'))

  const profile = await call('profile', { file: 'action.heapprofile', top: 3 })
  t.deepEqual(profile.sites, cliJson('profile', file('action.heapprofile'), '--json', '--top', '3'))
  t.is(profile.sites[0].name, 'LeakyThing')
})

test.serial('leaks of snapshots from two processes: a warning instead of classes', async (t) => {
  execFileSync(process.execPath, [
    '-e',
    `globalThis.kept = Array.from({ length: 5000 }, (_, i) => ({ i })); require('v8').writeHeapSnapshot(${JSON.stringify(file('other.heapsnapshot'))})`,
  ])
  const args = { s1: 's1.heapsnapshot', s2: 'other.heapsnapshot', s3: 'other.heapsnapshot' }
  const leaks = await call('leaks', args)
  t.deepEqual([leaks.comparable, leaks.leaks], [false, []])
  t.regex(leaks.warning, /^the snapshots come from different processes: .*\(s1 and s2: /)
  const { notes: _n, reused: _r, ...answer } = leaks
  const cliArgs = [cli, 'leaks', file(args.s1), file(args.s2), file(args.s3), '--json', '--quiet']
  // stderr piped: the CLI's warning line is expected, not test output.
  const out = execFileSync(process.execPath, cliArgs, { encoding: 'utf8', stdio: 'pipe' })
  t.deepEqual(answer, JSON.parse(out))
})

test.serial('summary, retainers and object against the reference decoder; ids chain from leaks', async (t) => {
  const ref = new RefSnapshot(file('s3.heapsnapshot'))
  const summary = await call('summary', { file: 's3.heapsnapshot', top: 200 })
  t.is(summary.node_count, ref.nodes.length)
  t.is(
    summary.edge_count,
    ref.nodes.reduce((n, x) => n + x.edges.length, 0),
  )
  t.is(
    summary.total_size,
    ref.nodes.reduce((n, x) => n + x.self, 0),
  )
  const leaky = ref.find('object', 'LeakyThing')
  t.is(leaky.length, 200)
  t.is(summary.by_count.find((c: any) => c.what === 'LeakyThing').count, 200)
  const retained = ref.retainedByDominance(leaky)
  t.is(summary.by_retained_size.find((c: any) => c.what === 'LeakyThing').retained_size, retained)

  // An id from the leak report's path, through retainers, to the object itself.
  const leaks = await call('leaks', { s1: 's1.heapsnapshot', s2: 's2.heapsnapshot', s3: 's3.heapsnapshot', top: 1 })
  const steps = leaks.leaks[0].retainers[0].steps
  const id = steps[steps.length - 1].id
  const one = await call('retainers', { file: 's3.heapsnapshot', id })
  t.is(one.count, 1)
  t.is(one.paths[0].steps.at(-1).id, id)
  const all = await call('retainers', { file: 's3.heapsnapshot', class: 'LeakyThing', paths: 3 })
  t.is(all.count, 200)
  t.is(all.retained_size, retained)
  t.is(all.paths[0].path, leaks.leaks[0].retainers[0].path)

  const obj = await call('object', { file: 's3.heapsnapshot', id, limit: 2 })
  const node = ref.nodes.find((n) => n.id === id)!
  t.deepEqual([obj.node.id, obj.node.what, obj.node.self_size], [id, 'LeakyThing', node.self])
  t.is(obj.edge_count, node.edges.length)
  t.is(obj.edges.length, 2)
  t.deepEqual(
    obj.edges.map((e: any) => e.node.id),
    node.edges.slice(0, 2).map((e) => ref.nodes[e.to].id),
  )
  const into = ref.nodes.flatMap((n) => n.edges.filter((e) => e.to === node.index))
  t.is(obj.retainer_count, into.length)
  t.is(obj.retained_size, ref.retainedByRemoval([node.index]))
  t.is(obj.path, ref.pathTo(node.index) ? obj.path : '')
  t.regex(obj.path, /Map\.table → \(array\)\[\d+\] → LeakyThing$/)
})

test.serial('limits are clamped and say so; left-out counts are given', async (t) => {
  const diff = await call('diff', { before: 's1.heapsnapshot', after: 's3.heapsnapshot', top: 100000 })
  t.true(diff.change.details.length <= 500)
  t.deepEqual(diff.notes, ['top 100000 is above the cap of 500: clamped to 500'])
  const summary = await call('summary', { file: 's3.heapsnapshot', top: 1000 })
  t.is(summary.by_count.length, Math.min(200, summary.class_count))
  t.deepEqual(summary.notes, ['top 1000 is above the cap of 200: clamped to 200'])
  const five = await call('summary', { file: 's3.heapsnapshot', top: 5 })
  t.is(five.by_count.length, 5)
  t.is(five.left_out, five.class_count - 5)
  t.deepEqual(five.notes, [])
  const obj = await call('object', { file: 's3.heapsnapshot', id: 1, limit: 10000 })
  t.deepEqual(obj.notes, ['limit 10000 is above the cap of 200: clamped to 200'])
})

test.serial('bad input is a tool error naming it, and the server keeps answering', async (t) => {
  t.regex(await toolError('summary', { file: 'missing.heapsnapshot' }), /missing\.heapsnapshot: no such file/)
  t.regex(await toolError('summary', { file: '/etc/hostname' }), /outside the allowed root/)
  t.regex(await toolError('summary', { file: 'notes.txt' }), /notes\.txt.*not/)
  t.regex(await toolError('top_retainers', { file: 'truncated.heapsnapshot' }), /truncated\.heapsnapshot/)
  t.regex(await toolError('object', { file: 's3.heapsnapshot', id: 999999999 }), /no object with id 999999999/)
  t.regex(await toolError('retainers', { file: 's3.heapsnapshot' }), /exactly one of `class` and `id`/)
  t.regex(await toolError('profile', { file: 's1.heapsnapshot' }), /not a sampling heap profile/)
  // Still serving.
  t.is((await call('summary', { file: 's1.heapsnapshot', top: 1 })).by_count.length, 1)
})

test.serial('a repeat question reuses the loaded snapshot; a rewritten file is parsed again', async (t) => {
  const first = await call('summary', { file: 's2.heapsnapshot', top: 1 })
  const again = await call('summary', { file: 's2.heapsnapshot', top: 1 })
  t.deepEqual(again.reused, { 's2.heapsnapshot': true })
  t.deepEqual({ ...again, reused: null }, { ...first, reused: null })
  // A diff needs only the nodes; the first question about the graph loads the edges too, once.
  const d1 = await call('diff', { before: 's1.heapsnapshot', after: 'action-b.heapsnapshot', top: 1 })
  t.false(d1.reused['action-b.heapsnapshot'])
  t.deepEqual((await call('top_retainers', { file: 'action-b.heapsnapshot', top: 1 })).reused, {
    'action-b.heapsnapshot': false,
  })
  t.deepEqual((await call('top_retainers', { file: 'action-b.heapsnapshot', top: 1 })).reused, {
    'action-b.heapsnapshot': true,
  })
  const d2 = await call('diff', { before: 's1.heapsnapshot', after: 'action-b.heapsnapshot', top: 1 })
  t.deepEqual(d2.reused, { 's1.heapsnapshot': true, 'action-b.heapsnapshot': true })
  t.deepEqual(d2.change, d1.change)
  const later = new Date(Date.now() + 5000)
  utimesSync(file('s2.heapsnapshot'), later, later)
  t.deepEqual((await call('summary', { file: 's2.heapsnapshot', top: 1 })).reused, { 's2.heapsnapshot': false })
})

test.serial('run_report: the verdict and leaks of a run folder, as heapdiff report --format json', async (t) => {
  const run = join(dir, 'run')
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const lines = [
    JSON.stringify({
      type: 'start',
      time: t0,
      pid: 7,
      thread_id: 0,
      main: true,
      argv: ['app.js'],
      node: 'v22',
      hook: 'v8-gc-callback',
      sampling: false,
      sampling_available: true,
    }),
  ]
  for (let i = 0; i < 12; i++)
    lines.push(
      JSON.stringify({
        type: 'stats',
        gc_time: t0 + i * 100,
        current_base: 5e6 + i * 1e6,
        estimated_base: 5e6,
        external_memory: 1e6,
        pause_ms: 1,
      }),
    )
  lines.push(
    JSON.stringify({
      type: 'leak',
      time: t0 + 1200,
      start: t0,
      end: t0 + 1100,
      memory: 'heap',
      growth: 1.1e7,
      gcs: 10,
      reason: 'heap growth over 10 consecutive GCs (1s) - 36000 mb/hr',
    }),
  )
  require('node:fs').mkdirSync(run)
  writeFileSync(join(run, 'events-7-0.ndjson'), lines.join('\n') + '\n')
  const got = await call('run_report', { dir: 'run' })
  const want = cliJson('report', run, '--format', 'json', '-o', '-')
  t.deepEqual(got.verdict, want.verdict)
  t.is(got.leaks.length, 1)
  t.is(got.leaks[0].memory, 'heap')
  t.regex(got.verdict.sentence, /^Leak: the post-GC heap of the main thread grew/)
})
