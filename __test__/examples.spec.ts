// Every fenced `js`, `ts` and `sh` example in README.md and docs/*.md runs, as a user would copy it,
// in a scratch folder where `heapdiff` is installed (a link to this repository), with fixture
// snapshot files and programs under the names the examples use.
//
// The conventions, written in the Markdown just above a fence (an HTML comment, so the page
// shows nothing):
//   <!-- not run: REASON -->   the block is not run (a result's shape, a running service, the
//                              machine setup); few, each with its reason
//   <!-- exits N: REASON -->   the block runs and must exit with N (a test that shows a failure)
// Every other block must exit 0. A `js` block with `require` runs as CommonJS (`.cjs`); where its
// comments also show the ESM form (`import … from`), it runs again as ESM (`.mjs`) with each
// `const X = require('m')` read as `import X from 'm'`. A block with `import` runs as ESM only.
// `sh` blocks run under `sh -e`; `npx heapdiff` and `heapdiff` run this repository's cli.js.
// Where an example prints what its comment shows, `expectations` below checks it.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

const root = resolve(__dirname, '..')

export interface Example {
  file: string
  line: number
  lang: 'js' | 'ts' | 'sh'
  code: string
  /** The marker comment's verdict: skipped with a reason, or the exit code expected. */
  notRun?: string
  exits: number
}

/** The fenced js/ts/sh blocks of one Markdown text, with the marker just above each. */
export function examples(file: string, text: string): Example[] {
  const lines = text.split('\n')
  const out: Example[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i])
    if (!open) continue
    let end = i + 1
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++
    const lang = open[1]
    if (lang === 'js' || lang === 'ts' || lang === 'sh') {
      let k = i - 1
      while (k >= 0 && lines[k].trim() === '') k--
      const marker = k >= 0 ? /^<!--\s*(not run|exits (\d+)):\s*(.+?)\s*-->$/.exec(lines[k].trim()) : null
      out.push({
        file,
        line: i + 1,
        lang,
        code: lines.slice(i + 1, end).join('\n') + '\n',
        notRun: marker && marker[1] === 'not run' ? marker[3] : undefined,
        exits: marker && marker[2] ? Number(marker[2]) : 0,
      })
    }
    i = end
  }
  return out
}

const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
const all = docs.flatMap((f) => examples(f, readFileSync(join(root, f), 'utf8')))

