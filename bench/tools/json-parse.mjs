// The JSON.parse baseline most hand-written scripts use: whole file as one string, then a Map
// by node id. Fails past V8's maximum string length (~512 MB) with ERR_STRING_TOO_LONG.
import { readFileSync } from 'node:fs'
import { report } from './measure.mjs'

const [task, a, b] = process.argv.slice(2)
const t0 = performance.now()
const load = (f) => JSON.parse(readFileSync(f, 'utf8'))

function nodesById(snap) {
  const f = snap.snapshot.meta.node_fields
  const w = f.length
  const [ti, ni, ii, si] = ['type', 'name', 'id', 'self_size'].map((k) => f.indexOf(k))
  const types = snap.snapshot.meta.node_types[0]
  const byId = new Map()
  for (let i = 0; i < snap.nodes.length; i += w) {
    const type = types[snap.nodes[i + ti]]
    byId.set(snap.nodes[i + ii], {
      what: type === 'object' ? snap.strings[snap.nodes[i + ni]] : type,
      size: snap.nodes[i + si],
    })
  }
  return byId
}

let summary
if (task === 'parse') {
  summary = { nodes: load(a).snapshot.node_count }
} else {
  const before = nodesById(load(a))
  const after = nodesById(load(b))
  let allocated = 0
  let freed = 0
  const classes = new Map()
  for (const [id, n] of after) if (!before.has(id)) (allocated++, classes.set(n.what, (classes.get(n.what) ?? 0) + 1))
  for (const id of before.keys()) if (!after.has(id)) freed++
  summary = { allocated, freed, classes: classes.size }
}
report(t0, summary)
