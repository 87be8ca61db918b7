// lib/sites.ts on hand-built profiles whose answers are worked out here, not by the code.
import test from 'ava'

import {
  grownSites,
  profileRows,
  nodeCounts,
  rawSize,
  sizeCandidates,
  sampleCount,
  scaledCount,
  signTail,
  siteGrowth,
  SiteTable,
  siteTotals,
  summarize,
  type CallFrame,
  type HeapProfile,
  type ProfileNode,
  type ProfileSample,
} from '../lib/sites'

const I = 524288

function cf(functionName: string, url: string, line0: number, col0: number): CallFrame {
  return { functionName, scriptId: url ? '7' : '0', url, lineNumber: line0, columnNumber: col0 }
}

let nextId = 1
function node(callFrame: CallFrame, selfSize: number, children: ProfileNode[] = []): ProfileNode {
  return { callFrame, selfSize, id: nextId++, children }
}

/** V8's value for one sample of `size` bytes: size × round(1 / (1 − e^(−size/I))), by hand. */
function scaled(size: number): number {
  return size * Math.floor(1 / -Math.expm1(-size / I) + 0.5)
}

test('V8 scaling: a 32-byte sample at 512 KiB stands for 16385 objects, a 1 MiB one for 1', (t) => {
  // 1 / (1 − e^(−1/16384)) = 16384.5000051, rounded up: V8 adds 0.5 and truncates.
  t.is(scaledCount(32, I), 16385)
  t.is(scaledCount(32, I, 2), 32769)
  // 1 / (1 − e^(−2)) = 1.1565 → 1
  t.is(scaledCount(2 * I, I), 1)
  t.is(scaled(32), 524320)
})

test('rawSize recovers the object size behind an inspector sample', (t) => {
  for (const s of [16, 24, 48, 64, 120, 272, 1016, 4096, 65536, 524288, 3 * I]) {
    const back = rawSize(scaled(s), I)
    t.truthy(back, `size ${s}`)
    // Where two sizes map to the same value the smaller aligned one is taken; both fit.
    t.is(back! * scaledCount(back!, I), scaled(s), `size ${s}`)
  }
  // 524320 = 32 × 16385 = 40 × 13108: ambiguous, the smaller multiple of 8 comes first.
  t.is(sizeCandidates(524320, I)[0], 32)
  t.true(sizeCandidates(524320, I).includes(40))
  t.is(rawSize(524320, I), 32)
  t.is(sampleCount(524320, I), 16385)
  t.is(sampleCount(scaled(3 * I), I), 1)
  // A value no size at this interval produces (a profile taken at another interval).
  t.is(rawSize(7, I), null)
  t.is(sampleCount(7, I), 1)
})

test("nodeCounts tells the sizes behind a node's samples apart by its selfSize", (t) => {
  // 3 samples of 272 bytes (value 524416, which 128 bytes also gives, and more) and 1 of 24
  // (value 524304, which 16 also gives): selfSize = 272 × round(3 × 1928.03) + 24 × 21846.
  const c272 = 1 / -Math.expm1(-272 / I)
  const c24 = 1 / -Math.expm1(-24 / I)
  const selfSize = 272 * Math.floor(3 * c272 + 0.5) + 24 * Math.floor(c24 + 0.5)
  const n = node(cf('f', APP, 0, 0), selfSize)
  const head = node(cf('(root)', '', -1, -1), 0, [n])
  const samples = [1, 2, 3].map((o) => ({ size: scaled(272), nodeId: n.id, ordinal: o }))
  samples.push({ size: scaled(24), nodeId: n.id, ordinal: 4 })
  t.is(sizeCandidates(scaled(272), I)[0], 128)
  t.true(sizeCandidates(scaled(272), I).includes(272))
  t.is(sizeCandidates(scaled(24), I)[0], 16)
  t.true(sizeCandidates(scaled(24), I).includes(24))
  const counts = nodeCounts({ head, samples }, I).get(n.id)!
  t.is(counts.get(scaled(272)), Math.floor(c272 + 0.5))
  // One sample alone says nothing more: its first candidate (16 bytes, 32769 objects) stands.
  t.is(counts.get(scaled(24)), scaled(24) / 16)
})

test('signTail is the binomial tail', (t) => {
  t.true(Math.abs(signTail(5, 5) - 1 / 32) < 1e-12)
  t.true(Math.abs(signTail(10, 10) - 1 / 1024) < 1e-12)
  t.is(signTail(0, 7), 1)
  t.is(signTail(8, 7), 0)
  // P(X ≥ 2 | n = 3) = (3 + 1) / 8
  t.true(Math.abs(signTail(2, 3) - 0.5) < 1e-12)
  // Normal approximation above 1000: the median is a coin flip.
  t.true(Math.abs(signTail(1001, 2000) - 0.5) < 0.01)
})

// Three sites: `leak` retains (allocates through the `Array` builtin, no url), `fill` is a cache
// replacing entries, `drop` churns; all called from `main`. Sizes are 272 bytes (scaled()).
const APP = '/app/server.js'
const root = cf('(root)', '', -1, -1)
const main = cf('main', APP, 9, 0)
const leak = cf('leak', APP, 2, 16)
const arrayBuiltin = cf('Array', '', -1, -1)
const fill = cf('fill', APP, 4, 13)
const drop = cf('drop', APP, 6, 13)
const OWN = '/node_modules/heapdiff/lib/sampling.js'

