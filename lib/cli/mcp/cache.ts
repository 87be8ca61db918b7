/**
 * Parsed snapshots kept between an agent's questions. An agent asks several questions of the
 * same files (a diff, the retainers of what grew, one object), and parsing a 1 GB file takes
 * seconds, so each file stays loaded, keyed by its real path, size and mtime (a rewritten file is
 * parsed again), least recently used first out once the tables pass a byte budget.
 *
 * A file is first loaded as its questions need it: its nodes alone for a diff's `before`, its
 * whole graph (edges too: about twice the memory and parse time) for what a retained size or a
 * path needs. A graph answers the nodes' questions as well; a file loaded without edges is
 * loaded again, with them, the first time a question needs its graph.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs'
import { isAbsolute, relative, resolve } from 'node:path'

import binding = require('../../../binding')

/** What a question needs of a file: its node tables, or its whole graph. */
export type Need = 'nodes' | 'graph'

export interface Loaded {
  handle: binding.HeapSnapshotHandle
  /** Whether this answer reused a snapshot parsed for an earlier question. */
  reused: boolean
  /** When the file was written: the time a diff's sides carry. */
  mtime: Date
}

interface Entry {
  handle: binding.HeapSnapshotHandle
  graph: boolean
  bytes: number
}

/** The default budget of `heapdiff mcp --cache-mb`: the graphs of two ~2 GB snapshot files. */
export const DEFAULT_CACHE_BYTES = 4096 * 1024 * 1024

/** A path an agent may not read, or that is not a file: a tool error naming it. */
export class PathError extends Error {}

/** `path` resolved through symlinks, inside `root` when given (so a link cannot lead out). */
function inside(path: string, root: string | null, what: string): string {
  if (typeof path !== 'string' || path === '') throw new PathError(`a ${what} path is required`)
  let real: string
  try {
    real = realpathSync(resolve(root ?? process.cwd(), path))
  } catch {
    throw new PathError(`${path}: no such ${what}`)
  }
  if (root !== null) {
    const rel = relative(root, real)
    if (rel.startsWith('..') || isAbsolute(rel)) throw new PathError(`${path}: outside the allowed root ${root}`)
  }
  return real
}

/** `path` as a readable regular file inside `root` (when given). */
export function checkedFile(path: string, root: string | null): string {
  const real = inside(path, root, 'file')
  if (!statSync(real).isFile()) throw new PathError(`${path}: not a regular file`)
  try {
    accessSync(real, constants.R_OK)
  } catch {
    throw new PathError(`${path}: not readable`)
  }
  return real
}

/** `path` as a folder inside `root` (when given). */
export function checkedDir(path: string, root: string | null): string {
  const real = inside(path, root, 'folder')
  if (!statSync(real).isDirectory()) throw new PathError(`${path}: not a folder`)
  return real
}

export class SnapshotCache {
  private entries = new Map<string, Entry>()
  /** The snapshots the question being answered uses: never freed before it is answered. */
  private pinned = new Set<string>()
  private loading = new Map<string, { graph: boolean; handle: Promise<binding.HeapSnapshotHandle> }>()

  constructor(readonly budgetBytes = DEFAULT_CACHE_BYTES) {}

  /** Bytes the loaded snapshots' tables hold now. */
  get bytes(): number {
    let n = 0
    for (const e of this.entries.values()) n += e.bytes
    return n
  }

  /** The loaded snapshot of `file` (already checked), parsing it only if not loaded as needed. */
  async get(file: string, need: Need): Promise<Loaded> {
    const st = statSync(file)
    const key = `${file}\0${st.size}\0${st.mtimeMs}`
    this.pinned.add(key)
    const hit = this.entries.get(key)
    // Most recently used last.
    this.entries.delete(key)
    if (hit && (hit.graph || need === 'nodes')) {
      this.entries.set(key, hit)
      return { handle: hit.handle, reused: true, mtime: st.mtime }
    }
    // The same file asked twice at once (a diff of a file with itself) is parsed once.
    const pending = this.loading.get(key)
    if (pending && (pending.graph || need === 'nodes')) {
      if (hit) this.entries.set(key, hit)
      return { handle: await pending.handle, reused: true, mtime: st.mtime }
    }
    hit?.handle.dispose()
    const graph = need === 'graph'
    const loading = binding.loadSnapshotFile(file, graph)
    this.loading.set(key, { graph, handle: loading })
    try {
      const handle = await loading
      this.entries.set(key, { handle, graph, bytes: handle.bytes })
      this.evict()
      return { handle, reused: false, mtime: st.mtime }
    } finally {
      this.loading.delete(key)
    }
  }

  /**
   * A question is answered: its snapshots may be freed again, least recently used first, while
   * the tables hold more than the budget. (One question may need more than the budget: its
   * snapshots stay until it is answered.)
   */
  release(): void {
    this.pinned.clear()
    this.evict()
  }

  /** Frees the least recently used unpinned snapshots beyond the budget. */
  private evict(): void {
    for (const [key, e] of this.entries) {
      if (this.bytes <= this.budgetBytes) break
      if (this.pinned.has(key)) continue
      this.entries.delete(key)
      e.handle.dispose()
    }
  }

  /** Frees everything (the server is closing). */
  clear(): void {
    for (const e of this.entries.values()) e.handle.dispose()
    this.entries.clear()
  }
}
