import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'

interface Summary {
  scenario: string
  rule: string
  leaks: { reason: string; growth: number; at: number }[]
  gcs: number
  bases: number[]
  ms?: number
  timedOut?: boolean
}

/** Runs one scenario in a fresh process (its own heap and GC history), bounded in time. */
function scenario(name: string, rule?: string): Promise<Summary> {
  const args = [join(__dirname, 'fixtures', 'leak-scenario.js'), name, ...(rule ? [rule] : [])]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 90000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name}: ${err.message}\n${stderr}`))
      const lines = stdout.trim().split('\n')
      resolve(JSON.parse(lines[lines.length - 1]))
    })
  })
}

/** The post-GC heap series in KB, for a failure message that shows the shape the rule saw. */
const bases = (s: Summary) => `post-GC heap (KB): ${s.bases.map((b) => Math.round(b / 1024)).join(' ')}`

// The rate prints as a C++ stream prints a double (as memwatch did): past six digits in the
// exponent form, '1.09971e+06 mb/hr', which a fast leak reaches on a fast machine.
const REASON =
  /^heap growth over \d+ consecutive GCs \((\d+h )?(\d+m )?\d+s\) - -?[\d.]+(e[+-]\d{2,})? (bytes|kb|mb)\/hr$/

test('a steady leak fires `leak` with the classic info shape', async (t) => {
  const s = await scenario('steady')
  t.true(s.leaks.length >= 2, JSON.stringify(s.leaks))
  // Default trend rule: 10-GC window, so the first report comes within the first 12 full GCs.
  t.true(s.leaks[0].at <= 12, `first report after ${s.leaks[0].at} GCs`)
  for (const l of s.leaks) {
    t.regex(l.reason, REASON)
    t.true(l.growth > 1024 * 1024, `growth ${l.growth}`)
  }
})

test('a steady leak below an earlier start-up peak is reported within the window', async (t) => {
  const s = await scenario('startup')
  t.is(s.gcs, 41)
  // The scenario is what it says: GC 1 holds the start-up data, and 40 GCs of leaking end below it.
  const [peak, ...leak] = s.bases
  t.true(peak > leak[leak.length - 1], `start-up peak ${peak}, leak ends at ${leak[leak.length - 1]}`)
  t.true(leak[leak.length - 1] - leak[0] > 10 * 1024 * 1024, `leak grew ${leak[leak.length - 1] - leak[0]}`)
  // The leak starts at GC 2; window (10) + 2 full GCs of it is GC 13 at the latest.
  t.true(s.leaks.length >= 3, JSON.stringify(s.leaks))
  t.true(s.leaks[0].at >= 2 && s.leaks[0].at <= 13, `first report at GC ${s.leaks[0].at}`)
  for (const l of s.leaks) t.regex(l.reason, REASON)
})

test('the classic rule also reports the steady leak', async (t) => {
  const s = await scenario('steady', 'classic')
  t.true(s.leaks.length >= 3, JSON.stringify(s.leaks))
  t.regex(s.leaks[0].reason, /^heap growth over 5 consecutive GCs/)
})

test('steady churn is not a leak', async (t) => {
  const s = await scenario('churn')
  t.is(s.gcs, 60)
  t.deepEqual(s.leaks, [], bases(s))
})

test('warm-up growth followed by a plateau is not reported (the classic rule does report it)', async (t) => {
  const [trend, classic] = await Promise.all([scenario('warmup'), scenario('warmup', 'classic')])
  t.deepEqual(trend.leaks, [], bases(trend))
  t.true(classic.leaks.length >= 1, 'the original 5-GC rule fires on warm-up')
})

test('a bounded cache filling to its cap is not reported (the classic rule does report it)', async (t) => {
  const [trend, classic] = await Promise.all([scenario('cache'), scenario('cache', 'classic')])
  t.deepEqual(trend.leaks, [], bases(trend))
  t.true(classic.leaks.length >= 1, 'the original 5-GC rule fires while the cache fills')
})

// Serial: it measures how fast V8's own GCs come, which the file's other child processes would slow.
test.serial('a fast leak under natural GC alone is reported within seconds', async (t) => {
  const s = await scenario('fast')
  t.falsy(s.timedOut, `no leak report in 20 s (${s.gcs} full GCs)`)
  t.is(s.leaks.length, 1)
  t.true(s.gcs < 10, `only a handful of full GCs expected, saw ${s.gcs}`)
  t.regex(s.leaks[0].reason, REASON)
})
