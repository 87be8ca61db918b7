/**
 * Leak location: retainer paths, retained sizes, the three-snapshot technique and checkLeaks,
 * checked against snapshots of a known retention structure (written by child processes, see
 * fixtures/retention-scenario.js) and against a naive JSON.parse reference (helpers/snapshot-ref.ts)
 * that computes retained sizes by removal and shortest paths by plain BFS, with no dominator tree.
 */
import test, { type ExecutionContext } from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import memwatch = require('..')
import { memwatchWhat } from './helpers/memwatch-what'
import { RefSnapshot, groupPaths, isIndexEdge } from './helpers/snapshot-ref'

const root = resolve(__dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-retainers-'))
const fixture = join(__dirname, 'fixtures', 'retention-scenario.js')
// ~45 MB of snapshots per run.
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** New instances per scenario, and Transients in the three-snapshot one. */
const K = 100
const T = 60

type RetainerPath = memwatch.RetainerPath
type TopEntry = memwatch.TopRetainer
type LeaksResult = memwatch.SurvivorReport
type CheckResult = memwatch.LeakCheck
const api = memwatch

// ---------------------------------------------------------------------------------------------
// Scenarios: each written once by a child process, parsed once by the reference.

const written = new Map<string, Record<string, string>>()
function scenario(name: 'map' | 'closure' | 'listener' | 'unseeded' | 'three' | 'sessions'): Record<string, string> {
  if (!written.has(name)) {
    const out = execFileSync(process.execPath, [fixture, name, dir, String(K), String(T)], {
      encoding: 'utf8',
      timeout: 120000,
    })
    written.set(name, JSON.parse(out.trim().split('\n').pop()!))
  }
  return written.get(name)!
}

const parsed = new Map<string, RefSnapshot>()
function ref(file: string): RefSnapshot {
  if (!parsed.has(file)) parsed.set(file, new RefSnapshot(file))
  return parsed.get(file)!
}

/** The node a global property points to (e.g. `globalThis.retentionCache`). */
function globalProperty(snap: RefSnapshot, name: string): number {
  const targets = new Set<number>()
  for (const n of snap.nodes) {
    if (n.type !== 'object' || !n.name.startsWith('global')) continue
    for (const e of n.edges) if (e.type === 'property' && e.name === name) targets.add(e.to)
  }
  if (targets.size !== 1) throw new Error(`global ${name}: ${targets.size} candidates`)
  return [...targets][0]
}

const edgeNames = (steps: Array<{ edge: string | null; edge_type: string | null }>) =>
  steps.map(rawEdge).filter((e) => e !== null)

/** `names` occur in `list` in this order (not necessarily adjacent). */
function inOrder(list: string[], names: string[]): boolean {
  let at = 0
  for (const x of list) if (at < names.length && x === names[at]) at++
  return at === names.length
}

/**
 * Checks one retainer path of the implementation against the snapshot itself: every step is a
 * node of the file, linked to the previous one by an edge of that type and name that the traversal
 * follows, the first step hangs off the synthetic root, the last is one of `instances`, and the
 * path is a shortest one (as long as the reference's BFS distance). Labels and types must match.
 */
function checkPath(t: ExecutionContext, snap: RefSnapshot, p: RetainerPath, instances: number[], what: string) {
  const { steps } = p
  t.true(steps.length > 0, `${what}: empty path`)
  const nodes = steps.map((s) => snap.byId.get(s.id))
  t.true(
    nodes.every((n) => n !== undefined),
    `${what}: a step's id is not in the snapshot`,
  )
  if (nodes.some((n) => n === undefined)) return
  t.is(steps[0].edge, null, `${what}: the first step's edge is null`)
  t.is(steps[0].edge_type, null)
  t.true(
    snap.nodes[0].edges.some((e) => e.to === nodes[0]!.index && RefSnapshot.follows(0, e)),
    `${what}: first step ${steps[0].node} #${steps[0].id} is not a child of the synthetic root`,
  )
  for (let k = 1; k < steps.length; k++) {
    const from = nodes[k - 1]!
    const ok = from.edges.some(
      (e) =>
        e.to === nodes[k]!.index &&
        e.type === steps[k].edge_type &&
        String(e.name) === rawEdge(steps[k]) &&
        RefSnapshot.follows(from.index, e),
    )
    t.true(ok, `${what}: no ${steps[k].edge_type} edge ${steps[k].edge} from #${from.id} to #${steps[k].id}`)
  }
  for (let k = 0; k < steps.length; k++) {
    const n = nodes[k]!
    t.is(steps[k].type, n.type, `${what}: type of step ${k}`)
    if (n.type === 'object' && n.name !== '') t.is(steps[k].node, n.name, `${what}: label of step ${k}`)
    if (n.type === 'string') t.is(steps[k].node, '(string)')
  }
  const last = nodes[steps.length - 1]!
  t.true(instances.includes(last.index), `${what}: the path does not end at a new instance`)
  t.is(steps.length, snap.distance(last.index), `${what}: not a shortest path`)
  t.is(steps[steps.length - 1].node, what)
  // The rendering: each label followed by the edge leaving it; a key of a program's keyed store
  // (by the reference's own reading of the holder) as `[·]`.
  const rendered = steps.map((s, k) => {
    const next = steps[k + 1]
    if (!next) return escape(s.node)
    const index = `\\[${escape(rawEdge(next)!)}\\]`
    const named = `\\.${escape(rawEdge(next)!)}`
    const holder = nodes[k]!
    const keyed = holder.type !== 'synthetic' && snap.anyKey(holder, next.edge_type, rawEdge(next))
    t.is(next.keyed, keyed, `${what}: keyed step ${k + 1}`)
    const edge = keyed
      ? '\\[·\\]'
      : next.edge_type === 'element' || next.edge_type === 'hidden'
        ? index
        : isIndexEdge(next.edge_type, rawEdge(next))
          ? `(?:${index}|${named})`
          : named
    return escape(s.node) + edge
  })
  t.regex(p.path, new RegExp(`^${rendered.join(' → ')}$`), `${what}: path rendering`)
}
/**
 * A step's edge name or index. The implementation writes indices already bracketed (`"[68]"`,
 * as in the rendered path); the bare index (`"68"`) is accepted as well.
 */
function rawEdge(s: { edge: string | null; edge_type: string | null }): string | null {
  const m = /^\[(\d+)\]$/.exec(s.edge ?? '')
  return m && isIndexEdge(s.edge_type, m[1]) ? m[1] : s.edge
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// ---------------------------------------------------------------------------------------------
// 0. The reference itself: it must find what the fixtures built, or the comparisons prove nothing.

const SCENARIOS = [
  { name: 'map', what: 'LeakedViaMap', holder: 'retentionCache', edges: ['retentionCache', 'table'] },
  {
    name: 'closure',
    what: 'LeakedViaClosure',
    holder: 'retentionHandlers',
    edges: ['retentionHandlers', 'context', 'captured'],
  },
  {
    name: 'listener',
    what: 'LeakedViaListener',
    holder: 'retentionBus',
    edges: ['retentionBus', '_events', 'data', 'context', 'leaked'],
  },
] as const

for (const s of SCENARIOS) {
  test(`reference: ${s.name} scenario has ${K} ${s.what} on one path shape, exclusively owned`, (t) => {
    const { a, b } = scenario(s.name)
    const A = ref(a)
    const B = ref(b)
    const inst = B.newInstances(A, s.what)
    t.is(inst.length, K)
    const groups = groupPaths(B, inst)
    t.is(groups.length, 1, groups.map((g) => `${g.count} ${g.shape}`).join('\n'))
    t.is(groups[0].count, K)
    t.true(inOrder(edgeNames(groups[0].example), [...s.edges]), groups[0].shape)
    // Every instance owns the same subgraph (instance, payload object, array, elements, box), and
    // nothing is kept alive jointly by two instances: both definitions of the set's retained size
    // agree, and each instance retains the same amount.
    const byRemoval = B.retainedByRemoval(inst)
    const byDominance = B.retainedByDominance(inst)
    t.is(byRemoval, byDominance)
    const one = B.retainedByRemoval([inst[0]])
    t.true(one >= 5 * 16, `one instance retains ${one}`)
    t.is(byRemoval, K * one)
    // The holder retains at least all of it.
    const holder = globalProperty(B, s.holder)
    t.true(B.retainedByRemoval([holder]) >= byRemoval)
  })
}

// ---------------------------------------------------------------------------------------------
// 1. diffFiles(a, b, { retainers: true })

for (const s of SCENARIOS) {
  test(`diffFiles --retainers: ${s.what} (${s.name}) path, count and retained size match the reference`, async (t) => {
    const { a, b } = scenario(s.name)
    const A = ref(a)
    const B = ref(b)
    const inst = B.newInstances(A, s.what)
    const expected = B.retainedByRemoval(inst)

    const diff = await api.diffFiles(a, b, { retainers: true })
    const row = diff.change.details.find((d) => d.what === s.what)
    t.truthy(row, `no ${s.what} row`)
    if (!row) return
    t.is(row['+'], K)
    t.is(row.retained_size_bytes, expected, `${s.what}: retained size (reference: removal of the ${K} instances)`)
    t.regex(row.retained_size ?? '', /^[\d.]+ (bytes|kb|mb|gb)$/)
    const retainers = row.retainers ?? []
    t.true(retainers.length >= 1)
    t.deepEqual(
      retainers.map((r) => r.count),
      [...retainers.map((r) => r.count)].sort((x, y) => y - x),
      'sorted by count, descending',
    )
    t.true(
      retainers.reduce((sum, r) => sum + r.count, 0) <= K,
      'each new instance is counted in at most one path shape',
    )
    const top = retainers[0]
    t.is(top.count, K, `top path ${top.path}`)
    t.true(inOrder(edgeNames(top.steps), [...s.edges]), `edges ${edgeNames(top.steps).join(', ')}`)
    t.true(top.path.includes(s.holder))
    for (const r of retainers) checkPath(t, B, r, inst, s.what)

    // Rows the option leaves alone, and the classic result without the option.
    const plain = await api.diffFiles(a, b)
    for (const d of plain.change.details) {
      t.false('retainers' in d || 'retained_size_bytes' in d || 'retained_size' in d, `${d.what} has extra keys`)
    }
    t.deepEqual(
      plain.change.details.map((d) => [d.what, d['+'], d['-'], d.size_bytes]),
      diff.change.details.map((d) => [d.what, d['+'], d['-'], d.size_bytes]),
    )
  })
}

test('diffFiles --retainers: retained size is by dominance when instances share what they retain', async (t) => {
  // No instance of LeakedUnseeded exists before the snapshot A, so the hidden classes (object
  // shapes) its constructor creates are held only by the new instances, jointly: none of them
  // dominates those shapes. Removing the whole set frees them; the contract's definition (what
  // the instances dominate) does not count them.
  const { a, b } = scenario('unseeded')
  const A = ref(a)
  const B = ref(b)
  const inst = B.newInstances(A, 'LeakedUnseeded')
  t.is(inst.length, K)
  const byDominance = B.retainedByDominance(inst)
  const byRemoval = B.retainedByRemoval(inst)
  const all = B.reachableFromRoot()
  const without = B.reach(new Set(inst))
  const dominated = new Set(inst.flatMap((x) => [...B.dominated(x)]))
  const shared = B.nodes.filter((n) => all[n.index] && !without[n.index] && !dominated.has(n.index))
  t.true(shared.length > 0, 'reference: jointly retained nodes exist')
  t.deepEqual([...new Set(shared.map((n) => n.type))], ['object shape'])
  t.is(
    byRemoval - byDominance,
    shared.reduce((s, n) => s + n.self, 0),
  )
  t.log(`dominance ${byDominance}, removal ${byRemoval}, shared shapes ${shared.map((n) => `#${n.id}:${n.self}`)}`)

  const diff = await api.diffFiles(a, b, { retainers: true })
  const row = diff.change.details.find((d) => d.what === 'LeakedUnseeded')
  t.is(row?.['+'], K)
  t.is(row?.retained_size_bytes, byDominance)
  t.is(row?.retainers?.[0]?.count, K)
})

/**
 * The sessions scenario, read by the reference: every new string under a new Session's
 * `payload` (by the reference's own BFS path), the outermost payload strings, and how many hops
 * the deepest part lies below its payload.
 */
function sessionStrings(a: string, b: string) {
  const A = ref(a)
  const B = ref(b)
  const strings = B.newInstances(A, 'String')
  const outermost = new Set<number>()
  for (const n of B.nodes) {
    if (n.type !== 'object' || n.name !== 'Session' || A.byId.has(n.id)) continue
    for (const e of n.edges) if (e.type === 'property' && e.name === 'payload') outermost.add(B.nodes[e.to].id)
  }
  let deepest = 0
  const under = strings.filter((x) => {
    const steps = B.pathTo(x) ?? []
    const at = steps.findIndex((s) => outermost.has(s.id))
    if (at >= 0) deepest = Math.max(deepest, steps.length - 1 - at)
    return at >= 0
  })
  return { B, strings, outermost, under, deepest }
}

test('diffFiles --retainers: a payload built by += is one path to the outermost string, one group', async (t) => {
  const { a, b } = scenario('sessions')
  const { B, strings, outermost, under, deepest } = sessionStrings(a, b)
  t.is(outermost.size, K, 'reference: one payload per new Session')
  t.true(deepest >= 6, `reference: the payloads' parts lie ${deepest} hops deep`)
  t.true(under.length > 12 * K, `reference: ${under.length} new strings under the payloads`)
  t.true(
    B.nodes.some((n) => outermost.has(n.id) && n.type === 'concatenated string'),
    'reference: payloads are cons strings',
  )

  const diff = await api.diffFiles(a, b, { retainers: true, maxPaths: 50 })
  const row = diff.change.details.find((d) => d.what === 'String')
  const groups = (row?.retainers ?? []).filter((p) => p.path.includes('Session.payload'))
  t.is(groups.length, 1, groups.map((g) => `${g.count} × ${g.path}`).join('\n'))
  const [g] = groups
  if (!g) return
  t.is(g.count, under.length, 'every part of every payload in the one group')
  t.regex(g.path, /retentionSessions → Array\[·\] → Session\.payload → \(concatenated string\)$/)
  t.notRegex(g.path, /\.(first|second)\b/)
  const last = g.steps.at(-1)!
  t.deepEqual(
    [last.edge, last.edge_type, last.node, last.type],
    ['payload', 'property', '(concatenated string)', 'concatenated string'],
  )
  t.true(outermost.has(last.id), 'the last step is the outermost string a Session holds')
  checkPath(t, B, g, strings, '(concatenated string)')
  for (const p of row?.retainers ?? []) t.notRegex(p.path, /\(\w+ ?\w*\)\.(first|second|parent)\b/, p.path)
})

test('diffFiles --retainers and the CLI: the owner (Session) is explained before its strings; details keep their order', async (t) => {
  const { a, b } = scenario('sessions')
  const diff = await api.diffFiles(a, b, { retainers: true })
  const explained = diff.change.explained ?? []
  t.deepEqual(
    [...explained].sort(),
    diff.change.details
      .filter((d) => d.retainers)
      .map((d) => d.what)
      .sort(),
    'explained lists exactly the rows with retainers',
  )
  const at = (w: string) => explained.indexOf(w)
  t.true(at('Session') >= 0 && at('String') > at('Session'), explained.join(', '))
  const rows = explained.map((w) => diff.change.details.find((d) => d.what === w)!)
  // The program's classes by retained size, then those whose new instances are all of V8's own
  // types (by the reference's reading of s2, once the parts program objects hold are left out).
  const [A, B] = [a, b].map(ref)
  const fresh = (w: string) => B.newInstances(A, w)
  const program = explained.flatMap(fresh).filter((i) => !V8_OWN.has(B.nodes[i].type))
  const held = new Set(program.flatMap((p) => [...B.dominated(p)].filter((d) => d !== p)))
  const internal = (w: string) =>
    fresh(w)
      .filter((i) => !held.has(i))
      .every((i) => V8_OWN.has(B.nodes[i].type))
  const order = (list: typeof rows) => list.map((r) => r.retained_size_bytes ?? 0).sort((x, y) => y - x)
  t.deepEqual(
    rows.map((r) => r.retained_size_bytes ?? 0),
    [...order(rows.filter((r) => !internal(r.what))), ...order(rows.filter((r) => internal(r.what)))],
    `the program's classes by retained size first, then V8's own: ${explained.join(', ')}`,
  )
  const session = rows[at('Session')]
  const string = rows[at('String')]
  t.true(session['+'] < string['+'] && session.size_bytes < string.size_bytes, 'by count or size, String would lead')
  // memwatch's order (classic: byte order of `what`), the same as without retainers.
  const whats = diff.change.details.map((d) => d.what)
  t.deepEqual(
    whats,
    [...whats].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
  )
  const plain = await api.diffFiles(a, b)
  t.deepEqual(
    plain.change.details.map((d) => d.what),
    whats,
  )
  t.false('explained' in plain.change)

  const table = cli(['diff', a, b, '--retainers', '--group', 'classic', '--top', '0'])
  t.is(table.status, 0, table.stderr)
  const lines = table.stdout.split('\n')
  const line = (w: string) => lines.findIndex((l) => l.startsWith(`${w} `))
  t.true(line('Session') > 0 && line('String') > line('Session'), table.stdout)
  t.regex(
    table.stdout,
    /\.retentionSessions → Array\[·\] → Session\.payload → \(concatenated string\) {2}\(e\.g\. \[\d+\]/,
  )
  t.notRegex(table.stdout, /\(string\)\.first/)
  const json = cli(['diff', a, b, '--retainers', '--group', 'classic', '--json'])
  t.is(json.status, 0, json.stderr)
  const parsed = JSON.parse(json.stdout) as memwatch.HeapDiffResult
  t.deepEqual(parsed.change.explained, explained)
  t.deepEqual(
    parsed.change.details.map((d) => d.what),
    whats,
  )
})

// ---------------------------------------------------------------------------------------------
// 2. topRetainers

test('topRetainers: the Map holding the leak, with its removal-based retained size; the top 10 exact', async (t) => {
  const { b } = scenario('map')
  const B = ref(b)
  const map = globalProperty(B, 'retentionCache')
  const mapRetained = B.retainedByRemoval([map])
  t.is(B.nodes[map].name, 'Map')
  t.true(mapRetained >= K * 200, `reference: the Map retains ${mapRetained}`)

  const def = await api.topRetainers(b)
  t.is(def.length, 20, 'top defaults to 20')
  const all = await api.topRetainers(b, { top: 5000 })
  t.deepEqual(
    all.slice(0, 20).map((e) => e.id),
    def.map((e) => e.id),
  )
  t.deepEqual(
    all.map((e) => e.retained_size_bytes),
    [...all.map((e) => e.retained_size_bytes)].sort((x, y) => y - x),
    'largest first',
  )
  for (const e of all) {
    const n = B.byId.get(e.id)
    t.truthy(n, `id ${e.id} not in the file`)
    if (!n) continue
    t.not(n.index, 0, 'the synthetic root is not listed')
    t.not(n.type, 'synthetic', `synthetic node ${n.name} listed`)
    t.is(e.self_size, n.self)
    t.is(e.type, n.type)
    t.true(e.retained_size_bytes >= e.self_size)
  }
  const entry = all.find((e) => e.id === B.nodes[map].id)
  t.truthy(entry, 'the Map is listed')
  if (entry) {
    t.is(entry.retained_size_bytes, mapRetained)
    t.is(entry.what, 'Map', JSON.stringify(entry))
    t.regex(entry.retained_size, /^[\d.]+ (bytes|kb|mb|gb)$/)
  }
  // The largest ones, checked one by one against removal.
  for (const e of all.slice(0, 10)) {
    t.is(e.retained_size_bytes, B.retainedByRemoval([B.byId.get(e.id)!.index]), `${e.name} #${e.id}`)
  }
})

// ---------------------------------------------------------------------------------------------
// 3. findLeaks(s1, s2, s3)

/** The three-snapshot reference: new in s2 (not in s1), still in s3, grouped by classic `what`. */
/** Node types V8 makes for itself (compiled code, hidden classes, internal arrays). */
const V8_OWN = new Set(['code', 'object shape', 'hidden', 'synthetic', 'array'])

/**
 * The survivors of three snapshots by classic class. A survivor of V8's own types that a survivor
 * of the program's types dominates is that object's part (a new object's elements store) and is
 * left out of the rows; `referenceSurvivorCount` still counts it.
 */
function survivorsOf(s1: RefSnapshot, s2: RefSnapshot, s3: RefSnapshot) {
  return s2.nodes
    .filter((n) => memwatchWhat(n.type, n.name) !== null && !s1.byId.has(n.id) && s3.byId.has(n.id))
    .map((n) => s3.byId.get(n.id)!)
}

const referenceSurvivorCount = (s1: RefSnapshot, s2: RefSnapshot, s3: RefSnapshot) => survivorsOf(s1, s2, s3).length

function referenceLeaks(s1: RefSnapshot, s2: RefSnapshot, s3: RefSnapshot) {
  const rows = new Map<string, { what: string; count: number; size_bytes: number; indices: number[] }>()
  const survivors = survivorsOf(s1, s2, s3)
  const held = new Set<number>()
  for (const p of survivors) {
    if (V8_OWN.has(p.type)) continue
    for (const d of s3.dominated(p.index)) if (d !== p.index) held.add(d)
  }
  for (const later of survivors) {
    const what = memwatchWhat(later.type, later.name)!
    if (V8_OWN.has(later.type) && held.has(later.index)) continue
    if (!rows.has(what)) rows.set(what, { what, count: 0, size_bytes: 0, indices: [] })
    const row = rows.get(what)!
    row.count++
    row.size_bytes += later.self
    row.indices.push(later.index)
  }
  return [...rows.values()].sort((x, y) => y.count - x.count)
}

test('reference: three-snapshot scenario has K Leaky surviving on one path shape, no Transient', (t) => {
  const { s1, s2, s3 } = scenario('three')
  const [R1, R2, R3] = [s1, s2, s3].map(ref)
  const expected = referenceLeaks(R1, R2, R3)
  const leaky = expected.find((r) => r.what === 'Leaky')
  t.is(leaky?.count, K)
  t.is(
    expected.find((r) => r.what === 'Transient'),
    undefined,
  )
  t.is(R2.find('object', 'Transient').length, T + 1, 'Transients exist in s2 (and the seed)')
  t.is(R3.find('object', 'Transient').length, 1, 'only the seed Transient is left in s3')
  const groups = groupPaths(R3, leaky!.indices)
  t.is(groups.length, 1)
  t.is(groups[0].count, K)
  t.true(inOrder(edgeNames(groups[0].example), ['retentionLeaky']), groups[0].shape)
  t.is(R3.retainedByRemoval(leaky!.indices), R3.retainedByDominance(leaky!.indices))
  t.is(R3.retainedByRemoval(leaky!.indices), K * R3.retainedByRemoval([leaky!.indices[0]]))
  t.log(expected.map((r) => `${r.what}:${r.count}/${r.size_bytes}`).join(' '))
})

test('findLeaks: exactly the Leaky instances survive; Transients are not reported', async (t) => {
  const { s1, s2, s3 } = scenario('three')
  const [R1, R2, R3] = [s1, s2, s3].map(ref)
  const expected = referenceLeaks(R1, R2, R3)
  const leaky = expected.find((r) => r.what === 'Leaky')
  t.is(leaky?.count, K, 'reference finds the Leaky instances')
  t.is(
    expected.find((r) => r.what === 'Transient'),
    undefined,
  )
  t.is(R2.find('object', 'Transient').length, T + 1, 'reference: Transients exist in s2 (and the seed)')

  const result = await api.findLeaks(s1, s2, s3)
  const row = result.leaks.find((r) => r.what === 'Leaky')
  t.truthy(row)
  t.is(row?.count, K)
  t.is(
    result.leaks.find((r) => r.what === 'Transient'),
    undefined,
  )
  // The whole table against the reference (classic grouping, sizes as in s3).
  const byWhat = (rows: Array<{ what: string; count: number; size_bytes: number }>) =>
    Object.fromEntries(rows.map((r) => [r.what, [r.count, r.size_bytes]]))
  t.deepEqual(byWhat(result.leaks), byWhat(expected))
  t.is(result.leaked, referenceSurvivorCount(R1, R2, R3), 'every survivor counts, parts folded into owners too')
  t.true(result.allocated >= result.leaked + T)
  if (!row) return
  t.is(row.retained_size_bytes, R3.retainedByDominance(leaky!.indices), 'Leaky retained size in s3')
  t.is(row.retained_size_bytes, R3.retainedByRemoval(leaky!.indices))
  t.regex(row.size, /^[\d.]+ (bytes|kb|mb|gb)$/)
  t.true(row.retainers.length >= 1)
  t.is(row.retainers[0].count, K, row.retainers[0].path)
  t.true(inOrder(edgeNames(row.retainers[0].steps), ['retentionLeaky']))
  checkPath(t, R3, row.retainers[0], leaky!.indices, 'Leaky')
  // The program's classes by retained size, then V8's own (by the reference's node types); none
  // of the program's is a part outranking its owner here.
  const own = new Set(expected.filter((r) => r.indices.every((i) => V8_OWN.has(R3.nodes[i].type))).map((r) => r.what))
  t.deepEqual(
    result.leaks.map((r) => [r.what, r.internal]),
    result.leaks.map((r) => [r.what, own.has(r.what)]),
  )
  const sorted = (rows: typeof result.leaks) =>
    [...rows]
      .sort((x, y) => (y.retained_size_bytes ?? 0) - (x.retained_size_bytes ?? 0) || y.count - x.count)
      .map((r) => `${r.what}:${r.retained_size_bytes}`)
  t.deepEqual(
    result.leaks.map((r) => `${r.what}:${r.retained_size_bytes}`),
    [...sorted(result.leaks.filter((r) => !own.has(r.what))), ...sorted(result.leaks.filter((r) => own.has(r.what)))],
    "the program's classes by retained size, then V8's own",
  )
})

// ---------------------------------------------------------------------------------------------
// 4. checkLeaks (in a fresh process: small heap, nothing else allocating)

test('checkLeaks: one leaked object per call is reported; dropped and bounded allocations are not', (t) => {
  const iterations = 10
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'fixtures', 'retention-checkleaks.js'), String(iterations)],
    {
      encoding: 'utf8',
      timeout: 120000,
    },
  )
  const r = JSON.parse(out.trim().split('\n').pop()!) as {
    leaky: CheckResult
    dropping: CheckResult
    bounded: CheckResult
    leakyCalls: number
    leakyStored: number
    boundedSize: number
  }
  t.is(r.leakyCalls, 1 + 2 * iterations, 'warmup 1, then two rounds of iterations')
  t.is(r.leakyStored, r.leakyCalls)
  t.is(r.leaky.iterations, iterations)
  t.true(r.leaky.leaked)
  const row = r.leaky.leaks.find((l) => l.what === 'CheckLeaked')
  t.truthy(row, JSON.stringify(r.leaky.leaks.map((l) => [l.what, l.count])))
  t.is(row?.count, iterations)
  t.true((row?.retainers.length ?? 0) >= 1)
  for (const l of r.leaky.leaks) t.true(l.count >= iterations, `${l.what} reported with ${l.count}`)

  t.is(
    r.dropping.leaks.find((l) => l.what === 'CheckDropped'),
    undefined,
  )
  t.is(
    r.bounded.leaks.find((l) => l.what === 'CheckBounded'),
    undefined,
  )
  t.is(r.boundedSize, 3)
  // V8's own objects (code, hidden classes) are left out, so a function that leaks nothing is
  // not flagged at all (on Node 20 the bounded cache once drew `Code:57` before they were).
  t.false(r.dropping.leaked, JSON.stringify(r.dropping.leaks.map((l) => [l.what, l.count])))
  t.false(r.bounded.leaked, JSON.stringify(r.bounded.leaks.map((l) => [l.what, l.count])))
  for (const res of [r.dropping, r.bounded]) {
    t.is(res.leaked, res.leaks.length > 0)
    for (const l of res.leaks) t.true(l.count >= iterations)
  }
  t.log(
    'dropping:',
    r.dropping.leaked,
    r.dropping.leaks.map((l) => `${l.what}:${l.count}`),
    'bounded:',
    r.bounded.leaked,
    r.bounded.leaks.map((l) => `${l.what}:${l.count}`),
  )
})

// ---------------------------------------------------------------------------------------------
// 5. In process: HeapDiff with retainers

class InProcessLeak {
  constructor(
    public i: number,
    public payload = [i, i + 1, i + 2],
  ) {}
}
class InProcessLeakToo {
  constructor(
    public i: number,
    public payload = [i, i + 1, i + 2],
  ) {}
}
const inProcessCache = new Map<number, InProcessLeak>()
const inProcessCacheToo = new Map<number, InProcessLeakToo>()

// Filled by functions that return before end(): otherwise the loop's frame (stack roots) holds the
// Map and the last instance, and that, not the module variable, is the shortest path.
function fillInProcess(n: number) {
  for (let i = 0; i < n; i++) inProcessCache.set(i, new InProcessLeak(i))
}
function fillInProcessToo(n: number) {
  for (let i = 0; i < n; i++) inProcessCacheToo.set(i, new InProcessLeakToo(i))
}

test.serial('HeapDiff({ retainers: true }) and end({ retainers: true }) give the Map path with count K', (t) => {
  const hd = new api.HeapDiff({ retainers: true })
  fillInProcess(K)
  const diff = hd.end()
  const row = diff.change.details.find((d) => d.what === 'InProcessLeak')
  t.is(row?.['+'], K)
  const top = row?.retainers?.[0]
  t.is(top?.count, K, row?.retainers?.map((r) => `${r.count} ${r.path}`).join('\n'))
  t.true(inOrder(edgeNames(top?.steps ?? []), ['inProcessCache', 'table']), top?.path)
  t.is(top?.steps.at(-1)?.node, 'InProcessLeak')
  t.true((row?.retained_size_bytes ?? 0) >= K * 3 * 16)

  const hd2 = new api.HeapDiff()
  fillInProcessToo(K)
  const diff2 = hd2.end({ retainers: true })
  const row2 = diff2.change.details.find((d) => d.what === 'InProcessLeakToo')
  t.is(row2?.['+'], K)
  const top2 = row2?.retainers?.[0]
  t.is(top2?.count, K, row2?.retainers?.map((r) => `${r.count} ${r.path}`).join('\n'))
  t.true(inOrder(edgeNames(top2?.steps ?? []), ['inProcessCacheToo', 'table']), top2?.path)
  t.is(inProcessCache.size + inProcessCacheToo.size, 2 * K)
  // Without the option, the classic rows only.
  const hd3 = new api.HeapDiff()
  const plain = hd3.end()
  t.true(plain.change.details.every((d) => !('retainers' in d)))
})

/** The demo's session (examples/leaky-service.js): a small object holding a 512-byte string. */
class DemoSession {
  payload: string
  createdAt = Date.now()
  constructor(public id: number) {
    this.payload = 'x'.repeat(512) + id
  }
}
const demoSessions: DemoSession[] = []
function fillDemo(n: number) {
  for (let i = 0; i < n; i++) demoSessions.push(new DemoSession(i))
}

test.serial(
  "end({ retainers: true }) on the demo's leak: DemoSession is explained before the strings it holds",
  (t) => {
    const n = 2000
    const hd = new api.HeapDiff()
    fillDemo(n)
    const diff = hd.end({ retainers: true, retainerClasses: 3, maxPaths: 2 })
    const explained = diff.change.explained ?? []
    const at = (w: string) => explained.indexOf(w)
    t.true(at('DemoSession') >= 0 && at('String') > at('DemoSession'), explained.join(', '))
    const row = (w: string) => diff.change.details.find((d) => d.what === w)!
    t.is(row('DemoSession')['+'], n)
    t.true(row('String')['+'] > n && row('String').size_bytes > row('DemoSession').size_bytes)
    t.true((row('DemoSession').retained_size_bytes ?? 0) > (row('String').retained_size_bytes ?? 0))
    // The payloads' parts are one path, to the string the session holds.
    const payload = (row('String').retainers ?? []).filter((p) => p.path.includes('DemoSession.payload'))
    t.is(
      payload.length,
      1,
      row('String')
        .retainers?.map((p) => `${p.count} × ${p.path}`)
        .join('\n'),
    )
    t.regex(payload[0]?.path ?? '', /DemoSession\.payload → \(concatenated string\)$/)
    t.true((payload[0]?.count ?? 0) >= n)
    // end() keeps memwatch's order with retainers too.
    const whats = diff.change.details.map((d) => d.what)
    t.deepEqual(
      whats,
      [...whats].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
    )
    t.is(demoSessions.length, n)
  },
)

// ---------------------------------------------------------------------------------------------
// 6. CLI

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'cli.js'), ...args], {
    encoding: 'utf8',
    timeout: 120000,
    maxBuffer: 64 << 20,
  })
}

