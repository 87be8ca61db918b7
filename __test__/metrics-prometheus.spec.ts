import test from 'ava'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const rules = join(root, 'deploy', 'prometheus', 'heapdiff-alerts.yml')
const ruleTests = join(root, 'deploy', 'prometheus', 'heapdiff-alerts.test.yml')
const dashboard = join(root, 'deploy', 'grafana', 'heapdiff-dashboard.json')

/** The Debian package's binaries (README, .ci/run); under CI=true their absence is a failure. */
function binary(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}
const prometheus = binary('prometheus')
const promtool = binary('promtool')
const ci = process.env.CI === 'true'

function realTest(needs: string | null, what: string, title: string, fn: Parameters<typeof test.serial>[1]): void {
  if (needs || ci) {
    test.serial(title, (t) => {
      if (!needs) {
        t.fail(`${what} is not installed (apt-get install prometheus); CI=true requires it`)
        return
      }
      return fn(t)
    })
  } else {
    console.warn(`SKIPPED: ${title}: ${what} not installed (apt-get install prometheus)`)
    test.skip(`${title} (SKIPPED: ${what} not installed; apt-get install prometheus)`, () => {})
  }
}

realTest(
  promtool,
  'promtool',
  'the shipped alert rules pass promtool check rules and fire in promtool test rules',
  (t) => {
    const check = spawnSync(promtool!, ['check', 'rules', rules], { encoding: 'utf8' })
    t.is(check.status, 0, check.stdout + check.stderr)
    t.regex(check.stdout, /SUCCESS: 3 rules found/)
    const run = spawnSync(promtool!, ['test', 'rules', ruleTests], {
      encoding: 'utf8',
      cwd: join(root, 'deploy', 'prometheus'),
    })
    t.is(run.status, 0, run.stdout + run.stderr)
    t.regex(run.stdout, /SUCCESS/)
    // The test file can fail: with a rule that never fires, promtool reports the missing alerts.
    const dir = mkdtempSync(join(tmpdir(), 'heapdiff-promtool-'))
    try {
      writeFileSync(join(dir, 'heapdiff-alerts.yml'), readFileSync(rules, 'utf8').replace('== 1', '== 2'))
      writeFileSync(join(dir, 'heapdiff-alerts.test.yml'), readFileSync(ruleTests, 'utf8'))
      const broken = spawnSync(promtool!, ['test', 'rules', 'heapdiff-alerts.test.yml'], { encoding: 'utf8', cwd: dir })
      t.not(broken.status, 0)
      t.regex(broken.stdout + broken.stderr, /FAILED/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => done(port))
    })
  })
}

