// `npm run build:native [-- --target <triple>] [other napi build flags]`: builds the native module
// with `napi build` for this machine or for the given target, then copies it into its npm/
// package folder (fill-npm-dir.mjs). Cross targets on a Linux x64 machine (docs/platforms.md):
//   aarch64-unknown-linux-gnu          Debian's gcc-aarch64-linux-gnu (linker in .cargo/config.toml)
//   x86_64-unknown-linux-musl          Debian's musl-tools (musl-gcc, dynamic musl libc)
//   *-apple-darwin, aarch64-*-musl     zig through cargo-zigbuild (napi build --cross-compile);
//                                      both from PyPI: python3 -m pip install ziglang cargo-zigbuild
//   x86_64-pc-windows-gnu              Debian's mingw-w64, with a stub import library for node.exe
// The Rust target itself is added with rustup when missing.
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from './platform-nodes.mjs'

const args = process.argv.slice(2)
const at = args.findIndex((a) => a === '--target' || a === '-t' || a.startsWith('--target='))
const target = at < 0 ? null : args[at].startsWith('--target=') ? args[at].slice(9) : args[at + 1]

function run(cmd, cmdArgs, env = process.env) {
  console.log(`> ${[cmd, ...cmdArgs].join(' ')}`)
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

const env = { ...process.env }
const extra = []
if (target) {
  const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' })
  if (installed.status === 0 && !installed.stdout.split('\n').includes(target)) run('rustup', ['target', 'add', target])
  // zig only where the host has no linker for the target (not on a Mac for macOS, not when the
  // caller already chose a cross mode, as .github/workflows/release.yml does).
  const chosen = args.some((a) => ['-x', '--cross-compile', '--use-napi-cross', '--use-cross'].includes(a))
  const zig =
    process.platform === 'darwin' ? /^aarch64-unknown-linux-musl$/ : /-apple-darwin$|^aarch64-unknown-linux-musl$/
  if (!chosen && zig.test(target)) {
    if (spawnSync('cargo', ['zigbuild', '--help'], { stdio: 'ignore' }).status !== 0) {
      console.error(`${target} links with zig: python3 -m pip install ziglang cargo-zigbuild`)
      process.exit(1)
    }
    extra.push('--cross-compile')
    // zig targets its newest macOS (15.0) unless told; official Node 20 for x64 runs from 10.15.
    if (target.endsWith('-apple-darwin') && !env.MACOSX_DEPLOYMENT_TARGET)
      env.MACOSX_DEPLOYMENT_TARGET = target.startsWith('x86_64') ? '10.15' : '11.0'
  }
  if (target === 'x86_64-unknown-linux-musl' && !chosen) {
    // Rust's std links libgcc_s (the unwinder) where the C library is dynamic; musl-gcc only
    // searches musl's own folder, so it gets a folder holding just the host's libgcc_s.so.1 (a
    // NEEDED entry to link against; Alpine's libgcc, which its node package needs, provides it).
    const dir = join(root, 'target', 'musl-libgcc')
    mkdirSync(dir, { recursive: true })
    const libgcc = spawnSync('gcc', ['-print-file-name=libgcc_s.so.1'], { encoding: 'utf8' }).stdout.trim()
    rmSync(join(dir, 'libgcc_s.so.1'), { force: true })
    symlinkSync(libgcc, join(dir, 'libgcc_s.so.1'))
    // RUSTFLAGS, not the target's rustflags: napi build sets RUSTFLAGS for musl targets (adding
    // -crt-static), and RUSTFLAGS overrides .cargo/config.toml's target rustflags.
    env.RUSTFLAGS = `${env.RUSTFLAGS ?? ''} -L native=${dir}`.trim()
  }
  if (target === 'x86_64-pc-windows-gnu') {
    // napi-build links windows-gnu addons against a libnode.dll it must find (LIBNODE_PATH), but
    // with napi's dyn-symbols feature nothing is imported from it: Node-API functions are looked
    // up at load time in the host node.exe. An import library naming node.exe (and the empty
    // file napi-build checks for) satisfies the linker.
    const dir = join(root, 'target', 'libnode-stub')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'node.def'), 'LIBRARY node.exe\nEXPORTS\nnapi_module_register\n')
    run('x86_64-w64-mingw32-dlltool', ['-d', join(dir, 'node.def'), '-l', join(dir, 'libnode.dll.a')])
    writeFileSync(join(dir, 'libnode.dll'), '')
    env.LIBNODE_PATH = dir
  }
}

run(
  join(root, 'node_modules', '.bin', 'napi'),
  [
    'build',
    '--platform',
    '--release',
    '--js',
    'binding.js',
    '--dts',
    'binding.d.ts',
    '--output-dir',
    '.',
    ...extra,
    ...args,
  ],
  env,
)
run(process.execPath, [join(root, 'scripts', 'fill-npm-dir.mjs')])
