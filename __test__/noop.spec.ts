import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { join, resolve } from 'node:path'

// First in this worker: the in-worker rounds below must be the process's first HeapDiffs.
const { run } = require('./fixtures/noop-rounds') as {
  run: (mode: string, rounds: number) => { kept: number; results: Round[] }
}

interface Listed {
  side: '+' | '-'
  id: number
  type: string
  name: string
  size: number
  scripts: string[]
  retainers: string[]
}

interface Round {
  round: number
  size_bytes: number
  allocated_nodes: number
  freed_nodes: number
  details: { what: string; '+': number; '-': number; size_bytes: number }[]
  nodes: Listed[]
}

const root = resolve(__dirname, '..')
const fixtures = join(__dirname, 'fixtures')

/** heapdiff's own JS files, as V8 names their scripts. */
function isHeapdiffFile(name: string): boolean {
  const file = name.startsWith('file://') ? decodeURIComponent(new URL(name).pathname) : name
  if (!file.startsWith(root + '/')) return false
  const rel = file.slice(root.length + 1)
  return /^(index|binding|cli)\.(js|mjs|ts)$/.test(rel) || /^lib\/[^/]+\.(js|ts)$/.test(rel)
}

/** Functions of heapdiff's files, as V8 names their code (`(code for end)`, …). */
const OWN_FUNCTIONS =
  /^\((code|instruction stream) for (takeSnapshot|snapshotInto|spareHandle|fallbackSnapshot|warmUp|sharedOptions|end|endAsync|check|merge|claim|gc|toClassicDiff|checkDiffOptions)\)$/

/** Why a listed node is heapdiff's, or null when it is not. */
function heapdiffs(n: Listed): string | null {
  if (n.scripts.some(isHeapdiffFile)) return `belongs to ${n.scripts.join(', ')}`
  if (n.type === 'object' && (n.name === 'HeapDiff' || n.name === 'HeapSnapshotHandle')) return 'a heapdiff object'
  if (n.name.includes(root + '/') && isHeapdiffFile(n.name.split(/[\s:]/)[0])) return 'names a heapdiff file'
  if (OWN_FUNCTIONS.test(n.name)) return 'code of a heapdiff function'
  if (n.name === 'attempt to end() a HeapDiff that was already ended') return 'a heapdiff string'
  return null
}

const describe = (r: Round) =>
  `round ${r.round}: ${r.size_bytes} bytes, +${r.allocated_nodes} -${r.freed_nodes}: ` +
  r.nodes
    .map(
      (n) =>
        `${n.side}${n.type}:${JSON.stringify(n.name)}:${n.size}` +
        (n.retainers.length ? ` <- ${n.retainers.join(', ')}` : ''),
    )
    .join(' ')

/** leakage's bound and this issue's, for every round, the first included. */
function checkNoop(t: ExecutionContext, rounds: Round[], leaked = 0) {
  t.is(rounds.length, 6)
  for (const r of rounds) {
    t.true(Math.abs(r.size_bytes) < 1024, describe(r))
    t.true(r.allocated_nodes <= 10 + leaked, describe(r))
    t.true(r.freed_nodes <= 10, describe(r))
    t.is(r.nodes.length, r.allocated_nodes + r.freed_nodes, 'the listing is what the diff counted')
    for (const n of r.nodes) t.is(heapdiffs(n), null, `round ${r.round}: ${n.side}${n.type} ${JSON.stringify(n.name)}`)
  }
  t.log(rounds.map((r) => `${r.size_bytes}/+${r.allocated_nodes}/-${r.freed_nodes}`).join('  '))
  for (const r of rounds) if (r.allocated_nodes > leaked || r.freed_nodes > 1) t.log(describe(r))
}

function child(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      args,
      { timeout: 120000, maxBuffer: 16 << 20, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`))
        resolvePromise(stdout)
      },
    )
  })
}

const rounds = (stdout: string, prefix = '') =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith(prefix + '{'))
    .map((l) => JSON.parse(l.slice(prefix.length)) as Round)

test.serial('inside an ava worker: six no-op rounds, the first included, show nothing of heapdiff', (t) => {
  checkNoop(t, run('noop', 6).results)
})

test.serial('inside an ava worker: a one-object leak per round is Foo +1 in every round', (t) => {
  const { kept, results } = run('leak', 6)
  t.is(kept, 6)
  for (const r of results) t.deepEqual(r.details.find((d) => d.what === 'Foo')?.['+'], 1, describe(r))
  checkNoop(t, results, 1)
})

test.serial('plain node, fresh process: six no-op rounds show nothing of heapdiff', async (t) => {
  checkNoop(t, rounds(await child([join(fixtures, 'noop-rounds.js'), 'noop', '6'])))
})

test.serial('plain node, fresh process: a one-object leak is Foo +1 in every round', async (t) => {
  const rs = rounds(await child([join(fixtures, 'noop-rounds.js'), 'leak', '6']))
  for (const r of rs) {
    const foo = r.details.find((d) => d.what === 'Foo')
    t.deepEqual(foo && [foo['+'], foo['-']], [1, 0], describe(r))
  }
  checkNoop(t, rs, 1)
})

test.serial("under mocha's runner: six no-op rounds inside an `it` show nothing of heapdiff", async (t) => {
  const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js')
  checkNoop(t, rounds(await child([mocha, '--reporter', 'dot', join(fixtures, 'noop-mocha.js')]), 'ROUND '))
})
