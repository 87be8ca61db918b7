// The CLI's own conventions: one --group default for every command that reads files, and colour
// decided the way Node decides it for a stream.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

const root = resolve(__dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-cli-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

// A pair whose growth has strings, which the two groupings name differently.
const [a, b] = ['a', 'b'].map((n) => join(dir, `${n}.heapsnapshot`))
spawnSync(process.execPath, [
  '-e',
  `const v8 = require('v8'); v8.writeHeapSnapshot(${JSON.stringify(a)});
   globalThis.kept = Array.from({ length: 2000 }, (_, i) => ({ i, s: 'str' + i + Math.random() }));
   v8.writeHeapSnapshot(${JSON.stringify(b)})`,
])

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [join(root, 'cli.js'), ...args], {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, ...env },
  })
}

const whats = (json: string, key: 'details' | 'leaks') => {
  const parsed = JSON.parse(json)
  const rows: { what: string }[] = key === 'details' ? parsed.change.details : parsed.leaks
  return rows.map((r) => r.what).sort()
}

test('diff and leaks share one --group default: devtools', (t) => {
  const diff = whats(cli(['diff', a, b, '--json']).stdout, 'details')
  t.deepEqual(diff, whats(cli(['diff', a, b, '--json', '--group', 'devtools']).stdout, 'details'))
  t.true(diff.includes('(string)'), diff.join(', '))
  const leaks = whats(cli(['leaks', a, b, b, '--json']).stdout, 'leaks')
  t.deepEqual(leaks, whats(cli(['leaks', a, b, b, '--json', '--group', 'devtools']).stdout, 'leaks'))
  t.notDeepEqual(leaks, whats(cli(['leaks', a, b, b, '--json', '--group', 'classic']).stdout, 'leaks'))
  t.true(leaks.includes('(string)'), leaks.join(', '))
  const bad = cli(['leaks', a, b, b, '--group', 'nope'])
  t.is(bad.status, 2)
  t.regex(bad.stderr, /--group: .*'classic' or 'devtools'/)
})

test('colour: as Node decides for the stream (FORCE_COLOR on pipes too), or as the flags say', (t) => {
  const ESC = '\x1b['
  const table = (flags: string[], env: NodeJS.ProcessEnv) =>
    cli(['diff', a, b, '--top', '3', ...flags], { FORCE_COLOR: undefined, NO_COLOR: undefined, ...env }).stdout
  t.false(table([], {}).includes(ESC), 'a pipe has no colour')
  // CI logs are pipes: FORCE_COLOR asks for colour there, as it does for Node's own output.
  const forced = table([], { FORCE_COLOR: '1' })
  t.true(forced.includes(`${ESC}31m`), 'growth in red')
  t.true(forced.includes(`${ESC}1m`), 'bold header')
  t.false(table([], { FORCE_COLOR: '0' }).includes(ESC))
  t.true(table(['--color'], {}).includes(`${ESC}31m`))
  t.false(table(['--no-color'], { FORCE_COLOR: '1' }).includes(ESC))
})

// A corrupt edge must never pass for a good one: the plain diff checks every edge value as the
// retainer analyses do (the first file's edges are not kept for either), with the same message.
test('diff rejects a corrupt edge, with or without --retainers, plain or gzipped (exit 3)', (t) => {
  const text = readFileSync(b, 'utf8')
  const start = text.indexOf('"edges":[') + '"edges":['.length
  const end = text.indexOf(']', start)
  const numbers = text.slice(start, end).split(',')
  const header = JSON.parse(text.slice(0, text.indexOf(',\n"nodes"')) + '}').snapshot
  const width: number = header.meta.node_fields.length
  const nodeCount: number = header.node_count
  // An edge in the middle of the array, where the checks run a window of edges at a time.
  const k = Math.floor(numbers.length / 3 / 2)
  const corrupt = (field: number, value: string, name: string) => {
    const copy = numbers.slice()
    copy[3 * k + field] = value + (copy[3 * k + field].endsWith('\n') ? '\n' : '')
    const file = join(dir, name)
    const doc = text.slice(0, start) + copy.join(',') + text.slice(end)
    writeFileSync(file, name.endsWith('.gz') ? gzipSync(doc) : doc)
    return file
  }
  const past = String(nodeCount * width)
  const cases: [string, RegExp][] = [
    [
      corrupt(2, past, 'past.heapsnapshot'),
      new RegExp(`edge #${k} points to node #${nodeCount}, but snapshot.node_count is ${nodeCount}`),
    ],
    [
      corrupt(2, String(width * 10 + 1), 'between.heapsnapshot'),
      new RegExp(`edge #${k} has to_node ${width * 10 + 1}, which is not a multiple of the node field count ${width}`),
    ],
    [
      corrupt(0, '9007199254740993', 'type.heapsnapshot.gz'),
      new RegExp(`edge #${k} has type index 9007199254740993, but meta.edge_types\\[0\\] lists only 7 types`),
    ],
    [
      corrupt(2, '4294967296' + '0'.repeat(5), 'huge.heapsnapshot.gz'),
      new RegExp(`edge #${k} (has to_node|points to node)`),
    ],
  ]
  for (const [file, message] of cases) {
    for (const extra of [[], ['--retainers']]) {
      const r = cli(['diff', a, file, ...extra])
      t.is(r.status, 3, `${file} ${extra}: ${r.stderr}`)
      t.regex(r.stderr, message)
      t.regex(r.stderr, /corrupt heap snapshot/)
      t.is(r.stdout, '')
    }
  }
})

