// `npm run bench`: heapdiff against the tools users would otherwise pick, side by side in one run.
//
// Every tool runs in a fresh process per task (so peak RSS is its own), on the same snapshot
// pairs written by one Node process (ids comparable), in three sizes; the two larger are past
// JSON.parse's string limit. Next to the tools sits a floor, int-scan (a Rust example that only
// parses every integer in the files, one pass, one thread). Prints a table with time and memory
// ratios against heapdiff and writes it to bench/results/latest.md; then runs the in-process
// benchmark (HeapDiff against V8's own snapshot writer), census() against a snapshot
// (bench/census.mjs), the GC overhead benchmark, and last the
// graph benchmark (bench/graph.mjs: dominators, retained sizes, retainer paths) on the same files.
//
// Usage: node bench/run.mjs [--quick] [--no-gc] [--no-inprocess] [--no-census] [--no-sampling] [--no-graph]
//        [--sizes=small,medium,large,xlarge]
//        [--tools=heapdiff,memlab]
// (xlarge, about 3 GB per file, is not in the default run: heapdiff alone takes seconds, the
// JS tools minutes and many GB.)
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { warm } from './tools/warm.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const results = join(here, 'results')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const sizeArg = args.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length)

/**
 * Live heap to build, in "records"; the first file of a pair takes about 390 bytes of JSON per
 * record (the second ~17% more), so these give ~100 MB, ~700 MB and ~1.5 GB per file.
 */
const SIZES = { small: 256_000, medium: 1_800_000, large: 3_850_000, xlarge: 8_000_000 }
const sizes = sizeArg ? sizeArg.split(',') : quick ? ['small'] : ['small', 'medium', 'large']
const toolArg = args.find((a) => a.startsWith('--tools='))?.slice('--tools='.length)
const TOOLS = toolArg
  ? toolArg.split(',')
  : ['heapdiff', 'heapdiff-devtools', 'int-scan', 'json-parse', 'toolkit', 'memlab']
const TIMEOUT_MS = 10 * 60 * 1000
/** The JS tools get a heap limit far above their needs, so that only real limits stop them. */
const BIG_HEAP = '--max-old-space-size=16000'

function installPeers() {
  if (existsSync(join(here, 'node_modules', '@memlab', 'core'))) return
  console.log('installing benchmark peers (memlab, heap-snapshot-toolkit) into bench/node_modules ...')
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], {
    cwd: here,
    stdio: 'inherit',
    env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' },
  })
  if (r.status !== 0) throw new Error('npm install in bench/ failed')
}

/** Two snapshots of one process: `records` live objects, then 20% more plus some freed. */
function generate(name, records) {
  const a = join(results, `${name}-a.heapsnapshot`)
  const b = join(results, `${name}-b.heapsnapshot`)
  if (existsSync(a) && existsSync(b)) return [a, b]
  console.log(`writing ${name} snapshots (${records} records) ...`)
  const script = `
    const v8 = require('v8');
    class Order { constructor(i) { this.id = i; this.customer = 'customer-' + (i % 5000); this.items = [i, i + 1]; this.meta = { at: i * 7 }; } }
    class Session { constructor(i) { this.token = 't' + i.toString(36); this.hits = i; } }
    const orders = Array.from({ length: ${records} }, (_, i) => new Order(i));
    let sessions = Array.from({ length: ${Math.round(records / 10)} }, (_, i) => new Session(i));
    const index = new Map(orders.slice(0, ${Math.round(records / 4)}).map((o) => [o.id, o]));
    v8.writeHeapSnapshot(${JSON.stringify(a)});
    for (let i = 0; i < ${Math.round(records / 5)}; i++) orders.push(new Order(${records} + i));
    sessions = sessions.slice(${Math.round(records / 20)});
    v8.writeHeapSnapshot(${JSON.stringify(b)});
    console.log(orders.length + sessions.length + index.size);
  `
  execFileSync(process.execPath, ['--max-old-space-size=8000', '-e', script], { stdio: 'ignore' })
  return [a, b]
}

