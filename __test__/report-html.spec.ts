// The HTML report in a real browser (Debian's headless Chromium through playwright-core, no
// browser download): loaded from file:// with every non-file request aborted, it makes none,
// logs no error, draws its chart, lists the JSON report's classes and expands retaining paths.
import test, { type ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'

import { renderHtml } from '../lib/cli/report/html'
import type { Report } from '../lib/cli/report/model'

const root = resolve(__dirname, '..')
const cli = join(root, 'cli.js')
const CHROMIUM = process.env.HEAPDIFF_CHROMIUM ?? '/usr/bin/chromium'
// Under CI the browser tests must run (a missing Chromium fails them); elsewhere they skip, loudly.
const runs = existsSync(CHROMIUM) || process.env.CI === 'true'
const btest = runs ? test.serial : test.skip
const title = (t: string) => (runs ? t : `${t} — SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium)`)

const dir = mkdtempSync(join(tmpdir(), 'heapdiff-html-'))
const shots = process.env.HEAPDIFF_SCREENSHOT_DIR ?? dir
let browser: Browser | undefined
test.before(async () => {
  if (!runs) return
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking'],
  })
})
test.after.always(async () => {
  await browser?.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Opened {
  page: Page
  requests: string[]
  aborted: string[]
  errors: string[]
}

async function open(file: string, width = 1200): Promise<Opened> {
  const context = await browser!.newContext({ viewport: { width, height: 1000 } })
  const requests: string[] = []
  const aborted: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith('file:')) return route.continue()
    aborted.push(url)
    return route.abort()
  })
  context.on('request', (r) => requests.push(r.url()))
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(pathToFileURL(file).href)
  await page.waitForSelector('body[data-ready=true]', { timeout: 30000 })
  return { page, requests, aborted, errors }
}

function offline(t: ExecutionContext, o: Opened, file: string) {
  t.deepEqual(o.aborted, [], 'no request beyond the file')
  t.deepEqual(o.requests, [pathToFileURL(file).href], 'the page itself is the only request')
  t.deepEqual(o.errors, [], 'no console error')
}

/**
 * Where the post-GC heap line's colour (#1f77b4; or `rgb`, e.g. the external line's #9467bd) is
 * in the chart's plot area, or in its top `top` fraction: the number of such pixels and the
 * columns (as fractions of the width) they lie in.
 */
function heapPixels(
  page: Page,
  top = 1,
  rgb: [number, number, number] = [31, 119, 180],
): Promise<{ n: number; from: number; to: number }> {
  return page.evaluate(
    ([top, rgb]) => {
      const canvas = document.querySelector('#chart-heap canvas') as HTMLCanvasElement
      const over = document.querySelector('#chart-heap .u-over') as HTMLElement
      const scale = canvas.width / canvas.getBoundingClientRect().width
      const c = canvas.getBoundingClientRect()
      const o = over.getBoundingClientRect()
      const [x, y, w, h] = [(o.left - c.left) * scale, (o.top - c.top) * scale, o.width * scale, o.height * scale * top]
      const width = Math.round(w)
      const data = canvas.getContext('2d')!.getImageData(x, y, width, h).data
      let n = 0
      let from = Infinity
      let to = -Infinity
      for (let i = 0; i < data.length; i += 4) {
        if (
          data[i + 3] > 128 &&
          Math.abs(data[i] - rgb[0]) < 40 &&
          Math.abs(data[i + 1] - rgb[1]) < 40 &&
          Math.abs(data[i + 2] - rgb[2]) < 40
        ) {
          n++
          const col = (i / 4) % width
          from = Math.min(from, col / width)
          to = Math.max(to, col / width)
        }
      }
      return { n, from, to }
    },
    [top, rgb] as const,
  )
}

const rowsText = (page: Page) =>
  page.$$eval('#class-table .row', (rows) =>
    rows
      .sort((a, b) => Number((a as HTMLElement).dataset.index) - Number((b as HTMLElement).dataset.index))
      .map((r) => [...r.children].map((c) => c.textContent)),
  )

// A real leaky run: the service of run.spec.ts with the three snapshots.
let leakyDir: string | undefined
function leakyRun(): string {
  if (leakyDir) return leakyDir
  leakyDir = join(dir, 'leaky')
  const fixture = join(__dirname, 'fixtures', 'run-service.js')
  const r = spawnSync(
    process.execPath,
    [
      cli,
      'run',
      '--out',
      leakyDir,
      '--snapshots',
      'on-leak',
      '--snapshot-gcs',
      '3',
      '--',
      process.execPath,
      '--expose-gc',
      fixture,
      'leaky',
      '--batches',
      '30',
    ],
    { encoding: 'utf8', timeout: 120000 },
  )
  if (r.status !== 0) throw new Error(`heapdiff run failed: ${r.stderr}`)
  return leakyDir
}

