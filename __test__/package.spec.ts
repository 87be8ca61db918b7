// The package as a user gets it: the packed package.json runs nothing on install.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string
  scripts: Record<string, string>
}
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

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
