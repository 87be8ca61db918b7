// Each option's default is declared once, in the native module; the typed description
// (binding.d.ts, generated from the Rust doc comments) and the option tables of docs/api.md must
// say the same, so that documentation cannot drift from the code again.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import * as binding from '../binding'

const root = join(__dirname, '..')

/** `'trend'` → 'trend', `262144` → 262144, `1` → 1, `false` → false. */
function literal(text: string): string | number | boolean {
  const t = text.trim()
  const quoted = /^'([^']*)'$/.exec(t)
  if (quoted) return quoted[1]
  if (t === 'true' || t === 'false') return t === 'true'
  const n = Number(t)
  if (!Number.isFinite(n)) throw new Error(`not a default literal: ${text}`)
  return n
}

/** Defaults the doc comments of one generated interface state, as JSDoc `@default` tags. */
function dtsDefaults(iface: string): Record<string, string | number | boolean> {
  const dts = readFileSync(join(root, 'binding.d.ts'), 'utf8')
  const body = new RegExp(`export interface ${iface} \\{([\\s\\S]*?)\\n\\}`).exec(dts)?.[1]
  if (!body) throw new Error(`interface ${iface} not found in binding.d.ts`)
  const out: Record<string, string | number | boolean> = {}
  for (const m of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(\w+)\??:/g)) {
    const doc = m[1].replace(/\s*\*\s*/g, ' ')
    const d = /@default (\S+)/.exec(doc)
    if (d) out[m[2]] = literal(d[1])
  }
  return out
}

/** The API reference, where the option tables live. */
const API_DOC = join(root, 'docs', 'api.md')

/** docs/api.md's option table that starts after `heading`: option → default cell. */
function docDefaults(heading: string): Record<string, string | number | boolean> {
  const doc = readFileSync(API_DOC, 'utf8')
  const at = doc.indexOf(heading)
  if (at < 0) throw new Error(`docs/api.md has no ${heading}`)
  const out: Record<string, string | number | boolean> = {}
  const lines = doc.slice(at).split('\n')
  const start = lines.findIndex((l) => l.startsWith('| option'))
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const [, name, def] = line.split('|').map((c) => c.trim())
    out[name.replace(/`/g, '')] = literal(def.replace(/`/g, '').replace(/\s*\(.*\)$/, ''))
  }
  return out
}

test('leak options: binding.d.ts and docs/api.md state the rule’s own defaults', (t) => {
  const defaults = binding.leakOptionDefaults() as Record<string, unknown>
  t.deepEqual(Object.keys(defaults).sort(), [
    'census',
    'consecutiveGrowth',
    'external',
    'fastGcs',
    'fastMinGrowth',
    'fastMinRatio',
    'minGrowth',
    'rule',
    'significance',
    'window',
  ])
  t.deepEqual(dtsDefaults('LeakOptions'), defaults)
  t.deepEqual(docDefaults('memwatch.setLeakOptions(options)'), defaults)
})

test('leak options: out-of-range values are judged by the rule and named as JS spells them', (t) => {
  const memwatch = require('..')
  t.throws(() => memwatch.setLeakOptions({ window: 2 }), {
    instanceOf: RangeError,
    message: 'leak option "window" must be at least 3 full GCs, got 2',
  })
  t.throws(() => memwatch.setLeakOptions({ fastMinRatio: -0.5 }), {
    instanceOf: RangeError,
    message: 'leak option "fastMinRatio" must be a number >= 0, got -0.5',
  })
  t.throws(() => memwatch.setLeakOptions({ consecutiveGrowth: 2 ** 40 }), {
    instanceOf: RangeError,
    message: /"consecutiveGrowth" must be a whole number >= 0/,
  })
  t.throws(() => memwatch.setLeakOptions({ fastGcs: true }), {
    instanceOf: TypeError,
    message: 'leak option "fastGcs" must be a number, got boolean true',
  })
  // A rejected call leaves the rule as it was and later calls still work.
  t.notThrows(() => memwatch.setLeakOptions({ window: 3, rule: 'trend' }))
  t.notThrows(() => memwatch.setLeakOptions({}))
})

