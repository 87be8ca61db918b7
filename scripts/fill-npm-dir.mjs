// After `napi build --platform`, copies each built heapdiff.<platform>.node into its npm/<platform>/
// package folder, so the prebuilt-binary package for this platform is ready to publish.
import { copyFileSync, existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
for (const file of readdirSync(root)) {
  const m = /^heapdiff\.(.+)\.node$/.exec(file)
  if (!m) continue
  const dir = join(root, 'npm', m[1])
  if (!existsSync(dir)) continue
  copyFileSync(join(root, file), join(dir, file))
  console.log(`copied ${file} -> npm/${m[1]}/`)
}
