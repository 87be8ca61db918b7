/**
 * `assertNoLeaks` gives the same answer in every test runner: node:test (`node --test`), jest,
 * vitest and mocha each run, in a child process, one file (fixtures/runner-*.test.*) that checks
 * a function keeping nothing (sync, then async settling through microtasks only) and one keeping
 * a `LeakedThing` per call. Exactly the leaky test fails, and its message names `LeakedThing`
 * alone: nothing of the runner's own (node:test's `testResources` map of async resources, the
 * strings its reporter makes of an earlier failure) and nothing the check made itself.
 */
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const fixtures = join(__dirname, 'fixtures')
const node = process.env.HEAPDIFF_TEST_NODE || process.execPath
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-runners-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** One test as its runner reported it. */
interface Outcome {
  title: string
  passed: boolean
  message: string
}

interface Runner {
  args: (out: string) => string[]
  /** Reads the runner's report (written to `out`). */
  read: (out: string) => Outcome[]
}

const bin = (...path: string[]) => join(root, 'node_modules', ...path)

/** jest's and vitest's `--json` report. */
function jestJson(out: string): Outcome[] {
  const report = JSON.parse(readFileSync(out, 'utf8')) as {
    testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[]
  }
  return report.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({
      title: a.title,
      passed: a.status === 'passed',
      message: a.failureMessages.join('\n'),
    })),
  )
}

const runners: Record<string, Runner> = {
  'node:test': {
    args: (out) => [
      '--test',
      '--test-reporter=tap',
      `--test-reporter-destination=${out}`,
      join(fixtures, 'runner-node.test.js'),
    ],
    // Top-level `ok N - title` / `not ok N - title`, each followed by a YAML block; the message
    // is its `error: |-` entry.
    read: (out) => {
      const lines = readFileSync(out, 'utf8').split('\n')
      const outcomes: Outcome[] = []
      for (let i = 0; i < lines.length; i++) {
        const m = /^(not )?ok \d+ - (.*)$/.exec(lines[i])
        if (!m) continue
        const error: string[] = []
        let inError = false
        for (let j = i + 1; j < lines.length && lines[j] !== '  ...'; j++) {
          if (/^ {2}\S/.test(lines[j])) inError = lines[j].startsWith('  error:')
          else if (inError) error.push(lines[j].trim())
        }
        outcomes.push({ title: m[2], passed: !m[1], message: error.join('\n') })
      }
      return outcomes
    },
  },
  jest: {
    args: (out) => [
      bin('jest', 'bin', 'jest.js'),
      '--config',
      // CommonJS as it is, no transform; a check takes three snapshots, past the default 5 s.
      JSON.stringify({
        rootDir: fixtures,
        testMatch: ['<rootDir>/runner-jest.test.js'],
        transform: {},
        testTimeout: 120000,
        cache: false,
      }),
      '--watchman=false',
      '--json',
      `--outputFile=${out}`,
    ],
    read: jestJson,
  },
  vitest: {
    args: (out) => [
      bin('vitest', 'vitest.mjs'),
      'run',
      '--root',
      fixtures,
      '--reporter=json',
      `--outputFile=${out}`,
      '--testTimeout=120000',
      'runner-vitest',
    ],
    read: jestJson,
  },
  mocha: {
    args: (out) => [
      bin('mocha', 'bin', 'mocha.js'),
      '--timeout',
      '120000',
      '--reporter',
      'json',
      '--reporter-option',
      `output=${out}`,
      join(fixtures, 'runner-mocha.test.js'),
    ],
    read: (out) => {
      const report = JSON.parse(readFileSync(out, 'utf8')) as { tests: { title: string; err: { message?: string } }[] }
      return report.tests.map((t) => ({ title: t.title, passed: !t.err.message, message: t.err.message ?? '' }))
    },
  },
}

function runChild(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      node,
      args,
      {
        cwd: root,
        timeout: 150000,
        maxBuffer: 16 << 20,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        resolvePromise({ code, output: `${stdout}\n${stderr}`.trim() })
      },
    )
  })
}

/** The classes a failure message names: its `Class: N instances survived …` lines. */
const named = (message: string) => [...message.matchAll(/^\s*(\S+): \d+ instances survived/gm)].map((m) => m[1])

async function check(t: ExecutionContext, name: string) {
  const runner = runners[name]
  const out = join(dir, `${name.replace(/\W/g, '-')}.out`)
  const started = Date.now()
  const { code, output } = await runChild(runner.args(out))
  t.log(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  let outcomes: Outcome[]
  try {
    outcomes = runner.read(out)
  } catch (e) {
    t.fail(`${name}: no report (${(e as Error).message}), exit ${code}\n${output.slice(-4000)}`)
    return
  }
  const detail = `${name}, exit ${code}:\n${outcomes.map((o) => `${o.passed ? 'pass' : 'FAIL'} ${o.title}\n${o.message}`).join('\n')}`
  t.deepEqual(
    outcomes.map((o) => [o.title, o.passed]).sort(),
    [
      ['clean async', true],
      ['clean sync', true],
      ['leaky', false],
    ],
    detail,
  )
  t.is(code, 1, detail)
  const leaky = outcomes.find((o) => o.title === 'leaky')
  t.deepEqual(named(leaky?.message ?? ''), ['LeakedThing'], detail)
  t.regex(leaky?.message ?? '', /LeakedThing: 10 instances survived 10 calls/, detail)
  t.notRegex(leaky?.message ?? '', /Number|testResources|Strong roots/, detail)
}

for (const name of Object.keys(runners)) test(`assertNoLeaks under ${name}`, (t) => check(t, name))
