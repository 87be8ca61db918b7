// A short run of each cargo-fuzz target (crates/heapsnap/fuzz) over the committed seeds, as part
// of `npm test`: it catches a target that no longer builds and a crash the seeds' neighbourhood
// finds quickly; the long campaigns (CONTRIBUTING.md, "Fuzzing") are run by hand. Needs the nightly
// toolchain and cargo-fuzz; without them it is a loud SKIPPED note, except under CI=true, where
// .ci/run installs both first and a missing one is a failure.
//   node scripts/fuzz-smoke.mjs [seconds per target, default 15]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const fuzz = join(root, 'crates', 'heapsnap', 'fuzz')
const seconds = Number(process.argv[2] ?? 15)
const targets = ['parse_chunks', 'gzip_file', 'graph']

const works = (args) => spawnSync('cargo', args, { cwd: fuzz, stdio: 'ignore' }).status === 0
if (!works(['+nightly', '--version']) || !works(['+nightly', 'fuzz', '--version'])) {
  const why =
    'the fuzz smoke run needs the nightly toolchain and cargo-fuzz (rustup toolchain install nightly; cargo install cargo-fuzz)'
  if (process.env.CI === 'true') {
    console.error(`FAIL: ${why}`)
    process.exit(1)
  }
  console.log(`\n*** SKIPPED: ${why} ***\n`)
  process.exit(0)
}
const build = spawnSync('cargo', ['+nightly', 'fuzz', 'build'], { cwd: fuzz, stdio: 'inherit' })
if (build.status !== 0) process.exit(1)
let failed = 0
for (const t of targets) {
  const corpus = mkdtempSync(join(tmpdir(), `heapsnap-fuzz-${t}-`))
  const args = [
    '+nightly',
    'fuzz',
    'run',
    t,
    corpus,
    join('seeds', t),
    '--',
    `-max_total_time=${seconds}`,
    '-max_len=40000',
  ]
  console.log(`fuzz smoke: ${t} for ${seconds} s`)
  // TMPDIR inside the corpus folder: the gzip target's scratch file goes with it.
  const r = spawnSync('cargo', args, { cwd: fuzz, encoding: 'utf8', env: { ...process.env, TMPDIR: corpus } })
  const stats = (r.stderr.match(/#\d+\s+DONE.*$/m) ?? r.stderr.match(/#\d+\s+\S+\s+cov:.*$/gm)?.slice(-1) ?? [''])[0]
  console.log(`  ${r.status === 0 ? 'ok' : 'FAILED'} ${stats.trim()}`)
  if (r.status !== 0) {
    console.error(r.stderr.split('\n').slice(-60).join('\n'))
    failed++
  }
  rmSync(corpus, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
