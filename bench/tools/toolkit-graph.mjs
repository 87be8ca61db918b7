// heap-snapshot-toolkit (Chrome DevTools' heap snapshot worker), graph analyses (see bench/graph.mjs).
//   top <file> [ids]  parse(): DevTools' JSHeapSnapshot initialisation (retainers, distances,
//                     dominator tree and retained size of every node), then the 20 largest retained
//                     sizes and, for each, a shortest retaining path walked back through the
//                     retainers by distance (as DevTools' Retainers view orders them); `ids`
//                     (comma-separated) adds the retained sizes of those nodes.
//   diff <a> <b>      diffFromStreams (a parsed and initialised, then freed; then b), DevTools'
//                     comparison, then for the 10 classes with most new instances their retained
//                     size (new instances not dominated by another) and one retaining path.
import { createReadStream } from 'node:fs'
import { parse, diffFromStreams } from 'heap-snapshot-toolkit'
import { report } from './measure.mjs'

const [task, a, b] = process.argv.slice(2)
const t0 = performance.now()
const stream = (f) => createReadStream(f, 'utf-8')

/** Ordinals of the `n` largest retained sizes, synthetic nodes (root, root lists) left out. */
function topByRetained(snap, n) {
  const fc = snap.nodeFieldCount
  const sizes = snap.retainedSizes
  const best = [] // [size, ordinal], descending
  for (let i = 0; i < snap.nodeCount; i++) {
    const s = sizes[i]
    if (best.length === n && s <= best[n - 1][0]) continue
    if (snap.nodes.getValue(i * fc + snap.nodeTypeOffset) === snap.nodeSyntheticType) continue
    let k = best.length
    while (k > 0 && best[k - 1][0] < s) k--
    best.splice(k, 0, [s, i])
    if (best.length > n) best.pop()
  }
  return best.map(([, i]) => i)
}

const label = (type, name) => (type === 'element' || type === 'hidden' ? `[${name}]` : `.${name}`)

/** From a node back to the root, each step to a retainer one closer to the roots. */
function retainingPath(snap, nodeIndex) {
  const filter = snap.retainingEdgesFilter()
  let node = snap.createNode(nodeIndex)
  let path = node.name()
  for (let guard = 0; guard < 10000; guard++) {
    let next = null
    for (let it = node.retainers(); it.hasNext(); it.next()) {
      const edge = it.item()
      const from = edge.node()
      if (from.isRoot()) {
        if (!next || !next.node.isRoot()) next = { node: from, edge: label(edge.type(), edge.name()) }
      } else if (filter(edge) && from.distance() < node.distance()) {
        if (!next || (!next.node.isRoot() && from.distance() < next.node.distance()))
          next = { node: from, edge: label(edge.type(), edge.name()) }
      }
    }
    if (!next || next.node.isRoot()) return path
    node = next.node
    path = `${node.name()}${next.edge} → ${path}`
  }
  return path
}

function retainedOf(snap, ids) {
  const want = new Map(ids.map((id, k) => [id, k]))
  const out = ids.map(() => null)
  for (let i = 0; i < snap.nodeCount; i++) {
    const k = want.get(snap.nodes.getValue(i * snap.nodeFieldCount + snap.nodeIdOffset))
    if (k !== undefined) out[k] = snap.retainedSizes[i]
  }
  return out
}

let summary
if (task === 'top') {
  const snap = await parse(stream(a))
  const fc = snap.nodeFieldCount
  const top = topByRetained(snap, 20)
  const paths = top.map((i) => retainingPath(snap, i * fc))
  summary = {
    nodes: snap.nodeCount,
    top: top.map((i) => {
      const node = snap.createNode(i * fc)
      return { id: node.id(), name: node.name(), retained: snap.retainedSizes[i] }
    }),
    path: paths[0],
  }
  if (b) summary.ids = retainedOf(snap, b.split(',').map(Number))
} else if (task === 'diff') {
  let after
  let d
  for await (const step of diffFromStreams(stream(a), stream(b))) {
    if (step.type === 'end') after = step.result
    if (step.type === 'diff') d = step.result
  }
  const fc = after.nodeFieldCount
  const rows = Object.values(d)
    .sort((x, y) => y.addedCount - x.addedCount)
    .slice(0, 10)
  const cls = new Uint8Array(after.nodeCount) // 1 + row of the class a new instance is in
  rows.forEach((r, c) => r.addedIndexes.forEach((idx) => void (cls[idx / fc] = c + 1)))
  const root = after.rootNodeIndex / fc
  const dom = after.dominatorsTree
  const retained = (r, c) => {
    let sum = 0
    for (const idx of r.addedIndexes) {
      let v = dom[idx / fc]
      while (v !== root && cls[v] !== c + 1) v = dom[v]
      if (v === root) sum += after.retainedSizes[idx / fc]
    }
    return sum
  }
  summary = {
    classes: rows.map((r, c) => ({ name: r.name, added: r.addedCount, retained: retained(r, c) })),
    path: rows[0]?.addedIndexes.length ? retainingPath(after, rows[0].addedIndexes[0]) : undefined,
  }
} else {
  throw new Error(`unknown task ${task}`)
}
const cpu = process.cpuUsage()
report(t0, { ...summary, cpuMs: (cpu.user + cpu.system) / 1000 })
