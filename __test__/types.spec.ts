import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')

// Each @types/node major a user may have, installed as an aliased devDependency
// (`@types/node26` is `npm:@types/node@^26`). tsc is pointed at one through a type root of its own
// holding only `node`, so that packages which reference `types="node"` (undici-types) get the
// same version and the repository's own @types/node stays out.
// And each TypeScript a user may have: 5.x (the repository's) and 7.x (the native compiler),
// which the test installs into a folder of its own (node_modules/.cache), so that it never
// shadows the repository's `tsc` (both packages ship a `tsc` bin).
const TS7 = join(root, 'node_modules', '.cache', 'heapdiff-typescript7')
const COMPILERS = [
  ['5', join(root, 'node_modules', 'typescript')],
  ['7', join(TS7, 'node_modules', 'typescript')],
] as const

test.before(() => {
  if (existsSync(join(TS7, 'node_modules', 'typescript', 'bin', 'tsc'))) return
  mkdirSync(TS7, { recursive: true })
  writeFileSync(join(TS7, 'package.json'), '{ "private": true }\n')
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', 'typescript@^7.0.2'], {
    cwd: TS7,
    encoding: 'utf8',
    timeout: 300000,
  })
  if (npm.status !== 0) throw new Error(`installing TypeScript 7 for the types test failed:\n${npm.stderr}`)
})

for (const [ts, compiler] of COMPILERS)
  for (const major of [20, 22, 24, 26]) {
    test(`event listeners, options and results are typed against @types/node ${major} (checked by tsc ${ts}.x)`, (t) => {
      const pkg = join(root, 'node_modules', '@types', `node${major}`)
      const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
      t.is(version.split('.')[0], String(major), `node_modules/@types/node${major} holds @types/node ${version}`)
      const typeRoot = mkdtempSync(join(tmpdir(), `heapdiff-types-${major}-`))
      t.teardown(() => rmSync(typeRoot, { recursive: true, force: true }))
      symlinkSync(pkg, join(typeRoot, 'node'), 'dir')
      const tsc = join(compiler, 'bin', 'tsc')
      const tsVersion = JSON.parse(readFileSync(join(compiler, 'package.json'), 'utf8')).version
      t.is(tsVersion.split('.')[0], ts, `${compiler} holds TypeScript ${tsVersion}`)
      const fixture = join(__dirname, 'fixtures', 'typed-events.ts')
      const r = spawnSync(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--esModuleInterop',
          '--typeRoots',
          typeRoot,
          '--types',
          'node',
          '--module',
          'commonjs',
          '--listFiles',
          // 7.x refuses files on the command line beside a tsconfig.json unless told to ignore it.
          ...(ts === '7' ? ['--ignoreConfig'] : []),
          fixture,
        ],
        { cwd: root, encoding: 'utf8', timeout: 120000 },
      )
      const errors = r.stdout
        .split('\n')
        .filter((line) => !line.startsWith('/'))
        .join('\n')
      t.is(r.status, 0, errors + r.stderr)
      // The declarations really were checked against this major, and only against it.
      const nodeTypes = r.stdout.split('\n').filter((line) => /\/@types\/node\d*\/index\.d\.ts$/.test(line))
      t.deepEqual(nodeTypes, [join(pkg, 'index.d.ts')])
    })
  }
