// The README and docs/ list the package's exports and the CLI's commands; these tests hold those
// lists to the code (index.mjs, the CommonJS instance, index.d.ts, cli.ts), so they cannot drift
// again. Each list sits between `<!-- exports` / `<!-- commands` and the next `<!-- /…` marker
// (or the end of its list or table).
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = join(__dirname, '..')
const read = (path: string) => readFileSync(join(root, path), 'utf8')

/** The lines of the list that follows `<!-- name` in a document (to `<!-- /name -->` or a blank line after it). */
function markedList(path: string, name: string): string[] {
  const lines = read(path).split('\n')
  const at = lines.findIndex((l) => l.startsWith(`<!-- ${name}`))
  if (at < 0) throw new Error(`${path} has no <!-- ${name} … --> list`)
  const out: string[] = []
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith(`<!-- /${name}`)) break
    if (line.trim() === '') {
      if (out.length > 0) break
      continue
    }
    out.push(line)
  }
  return out
}

/** Exports listed as `- \`name\`` items or `| \`name\` |` table rows. */
function listedExports(path: string): string[] {
  const names: string[] = []
  for (const line of markedList(path, 'exports')) {
    const m = /^(?:-|\|)\s*`(\w+)`/.exec(line)
    if (m) names.push(m[1])
  }
  return names.sort()
}

/** Commands listed as `heapdiff <command>` on each line of the list (code block, items or rows). */
function listedCommands(path: string): string[] {
  const names = new Set<string>()
  for (const line of markedList(path, 'commands')) {
    const m = /heapdiff (\w+)/.exec(line)
    if (m) names.add(m[1])
  }
  return [...names].sort()
}

/** index.mjs's named exports, as Node's ESM loader sees them (a child process: the test is CommonJS). */
function esmExports(): string[] {
  const url = pathToFileURL(join(root, 'index.mjs')).href
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', `import * as m from '${url}'; console.log(JSON.stringify(Object.keys(m)))`],
    { encoding: 'utf8' },
  )
  return (JSON.parse(out) as string[]).filter((k) => k !== 'default').sort()
}

/** Members `index.d.ts` declares `private` on the `Memwatch` class: the instance's internals. */
function privateMembers(): Set<string> {
  const body = /declare class Memwatch [^{]*\{([\s\S]*?)\n\}/.exec(read('index.d.ts'))?.[1]
  if (!body) throw new Error('index.d.ts has no Memwatch class')
  return new Set([...body.matchAll(/^\s*private (?:readonly )?(\w+)/gm)].map((m) => m[1]))
}

/** The CommonJS instance's public members that are not EventEmitter's. */
function instanceMembers(): string[] {
  const memwatch = require('..')
  const hidden = privateMembers()
  const names = new Set<string>()
  for (let o = memwatch; o && o !== EventEmitter.prototype && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === 'constructor' || k.startsWith('_') || hidden.has(k) || k in EventEmitter.prototype) continue
      names.add(k)
    }
  }
  return [...names].sort()
}

/** cli.ts's commands: the dispatch (`command === 'x'` → a handler) and the help text's `heapdiff x` lines. */
function cliCommands(): { dispatch: string[]; usage: string[] } {
  const cli = read('cli.ts')
  const dispatch = [...cli.matchAll(/if \(command === '(\w+)'\) return \w+Command\(/g)].map((m) => m[1]).sort()
  const usageText = /const USAGE = `([\s\S]*?)`/.exec(cli)?.[1]
  if (!usageText) throw new Error('cli.ts has no USAGE')
  const usage = [...new Set([...usageText.matchAll(/^ {2}heapdiff (\w+)/gm)].map((m) => m[1]))].sort()
  return { dispatch, usage }
}

const esm = esmExports()

test('index.mjs has named exports, and the CommonJS instance has each of them', (t) => {
  t.true(esm.length > 0)
  const memwatch = require('..')
  for (const name of esm) t.not(memwatch[name], undefined, `require('heapdiff').${name} is missing`)
})

test('every public member of the CommonJS instance is an ESM named export', (t) => {
  t.deepEqual(instanceMembers(), esm)
})

test('README.md lists exactly index.mjs’s named exports', (t) => {
  t.deepEqual(listedExports('README.md'), esm)
})

test('docs/api.md lists exactly index.mjs’s named exports', (t) => {
  t.deepEqual(listedExports('docs/api.md'), esm)
})

test('cli.ts’s help names every command it dispatches, and no other', (t) => {
  const { dispatch, usage } = cliCommands()
  t.true(dispatch.length > 0)
  t.deepEqual(usage, dispatch)
})

test('README.md lists exactly the CLI’s commands', (t) => {
  t.deepEqual(listedCommands('README.md'), cliCommands().dispatch)
})

test('docs/cli.md lists exactly the CLI’s commands', (t) => {
  t.deepEqual(listedCommands('docs/cli.md'), cliCommands().dispatch)
})
