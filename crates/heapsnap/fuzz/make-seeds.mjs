// Writes the fuzz seed corpus: real snapshots from each Node runtime of the repository
// (node_modules/node20 ... node26) and the Chromium test fixtures, cut down to their first nodes
// (edges to later nodes dropped, counts and the string table made consistent) so that each seed
// is a few KB in the writer's own layout and header. Run from the repository root:
//   node crates/heapsnap/fuzz/make-seeds.mjs
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'

const out = join(import.meta.dirname, 'seeds')
const KEEP = 150

/** The first `keep` nodes of a parsed snapshot, as V8 would lay them out. */
function cut(snap, keep) {
  const meta = snap.snapshot.meta
  const nw = meta.node_fields.length
  const ew = meta.edge_fields.length
  const [nType, nName, nEdges] = ['type', 'name', 'edge_count'].map((f) => meta.node_fields.indexOf(f))
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f))
  const named = meta.edge_types[0].map((t) => t !== 'element' && t !== 'hidden')
  const strings = []
  const remap = new Map()
  const str = (k) => {
    if (!remap.has(k)) {
      remap.set(k, strings.length)
      strings.push(snap.strings[k])
    }
    return remap.get(k)
  }
  const nodes = []
  const edges = []
  let e = 0
  for (let i = 0; i < keep; i++) {
    const rec = snap.nodes.slice(i * nw, (i + 1) * nw)
    const mine = []
    for (let k = 0; k < rec[nEdges]; k++, e++) {
      const edge = snap.edges.slice(e * ew, (e + 1) * ew)
      if (edge[eTo] / nw >= keep) continue
      if (named[edge[eType]]) edge[eName] = str(edge[eName])
      mine.push(edge)
    }
    rec[nName] = str(rec[nName])
    rec[nEdges] = mine.length
    void nType
    nodes.push(rec)
    edges.push(...mine)
  }
  const rows = (recs) => recs.map((r) => r.join(',')).join('\n,')
  const header = { ...snap.snapshot, node_count: nodes.length, edge_count: edges.length }
  if ('trace_function_count' in header) header.trace_function_count = 0
  return (
    `{"snapshot":${JSON.stringify(header)},\n"nodes":[${rows(nodes)}],\n"edges":[${rows(edges)}],\n` +
    `"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[${snap.locations.slice(0, 8).join(',')}],\n` +
    `"strings":[${strings.map((s) => JSON.stringify(s)).join(',\n')}]}`
  )
}

rmSync(out, { recursive: true, force: true })
const targets = ['parse_chunks', 'gzip_file', 'graph']
for (const t of targets) mkdirSync(join(out, t), { recursive: true })
const seeds = []
const tmp = join(tmpdir(), `heapsnap-seeds-${process.pid}.heapsnapshot`)
for (const v of ['20', '22', '24', '26']) {
  const node = join('node_modules', `node${v}`, 'bin', 'node')
  if (!existsSync(node)) throw new Error(`missing ${node}`)
  execFileSync(node, [
    '-e',
    `class Leak { constructor() { this.s = 'x' + Math.random() } }; globalThis.k = [new Leak(), new Leak()]; require('v8').writeHeapSnapshot(${JSON.stringify(tmp)})`,
  ])
  seeds.push([`node${v}`, cut(JSON.parse(readFileSync(tmp, 'utf8')), KEEP)])
  rmSync(tmp)
}
for (const k of ['a', 'b']) {
  const gz = readFileSync(join('__test__', 'fixtures', `chromium-${k}.heapsnapshot.gz`))
  seeds.push([`chromium-${k}`, cut(JSON.parse(gunzipSync(gz).toString('utf8')), KEEP)])
}
let total = 0
for (const [name, doc] of seeds) {
  const files = [
    ['parse_chunks', Buffer.concat([Buffer.from([0x2a, 0x07]), Buffer.from(doc)])],
    ['gzip_file', gzipSync(doc)],
    ['graph', Buffer.from(doc)],
  ]
  for (const [t, bytes] of files) {
    writeFileSync(join(out, t, name), bytes)
    total += bytes.length
  }
}
console.log(`${seeds.length} seeds per target, ${(total / 1024).toFixed(0)} KB in all`)
