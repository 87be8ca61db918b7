// `heapdiff mcp` on the benchmark's snapshot pair: the first `diff` call (parse both files, diff)
// and a repeat call (the files stay loaded), through the real MCP SDK client, against memlab's
// diff of the same pair (memlab's MCP server is not on npm; its own parser and the id diff a
// user writes on top of it, bench/tools/memlab.mjs, as in `npm run bench`), side by side in one
// run, with each process's peak RSS.
//
// Usage: node bench/mcp.mjs [size=large] [--no-memlab]
// The pair comes from `npm run bench` (bench/results/<size>-a/b.heapsnapshot); `node bench/run.mjs
// --sizes=<size> --tools=heapdiff` writes it alone.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const require = createRequire(join(root, 'package.json'))
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js')

const size = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'large'
const memlab = !process.argv.includes('--no-memlab')
const results = join(here, 'results')
const [a, b] = ['a', 'b'].map((s) => join(results, `${size}-${s}.heapsnapshot`))
for (const f of [a, b]) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: run node bench/run.mjs --sizes=${size} --tools=heapdiff first`)
    process.exit(2)
  }
}
const mb = (f) => (statSync(f).size / 2 ** 20).toFixed(0)

/** Peak RSS of a live process, MiB (VmHWM). */
function peakMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

const transport = new StdioClientTransport({
  command: process.execPath,
  args: [join(root, 'cli.js'), 'mcp', '--root', results],
  stderr: 'inherit',
})
const client = new Client({ name: 'heapdiff-bench', version: '1.0.0' })
await client.connect(transport)
const diff = async () => {
  const t0 = performance.now()
  const r = await client.callTool({ name: 'diff', arguments: { before: a, after: b, top: 10 } })
  if (r.isError) throw new Error(r.content[0].text)
  return { ms: performance.now() - t0, rows: r.structuredContent.change.details.length, peak: peakMb(transport.pid) }
}
const first = await diff()
const repeat = await diff()
await client.close()

let ml = null
if (memlab) {
  try {
    const out = execFileSync(
      process.execPath,
      ['--max-old-space-size=16000', join(here, 'tools', 'memlab.mjs'), 'diff', a, b],
      { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 30 * 60 * 1000 },
    )
    ml = JSON.parse(out.trim().split('\n').pop())
  } catch (e) {
    ml = { error: (e.message ?? String(e)).split('\n')[0] }
  }
}

const row = (name, ms, peak) =>
  `  ${name.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(8)} s ${peak.toFixed(0).padStart(8)} MiB`
console.log(`heapdiff mcp, ${size} pair (${mb(a)} + ${mb(b)} MiB), node ${process.version}:`)
console.log(`  ${'call'.padEnd(34)} ${'time'.padStart(10)} ${'peak RSS'.padStart(12)}`)
console.log(row('heapdiff mcp diff, first call', first.ms, first.peak))
console.log(row('heapdiff mcp diff, repeat call', repeat.ms, repeat.peak))
if (ml?.error) console.log(`  memlab diff: failed (${ml.error})`)
else if (ml) {
  console.log(row('memlab diff (parse both, id diff)', ml.ms, ml.rssMb))
  console.log(
    `  first call ${(ml.ms / first.ms).toFixed(1)}× faster than memlab, repeat call ${(ml.ms / repeat.ms).toFixed(0)}×; ` +
      `peak memory ${(ml.rssMb / first.peak).toFixed(1)}× less`,
  )
}
