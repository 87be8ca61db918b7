// The package as a user gets it: the packed package.json runs nothing on install, and a missing
// platform package is named in the error instead of napi's generic "Cannot find native binding".
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string
  scripts: Record<string, string>
}
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

test('without its platform package, loading heapdiff names the package to install (CJS and ESM)', (t) => {
  // index.js and the napi loader alone, where neither heapdiff.<platform>.node nor
  // heapdiff-<platform> can be found.
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-nobinding-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const file of ['index.js', 'index.mjs', 'binding.js', 'package.json'])
    copyFileSync(join(root, file), join(dir, file))
  const expected = new RegExp(
    `npm install heapdiff-${process.platform}-${process.arch}[\\w-]*@${pkg.version.replace(/\./g, '\\.')}`,
  )
  for (const args of [
    ['-e', `require(${JSON.stringify(join(dir, 'index.js'))})`],
    ['--input-type=module', '-e', `await import(${JSON.stringify(join(dir, 'index.mjs'))})`],
  ]) {
    const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 60000 })
    t.not(r.status, 0)
    t.regex(r.stderr, /heapdiff: the native module for \S+ is missing\. It comes in the package heapdiff-/)
    t.regex(r.stderr, expected)
    if (process.platform === 'linux') t.regex(r.stderr, /heapdiff-linux-\w+-(gnu|musl)\b/)
  }
})

test('the packed package.json has no install-time script; the repository keeps `prepare`', (t) => {
  // `npm install` in a clone builds everything through `prepare`; packing strips it.
  t.is(pkg.scripts.prepare, 'npm run build')
  t.is(pkg.scripts.prepack, 'npm run build && node scripts/pack-manifest.mjs strip')
  t.is(pkg.scripts.postpack, 'node scripts/pack-manifest.mjs restore')
  // npm's real prepack/pack/postpack sequence on a copy, with the build left out of prepack (the
  // built files are copied instead).
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-pack-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const src = join(dir, 'src')
  for (const path of [
    'scripts',
    'lib',
    'index.js',
    'index.d.ts',
    'index.mjs',
    'binding.js',
    'binding.d.ts',
    'README.md',
  ])
    cpSync(join(root, path), join(src, path), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  manifest.scripts.prepack = manifest.scripts.prepack.replace('npm run build && ', '')
  const text = JSON.stringify(manifest, null, 2) + '\n'
  writeFileSync(join(src, 'package.json'), text)
  execFileSync('npm', ['pack', '--pack-destination', dir], { cwd: src, stdio: 'pipe', timeout: 120000 })
  t.is(readFileSync(join(src, 'package.json'), 'utf8'), text, 'package.json restored byte for byte')
  const packed = JSON.parse(
    execFileSync('tar', ['-xOzf', join(dir, `heapdiff-${pkg.version}.tgz`), 'package/package.json'], {
      encoding: 'utf8',
    }),
  ) as { scripts: Record<string, string> }
  for (const s of INSTALL_SCRIPTS) t.is(packed.scripts[s], undefined, `packed scripts.${s}`)
  t.is(packed.scripts.build, manifest.scripts.build)
})