function profile(samples: Array<[site: 'leak' | 'fill' | 'drop' | 'own', ordinal: number]>): HeapProfile {
  const nLeak = node(arrayBuiltin, 0)
  const nFill = node(fill, 0)
  const nDrop = node(drop, 0)
  const nOwn = node(cf('read', OWN, 200, 3), 0, [node(cf('parse', '', -1, -1), 0)])
  const head = node(root, 0, [
    node(main, 0, [node(leak, 0, [nLeak]), nFill, nDrop]),
    node(cf('heapProfile', '/app/server.js', 20, 0), 0, [nOwn]),
  ])
  const ids = { leak: nLeak.id, fill: nFill.id, drop: nDrop.id, own: nOwn.children[0].id }
  // V8's selfSize: the node's samples of one size scaled together, 272 × round(n × scale).
  const per = { leak: nLeak, fill: nFill, drop: nDrop, own: nOwn.children[0] }
  for (const [site, n] of Object.entries(per)) {
    const count = samples.filter(([s]) => s === site).length
    n.selfSize = 272 * Math.floor(count / -Math.expm1(-272 / I) + 0.5)
  }
  const list: ProfileSample[] = samples.map(([site, ordinal]) => ({ size: scaled(272), nodeId: ids[site], ordinal }))
  return { head, samples: list }
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

test('grownSites: the leak grows by its new samples; a full cache and churn are not listed', (t) => {
  const table = new SiteTable((url) => url === OWN)
  // Start: leak 2 samples, cache 3, churn 1, heapdiff's own 1.
  const a = profile([
    ['leak', 1],
    ['leak', 2],
    ['fill', 3],
    ['fill', 4],
    ['fill', 5],
    ['drop', 6],
    ['own', 7],
  ])
  // End: leak keeps its 2 and gains 20; the cache lost #3 and gained #40 (full: one in, one
  // out); the churn sample is gone and another not yet collected one is there; own grew by 30.
  const b = profile([
    ['leak', 1],
    ['leak', 2],
    ...range(10, 20).map((o): ['leak', number] => ['leak', o]),
    ['fill', 4],
    ['fill', 5],
    ['fill', 40],
    ['drop', 41],
    ...range(50, 30).map((o): ['own', number] => ['own', o]),
  ])
  const s1 = summarize(a, table, I, 1000)
  const s2 = summarize(b, table, I, 2000)
  t.is(s1.ordinals.length, 6, "heapdiff's own sample is left out")
  const sites = grownSites(s1, s2, table)
  t.is(sites.length, 1, JSON.stringify(sites))
  const [site] = sites
  t.like(site, { name: 'leak', url: APP, line: 3, column: 17 })
  t.is(site.growth_bytes, 20 * scaled(272))
  t.is(site.live_bytes, 22 * scaled(272))
  // 22 samples of 272 bytes stand for 22 / (1 − e^(−272/524288)) = 42416.7 objects; a single
  // sample's value (524416) would also fit 128 bytes (4097 objects each), which the node's
  // selfSize rules out.
  t.is(site.live_count, 42417)
  t.deepEqual(site.stack, ['Array', `leak (${APP}:3:17)`, `main (${APP}:10:1)`])
})

test('grownSites: few new samples are noise, many on a level site are growth; at most `max`, largest first', (t) => {
  const table = new SiteTable()
  const a = profile([['fill', 1]])
  // 5 new leak samples and none gone: P = 1/32, not significant at 0.001.
  const b = profile([['fill', 1], ...range(10, 5).map((o): ['leak', number] => ['leak', o])])
  t.deepEqual(grownSites(summarize(a, table, I, 0), summarize(b, table, I, 1), table), [])
  t.is(grownSites(summarize(a, table, I, 0), summarize(b, table, I, 1), table, { significance: 0.05 }).length, 1)
  // Two growing sites: the larger first; max 1 keeps only it.
  const c = profile([
    ...range(10, 12).map((o): ['leak', number] => ['leak', o]),
    ...range(30, 15).map((o): ['drop', number] => ['drop', o]),
  ])
  const grown = grownSites(summarize(a, table, I, 0), summarize(c, table, I, 1), table)
  t.deepEqual(
    grown.map((s) => s.name),
    ['drop', 'leak'],
  )
  t.deepEqual(
    grownSites(summarize(a, table, I, 0), summarize(c, table, I, 1), table, { max: 1 }).map((s) => s.name),
    ['drop'],
  )
})

test('profileRows and siteTotals sum selfSize per site; siteGrowth lists only what grew', (t) => {
  const head = node(root, 0, [
    node(main, 100, [node(leak, 0, [node(arrayBuiltin, 5000)]), node(fill, 3000), node(drop, 0)]),
  ])
  const p: HeapProfile = { head, samples: [] }
  const rows = profileRows(p, null)
  t.is(rows.length, 3)
  t.true(rows.every((r) => r.objects === null))
  const totals = siteTotals(rows)
  t.deepEqual(
    totals.map((s) => [s.name, s.line, s.live_bytes]),
    [
      ['leak', 3, 5000],
      ['fill', 5, 3000],
      ['main', 10, 100],
    ],
  )
  t.deepEqual(totals[0].stack, ['Array', `leak (${APP}:3:17)`, `main (${APP}:10:1)`])
  const later = siteTotals(
    profileRows({ head: node(root, 0, [node(main, 100, [node(leak, 9000), node(fill, 2000)])]), samples: [] }, null),
  )
  t.deepEqual(
    siteGrowth(totals, later).map((s) => [s.name, s.growth_bytes]),
    [['leak', 4000]],
  )
})