const repo = join(here, '..')
const intScan = join(repo, 'target', 'release', 'examples', 'int_scan')

/** Builds the int-scan floor (a Rust example of the heapsnap crate; see its doc comment). */
function buildIntScan() {
  const r = spawnSync('cargo', ['build', '--release', '-p', 'heapsnap', '--example', 'int_scan'], {
    cwd: repo,
    stdio: 'inherit',
  })
  if (r.status !== 0) throw new Error('cargo build --example int_scan failed')
}

/** The line of a crash report that names the error (Node ends stderr with its version line). */
function errorLine(stderr) {
  const lines = stderr.trim().split('\n')
  const line = lines.findLast((l) => /Error\b|error:/.test(l)) ?? lines.at(-1)
  return line?.trim().slice(0, 100)
}

function runTool(tool, task, files) {
  warm(files)
  const [cmd, argv] =
    tool === 'int-scan'
      ? [intScan, files]
      : [process.execPath, [BIG_HEAP, join(here, 'tools', `${tool}.mjs`), task, ...files]]
  const r = spawnSync(cmd, argv, {
    cwd: here,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 64 << 20,
  })
  if (r.error?.code === 'ETIMEDOUT') return { failed: `timeout after ${TIMEOUT_MS / 60000} min` }
  if (r.status !== 0) {
    const why = /ERR_STRING_TOO_LONG|Cannot create a string longer/.test(r.stderr)
      ? 'fails: file exceeds V8 max string length'
      : /heap out of memory|Allocation failed/.test(r.stderr)
        ? 'fails: out of memory'
        : `fails (exit ${r.status ?? r.signal}): ${errorLine(r.stderr)}`
    return { failed: why }
  }
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

function fmtRatio(x) {
  return x >= 10 ? `${x.toFixed(0)}×` : `${x.toFixed(1)}×`
}

installPeers()
if (TOOLS.includes('int-scan')) buildIntScan()
mkdirSync(results, { recursive: true })
const lines = []
const out = (s = '') => {
  console.log(s)
  lines.push(s)
}
const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown cpu'
const peers = ['@memlab/core', 'heap-snapshot-toolkit'].map(
  (p) => `${p} ${JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version}`,
)
out(`# heapdiff benchmarks`)
out()
out(`${cpu}, ${cpus().length} cores, node ${process.version}; ${peers.join(', ')}.`)
out(`Each cell: wall time, peak RSS; ratios are the tool's time and memory over heapdiff's.`)
out(`heapdiff's cell adds its peak RSS as a share of the input, and its own peak (native allocations,`)
out(`without the Node process around them); int-scan's adds heapdiff's time over`)
out(`int-scan's (int-scan: read every file once on one thread and parse every integer; nothing else).`)
out(`JS tools run with ${BIG_HEAP}. Snapshots: written by v8.writeHeapSnapshot on this Node.`)

const pairs = Object.fromEntries(sizes.map((size) => [size, generate(size, SIZES[size])]))
for (const task of ['diff', 'parse']) {
  out()
  out(
    task === 'diff'
      ? '## Diff two snapshots (heapdiff: `diffFiles`, both files parsed in parallel; others: parse both, then compare)'
      : '## Parse one snapshot (heapdiff: `parseSnapshotFile`, one thread)',
  )
  out()
  const header = TOOLS.filter((t) => task === 'diff' || t !== 'heapdiff-devtools')
  out(`| snapshot | ${header.join(' | ')} |`)
  out(`|---|${header.map(() => '---').join('|')}|`)
  for (const size of sizes) {
    const [a, b] = pairs[size]
    const files = task === 'diff' ? [a, b] : [a]
    const sizesMb = files.map((f) => statSync(f).size / 1048576)
    const mb = sizesMb.map((m) => m.toFixed(0)).join(' + ')
    const inputMb = sizesMb.reduce((x, y) => x + y, 0)
    const cells = []
    let ref = null
    // heapdiff-devtools only diffs; its rows are checked against DevTools' (the toolkit's).
    const tools = TOOLS.filter((t) => task === 'diff' || t !== 'heapdiff-devtools')
    const results = Object.fromEntries(tools.map((tool) => [tool, runTool(tool, task, files)]))
    for (const tool of tools) {
      const r = results[tool]
      if (tool === 'heapdiff') ref = r
      if (r.failed) {
        cells.push(r.failed)
        continue
      }
      const base = `${(r.ms / 1000).toFixed(2)} s, ${r.rssMb.toFixed(0)} MB`
      if (tool === 'heapdiff-devtools') {
        const kit = results.toolkit
        const same =
          !kit || kit.failed
            ? 'rows not checked'
            : kit.rows === r.rows
              ? "rows = DevTools'"
              : "ROWS DIFFER from DevTools'"
        const vs = ref && !ref.failed ? `${(r.ms / ref.ms).toFixed(2)}× classic's time, ` : ''
        cells.push(`${base} (${vs}${((100 * r.rssMb) / inputMb).toFixed(0)}% of input; ${same})`)
      } else if (tool === 'heapdiff') {
        const share = (mb) => `${((100 * mb) / inputMb).toFixed(0)}%`
        cells.push(`${base} (${share(r.rssMb)} of input; own ${r.ownMb.toFixed(0)} MB, ${share(r.ownMb)})`)
      } else if (!ref || ref.failed) {
        cells.push(base)
      } else if (tool === 'int-scan') {
        cells.push(`${base} (heapdiff ${(ref.ms / r.ms).toFixed(2)}× this)`)
      } else {
        cells.push(`${base} (${fmtRatio(r.ms / ref.ms)} time, ${fmtRatio(r.rssMb / ref.rssMb)} mem)`)
      }
    }
    out(`| ${size}: ${mb} MB${ref?.nodes ? `, ${ref.nodes} nodes` : ''} | ${cells.join(' | ')} |`)
  }
}

if (!args.includes('--no-inprocess')) {
  out()
  out('## In process: `new HeapDiff()` + `end()` against V8 writing the same two snapshots')
  out()
  out('```')
  const ip = execFileSync(process.execPath, ['--expose-gc', join(here, 'inprocess.mjs')], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  })
  for (const l of ip.trim().split('\n')) out(l)
  out('```')
}