test('CLI: top --json lists the holder; leaks names Leaky; diff --retainers prints the path', (t) => {
  const { b } = scenario('map')
  const B = ref(b)
  const map = B.nodes[globalProperty(B, 'retentionCache')]

  const top = cli(['top', b, '--top', '100', '--json'])
  t.is(top.status, 0, top.stderr)
  const entries = JSON.parse(top.stdout) as TopEntry[]
  t.is(entries.length, 100)
  const entry = entries.find((e) => e.id === map.id)
  t.truthy(entry, 'the Map is listed')
  t.is(entry?.retained_size_bytes, B.retainedByRemoval([map.index]))
  const five = cli(['top', b, '--top', '5', '--json'])
  t.is(five.status, 0, five.stderr)
  t.is((JSON.parse(five.stdout) as TopEntry[]).length, 5)
  const table = cli(['top', b])
  t.is(table.status, 0, table.stderr)
  t.true(table.stdout.trim().length > 0)

  const { s1, s2, s3 } = scenario('three')
  const leaks = cli(['leaks', s1, s2, s3])
  t.is(leaks.status, 0, leaks.stderr)
  t.regex(leaks.stdout, /Leaky/)
  t.notRegex(leaks.stdout, /Transient/)
  t.regex(leaks.stdout, /retentionLeaky/)
  const leaksJson = cli(['leaks', s1, s2, s3, '--json'])
  t.is(leaksJson.status, 0, leaksJson.stderr)
  t.is((JSON.parse(leaksJson.stdout) as LeaksResult).leaks.find((r) => r.what === 'Leaky')?.count, K)

  const { a } = scenario('map')
  const diff = cli(['diff', a, b, '--retainers'])
  t.is(diff.status, 0, diff.stderr)
  t.regex(diff.stdout, /LeakedViaMap/)
  t.regex(diff.stdout, /retentionCache → Map\.table/)
  t.notRegex(cli(['diff', a, b]).stdout, /retentionCache/, 'paths only with --retainers')
  t.is(cli(['leaks', s1, s2]).status, 2)
  t.is(cli(['top']).status, 2)
  t.is(cli(['top', join(dir, 'missing.heapsnapshot')]).status, 3)
})

test('CLI: large --json output reaches a pipe whole', (t) => {
  // The JSON of 5000 entries is ~2.5 MB, far more than a pipe buffer: the CLI must not exit
  // before stdout is flushed.
  const { b } = scenario('map')
  const r = cli(['top', b, '--top', '5000', '--json'])
  t.is(r.status, 0, r.stderr)
  let entries: TopEntry[] = []
  t.notThrows(() => {
    entries = JSON.parse(r.stdout)
  }, `stdout cut at ${r.stdout.length} characters`)
  t.is(entries.length, 5000)
})
