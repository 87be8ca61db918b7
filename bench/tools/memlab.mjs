// memlab (@memlab/core): its snapshot parser, then the id-based diff a user would write on top.
import { createRequire } from 'node:module'
import { report } from './measure.mjs'

const require = createRequire(import.meta.url)
const { utils, config } = require('@memlab/core')
config.muteConsole = true
const [task, a, b] = process.argv.slice(2)
// A JS Set holds at most 2^24 entries and the large snapshots have more nodes than that, so the
// id sets are split by id into shards.
const SHARDS = 16
const idSet = () => {
  const shards = Array.from({ length: SHARDS }, () => new Set())
  return {
    add: (id) => void shards[id % SHARDS].add(id),
    has: (id) => shards[id % SHARDS].has(id),
    *[Symbol.iterator]() {
      for (const s of shards) yield* s
    },
  }
}
const t0 = performance.now()
let summary
if (task === 'parse') {
  const snap = await utils.getSnapshotFromFile(a, {})
  summary = { nodes: snap.nodes.length }
} else {
  const before = await utils.getSnapshotFromFile(a, {})
  const ids = idSet()
  before.nodes.forEach((n) => void ids.add(n.id))
  const after = await utils.getSnapshotFromFile(b, {})
  let allocated = 0
  const classes = new Map()
  const seen = idSet()
  after.nodes.forEach((n) => {
    seen.add(n.id)
    if (!ids.has(n.id)) (allocated++, classes.set(n.name, (classes.get(n.name) ?? 0) + 1))
  })
  let freed = 0
  for (const id of ids) if (!seen.has(id)) freed++
  summary = { allocated, freed, classes: classes.size }
}
report(t0, summary)