function service(mode: 'leak' | 'clean'): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [join(__dirname, 'fixtures', 'metrics-service.js'), mode], {
    cwd: root,
    env: { ...process.env, HEAPDIFF_ROOT: root },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((done, fail) => {
    proc.once('error', fail)
    proc.once('exit', (code) => fail(new Error(`${mode} service exited with ${code}`)))
    proc.stdout!.once('data', (d) => done({ proc, port: JSON.parse(String(d)).port }))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Raw samples of a range selector over the whole run, from Prometheus's HTTP API. */
async function samples(base: string, selector: string): Promise<number[]> {
  const body = await query(base, `${selector}[10m]`)
  if (body.data.result.length > 1) throw new Error(`${selector}: ${body.data.result.length} series`)
  return (body.data.result[0]?.values ?? []).map((v: [number, string]) => Number(v[1]))
}

async function query(base: string, q: string): Promise<any> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)
  const body = (await res.json()) as any
  if (body.status !== 'success') throw new Error(`${q}: ${JSON.stringify(body)}`)
  return body
}

realTest(
  prometheus,
  'prometheus',
  'a real Prometheus scrapes a heap leak, a Buffer leak and a clean service: each verdict 0 → 1 for its leak only, post-GC gauge = stats events',
  async (t) => {
    t.timeout(90000)
    const dir = mkdtempSync(join(tmpdir(), 'heapdiff-prometheus-'))
    const procs: ChildProcess[] = []
    try {
      const leaky = await service('leak')
      procs.push(leaky.proc)
      const clean = await service('clean')
      procs.push(clean.proc)
      const buffers = await service('buffers')
      procs.push(buffers.proc)
      const port = await freePort()
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          '  scrape_timeout: 1s',
          '  evaluation_interval: 1s',
          'rule_files:',
          `  - ${JSON.stringify(rules)}`,
          'scrape_configs:',
          '  - job_name: leaky',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${leaky.port}']`,
          '  - job_name: clean',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${clean.port}']`,
          '  - job_name: buffers',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${buffers.port}']`,
          '',
        ].join('\n'),
      )
      const prom = spawn(
        prometheus!,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
      procs.push(prom)
      let log = ''
      prom.stderr!.on('data', (d) => (log += d))
      const base = `http://127.0.0.1:${port}`
      const deadline = Date.now() + 60000
      const until = async (what: string, ok: () => Promise<boolean>) => {
        while (!(await ok().catch(() => false))) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; prometheus log:\n${log}`)
          await sleep(200)
        }
      }
      await until('prometheus ready', async () => (await fetch(`${base}/-/ready`)).ok)
      // The verdict, then three more scrapes of it (and enough of the clean service).
      await until('the leak verdict', async () => {
        const v = await samples(base, 'nodejs_heap_leak_suspected{job="leaky"}')
        const c = await samples(base, 'nodejs_heap_leak_suspected{job="clean"}')
        const b = await samples(base, 'nodejs_external_memory_leak_suspected{job="buffers"}')
        return v.indexOf(1) >= 0 && v.length - v.indexOf(1) >= 3 && c.length >= 5 && b.indexOf(1) >= 0
      })

      const leakSeries = await samples(base, 'nodejs_heap_leak_suspected{job="leaky",thread="0"}')
      const flip = leakSeries.indexOf(1)
      t.true(flip >= 1, `healthy first: ${leakSeries}`)
      t.true(
        leakSeries.slice(0, flip).every((v) => v === 0),
        String(leakSeries),
      )
      t.true(
        leakSeries.slice(flip).every((v) => v === 1),
        `still leaking, still suspected: ${leakSeries}`,
      )
      const cleanSeries = await samples(base, 'nodejs_heap_leak_suspected{job="clean",thread="0"}')
      t.true(cleanSeries.length >= 5, `clean scraped: ${cleanSeries.length}`)
      t.true(
        cleanSeries.every((v) => v === 0),
        `clean never suspected: ${cleanSeries}`,
      )
      // Start-up growth may show a rate for a moment (the verdict stays 0); a flat heap shows none.
      const cleanRates = await samples(base, 'nodejs_heap_leak_growth_bytes_per_second{job="clean"}')
      t.deepEqual(cleanRates.slice(-3), [0, 0, 0], String(cleanRates))
      const rates = await samples(base, 'nodejs_heap_leak_growth_bytes_per_second{job="leaky"}')
      t.true(rates[rates.length - 1] > 1e5, `the leak grows 256 KB per GC: ${rates[rates.length - 1]}`)
      t.true((await samples(base, 'nodejs_heap_leak_events_total{job="leaky"}')).pop()! >= 1)

      // Retained Buffers flip the external verdict 0 → 1 and leave the heap's at 0; the
      // heap leak and the clean service never raise the external one.
      const external = await samples(base, 'nodejs_external_memory_leak_suspected{job="buffers",thread="0"}')
      const raised = external.indexOf(1)
      t.true(raised >= 1, `healthy first: ${external}`)
      t.true(
        external.slice(0, raised).every((v) => v === 0),
        String(external),
      )
      t.true(
        (await samples(base, 'nodejs_heap_leak_suspected{job="buffers",thread="0"}')).every((v) => v === 0),
        'Buffers are not a heap leak',
      )
      for (const job of ['leaky', 'clean']) {
        const series = await samples(base, `nodejs_external_memory_leak_suspected{job="${job}",thread="0"}`)
        t.true(series.length >= 5 && series.every((v) => v === 0), `${job}: external never suspected: ${series}`)
      }
      const kept = await samples(base, 'nodejs_external_memory_post_gc_bytes{job="buffers",thread="0"}')
      t.true(kept[kept.length - 1] - kept[0] >= 4 * 256 * 1024, `external grows: ${kept}`)
      t.true((await samples(base, 'nodejs_native_memory_post_gc_bytes{job="clean",thread="0"}')).pop()! > 0)

      // Every post-GC value Prometheus stored is one the service's own stats events reported.
      for (const [job, svc] of [
        ['leaky', leaky],
        ['clean', clean],
      ] as const) {
        const stored = await samples(base, `nodejs_heap_post_gc_used_bytes{job="${job}",thread="0"}`)
        const { bases } = (await (await fetch(`http://127.0.0.1:${svc.port}/stats`)).json()) as { bases: number[] }
        const seen = new Set(bases)
        t.true(stored.length >= 5, job)
        t.deepEqual(
          stored.filter((v) => !seen.has(v)),
          [],
          `${job}: post-GC samples not among its stats events`,
        )
        t.true(new Set(stored).size >= 3, `${job}: the gauge follows the GCs`)
      }
      const pauses = await query(base, 'sum by (kind) (last_over_time(nodejs_gc_pause_seconds_count{job="leaky"}[1m]))')
      const kinds = Object.fromEntries(pauses.data.result.map((r: any) => [r.metric.kind, Number(r.value[1])]))
      t.true(
        Object.keys(kinds).every((k) => ['incremental', 'major', 'minor', 'weakcb'].includes(k)),
        JSON.stringify(kinds),
      )
      t.true(kinds.minor > 0, JSON.stringify(kinds))
      t.true(kinds.major >= 10, JSON.stringify(kinds))

      // The shipped rules load, and every dashboard query is valid PromQL with data behind it.
      const loaded = await (await fetch(`${base}/api/v1/rules`)).json()
      const names = (loaded as any).data.groups.flatMap((g: any) => g.rules.map((r: any) => `${r.name}:${r.health}`))
      t.deepEqual(names.sort(), [
        'NodeExternalMemoryLeakSuspected:ok',
        'NodeHeapGrowthHigh:ok',
        'NodeHeapLeakSuspected:ok',
      ])
      const dash = JSON.parse(readFileSync(dashboard, 'utf8'))
      for (const panel of dash.panels) {
        for (const target of panel.targets) {
          const q = target.expr
            .replaceAll('$job', '.*')
            .replaceAll('$instance', '.*')
            .replaceAll('$__rate_interval', '2s')
          const r = await query(base, q)
          t.true(r.data.result.length > 0 || panel.title.includes('sites'), `${panel.title}: ${q}`)
        }
      }
    } finally {
      for (const p of procs) p.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

// Checked here once per Node: the deploy folder's files are where docs/metrics.md says.
test('deploy/ holds the rules, their tests and the dashboard', (t) => {
  for (const f of [rules, ruleTests, dashboard]) t.true(existsSync(f), f)
  t.notThrows(() =>
    execFileSync(process.execPath, ['-e', `JSON.parse(require('fs').readFileSync(${JSON.stringify(dashboard)}))`]),
  )
})
