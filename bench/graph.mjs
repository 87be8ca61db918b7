// `npm run bench:graph`: dominators, retained sizes and retaining paths, heapdiff against
// memlab and Chrome DevTools' own code (heap-snapshot-toolkit) on the same snapshot files.
//
// Tasks (one fresh process per tool and task, so peak RSS is its own):
//   top   one snapshot (the `-a` file of each size): the dominator tree and retained size of every
//         node, then the 20 largest retained sizes with a shortest retaining path for each
//         (heapdiff: `topRetainers(file, { top: 20 })`).
//   diff  two snapshots: the id diff, then in the second one the retained size and a retaining
//         path of the new instances of the classes with most of them
//         (heapdiff: `diffFiles(a, b, { retainers: true })`).
// Snapshots are bench/results/<size>-{a,b}.heapsnapshot, written by `npm run bench` (bench/run.mjs).
//
// The machine may be shared: before and after every run the CPU time all processes used is read
// from /proc/stat, the run's own CPU time subtracted, and what is left (other processes, in cores
// on average) is shown next to a cell when it is above 0.3 core. heapdiff, whose runs take
// seconds, is re-run up to 4 times when disturbed and the least disturbed run is kept.
//
// Usage: node bench/graph.mjs [--sizes=small,medium,large] [--tools=heapdiff,toolkit,memlab]
//        [--tasks=top,diff]
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { warm } from './tools/warm.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const results = join(here, 'results')
const args = process.argv.slice(2)
const arg = (name, dflt) => (args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt).split(',')
const sizes = arg('sizes', 'small,medium,large')
// heapdiff first: the ratios and the agreement checks are against it
const TOOLS = arg('tools', 'heapdiff,toolkit,memlab').sort((x, y) => (y === 'heapdiff') - (x === 'heapdiff'))
const TASKS = arg('tasks', 'top,diff')
const TIMEOUT_MS = 20 * 60 * 1000
/** The JS tools get a heap limit far above their needs, so that only real limits stop them. */
const BIG_HEAP = '--max-old-space-size=20000'
/** Other processes' CPU use (cores, on average over a run) above which a run counts as disturbed. */
const DISTURBED = 0.3
const HZ = 100 // USER_HZ on Linux

for (const size of sizes) {
  for (const f of ['a', 'b']) {
    const file = join(results, `${size}-${f}.heapsnapshot`)
    if (!existsSync(file)) {
      console.error(`${file} is missing: run \`npm run bench -- --sizes=${size}\` first, it writes the snapshots`)
      process.exit(2)
    }
  }
}

/** Busy CPU time of the whole machine so far, ms. */
function busyMs() {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
  // user nice system idle iowait irq softirq steal guest guest_nice (guest already in user)
  return ((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000) / HZ
}

function loadavg() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
}

function runOnce(tool, task, files) {
  warm(files.filter((f) => f.endsWith('.heapsnapshot')))
  const load = loadavg()
  const b0 = busyMs()
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [BIG_HEAP, join(here, 'tools', `${tool}-graph.mjs`), task, ...files], {
    cwd: here,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 64 << 20,
  })
  const wall = performance.now() - t0
  const busy = busyMs() - b0
  const others = (own) => Math.max(0, (busy - own) / wall)
  if (r.error?.code === 'ETIMEDOUT') return { failed: `timeout after ${TIMEOUT_MS / 60000} min`, load }
  if (r.status !== 0) {
    const why = /heap out of memory|Allocation failed|ENOMEM/.test(r.stderr)
      ? `fails after ${(wall / 1000).toFixed(0)} s: out of memory`
      : `fails (exit ${r.status ?? r.signal}) after ${(wall / 1000).toFixed(0)} s: ${r.stderr.trim().split('\n').slice(-1)[0]?.slice(0, 80)}`
    // a child killed by the kernel's OOM killer has used CPU we cannot see; count none for it
    return { failed: why, load, others: others(0) }
  }
  const out = JSON.parse(r.stdout.trim().split('\n').pop())
  return { ...out, load, others: others(out.cpuMs) }
}

function runTool(tool, task, files, extra = []) {
  let best = runOnce(tool, task, [...files, ...extra])
  if (tool !== 'heapdiff') return best
  for (let i = 0; i < 4 && !best.failed && best.others > DISTURBED; i++) {
    console.log(`  heapdiff ${task}: others used ${best.others.toFixed(1)} cores during the run, again ...`)
    const again = runOnce(tool, task, [...files, ...extra])
    if (!again.failed && again.others < best.others) best = again
  }
  return best
}

const fmtRatio = (x) => (x >= 10 ? `${x.toFixed(0)}×` : `${x.toFixed(1)}×`)
const mb = (bytes) => (bytes / 1048576).toFixed(0)
const exact = (n) => (n == null ? '-' : String(Math.round(n)))

const lines = []
const out = (s = '') => {
  console.log(s)
  lines.push(s)
}
const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown cpu'
const ram = (Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s*(\d+)/)[1]) / 1048576).toFixed(0)
const peers = ['@memlab/core', 'heap-snapshot-toolkit'].map(
  (p) => `${p} ${JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version}`,
)
out('# heapdiff graph benchmarks: dominators, retained sizes, retaining paths')
out()
out(`${cpu}, ${cpus().length} cores, ${ram} GB RAM, node ${process.version}; ${peers.join(', ')}.`)
out(`Each cell: wall time, peak RSS; ratios are the tool's time and memory over heapdiff's; heapdiff's`)
out(`cell adds its peak RSS as a share of the input file(s), and its own peak (bytes its native code`)
out(`allocated, without the Node process around them; pages never touched count here, not in RSS).`)
out(
  `JS tools run with ${BIG_HEAP}, timeout ${TIMEOUT_MS / 60000} min. "load L" marks a run during which other processes used L cores on average.`,
)

