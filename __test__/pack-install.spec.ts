// The packed package as a user meets it: `npm pack` of heapdiff and of this platform's package,
// both installed offline into an empty project whose PATH has node and sh and nothing else (no
// compiler, no cargo): CommonJS, ESM, the types and the `heapdiff` bin work, and npm says nothing about
// install scripts. Installed without its platform tarball, the bin and `heapdiff/metrics` name
// the package to install.
//
// It packs, installs twice and type-checks (about 30 s), so it runs on one Node version of the
// suite's four: Node 20, the oldest supported (HEAPDIFF_PACK_TEST=1 runs it on any).
import test from 'ava'
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string
  files: string[]
  scripts: Record<string, string>
}
const platform = 'linux-x64-gnu'
const major = process.versions.node.split('.')[0]
const forced = process.env.HEAPDIFF_PACK_TEST === '1'
const runs = (major === '20' || forced) && process.platform === 'linux' && process.arch === 'x64'
const note = runs
  ? ''
  : `SKIPPED: the packed-package test runs on Node 20 (linux-x64) only, this is Node ${process.versions.node} ` +
    `on ${process.platform}-${process.arch}; HEAPDIFF_PACK_TEST=1 runs it here`
if (note) console.error(`\n${note}\n`)

// npm itself, run by this Node, with a PATH of this Node alone.
const npmCli = (() => {
  const r = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' })
  return r.status === 0 ? realpathSync(r.stdout.trim()) : ''
})()
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-packed-'))
const bin = join(dir, 'bin')
const env = { ...process.env, PATH: bin, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' }
for (const k of Object.keys(env)) if (k.startsWith('npm_') && !k.startsWith('npm_config_c')) delete env[k]
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

function npm(args: string[], cwd: string, withEnv = env): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [npmCli, ...args], { cwd, env: withEnv, encoding: 'utf8', timeout: 180000 })
}

function sh(cwd: string, cmd: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 60000 })
}

