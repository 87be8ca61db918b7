// Allocation sites on hand-built profiles whose answers are worked out here, not by the code:
// the sampler's native tables (`heapprof::live`, whose scaling, size candidates, per-node counts
// and sign test have their unit tests in crates/heapprof/src/live/tests.rs) reached the way the
// sampler reaches them, through the binding with the profile as JSON; and lib/sites.ts's
// profile-file totals.
import test from 'ava'

import binding = require('../binding')
import {
  profileRows,
  siteGrowth,
  siteTotals,
  type AllocationSite,
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

/**
 * The sampler's native tables on this thread, fresh, with `exclude`d scripts; each profile is
 * summarized at its time, and the sites are those grown from the summary nearest `start`.
 */
function grown(profiles: Array<[HeapProfile, number]>, start: number, exclude: string[] = []): AllocationSite[] {
  binding.sitesStart(exclude, 16)
  try {
    for (const [p, time] of profiles) binding.sitesObserve(JSON.stringify(p), I, time)
    return binding.sitesGrown(start)
  } finally {
    binding.sitesStop()
  }
}

test('grownSites: the leak grows by its new samples; a full cache and churn are not listed', (t) => {
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
  // heapdiff's own 30 new samples are left out: had they counted, `parse` would be listed.
  const sites = grown(
    [
      [a, 1000],
      [b, 2000],
    ],
    1000,
    [OWN],
  )
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

test('grownSites: few new samples are noise, many on a level site are growth; at most 10, largest first', (t) => {
  const a = profile([['fill', 1]])
  // 5 new leak samples and none gone: P = 1/32, not significant at 0.001.
  const b = profile([['fill', 1], ...range(10, 5).map((o): ['leak', number] => ['leak', o])])
  t.deepEqual(
    grown(
      [
        [a, 0],
        [b, 1],
      ],
      0,
    ),
    [],
  )
  // Two growing sites: the larger first.
  const c = profile([
    ...range(10, 12).map((o): ['leak', number] => ['leak', o]),
    ...range(30, 15).map((o): ['drop', number] => ['drop', o]),
  ])
  const both = grown(
    [
      [a, 0],
      [c, 1],
    ],
    0,
  )
  t.deepEqual(
    both.map((s) => [s.name, s.growth_bytes]),
    [
      ['drop', 15 * scaled(272)],
      ['leak', 12 * scaled(272)],
    ],
  )
  // The summary nearest the window's start is the one compared: from c, nothing more grew.
  t.deepEqual(
    grown(
      [
        [a, 0],
        [c, 1000],
        [c, 2000],
      ],
      900,
    ),
    [],
  )
  t.is(binding.sitesNativeBytes(), 0, 'stopped: the tables are freed')
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