const agreement = []
const disturbed = []
const loads = []
for (const task of TASKS) {
  out()
  out(
    task === 'top'
      ? '## Dominator tree + retained size of every node + shortest retaining paths of the top 20 (one file)'
      : '## Diff + retained sizes and retaining paths of the new instances of the 10 classes with most (two files)',
  )
  out()
  out(`| snapshot | ${TOOLS.join(' | ')} |`)
  out(`|---|${TOOLS.map(() => '---').join('|')}|`)
  for (const size of sizes) {
    const a = join(results, `${size}-a.heapsnapshot`)
    const b = join(results, `${size}-b.heapsnapshot`)
    const files = task === 'top' ? [a] : [a, b]
    const input = files.reduce((s, f) => s + statSync(f).size, 0)
    const cells = []
    const runs = {}
    let ref = null
    for (const tool of TOOLS) {
      // the others also report the retained sizes of heapdiff's top 3, to compare like with like
      const extra =
        task === 'top' && tool !== 'heapdiff' && ref?.top
          ? [
              ref.top
                .slice(0, 3)
                .map((t) => t.id)
                .join(','),
            ]
          : []
      console.log(`${task} ${size} ${tool} (load average ${loadavg()}) ...`)
      const r = runTool(tool, task, files, extra)
      runs[tool] = r
      loads.push(r.load)
      if (tool === 'heapdiff') ref = r
      const mark = r.others > DISTURBED ? ` [load ${r.others.toFixed(1)}]` : ''
      if (r.others > DISTURBED)
        disturbed.push(`${task} ${size} ${tool}: ${r.others.toFixed(1)} cores (load average ${r.load} before)`)
      if (r.failed) {
        cells.push(r.failed + mark)
        continue
      }
      const base = `${(r.ms / 1000).toFixed(2)} s, ${r.rssMb.toFixed(0)} MB`
      if (tool === 'heapdiff') {
        const share = (mb) => `${((100 * mb * 1048576) / input).toFixed(0)}%`
        cells.push(`${base} (${share(r.rssMb)} of input; own ${r.ownMb.toFixed(0)} MB, ${share(r.ownMb)})${mark}`)
      } else if (!ref || ref.failed) {
        cells.push(base + mark)
      } else {
        cells.push(`${base} (${fmtRatio(r.ms / ref.ms)} time, ${fmtRatio(r.rssMb / ref.rssMb)} mem)${mark}`)
      }
    }
    const nodes = Object.values(runs).find((r) => r.nodes)?.nodes
    out(
      `| ${size}: ${files.map((f) => mb(statSync(f).size)).join(' + ')} MB${nodes ? `, ${nodes} nodes` : ''} | ${cells.join(' | ')} |`,
    )
    agreement.push({ task, size, runs })
  }
}

out()
out('## Agreement')
for (const { task, size, runs } of agreement) {
  out()
  if (task === 'top') {
    out(`${size}, top 3 retained sizes each tool reports (bytes, node id, name):`)
    out()
    for (const [tool, r] of Object.entries(runs)) {
      if (r.failed) continue
      out(
        `- ${tool}: ${r.top
          .slice(0, 3)
          .map((t) => `${exact(t.retained)} @${t.id} ${t.name.slice(0, 30)}`)
          .join('; ')}`,
      )
    }
    const ref = runs.heapdiff
    if (ref && !ref.failed) {
      out(
        `- heapdiff's top 3 (@${ref.top
          .slice(0, 3)
          .map((t) => t.id)
          .join(', @')}) as the others size them:`,
      )
      for (const [tool, r] of Object.entries(runs)) {
        if (tool !== 'heapdiff' && !r.failed && r.ids) out(`  ${tool} ${r.ids.map(exact).join(', ')}`)
      }
      const refIds = ref.top.map((t) => t.id).join(',')
      for (const [tool, r] of Object.entries(runs)) {
        if (tool === 'heapdiff' || r.failed) continue
        const sameIds = r.top.map((t) => t.id).join(',') === refIds
        const sameSizes = sameIds && r.top.every((t, k) => t.retained === ref.top[k].retained)
        out(
          `- ${tool} top 20 vs heapdiff's: ${sameSizes ? 'same nodes, same sizes' : sameIds ? 'same nodes, sizes differ' : 'different nodes'}`,
        )
      }
      out(`- heapdiff's path to its largest: ${ref.path}`)
      for (const [tool, r] of Object.entries(runs))
        if (tool !== 'heapdiff' && !r.failed) out(`- ${tool}'s path to its largest: ${r.path}`)
    }
  } else {
    out(`${size}, diff: retained size of the new instances, by class (bytes):`)
    out()
    for (const [tool, r] of Object.entries(runs)) {
      if (r.failed) continue
      out(
        `- ${tool}: ${r.classes
          .slice(0, 6)
          .map((c) => `${c.name} ${c.added} new, ${exact(c.retained)}`)
          .join('; ')}`,
      )
    }
  }
}
out()
out(
  `Load average (1 min) before the runs: ${Math.min(...loads)} to ${Math.max(...loads)} (it includes this benchmark's previous run).`,
)
if (disturbed.length) {
  out()
  out(`Runs during which other processes used more than ${DISTURBED} core on average: ${disturbed.join('; ')}.`)
}
writeFileSync(join(results, 'graph.md'), lines.join('\n') + '\n')
console.log(`\nwritten to ${join(results, 'graph.md')}`)