/** Packs both packages; returns the tarballs. */
function pack(): [string, string] {
  // heapdiff: the built files of the checkout, packed through the real prepack/postpack hooks
  // with the build left out (it is done; package.spec.ts checks the hooks restore package.json).
  const src = join(dir, 'src')
  for (const path of [...pkg.files.map((f) => f.split('/')[0]), 'scripts', 'README.md']) {
    if (existsSync(join(root, path))) cpSync(join(root, path), join(src, path), { recursive: true })
  }
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  manifest.scripts.prepack = manifest.scripts.prepack.replace('npm run build && ', '')
  writeFileSync(join(src, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
  const out = join(dir, 'tarballs')
  mkdirSync(out)
  // Packing is the developer's side: the checkout's PATH.
  const dev = { ...env, PATH: process.env.PATH }
  const a = npm(['pack', '--pack-destination', out], src, dev)
  if (a.status !== 0) throw new Error(`npm pack heapdiff: ${a.stderr}`)
  const b = npm(['pack', '--pack-destination', out], join(root, 'npm', platform), dev)
  if (b.status !== 0) throw new Error(`npm pack heapdiff-${platform}: ${b.stderr}`)
  return [join(out, `heapdiff-${pkg.version}.tgz`), join(out, `heapdiff-${platform}-${pkg.version}.tgz`)]
}

function project(name: string): string {
  const p = join(dir, name)
  mkdirSync(p)
  writeFileSync(join(p, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }) + '\n')
  return p
}

test.before(() => {
  if (!runs) return
  if (!npmCli) throw new Error('npm is not on PATH')
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync('/bin/sh', join(bin, 'sh')) // npm spawns a shell; no compiler comes with it
})

// Elsewhere a skip, named as one (not a pass).
const packTest = runs ? test : test.skip
const title = 'packed heapdiff and its platform package install offline without a compiler; CJS, ESM, types, bin'
packTest(runs ? title : `${title} — ${note}`, (t) => {
  for (const tool of ['cc', 'gcc', 'c++', 'cargo', 'rustc', 'make', 'python3'])
    t.regex(String(sh(dir, tool, ['--version']).error), /ENOENT/, `${tool} is not on PATH`)
  const [main, native] = pack()
  const p = project('app')
  const install = npm(['install', '--offline', '--no-audit', '--no-fund', main, native], p)
  const said = `${install.stdout}\n${install.stderr}`
  t.is(install.status, 0, said)
  t.notRegex(said, /install script|allowScripts|prepare|EBADENGINE|gyp|cargo/i)

  const cjs = sh(p, 'node', [
    '-e',
    `const m = require('heapdiff'); m.gc(); const { registerPrometheus } = require('heapdiff/metrics');
     console.log(typeof m.on, typeof m.HeapDiff, typeof registerPrometheus, m.status().nativeGc)`,
  ])
  t.is(cjs.stdout.trim(), 'function function function true', cjs.stderr)
  writeFileSync(
    join(p, 'esm.mjs'),
    `import memwatch, { HeapDiff, diffFiles } from 'heapdiff'
import { registerOpenTelemetry } from 'heapdiff/metrics'
const hd = new HeapDiff()
globalThis.kept = Array.from({ length: 100 }, () => ({}))
console.log(typeof memwatch.on, typeof diffFiles, typeof registerOpenTelemetry, hd.end().change.allocated_nodes > 0)
`,
  )
  const esm = sh(p, 'node', ['esm.mjs'])
  t.is(esm.stdout.trim(), 'function function function true', esm.stderr)

  // The types, under --strict, against the repository's @types/node.
  mkdirSync(join(p, 'node_modules', '@types'), { recursive: true })
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(p, 'node_modules', '@types', 'node'))
  writeFileSync(
    join(p, 'app.ts'),
    `import memwatch, { HeapDiff } from 'heapdiff'
import { registerPrometheus } from 'heapdiff/metrics'
memwatch.on('leak', (info) => console.log(info.reason.toUpperCase(), info.growth + 1))
const diff = new HeapDiff().end()
const n: number = diff.change.size_bytes
void [n, registerPrometheus]
`,
  )
  writeFileSync(
    join(p, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
      },
      files: ['app.ts'],
    }),
  )
  const tsc = sh(p, 'node', [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'])
  t.is(tsc.status, 0, tsc.stdout + tsc.stderr)

  const version = sh(p, join(p, 'node_modules', '.bin', 'heapdiff'), ['--version'])
  t.is(version.stdout.trim(), pkg.version, version.stderr)
  execFileSync(process.execPath, [
    '-e',
    `const v8 = require('v8'); v8.writeHeapSnapshot(${JSON.stringify(join(p, 'a.heapsnapshot'))});
     globalThis.k = Array.from({ length: 500 }, () => ({})); v8.writeHeapSnapshot(${JSON.stringify(join(p, 'b.heapsnapshot'))})`,
  ])
  const diff = sh(p, join(p, 'node_modules', '.bin', 'heapdiff'), [
    'diff',
    'a.heapsnapshot',
    'b.heapsnapshot',
    '--top',
    '3',
  ])
  t.is(diff.status, 0, diff.stderr)
  t.regex(diff.stdout, /^change {2}\+.*allocated/m)

  // Without the platform tarball: the bin and heapdiff/metrics name the package, in one line.
  const bare = project('bare')
  const alone = npm(['install', '--offline', '--no-audit', '--no-fund', main], bare)
  t.is(alone.status, 0, alone.stderr)
  const wanted = new RegExp(
    `^heapdiff: the native module for ${platform} is missing\\..* npm install heapdiff-${platform}@`,
  )
  const cli = sh(bare, join(bare, 'node_modules', '.bin', 'heapdiff'), ['--version'])
  t.is(cli.status, 1)
  t.regex(cli.stderr, wanted)
  t.is(cli.stderr.trim().split('\n').length, 1, cli.stderr)
  for (const code of [
    `require('heapdiff/metrics')`,
    `import('heapdiff/metrics').catch((e) => { console.error(e.message); process.exit(1) })`,
  ]) {
    const r = sh(bare, 'node', ['-e', code])
    t.not(r.status, 0)
    // The error's own message (napi's "Cannot find native binding" is only its `cause`).
    t.regex(r.stderr, new RegExp(`^(Error: )?heapdiff: the native module for ${platform} is missing`, 'm'), code)
  }
})