test('diff options: binding.d.ts and docs/api.md state the crate’s own defaults', (t) => {
  const defaults = binding.diffOptionDefaults() as Record<string, unknown>
  t.deepEqual(Object.keys(defaults).sort(), [
    'allocations',
    'grouping',
    'maxPaths',
    'maxStacks',
    'retainerClasses',
    'retainers',
  ])
  t.deepEqual(dtsDefaults('DiffOptions'), defaults)
  t.deepEqual(docDefaults('Diff options (for `new HeapDiff(options)`'), defaults)
})

test('analysis options: binding.d.ts and docs/api.md state the crate’s own defaults', (t) => {
  const defaults = binding.analysisOptionDefaults() as Record<string, unknown>
  t.deepEqual(Object.keys(defaults).sort(), [
    'allocations',
    'grouping',
    'internals',
    'maxClasses',
    'maxPaths',
    'maxStacks',
    'minCount',
  ])
  t.deepEqual(dtsDefaults('AnalysisOptions'), defaults)
  t.deepEqual(docDefaults('Analysis options (`findLeaks`'), defaults)
})

test('topRetainers options: binding.d.ts and docs/api.md state the crate’s own default', (t) => {
  const defaults = binding.topRetainerOptionDefaults() as Record<string, unknown>
  t.deepEqual(Object.keys(defaults), ['top'])
  t.deepEqual(dtsDefaults('TopRetainerOptions'), defaults)
  const doc = readFileSync(API_DOC, 'utf8')
  const stated = /memwatch\.topRetainers\(file, \{ top = (\d+) \}\)/.exec(doc)?.[1]
  t.is(Number(stated), defaults.top)
})

test('diff and analysis options: out-of-range values are judged natively and named as JS spells them', async (t) => {
  const memwatch = require('..')
  t.throws(() => new memwatch.HeapDiff({ maxPaths: 0 }), {
    instanceOf: RangeError,
    message: 'diff option "maxPaths" must be at least 1, got 0',
  })
  t.throws(() => new memwatch.HeapDiff({ retainerClasses: 1.5 }), {
    instanceOf: RangeError,
    message: 'diff option "retainerClasses" must be a whole number >= 0, got 1.5',
  })
  t.throws(() => new memwatch.HeapDiff({ grouping: 'nope' }), {
    instanceOf: TypeError,
    message: `diff option "grouping" must be 'classic' or 'devtools', got "nope"`,
  })
  t.throws(() => new memwatch.HeapDiff({ retainers: 1 }), {
    instanceOf: TypeError,
    message: 'diff option "retainers" must be a boolean, got number 1',
  })
  await t.throwsAsync(() => memwatch.findLeaks('a', 'b', 'c', { minCount: 0 }), {
    instanceOf: RangeError,
    message: 'analysis option "minCount" must be at least 1, got 0',
  })
  await t.throwsAsync(() => memwatch.topRetainers('a', { top: -1 }), {
    instanceOf: RangeError,
    message: 'topRetainers option "top" must be a whole number >= 0, got -1',
  })
  await t.throwsAsync(() => memwatch.topRetainers('a', { top: 0 }), {
    instanceOf: RangeError,
    message: 'topRetainers option "top" must be at least 1, got 0',
  })
})

test('diff options resolve to every option, the given ones kept and the rest at their defaults', (t) => {
  t.deepEqual(binding.resolveDiffOptions({ maxPaths: 2, grouping: 'devtools' }), {
    ...binding.diffOptionDefaults(),
    maxPaths: 2,
    grouping: 'devtools',
  })
  t.deepEqual(binding.resolveAnalysisOptions(undefined), binding.analysisOptionDefaults())
})
