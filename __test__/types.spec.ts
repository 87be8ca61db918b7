import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')

// What a user may have, installed by this test into a folder of its own (not the repository's
// dependencies, where TypeScript 7's `tsc` bin would shadow the repository's own): each
// @types/node major (`@types/node26` is `npm:@types/node@^26`) and TypeScript 7.x (the native
// compiler), beside the repository's TypeScript 5.x. tsc is pointed at one @types/node through a
// type root of its own holding only `node`, so that packages which reference `types="node"`
// (undici-types) get the same version and the repository's own @types/node stays out.
const CACHE = join(root, 'node_modules', '.cache', 'heapdiff-types')
const WANTED = [
  'typescript7@npm:typescript@^7.0.2',
  '@types/node20@npm:@types/node@^20.19.43',
  '@types/node22@npm:@types/node@^22.20.7',
  '@types/node24@npm:@types/node@^24.19.4',
  '@types/node26@npm:@types/node@^26.6.11',
]
const COMPILERS = [
  ['5', join(root, 'node_modules', 'typescript')],
  ['7', join(CACHE, 'node_modules', 'typescript7')],
] as const

test.before(() => {
  const done = join(CACHE, 'installed.txt')
  if (existsSync(done) && readFileSync(done, 'utf8') === WANTED.join('\n')) return
  mkdirSync(CACHE, { recursive: true })
  writeFileSync(join(CACHE, 'package.json'), '{ "private": true }\n')
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...WANTED], {
    cwd: CACHE,
    encoding: 'utf8',
    timeout: 300000,
  })
  if (npm.status !== 0) throw new Error(`installing the types test's packages failed:\n${npm.stderr}`)
  writeFileSync(done, WANTED.join('\n'))
})

for (const [ts, compiler] of COMPILERS)
  for (const major of [20, 22, 24, 26]) {
    test(`event listeners, options and results are typed against @types/node ${major} (checked by tsc ${ts}.x)`, (t) => {
      const pkg = join(CACHE, 'node_modules', '@types', `node${major}`)
      const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
      t.is(version.split('.')[0], String(major), `${pkg} holds @types/node ${version}`)
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
