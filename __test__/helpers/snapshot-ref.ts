/**
 * A deliberately naive reference for retainer paths and retained sizes, written for the tests from
 * the format notes (/work/shared/heapsnapshot-notes.md), independently of the Rust code: JSON.parse,
 * one object per node, adjacency lists, plain BFS. Only usable on small snapshots.
 *
 * Graph rules (the ones heapdiff documents): node 0 is the synthetic root; traversal from it skips
 * `weak` edges, and skips `shortcut` edges except those leaving node 0.
 *
 * Retained size is computed by its definition through removal, with no dominator tree: the
 * retained size of a set S is the self size of the nodes reachable from the root minus that with
 * every node of S removed. For one node x this is exactly the self size of what x dominates.
 */
import { readFileSync } from 'node:fs'

import { memwatchWhat } from './memwatch-what'

export interface RefEdge {
  type: string
  /** A string for named edges, a number for `element` and `hidden` edges. */
  name: string | number
  to: number
}

export interface RefNode {
  index: number
  type: string
  name: string
  id: number
  self: number
  edges: RefEdge[]
}

export interface RefStep {
  edge: string | null
  edge_type: string | null
  node: string
  type: string
  id: number
  /** Any key of a keyed store leads here (see `anyKey`): one path shape whatever its name. */
  anyKey: boolean
  /** A key of a store of the program's (not of V8's root lists): rendered `[·]`. */
  keyed: boolean
}

export class RefSnapshot {
  readonly nodes: RefNode[] = []
  readonly byId = new Map<number, RefNode>()
  private rootReach: Uint8Array | null = null
  private parents: Int32Array | null = null
  private parentEdge: Array<RefEdge | null> = []

