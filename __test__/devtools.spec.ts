import test from 'ava'
import { execFileSync } from 'node:child_process'
import { createReadStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGunzip } from 'node:zlib'

import memwatch = require('../index')

const root = join(__dirname, '..')

interface Row {
  new: number
  deleted: number
  alloc: number
  freed: number
}

/**
 * DevTools' comparison of two files, computed by DevTools' own snapshot worker as
 * heap-snapshot-toolkit packages it; rows of one class name summed (DevTools splits an object
 * class by its constructor's location, heapdiff does not: see docs/api.md, "Grouping").
 */
async function devtoolsRows(a: string, b: string): Promise<Map<string, Row>> {
  const toolkit = await import('heap-snapshot-toolkit')
  const open = (f: string) =>
    (f.endsWith('.gz') ? createReadStream(f).pipe(createGunzip()) : createReadStream(f)).setEncoding('utf-8')
  const diff = await toolkit.diff(await toolkit.parse(open(a)), await toolkit.parse(open(b)))
  const rows = new Map<string, Row>()
  for (const r of Object.values(diff) as any[]) {
    const row = rows.get(r.name) ?? { new: 0, deleted: 0, alloc: 0, freed: 0 }
    row.new += r.addedCount
    row.deleted += r.removedCount
    row.alloc += r.addedSize
    row.freed += r.removedSize
    rows.set(r.name, row)
  }
  return rows
}

async function heapdiffRows(a: string, b: string): Promise<Map<string, Row>> {
  const d = await memwatch.diffFiles(a, b, { grouping: 'devtools' })
  return new Map(
    d.change.details.map((r) => [
      r.what,
      { new: r['+'], deleted: r['-'], alloc: r.allocated_bytes!, freed: r.freed_bytes! },
    ]),
  )
}

async function sameAsDevTools(t: import('ava').ExecutionContext, a: string, b: string) {
  const [want, got] = await Promise.all([devtoolsRows(a, b), heapdiffRows(a, b)])
  t.true(want.size > 10, `DevTools shows ${want.size} rows`)
  const sorted = (m: Map<string, Row>) => [...m].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
  t.deepEqual(sorted(got), sorted(want))
  // Size Delta and #Delta follow from the columns compared above; the rows' own fields agree.
  const d = await memwatch.diffFiles(a, b, { grouping: 'devtools' })
  for (const r of d.change.details) t.is(r.size_bytes, r.allocated_bytes! - r.freed_bytes!, r.what)
  return { want, got }
}

test('devtools grouping equals DevTools comparison on Chromium page snapshots', async (t) => {
  const [a, b] = ['a', 'b'].map((k) => join(root, '__test__', 'fixtures', `chromium-${k}.heapsnapshot.gz`))
  const { want } = await sameAsDevTools(t, a, b)
  // The backing store rule is in play: DevTools shows no row for stores moved to their owner.
  t.truthy(want.get('Detached <div>'))
})

test('devtools grouping equals DevTools comparison on a Node process (Maps, closures, classes, typed arrays, plain objects)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-devtools-'))
  try {
    execFileSync(process.execPath, [join(__dirname, 'fixtures', 'devtools-heap.js'), dir])
    const { want } = await sameAsDevTools(t, join(dir, 'a.heapsnapshot'), join(dir, 'b.heapsnapshot'))
    // The rules that need edges are exercised: plain objects named by property set (one of them
    // quoted for its comma), and objects that changed set counted as deleted from their old row.
    const named = [...want.keys()].filter((k) => k.startsWith('{'))
    t.true(named.length >= 3, named.join(' '))
    t.true(
      [...want.entries()].some(([k, r]) => k.startsWith('{a') && r.deleted >= 100),
      'objects that changed property set leave their row',
    )
    t.falsy(want.get('(array)')?.new, 'array backing stores are counted with their owners')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