btest(title('a leaky run’s report: offline, chart drawn, the JSON’s classes, paths that expand'), async (t) => {
  const folder = leakyRun()
  const file = join(folder, 'report.html')
  const report: Report = JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8'))
  const o = await open(file)
  offline(t, o, file)
  const { page } = o
  t.is(await page.textContent('#verdict'), report.verdict.sentence)
  t.true((await heapPixels(page)).n > 100, 'the heap line is drawn in the plot area')

  // Every class of the JSON report, in its order, with its counts.
  const rows = await rowsText(page)
  t.deepEqual(
    rows.map((r) => r[0]),
    report.classes.map((c) => c.what),
  )
  t.deepEqual(
    rows.map((r) => r[1]),
    report.classes.map((c) => String(c.count)),
  )
  t.is(rows[0][0], 'LeakedSession')

  // Sorting by retained size puts the largest retained size first.
  await page.click('#classes button[data-key=retained]')
  const largest = [...report.classes].sort((a, b) => (b.retained_size_bytes ?? -1) - (a.retained_size_bytes ?? -1))[0]
  t.is((await rowsText(page))[0][0], largest.what)

  // Paths are collapsed; opening one shows its steps, as in the JSON.
  const paths = report.classes.slice(0, 20).flatMap((c) => c.paths)
  t.is(await page.locator('details.path').count(), paths.length)
  t.is(await page.locator('details.path[open]').count(), 0)
  const first = page.locator('details.path').first()
  t.false(await first.locator('ol.steps li').first().isVisible())
  await first.locator('summary').click()
  const steps = first.locator('ol.steps li')
  t.true(await steps.first().isVisible())
  t.is(await steps.count(), paths[0].steps.length)
  t.true((await steps.last().textContent())!.includes(paths[0].steps[paths[0].steps.length - 1].node))
  const shot = join(shots, 'report-leaky-run.png')
  await page.screenshot({ path: shot, fullPage: true })
  t.log(`screenshot: ${shot}`)
  await page.context().close()
})