/** `const X = require('m')` → `import X from 'm'`, for the ESM run of a CommonJS example. */
export function toEsm(code: string): string {
  return code.replace(/^const (\{[^}]*\}|\w+) = require\(('[^']+')\)/gm, 'import $1 from $2')
}

function variants(e: Example): ('cjs' | 'esm')[] {
  if (/^import\s/m.test(e.code)) return ['esm']
  return /\bimport\b.*\bfrom\b/.test(e.code) ? ['cjs', 'esm'] : ['cjs']
}

// The scratch project: heapdiff and the peers the examples use linked into node_modules, a
// `heapdiff` and an `npx` on PATH that run this checkout, and the fixtures.
const dir = mkdtempSync(join(tmpdir(), 'heapdiff-examples-'))
const bin = join(dir, '.bin')
test.before(() => {
  mkdirSync(join(dir, 'node_modules', '@opentelemetry'), { recursive: true })
  mkdirSync(bin)
  symlinkSync(root, join(dir, 'node_modules', 'heapdiff'))
  for (const m of ['prom-client', '@opentelemetry/api'])
    symlinkSync(join(root, 'node_modules', m), join(dir, 'node_modules', m))
  writeFileSync(join(bin, 'heapdiff'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'cli.js')}" "$@"\n`)
  writeFileSync(join(bin, 'npx'), '#!/bin/sh\nexec "$@"\n') // npx heapdiff … → heapdiff …
  chmodSync(join(bin, 'heapdiff'), 0o755)
  chmodSync(join(bin, 'npx'), 0o755)
  // Snapshots of one process: a baseline, the action's objects, and after (3000 of them kept).
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `const v8 = require('v8'); class Order {}
       v8.writeHeapSnapshot('baseline.heapsnapshot')
       globalThis.orders = Array.from({ length: 3000 }, () => new Order())
       v8.writeHeapSnapshot('action.heapsnapshot')
       v8.writeHeapSnapshot('after.heapsnapshot')`,
    ],
    { cwd: dir, encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(r.stderr)
  copyFileSync(join(dir, 'baseline.heapsnapshot'), join(dir, 'before.heapsnapshot'))
  copyFileSync(join(dir, 'after.heapsnapshot'), join(dir, 'big.heapsnapshot'))
  writeFileSync(join(dir, 'after.heapsnapshot.gz'), gzipSync(readFileSync(join(dir, 'after.heapsnapshot'))))
  // The programs `heapdiff run` watches: a second of leaking requests, then exit.
  const program = `const kept = []
let n = 0
const t = setInterval(() => { for (let i = 0; i < 2000; i++) kept.push({ n: n++, s: 'x'.repeat(64) }) }, 20)
setTimeout(() => clearInterval(t), 1000)
`
  writeFileSync(join(dir, 'app.js'), program)
  writeFileSync(join(dir, 'server.js'), program)
})
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** What an example's comments say it prints, checked on its output (stdout and stderr). */
const expectations: { where: string; output: RegExp[]; not?: RegExp[]; maxLines?: number }[] = [
  {
    // The answer first, then stats summarised, leak events and the diff, within a screen, in the
    // sizes' one wording (no per-GC trend beside the first leak report).
    where: 'npm run demo',
    output: [
      /^answer: Session leaks: \+\d+ .*\n.*Context\.sessions → Array\[·\] → Session\n\n\[stats\] \d+ full GCs in .* mb → .* mb, pauses .*\n\[leak\]  at full GC #\d+ .* mb\/hr, grew .*(kb|mb)\n(\[leak\]  then .*\n)?\[diff\]  heap changed by /m,
    ],
    not: [/\bMB\b|\bKB\b|MiB|trend/],
    maxLines: 40,
  },
  { where: "d.what === 'Session'", output: [/what: 'Session'/, /'\+': 1000,/, /'-': 0/] },
  {
    where: "d.what === 'LeakingClass'",
    output: [/^(global|.* → global \(global\*\))\.cache → Map\.table → \(array\)\[·\] → LeakingClass$/m],
  },
  {
    where: 'assertNoLeaks',
    output: [/memory leak: objects allocated by each call are still alive/, /PerCall: 20 instances survived 20 calls/],
  },
  { where: 'npx heapdiff diff before', output: [/^before /m, /^after /m, /Order/] },
]

const fixtures = ['before.heapsnapshot', 'after.heapsnapshot.gz', 'baseline.heapsnapshot', 'action.heapsnapshot']
fixtures.push('after.heapsnapshot', 'big.heapsnapshot', 'app.js', 'server.js', 'node_modules')

/** A folder of its own for one run of an example (they write files such as `run1/`). */
function workdir(name: string): string {
  const cwd = join(dir, name)
  mkdirSync(cwd)
  for (const f of fixtures) symlinkSync(join(dir, f), join(cwd, f))
  return cwd
}

function run(e: Example, variant: 'cjs' | 'esm' | 'sh') {
  const env = {
    ...process.env,
    PATH: [bin, dirname(process.execPath), process.env.PATH].join(delimiter),
    GITHUB_STEP_SUMMARY: join(dir, 'step-summary.md'),
    FORCE_COLOR: '0',
  }
  const cwd = workdir(`${e.file.replace(/\W/g, '_')}-${e.line}-${variant}`)
  if (variant === 'sh') {
    // `npm run …` examples are the repository's own scripts: run there.
    return spawnSync('sh', ['-e', '-c', e.code], {
      cwd: /^npm run /m.test(e.code) ? root : cwd,
      env,
      encoding: 'utf8',
      timeout: 120000,
    })
  }
  const file = join(cwd, `example.${variant === 'esm' ? 'mjs' : 'cjs'}`)
  writeFileSync(file, variant === 'esm' ? toEsm(e.code) : e.code)
  return spawnSync(process.execPath, [file], { cwd, env, encoding: 'utf8', timeout: 120000 })
}

test('the examples are found, and the ones not run are few and say why', (t) => {
  const files = new Set(all.map((e) => e.file))
  t.true(files.has('README.md') && files.has('docs/api.md') && files.has('docs/report.md'), [...files].join(', '))
  const skipped = all.filter((e) => e.notRun !== undefined)
  t.true(skipped.length <= 5, skipped.map((e) => `${e.file}:${e.line}`).join(', '))
  t.true(all.length - skipped.length >= 10)
})

test('the marker and the ESM reading', (t) => {
  const md =
    'a\n\n<!-- exits 1: fails -->\n```js\nx()\n```\n<!-- not run: shape -->\n\n```sh\ny\n```\n```text\nz\n```\n'
  t.deepEqual(
    examples('x.md', md).map((e) => [e.line, e.lang, e.code, e.notRun, e.exits]),
    [
      [4, 'js', 'x()\n', undefined, 1],
      [9, 'sh', 'y\n', 'shape', 0],
    ],
  )
  t.is(
    toEsm("const memwatch = require('heapdiff')\nconst { a, b } = require('heapdiff/metrics') // x\n"),
    "import memwatch from 'heapdiff'\nimport { a, b } from 'heapdiff/metrics' // x\n",
  )
})

for (const e of all) {
  if (e.notRun !== undefined) continue
  for (const variant of e.lang === 'sh' ? (['sh'] as const) : variants(e)) {
    test.serial(`${e.file}:${e.line} runs (${variant})`, (t) => {
      if (e.lang === 'ts') t.fail('no ts examples yet: give them a runner here (tsx) before adding one')
      const r = run(e, variant)
      const output = `${r.stdout}\n${r.stderr}`
      t.is(r.status, e.exits, `exit ${r.status} ${r.signal ?? ''}\n${e.code}\n--- output:\n${output}`)
      for (const x of expectations.filter((x) => e.code.includes(x.where))) {
        for (const re of x.output) t.regex(output, re)
        for (const re of x.not ?? []) t.notRegex(output, re)
        if (x.maxLines) t.true(r.stdout.trimEnd().split('\n').length <= x.maxLines, r.stdout)
      }
    })
  }
}
