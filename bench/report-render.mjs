// Time to a drawn HTML report of a 100,000-GC run in headless Chromium (Debian's chromium via
// playwright-core): a run folder written here (a climbing saw-tooth, a leak event with
// allocation sites), `heapdiff report` on it, then the page opened from file:// N times; the page
// itself records performance.now() when everything is drawn (body[data-ready-ms]).
//
// Usage: node bench/report-render.mjs [--gcs=100000] [--runs=5]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const require = createRequire(join(root, 'package.json'))
const { chromium } = require('playwright-core')
const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt)
const gcs = arg('gcs', 100000)
const runs = arg('runs', 5)

const dir = mkdtempSync(join(tmpdir(), 'heapdiff-bench-render-'))
const t0 = Date.UTC(2026, 0, 1)
const lines = [JSON.stringify({ type: 'start', time: t0, pid: 1, thread_id: 0, main: true, argv: ['node', 'app.js'] })]
for (let i = 0; i < gcs; i++) {
  const heap = 50e6 + i * 100 + (i % 7) * 1e5
  lines.push(
    JSON.stringify({
      type: 'stats',
      gc_time: t0 + i * 100,
      current_base: heap,
      estimated_base: 50e6 + i * 100,
      pause_ms: 2 + (i % 5),
    }),
  )
}
const sites = Array.from({ length: 200 }, (_, i) => ({
  name: `f${i}`,
  url: 'file:///srv/app.js',
  line: i + 1,
  column: 1,
  stack: [
    `f${i} (file:///srv/app.js:${i + 1}:1)`,
    `route${i % 10} (file:///srv/routes.js:${i % 10}:1)`,
    'emit (node:events:1:1)',
  ],
  growth_bytes: 1e6 / (i + 1),
  live_bytes: null,
  live_count: null,
}))
lines.push(
  JSON.stringify({
    type: 'leak',
    time: t0 + gcs * 50,
    start: t0,
    end: t0 + gcs * 50,
    growth: 9e6,
    gcs: 10,
    reason: 'x',
    sites,
  }),
)
writeFileSync(join(dir, 'events-1-0.ndjson'), lines.join('\n') + '\n')
let t = Date.now()
const r = spawnSync(process.execPath, [join(root, 'cli.js'), 'report', dir], { encoding: 'utf8' })
if (r.status !== 0) throw new Error(r.stderr)
const buildMs = Date.now() - t
const file = join(dir, 'report.html')

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
})
const times = []
for (let i = 0; i < runs; i++) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  t = Date.now()
  await page.goto(pathToFileURL(file).href)
  await page.waitForSelector('body[data-ready=true]')
  times.push({ page: Number(await page.getAttribute('body', 'data-ready-ms')), wall: Date.now() - t })
  await page.close()
}
await browser.close()
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(
  `report of a ${gcs}-GC run: heapdiff report ${buildMs} ms, HTML ${(statSync(file).size / 2 ** 20).toFixed(2)} MB ` +
    `(NDJSON ${(statSync(join(dir, 'events-1-0.ndjson')).size / 2 ** 20).toFixed(1)} MB)`,
)
console.log(
  `  Chromium, navigation start to drawn: median ${median(times.map((x) => x.page)).toFixed(0)} ms ` +
    `(runs: ${times.map((x) => x.page.toFixed(0)).join(' ')}); goto → ready wall ${median(times.map((x) => x.wall))} ms`,
)
rmSync(dir, { recursive: true, force: true })