if (!args.includes('--no-census')) {
  const [censusSizes, censusRounds] = quick ? ['50', '1'] : ['50,200,1000', '2']
  out()
  out(`## census() against v8.writeHeapSnapshot() (\`node bench/census.mjs ${censusSizes} ${censusRounds}\`)`)
  out()
  const census = execFileSync(process.execPath, [join(here, 'census.mjs'), censusSizes, censusRounds], {
    encoding: 'utf8',
  })
  for (const l of census.trim().split('\n')) out(l)
}

if (!args.includes('--no-gc')) {
  out()
  out('## GC overhead of the hook (`node bench/gc-overhead.mjs 7`)')
  out()
  out('```')
  const gc = execFileSync(process.execPath, [join(here, 'gc-overhead.mjs'), '7'], { encoding: 'utf8' })
  for (const l of gc.trim().split('\n')) out(l)
  out('```')
}
if (!args.includes('--no-sampling')) {
  out()
  out('## Sampling overhead against @datadog/pprof (`node bench/sampling.mjs 5`)')
  out()
  out('```')
  const sampling = execFileSync(process.execPath, [join(here, 'sampling.mjs'), '5'], { encoding: 'utf8' })
  for (const l of sampling.trim().split('\n')) out(l)
  out('```')
}
writeFileSync(join(results, 'latest.md'), lines.join('\n') + '\n')
console.log(`\nwritten to ${join(results, 'latest.md')}`)

if (!args.includes('--no-graph')) {
  const graphSizes = sizes.filter((s) => s !== 'xlarge')
  console.log('\nGraph analyses (bench/graph.mjs) on the same snapshots:\n')
  const g = spawnSync(process.execPath, [join(here, 'graph.mjs'), `--sizes=${graphSizes.join(',')}`], {
    stdio: 'inherit',
  })
  if (g.status !== 0) process.exitCode = 1
}
