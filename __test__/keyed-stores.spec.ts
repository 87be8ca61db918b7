/**
 * Keyed stores in retaining paths: sessions kept by id, in a plain object (which V8 turns into a
 * dictionary) or in a `Map`, must read as one path through the store whatever their keys, not as
 * one "1 ×" path per session. Snapshots from fixtures/keyed-stores.js, in a fresh process each.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import memwatch = require('..')

const N = 500
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-keyed-'))
const fixture = join(__dirname, 'fixtures', 'keyed-stores.js')
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

function snapshots(mode: 'object' | 'map'): { s1: string; s2: string; s3: string } {
  const out = execFileSync(process.execPath, [fixture, mode, dir, String(N)], { encoding: 'utf8', timeout: 120000 })
  return JSON.parse(out.trim().split('\n').pop()!)
}

const cases = [
  { mode: 'object', store: /Store\.sessions → Object\[·\] → \(concatenated string\)$/ },
  { mode: 'map', store: /Store\.byId → Map\.table → \(array\)\[·\] → \(concatenated string\)$/ },
] as const

for (const { mode, store } of cases) {
  test(`sessions kept by random id in ${mode === 'object' ? 'a plain object' : 'a Map'} group into one path through the store`, async (t) => {
    const { s1, s2, s3 } = snapshots(mode)
    const r = await memwatch.findLeaks(s1, s2, s3, { grouping: 'devtools', maxPaths: 5 })
    const row = r.leaks.find((l) => l.what === '(concatenated string)')
    t.truthy(row, r.leaks.map((l) => `${l.what} ${l.count}`).join(', '))
    if (!row) return
    // Each session's text is a chain of cons strings (its parts share its path); the fixture's
    // churn is gone by s3.
    t.true(row.count >= N, `${row.count} concatenated strings for ${N} sessions`)
    const top = row.retainers[0]
    t.regex(top.path, store, row.retainers.map((p) => `${p.count} × ${p.path}`).join('\n'))
    t.true(top.count >= 0.9 * row.count, `${top.count} of ${row.count} on the top path`)
    // From the global (Node 26 reaches it as `system / NativeContext.global_object → global (global*)`).
    t.regex(top.path, /(^|→ )global[^→]*\.keyedStore → /)
    // A few example keys for the reader; the object's are the sessions' own ids.
    t.is(top.keys.length, 3)
    if (mode === 'object') for (const k of top.keys) t.regex(k, /^\[[A-Za-z0-9]{10}\]$/)
    t.true(
      top.steps.some((s) => s.keyed),
      'the example path marks its keyed step',
    )
  })
}
