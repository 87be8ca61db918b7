import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')

// Each @types/node major a user may have, installed as an aliased devDependency
// (`@types/node26` is `npm:@types/node@^26`). tsc is pointed at one through a type root of its own
// holding only `node`, so that packages which reference `types="node"` (undici-types) get the
// same version and the repository's own @types/node stays out.
// And each TypeScript a user may have: 5.x (the JS compiler) and 7.x (the native one), the
// second an aliased devDependency as well (`typescript7` is `npm:typescript@^7`).
const COMPILERS = [
  ['5', 'typescript'],
  ['7', 'typescript7'],
] as const

for (const [ts, compiler] of COMPILERS)
  for (const major of [20, 22, 24, 26]) {
    test(`event listeners, options and results are typed against @types/node ${major} (checked by tsc ${ts}.x)`, (t) => {
      const pkg = join(root, 'node_modules', '@types', `node${major}`)
      const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
      t.is(version.split('.')[0], String(major), `node_modules/@types/node${major} holds @types/node ${version}`)
      const typeRoot = mkdtempSync(join(tmpdir(), `heapdiff-types-${major}-`))
      t.teardown(() => rmSync(typeRoot, { recursive: true, force: true }))
      symlinkSync(pkg, join(typeRoot, 'node'), 'dir')
      const tsc = join(root, 'node_modules', compiler, 'bin', 'tsc')
      const tsVersion = JSON.parse(readFileSync(join(root, 'node_modules', compiler, 'package.json'), 'utf8')).version
      t.is(tsVersion.split('.')[0], ts, `node_modules/${compiler} holds TypeScript ${tsVersion}`)
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
