import test from 'ava'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')

test('event listeners, options and results are typed (checked by tsc)', (t) => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const fixture = join(__dirname, 'fixtures', 'typed-events.ts')
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--esModuleInterop', '--types', 'node', '--module', 'commonjs', fixture],
    { cwd: root, encoding: 'utf8', timeout: 120000 },
  )
  t.is(r.status, 0, r.stdout + r.stderr)
})