/** A run folder of `gcs` full GCs and one leak event carrying allocation sites, written by hand. */
function syntheticRun(gcs: number): string {
  const folder = join(dir, `synthetic-${gcs}`)
  mkdirSync(folder, { recursive: true })
  const t0 = Date.UTC(2026, 0, 1)
  const lines = [
    JSON.stringify({
      type: 'start',
      time: t0,
      pid: 7,
      thread_id: 0,
      main: true,
      argv: ['node', 'app.js'],
      sampling: true,
    }),
  ]
  for (let i = 0; i < gcs; i++) {
    // A saw-tooth that climbs 10 MB from 50 MB, and a one-GC spike of +100 MB at 70% of the run
    // that the downsampled chart must keep.
    const heap = 50e6 + i * 100 + (i % 7) * 1e5 + (i === Math.floor(gcs * 0.7) ? 100e6 : 0)
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
  const site = (name: string, line: number, growth: number, outer: string[]) => ({
    name,
    url: 'file:///srv/app.js',
    line,
    column: 5,
    stack: [`${name} (file:///srv/app.js:${line}:5)`, ...outer],
    growth_bytes: growth,
    live_bytes: growth * 2,
    live_count: growth / 64,
  })
  const handler = ['handle (file:///srv/app.js:40:3)', 'emit (node:events:519:28)']
  const sites = [
    site('makeSession', 12, 6400000, handler),
    site('cacheKey', 25, 1600000, handler),
    site('other', 90, 640000, ['tick (node:internal/timers:1:1)']),
  ]
  lines.push(
    JSON.stringify({
      type: 'leak',
      time: t0 + gcs * 50,
      start: t0,
      end: t0 + gcs * 50,
      growth: 9e6,
      gcs: 10,
      reason: 'heap growth over 10 consecutive GCs (1s) - 9 mb/hr',
      sites,
    }),
  )
  writeFileSync(join(folder, 'events-7-0.ndjson'), lines.join('\n') + '\n')
  const r = spawnSync(process.execPath, [cli, 'report', folder], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return folder
}

btest(title('100,000 GCs: compressed data, downsampled chart keeping the spike, icicle of the sites'), async (t) => {
  const folder = syntheticRun(100000)
  const file = join(folder, 'report.html')
  const html = readFileSync(file, 'utf8')
  t.true(html.includes('data-encoding="gzip-base64"'), 'large data is embedded compressed')
  const o = await open(file)
  offline(t, o, file)
  const { page } = o
  t.true((await heapPixels(page)).n > 100)
  // The one-GC spike (to 167 MB; every other GC below 61 MB) survives downsampling: in the top
  // 40% of the plot area the line is there, and only in a narrow column at 70% of the time axis.
  const spike = await heapPixels(page, 0.4)
  t.true(spike.n > 0, 'the spike is drawn')
  t.true(spike.from > 0.68 && spike.to < 0.72, `spike drawn between ${spike.from} and ${spike.to} of the width`)
  // The icicle: the root and the sites' frames, outermost frame under the root.
  const frames = await page.$$eval('#flame .frame', (els) => els.map((e) => (e as HTMLElement).title.split('\n')[0]))
  t.is(frames[0], 'all')
  t.true(frames.includes('emit (node:events:519:28)'))
  t.true(frames.includes('makeSession (file:///srv/app.js:12:5)'))
  // Zoom into the handler: it becomes the full-width frame below its ancestors.
  await page.click('#flame .frame[title^="handle (file"]')
  const focus = await page.$eval('#flame .frame.focus', (e) => [
    (e as HTMLElement).title.split('\n')[0],
    (e as HTMLElement).style.width,
  ])
  t.deepEqual(focus, ['handle (file:///srv/app.js:40:3)', '100%'])
  t.is(await page.locator('#flame .frame[title^="tick"]').count(), 0, 'the other stack is out of view')
  const shot = join(shots, 'report-100k.png')
  await page.screenshot({ path: shot, fullPage: true })
  t.log(`screenshot: ${shot}`)
  await page.context().close()
})

btest(title('10,000 classes: the table is virtualised and scrolls to the last class'), async (t) => {
  const classes = Array.from({ length: 10000 }, (_, i) => ({
    what: `Class${String(i).padStart(5, '0')}`,
    count: 10000 - i,
    freed: 0,
    size_bytes: (10000 - i) * 32,
    retained_size_bytes: null,
    allocated_at: null,
    paths: [],
  }))
  const report: Report = {
    heapdiff_report: 1,
    kind: 'diff',
    title: 'ten thousand classes',
    generated: new Date().toISOString(),
    inputs: [],
    verdict: { leak: true, sentence: 'Many classes grew.' },
    threads: [],
    leaks: [],
    sites: [],
    flame: null,
    classes,
    class_source: 'synthetic',
    notes: [],
  }
  const file = join(dir, 'classes.html')
  writeFileSync(file, renderHtml(report))
  const o = await open(file)
  offline(t, o, file)
  const { page } = o
  const inDom = await page.locator('#class-table .row').count()
  t.true(inDom > 10 && inDom < 100, `${inDom} rows in the DOM`)
  t.deepEqual((await rowsText(page))[0], ['Class00000', '10000', '0', '+312.5 kb', ''])
  await page.$eval('#class-table', (el) => (el.scrollTop = el.scrollHeight))
  await page.waitForFunction(() => document.querySelector('#class-table .row[data-index="9999"]') !== null)
  const last = await rowsText(page)
  t.deepEqual(last[last.length - 1].slice(0, 2), ['Class09999', '1'])
  await page.context().close()
})

btest(
  title('a run that keeps Buffers: the external line and its leak marks are drawn, the verdict says external'),
  async (t) => {
    const folder = join(dir, 'buffers')
    const fixture = join(__dirname, 'fixtures', 'external-scenario.js')
    const r = spawnSync(process.execPath, [cli, 'run', '--out', folder, '--', process.execPath, fixture, 'buffers'], {
      encoding: 'utf8',
      timeout: 120000,
    })
    t.is(r.status, 0, r.stderr)
    const file = join(folder, 'report.html')
    const o = await open(file)
    offline(t, o, file)
    const { page } = o
    t.regex((await page.textContent('#verdict'))!, /^Leak: the post-GC external memory/)
    // Purple: the external line rising through the plot, and its dashed leak marks.
    const purple = await heapPixels(page, 1, [148, 103, 189])
    t.true(purple.n > 100, `external line drawn: ${purple.n} pixels`)
    t.true(purple.to - purple.from > 0.5, `across the time axis: ${purple.from}–${purple.to}`)
    // The Buffers' wrappers grow the heap a little too; under load that can be a heap leak event
    // of its own. Red marks are drawn exactly when the run has one.
    const report: Report = JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8'))
    const heapLeaks = report.leaks.filter((l) => l.memory === 'heap').length
    const red = await heapPixels(page, 1, [214, 39, 40])
    t.is(red.n > 0, heapLeaks > 0, `${red.n} red pixels, ${heapLeaks} heap leak events`)
    t.true(report.leaks.some((l) => l.memory === 'external'))
    await page.context().close()
  },
)
