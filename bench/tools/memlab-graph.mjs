// memlab (@memlab/core), graph analyses (see bench/graph.mjs), with the steps of memlab's own leak
// finder (HeapAnalyzer.preparePathFinder): parse with the node id index, the shortest path from
// the GC roots of every node (TraceFinder.annotateShortestPaths), then dominators and retained
// sizes of every node (TraceFinder.calculateAllNodesRetainedSizes, Lengauer-Tarjan).
//   top <file> [ids]  then the 20 largest retained sizes with the path to the GC roots of each;
//                     `ids` (comma-separated) adds the retained sizes of those nodes.
//   diff <a> <b>      ids of a (parse, then freed), b prepared as above, then for the 10 classes
//                     with most new instances their retained size (utils.aggregateDominatorMetrics)
//                     and one path to the GC roots.
import { createRequire } from 'node:module'
import { report } from './measure.mjs'

const require = createRequire(import.meta.url)
const { utils, config, TraceFinder, NumericSet } = require('@memlab/core')
config.muteConsole = true
const [task, a, b] = process.argv.slice(2)
const t0 = performance.now()

async function prepared(file) {
  const snap = await utils.getSnapshotFromFile(file, { buildNodeIdIndex: true })
  const finder = new TraceFinder()
  finder.annotateShortestPaths(snap)
  finder.calculateAllNodesRetainedSizes(snap)
  return { snap, finder }
}

function pathString(snap, finder, node) {
  let s = ''
  for (let p = finder.getPathToGCRoots(snap, node); p; p = p.next) {
    s += p.node.name
    if (p.next)
      s += `${p.edge.type === 'element' || p.edge.type === 'hidden' ? `[${p.edge.name_or_index}]` : `.${p.edge.name_or_index}`} → `
  }
  return s
}

let summary
if (task === 'top') {
  const { snap, finder } = await prepared(a)
  const best = [] // [size, nodeIndex], descending
  snap.nodes.forEach((node) => {
    const s = node.retainedSize
    if (best.length === 20 && s <= best[19][0]) return
    if (node.type === 'synthetic') return
    let k = best.length
    while (k > 0 && best[k - 1][0] < s) k--
    best.splice(k, 0, [s, node.nodeIndex])
    if (best.length > 20) best.pop()
  })
  const top = best.map(([, i]) => snap.nodes.get(i))
  const paths = top.map((n) => pathString(snap, finder, n))
  summary = {
    nodes: snap.nodes.length,
    top: top.map((n) => ({ id: n.id, name: n.name, retained: n.retainedSize })),
    path: paths[0],
  }
  if (b) summary.ids = b.split(',').map((id) => snap.getNodeById(Number(id))?.retainedSize ?? null)
} else if (task === 'diff') {
  const before = new NumericSet() // memlab's sharded set: a large file has more ids than a Set holds (2^24)
  ;(await utils.getSnapshotFromFile(a, {})).nodes.forEach((n) => void before.add(n.id))
  const { snap, finder } = await prepared(b)
  const byClass = new Map()
  snap.nodes.forEach((n) => {
    if (before.has(n.id)) return
    let ids = byClass.get(n.name)
    if (!ids) byClass.set(n.name, (ids = new Set()))
    ids.add(n.id)
  })
  const rows = [...byClass].sort((x, y) => y[1].size - x[1].size).slice(0, 10)
  summary = {
    classes: rows.map(([name, ids]) => ({
      name,
      added: ids.size,
      retained: utils.aggregateDominatorMetrics(ids, snap, () => true, utils.getRetainedSize),
    })),
    path: rows.length ? pathString(snap, finder, snap.getNodeById(rows[0][1].values().next().value)) : undefined,
  }
} else {
  throw new Error(`unknown task ${task}`)
}
const cpu = process.cpuUsage()
report(t0, { ...summary, cpuMs: (cpu.user + cpu.system) / 1000 })