test('--version and -v print the package version', (t) => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  for (const flag of ['--version', '-v']) {
    const r = cli([flag])
    t.is(r.status, 0, r.stderr)
    t.is(r.stdout, `${version}\n`)
    t.is(r.stderr, '')
  }
})

test('a usage error is one line naming the problem, then where the help is (exit 2)', (t) => {
  const cases: [string[], string][] = [
    [['diff', a, b, 'c'], 'heapdiff: diff needs exactly two snapshot files'],
    [['diff', a, b, '--top'], "heapdiff: Option '--top <value>' argument missing"],
    [['leaks', a, b, b, '--top', 'x'], 'heapdiff: --top must be a whole number >= 1, got x'],
    [['run', '--snapshots', 'always', '--', 'x.js'], 'heapdiff: --snapshots must be off or on-leak, got always'],
  ]
  for (const [args, line] of cases) {
    const r = cli(args)
    t.is(r.status, 2, args.join(' '))
    const command = args[0]
    t.is(r.stderr, `${line}\nrun 'heapdiff ${command} --help' for usage\n`)
    t.is(r.stdout, '')
  }
})

test('an unknown option is quoted, with a "did you mean" when one option is close', (t) => {
  const cases: [string[], string][] = [
    [['diff', a, b, '--topp', '3'], "unknown option '--topp' for diff; did you mean '--top'?"],
    [['diff', a, b, '--topp=3'], "unknown option '--topp' for diff; did you mean '--top'?"],
    [['top', a, '--jsn'], "unknown option '--jsn' for top; did you mean '--json'?"],
    [['report', a, '--fromat', 'md'], "unknown option '--fromat' for report; did you mean '--format'?"],
    [
      ['run', '--snapshot', 'on-leak', '--', 'x.js'],
      "unknown option '--snapshot' for run; did you mean '--snapshots'?",
    ],
    // nothing close, or no single closest: no guess
    [['diff', a, b, '-x'], "unknown option '-x' for diff"],
    [['leaks', a, b, b, '--wat'], "unknown option '--wat' for leaks"],
  ]
  for (const [args, line] of cases) {
    const r = cli(args)
    t.is(r.status, 2, args.join(' '))
    t.is(r.stderr, `heapdiff: ${line}\nrun 'heapdiff ${args[0]} --help' for usage\n`)
  }
  const command = cli(['dif', a, b])
  t.is(command.status, 2)
  t.is(command.stderr, "heapdiff: unknown command 'dif'; did you mean 'diff'?\nrun 'heapdiff --help' for usage\n")
})

test("--help per command prints that command's part of the help; after -- it is the program's", (t) => {
  const full = cli(['--help'])
  t.is(full.status, 0)
  for (const command of ['diff', 'top', 'leaks', 'profile', 'snapshot', 'run', 'report']) {
    for (const flag of ['--help', '-h']) {
      const r = cli([command, flag])
      t.is(r.status, 0, `${command} ${flag}: ${r.stderr}`)
      const synopses = [...r.stdout.matchAll(/^ {2}heapdiff (\w+)/gm)].map((m) => m[1])
      t.true(synopses.length > 0 && synopses.every((c) => c === command), `${command}: ${synopses}`)
      t.regex(r.stdout, /^exit codes: /m)
      t.true(r.stdout.split('\n').length < full.stdout.split('\n').length)
    }
  }
  t.regex(cli(['diff', '--help']).stdout, /--fail-above SIZE/)
  // `--help` after `--` goes to the program: run starts it (a missing script: node exits 1).
  const out = mkdtempSync(join(dir, 'run-'))
  const r = cli(['run', '--out', out, '--no-report', '--', join(dir, 'missing.js'), '--help'])
  t.not(r.stdout, cli(['run', '--help']).stdout)
  t.regex(r.stderr, /Cannot find module/)
})

