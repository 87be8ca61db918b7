import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'

interface Leak {
  keys: string[]
  memory: string
  reason: string
  growth: number
  gcs: number
  at: number
  ms: number
}

interface Summary {
  scenario: string
  leaks: Leak[]
  gcs: number
  external: number[]
  last: Record<string, number | null>
  kept: number
}

/** One scenario of fixtures/external-scenario.js in a fresh process (its own heap and GCs). */
function scenario(name: string, worker = false): Promise<Summary> {
  const args = [join(__dirname, 'fixtures', 'external-scenario.js'), name, ...(worker ? ['worker'] : [])]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 90000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name}: ${err.message}\n${stderr}`))
      const lines = stdout.trim().split('\n')
      resolve(JSON.parse(lines[lines.length - 1]))
    })
  })
}

const BUFFER = 64 * 1024
/** Each fixture keeps 20 buffers per 10 ms tick and forces a full GC every fifth tick. */
const PER_FORCED_GC = 100 * BUFFER
const WINDOW = 10
const EXTERNAL =
  /^external memory growth over \d+ consecutive GCs \((\d+h )?(\d+m )?\d+s\) - -?[\d.]+(e[+-]\d{2,})? (bytes|kb|mb)\/hr$/

const mib = (s: Summary) => `post-GC external (MiB): ${s.external.map((b) => (b / 2 ** 20).toFixed(1)).join(' ')}`

for (const where of ['main thread', 'worker'] as const) {
  for (const kind of ['buffers', 'typed'] as const) {
    const what = kind === 'buffers' ? 'retained 64 KiB Buffers' : 'Float64Arrays whose ArrayBuffers are retained'
    test(`${where}: ${what} are an external leak within window + 2 full GCs`, async (t) => {
      const s = await scenario(kind, where === 'worker')
      t.true(s.leaks.length >= 1, mib(s))
      const first = s.leaks[0]
      // The leak starts with the first tick, so the first full GC is its start.
      t.true(first.at <= WINDOW + 2, `first external leak after ${first.at} full GCs; ${mib(s)}`)
      t.is(first.memory, 'external')
      t.regex(first.reason, EXTERNAL)
      // Whole buffers, no more than the fixture kept over the GCs the report spans.
      t.is(first.growth % BUFFER, 0, `growth ${first.growth}`)
      t.true(first.growth <= (first.gcs - 1) * PER_FORCED_GC, `growth ${first.growth} over ${first.gcs} GCs`)
      t.true(first.growth >= (PER_FORCED_GC * (first.gcs - 1)) / 2, `growth ${first.growth} over ${first.gcs} GCs`)
      // The wrappers are on the heap, but far below its noise floor: no heap event.
      t.deepEqual(
        s.leaks.filter((l) => l.memory !== 'external'),
        [],
      )
      // The stats carry external memory's own base and trend, and the native estimate.
      t.true(s.last.external_memory! >= s.kept * BUFFER, `${s.last.external_memory} < ${s.kept} buffers`)
      t.true(s.last.external_estimated_base! > 0 && s.last.external_estimated_base! <= s.last.external_memory!)
      t.true(s.last.external_usage_trend! > 0, `trend ${s.last.external_usage_trend}`)
      t.is(
        s.last.native_memory,
        Math.max(0, s.last.rss! - s.last.total_physical_size! - s.last.external_memory!),
        'native = rss - physical heap - external',
      )
    })
  }
}

test('a fixed pool of 400 Buffers, 20 replaced per tick, is silent over 60 full GCs', async (t) => {
  const s = await scenario('pool')
  t.is(s.kept, 400)
  t.true(s.gcs >= 60)
  t.deepEqual(s.leaks, [], mib(s))
  // The pool is really held: ~400 buffers of external memory at the end.
  t.true(s.last.external_memory! >= 400 * BUFFER, mib(s))
})

test('a heap leak says memory: heap and keeps memwatch’s shape and wording', async (t) => {
  const s = await scenario('heap')
  t.true(s.leaks.length >= 1)
  for (const l of s.leaks) {
    t.is(l.memory, 'heap')
    t.regex(l.reason, /^heap growth over \d+ consecutive GCs /)
    t.deepEqual([...l.keys].sort(), ['end', 'gcs', 'growth', 'memory', 'reason', 'start'])
  }
})
