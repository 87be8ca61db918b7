import test from 'ava'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
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

test('large strings decoded from Buffers (external strings) are an external leak', async (t) => {
  const s = await scenario('strings')
  t.true(s.leaks.length >= 1, mib(s))
  t.is(s.leaks[0].memory, 'external')
  t.true(s.leaks[0].at <= WINDOW + 2, `first external leak after ${s.leaks[0].at} full GCs; ${mib(s)}`)
  // One 1.1 MB string per tick, five ticks per forced GC.
  t.true(s.leaks[0].growth >= ((s.leaks[0].gcs - 1) * 5 * 1100000) / 2, `growth ${s.leaks[0].growth}`)
  t.true(s.last.external_memory! >= s.kept * 1100000, mib(s))
})

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

test('a diff around a Buffer leak reads the Buffers’ holder first, its retained size counting their bytes', (t) => {
  // 300 Buffers of 64 KiB in a Map of a BodyCache, made between the two snapshots and held
  // only by a module-level array once `fill` has returned.
  const script = `
    const memwatch = require(${JSON.stringify(join(__dirname, '..'))})
    class BodyCache { constructor() { this.entries = new Map() } put(k, v) { this.entries.set(k, v) } }
    const caches = []
    function fill() { const c = new BodyCache(); caches.push(c); for (let i = 0; i < 300; i++) c.put('k' + i, Buffer.alloc(${BUFFER}, i)) }
    const hd = new memwatch.HeapDiff()
    fill()
    setImmediate(() => {
      const { change } = hd.end({ retainers: true })
      const row = (what) => change.details.find((d) => d.what === what)
      console.log(JSON.stringify({ explained: change.explained, holder: row('BodyCache'), buffers: row('Buffer'), native: row('Native') }))
    })`
  const out = JSON.parse(
    execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 }).trim().split('\n').pop()!,
  )
  t.is(out.explained[0], 'BodyCache', JSON.stringify(out.explained))
  t.is(out.holder['+'], 1)
  t.true(out.holder.retained_size_bytes >= 300 * BUFFER, `BodyCache retains ${out.holder.retained_size_bytes}`)
  // The stores are DevTools' \`system / JSArrayBufferData\` nodes, 64 KiB each.
  t.is(out.native['+'], 300)
  t.is(out.native.size_bytes, 300 * BUFFER)
  t.true(out.buffers.retained_size_bytes >= 300 * BUFFER)
})

/** `heapdiff run --out <dir> -- node <args>`, to its end; the report it wrote. */
function heapdiffRun(name: string, args: string[]): { status: number | null; stderr: string; report: any; md: string } {
  const out = mkdtempSync(join(tmpdir(), `heapdiff-external-${name}-`))
  try {
    const r = spawnSync(
      process.execPath,
      [join(__dirname, '..', 'cli.js'), 'run', '--out', out, '--', process.execPath, ...args],
      {
        encoding: 'utf8',
        timeout: 120000,
      },
    )
    return {
      status: r.status,
      stderr: r.stderr,
      report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')),
      md: readFileSync(join(out, 'report.md'), 'utf8'),
    }
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

test('heapdiff run on retained Buffers: the verdict, the Markdown and the series say external memory', (t) => {
  const r = heapdiffRun('buffers', [join(__dirname, 'fixtures', 'external-scenario.js'), 'buffers'])
  t.is(r.status, 0, r.stderr)
  const { report } = r
  t.regex(
    report.verdict.sentence,
    /^Leak: the post-GC external memory \(Buffers, ArrayBuffers\) of the main thread grew /,
  )
  // The class census names what grew (the Buffers' classes), and no heap site is named for their bytes.
  t.regex(report.verdict.sentence, /; (Buffer|Uint8Array|ArrayBuffer) \+[\d,]+ objects\.$/)
  // The wrappers may make a heap event too, even first; the verdict leads with the external one.
  t.true(report.leaks.some((l: { memory: string }) => l.memory === 'external'))
  t.true(r.md.includes(report.verdict.sentence))
  const { external, heap } = report.threads[0].series
  t.is(external.length, heap.length)
  // 100 buffers of 64 KiB kept per forced full GC: the series rises by at least that per GC.
  t.true(external[external.length - 1] - external[0] >= (external.length - 1) * PER_FORCED_GC * 0.9, String(external))
})

test('heapdiff run with fewer full GCs than the rule needs says so instead of "No leak"', (t) => {
  // The heap quadruples over two full GCs: too few for the rule's window of 10.
  const script = `const keep = []; for (let k = 0; k < 3; k++) { for (let i = 0; i < 2e5; i++) keep.push({ i, s: 'x' + i }); require(${JSON.stringify(join(__dirname, '..'))}).gc() }`
  const r = heapdiffRun('short', ['-e', script])
  t.is(r.status, 0, r.stderr)
  t.false(r.report.verdict.leak)
  t.regex(
    r.report.verdict.sentence,
    /^No verdict: the post-GC heap grew [\d.]+× \(.* to .*\) over only \d full GCs in .*: too few to judge a trend, the leak rule needs 10 on one thread\. /,
  )
})