  constructor(readonly file: string) {
    const snap = JSON.parse(readFileSync(file, 'utf8'))
    const meta = snap.snapshot.meta
    const nf = meta.node_fields as string[]
    const ef = meta.edge_fields as string[]
    const nodeTypes = meta.node_types[0] as string[]
    const edgeTypes = meta.edge_types[0] as string[]
    const strings = snap.strings as string[]
    const nw = nf.length
    const ew = ef.length
    const [nType, nName, nId, nSelf, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((k) =>
      nf.indexOf(k),
    )
    const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((k) => ef.indexOf(k))
    let e = 0
    for (let i = 0; i * nw < snap.nodes.length; i++) {
      const at = i * nw
      const node: RefNode = {
        index: i,
        type: nodeTypes[snap.nodes[at + nType]],
        name: strings[snap.nodes[at + nName]],
        id: snap.nodes[at + nId],
        self: snap.nodes[at + nSelf],
        edges: [],
      }
      const count = snap.nodes[at + nEdges]
      for (let k = 0; k < count; k++, e++) {
        const type = edgeTypes[snap.edges[e * ew + eType]]
        const raw = snap.edges[e * ew + eName]
        const to = snap.edges[e * ew + eTo]
        if (to % nw !== 0) throw new Error(`edge ${e} points inside a node record`)
        node.edges.push({ type, name: type === 'element' || type === 'hidden' ? raw : strings[raw], to: to / nw })
      }
      this.nodes.push(node)
      this.byId.set(node.id, node)
    }
    if (e * ew !== snap.edges.length) throw new Error('edge counts do not add up')
    if (this.nodes[0].type !== 'synthetic') throw new Error('node 0 is not the synthetic root')
  }

  /** Whether the traversal follows edge `edge` leaving node `from`. */
  static follows(from: number, edge: RefEdge): boolean {
    if (edge.type === 'weak') return false
    if (edge.type === 'shortcut') return from === 0
    return true
  }

  /** Nodes reachable from the root when the nodes in `removed` (indices) are taken out. */
  reach(removed: ReadonlySet<number> = new Set()): Uint8Array {
    const seen = new Uint8Array(this.nodes.length)
    if (removed.has(0)) return seen
    seen[0] = 1
    const queue = [0]
    for (let q = 0; q < queue.length; q++) {
      const from = queue[q]
      for (const edge of this.nodes[from].edges) {
        if (!RefSnapshot.follows(from, edge) || seen[edge.to] || removed.has(edge.to)) continue
        seen[edge.to] = 1
        queue.push(edge.to)
      }
    }
    return seen
  }

  reachableFromRoot(): Uint8Array {
    this.rootReach ??= this.reach()
    return this.rootReach
  }

  private selfOf(seen: Uint8Array): number {
    let sum = 0
    for (let i = 0; i < seen.length; i++) if (seen[i]) sum += this.nodes[i].self
    return sum
  }

  /** Retained size of the set (node indices) by removal: what becomes unreachable without it. */
  retainedByRemoval(set: Iterable<number>): number {
    return this.selfOf(this.reachableFromRoot()) - this.selfOf(this.reach(new Set(set)))
  }

  /** The nodes x dominates (x included): those that become unreachable when x alone is removed. */
  dominated(x: number): Set<number> {
    const all = this.reachableFromRoot()
    if (!all[x]) return new Set()
    const without = this.reach(new Set([x]))
    const out = new Set<number>()
    for (let i = 0; i < all.length; i++) if (all[i] && !without[i]) out.add(i)
    return out
  }

  /**
   * Self size of everything the nodes of `set` dominate, each dominated node counted once (so a
   * member dominated by another member is not counted twice): heapdiff's definition of a class's
   * retained size. Equals retainedByRemoval(set) when no node is kept alive only by two members.
   */
  retainedByDominance(set: Iterable<number>): number {
    const union = new Set<number>()
    for (const x of set) for (const y of this.dominated(x)) union.add(y)
    let sum = 0
    for (const y of union) sum += this.nodes[y].self
    return sum
  }

  /** BFS from the root by edge count under the traversal rules, first discovery wins. */
  private bfs(): void {
    if (this.parents) return
    const parents = new Int32Array(this.nodes.length).fill(-2)
    const parentEdge: Array<RefEdge | null> = new Array(this.nodes.length).fill(null)
    parents[0] = -1
    const queue = [0]
    for (let q = 0; q < queue.length; q++) {
      const from = queue[q]
      for (const edge of this.nodes[from].edges) {
        if (!RefSnapshot.follows(from, edge) || parents[edge.to] !== -2) continue
        parents[edge.to] = from
        parentEdge[edge.to] = edge
        queue.push(edge.to)
      }
    }
    this.parents = parents
    this.parentEdge = parentEdge
  }

  /** Distance from the root in edges (-1: unreachable). */
  distance(x: number): number {
    this.bfs()
    let d = 0
    for (let at = x; at !== 0; at = this.parents![at], d++) if (at < 0 || this.parents![at] === -2) return -1
    return d
  }

  /**
   * One shortest path from the root to x, in heapdiff's step format: each step carries the edge
   * that reached it from the previous step; the first step is the node reached from the root, its
   * edge null (the root's edge is not shown); x is the last step.
   */
  pathTo(x: number): RefStep[] | null {
    this.bfs()
    if (this.parents![x] === -2) return null
    const chain: number[] = []
    for (let at = x; at !== 0; at = this.parents![at]) chain.unshift(at)
    return chain.map((n, k) => {
      const edge = k === 0 ? null : this.parentEdge[n]!
      const node = this.nodes[n]
      const from = k === 0 ? null : this.nodes[chain[k - 1]]
      const anyKey = from !== null && edge !== null && this.anyKey(from, edge.type, String(edge.name))
      return {
        edge: edge === null ? null : String(edge.name),
        edge_type: edge === null ? null : edge.type,
        node: label(node),
        type: node.type,
        id: node.id,
        anyKey,
        keyed: anyKey && from!.type !== 'synthetic',
      }
    })
  }

  /**
   * Whether V8 keeps object `n`'s properties in a hash table (dictionary mode): its `properties`
   * internal edge reaches an `array` node named `(object properties)`. A global object (one the
   * root's shortcut edges reach, or one holding a `native_context` or `global_proxy`) is one too,
   * but its property names are the program's globals, so it does not count.
   */
  isDictionary(n: RefNode): boolean {
    const global = (e: RefEdge) => e.type === 'internal' && (e.name === 'native_context' || e.name === 'global_proxy')
    if (n.edges.some(global)) return false
    if (this.nodes[0].edges.some((e) => e.type === 'shortcut' && e.to === n.index)) return false
    return n.edges.some(
      (e) =>
        e.type === 'internal' &&
        e.name === 'properties' &&
        this.nodes[e.to].type === 'array' &&
        this.nodes[e.to].name === '(object properties)',
    )
  }

  /** Whether an edge leaving `from` is one key of a keyed store: an index, or a dictionary's property. */
  anyKey(from: RefNode, edgeType: string | null, edge: string | null): boolean {
    return isIndexEdge(edgeType, edge) || (edgeType === 'property' && this.isDictionary(from))
  }

  /** Node indices whose classic `what` is `what` and whose id is not in `before`. */
  newInstances(before: RefSnapshot, what: string): number[] {
    return this.nodes.filter((n) => memwatchWhat(n.type, n.name) === what && !before.byId.has(n.id)).map((n) => n.index)
  }

  /** Indices of all nodes named `name` of type `type`. */
  find(type: string, name: string): number[] {
    return this.nodes.filter((n) => n.type === type && n.name === name).map((n) => n.index)
  }
}

export const isString = (n: RefNode) =>
  n.type === 'string' || n.type === 'concatenated string' || n.type === 'sliced string'

/** A node's label in a retainer path: its name; strings by kind (`(string)`, `(concatenated string)`). */
export function label(n: RefNode): string {
  return isString(n) ? `(${n.type})` : n.name
}

/**
 * Whether an edge names a position rather than a field: `element` and `hidden` edges, and
 * `internal` edges whose name is a number (V8 names the slots of hash tables such as a Map's
 * `table` that way, "68", "71", ...; one per entry, so they must not split path shapes).
 */
export function isIndexEdge(edgeType: string | null, edge: string | null): boolean {
  return edgeType === 'element' || edgeType === 'hidden' || (edgeType === 'internal' && /^\d+$/.test(edge ?? ''))
}

/** Path shape: node labels and edge names, keys of keyed stores ignored. */
export function shapeOf(steps: RefStep[]): string {
  return steps.map((s) => (s.edge === null ? '' : s.anyKey ? '[]' : '.' + s.edge) + ' ' + s.node).join(' ')
}

/** The path as heapdiff renders a group's shape: each label followed by the edge leaving it. */
export function renderPath(steps: RefStep[]): string {
  return steps
    .map((s, k) => {
      const next = steps[k + 1]
      if (!next) return s.node
      const edge = next.keyed ? '[·]' : isIndexEdge(next.edge_type, next.edge) ? `[${next.edge}]` : `.${next.edge}`
      return s.node + edge
    })
    .join(' → ')
}

/** Groups the shortest paths of `instances` by shape, most shared first. */
export function groupPaths(snap: RefSnapshot, instances: number[]) {
  const groups = new Map<string, { shape: string; count: number; example: RefStep[] }>()
  for (const x of instances) {
    const steps = snap.pathTo(x)
    if (!steps) continue
    const shape = shapeOf(steps)
    const g = groups.get(shape)
    if (g) g.count++
    else groups.set(shape, { shape, count: 1, example: steps })
  }
  return [...groups.values()].sort((a, b) => b.count - a.count)
}