// Node ids pair objects only within one process: two runs of one program number their objects
// from the same start, so the ids overlap, but a shared id is another object there.
test('diff of snapshots from two processes: a warning on stderr and in --json, no class table', async (t) => {
  const [p, q] = ['p', 'q'].map((n) => join(dir, `${n}.heapsnapshot`))
  spawnSync(process.execPath, ['-e', `require('v8').writeHeapSnapshot(${JSON.stringify(p)})`])
  spawnSync(process.execPath, [
    '-e',
    `globalThis.kept = Array.from({ length: 5000 }, (_, i) => ({ i })); require('v8').writeHeapSnapshot(${JSON.stringify(q)})`,
  ])
  const table = cli(['diff', p, q])
  t.is(table.status, 0)
  t.regex(
    table.stderr,
    /^heapdiff: warning: the snapshots come from different processes: .*one process: HeapDiff, `heapdiff snapshot --pid` twice, or v8\.writeHeapSnapshot\(\) twice/m,
  )
  t.is(table.stderr.trim().split('\n').length, 1, table.stderr)
  t.regex(table.stdout, /^change .* not a diff: the snapshots come from different processes$/m)
  t.notRegex(table.stdout, /allocated|class/)
  const json = JSON.parse(cli(['diff', p, q, '--json', '--quiet']).stdout)
  t.is(json.comparable, false)
  t.regex(json.warning, /different processes/)
  const report = cli(['report', 'diff', p, q, '-o', join(dir, 'two.json')])
  t.is(report.status, 0, report.stderr)
  const verdict = JSON.parse(readFileSync(join(dir, 'two.json'), 'utf8')).verdict
  t.deepEqual(
    [verdict.leak, /^No diff: the snapshots come from different processes/.test(verdict.sentence)],
    [false, true],
  )
  // One process: no warning, and the result keeps memwatch's shape.
  const same = cli(['diff', a, b, '--json', '--quiet'])
  t.is(same.stderr, '')
  t.false('comparable' in JSON.parse(same.stdout))
  const memwatch = require(root)
  t.is((await memwatch.diffFiles(p, q)).comparable, false)
  t.false('comparable' in (await memwatch.diffFiles(a, b)))
})

// The same for the three-snapshot technique: a baseline of one run, the action and after of
// another would report every object of the second run that shares an id with none of the first.
test('leaks of snapshots from two processes: a warning on stderr and in --json, no class list', async (t) => {
  const [s1, s2, s3] = ['l1', 'l2', 'l3'].map((n) => join(dir, `${n}.heapsnapshot`))
  spawnSync(process.execPath, ['-e', `require('v8').writeHeapSnapshot(${JSON.stringify(s1)})`])
  spawnSync(process.execPath, [
    '-e',
    `const v8 = require('v8'); globalThis.kept = Array.from({ length: 5000 }, (_, i) => ({ i }));
     v8.writeHeapSnapshot(${JSON.stringify(s2)}); v8.writeHeapSnapshot(${JSON.stringify(s3)})`,
  ])
  const list = cli(['leaks', s1, s2, s3, '--fail-on-leak'])
  t.is(list.status, 0, 'no leak report, so nothing to fail on')
  t.regex(
    list.stderr,
    /^heapdiff: warning: the snapshots come from different processes: .*no leak report\. Take all three in one process: .*\(s1 and s2: of \d+ sampled ids in both, \d+ name the same kind of object\)$/m,
  )
  t.is(list.stderr.trim().split('\n').length, 1, list.stderr)
  t.is(
    list.stdout,
    'not a leak report: the snapshots l1.heapsnapshot, l2.heapsnapshot, l3.heapsnapshot come from different processes\n',
  )
  const json = JSON.parse(cli(['leaks', s1, s2, s3, '--json', '--quiet']).stdout)
  t.is(json.comparable, false)
  t.regex(json.warning, /different processes/)
  t.deepEqual(json.leaks, [])
  t.false('id_pairing' in json || 'same_process' in json)
  const report = cli(['report', 'leaks', s1, s2, s3, '-o', join(dir, 'three.json')])
  t.is(report.status, 0, report.stderr)
  const written = JSON.parse(readFileSync(join(dir, 'three.json'), 'utf8'))
  t.deepEqual(written.classes, [])
  t.is(written.verdict.leak, false)
  t.regex(written.verdict.sentence, /^No leak report: the snapshots come from different processes: .*\)\.$/)
  const memwatch = require(root)
  const found = await memwatch.findLeaks(s1, s2, s3)
  t.deepEqual([found.comparable, found.leaks], [false, []])
  t.is(found.warning, json.warning)
  // One process: no warning, and the result keeps its shape.
  const same = cli(['leaks', a, b, b, '--json', '--quiet'])
  t.is(same.stderr, '')
  t.deepEqual(Object.keys(JSON.parse(same.stdout)).sort(), ['allocated', 'leaked', 'leaks'])
  t.deepEqual(Object.keys(await memwatch.findLeaks(a, b, b)).sort(), ['allocated', 'leaked', 'leaks'])
})
