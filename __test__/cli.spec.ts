// The CLI's own conventions: one --group default for every command that reads files, and colour
// decided the way Node decides it for a stream.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

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
