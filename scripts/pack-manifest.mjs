// `npm pack` / `npm publish` hooks: the packed package.json carries no lifecycle script that would run
// on a user's install. `prepare` (npm run build) stays in the repository's package.json, so that
// `npm install` in a clone still builds everything; `prepack` runs `strip` after the build and
// `postpack` runs `restore`. npm reads package.json again after `prepack`, for the file list and the
// tarball's own package.json (and finds no `prepare` to run while packing).
//
//   node scripts/pack-manifest.mjs strip     package.json without install-time scripts (original kept)
//   node scripts/pack-manifest.mjs restore   the original package.json back
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifest = join(root, 'package.json')
// Under node_modules: out of git, and left behind only if a pack died between the two hooks.
const saved = join(root, 'node_modules', '.cache', 'heapdiff-pack', 'package.json')
// The scripts npm runs when a package is installed (for a git or directory dependency, `prepare` too).
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

function restore() {
  if (!existsSync(saved)) return false
  renameSync(saved, manifest)
  return true
}

const mode = process.argv[2]
if (mode === 'strip') {
  // A pack that died before `postpack` left the stripped copy: start from the original.
  if (restore()) console.error('pack-manifest: restored package.json left stripped by an earlier pack')
  const text = readFileSync(manifest, 'utf8')
  const pkg = JSON.parse(text)
  const dropped = INSTALL_SCRIPTS.filter((s) => pkg.scripts?.[s] !== undefined)
  mkdirSync(dirname(saved), { recursive: true })
  writeFileSync(saved, text)
  for (const s of dropped) delete pkg.scripts[s]
  writeFileSync(manifest, JSON.stringify(pkg, null, 2) + '\n')
  console.error(`pack-manifest: packing without ${dropped.join(', ') || 'any install script'}`)
} else if (mode === 'restore') {
  if (!restore()) throw new Error('pack-manifest: no saved package.json to restore')
} else {
  throw new Error('usage: node scripts/pack-manifest.mjs strip|restore')
}
