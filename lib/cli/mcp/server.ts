/**
 * `heapdiff mcp`: heap questions from coding agents, as an MCP server over stdio. Each tool is a
 * question the CLI answers (what grew, what survived, what holds it, where it was allocated),
 * over snapshots kept loaded between calls (cache.ts), with bounded, machine-readable answers:
 * every list has a limit with a default and a hard cap, and says what it left out. Read-only:
 * no tool writes a file or evaluates code.
 *
 * The MCP SDK and zod are optional peer dependencies, loaded only by this command.
 */
import { realpathSync } from 'node:fs'

import binding = require('../../../binding')
import { ownCode, toClassicDiff } from '../../heapdiff'
import { toSurvivorReport } from '../../leaks'
import { checkAnalysisOptions, checkDiffOptions, checkTopRetainerOptions } from '../../options'
import { profileSites } from '../profiles'
import { siteGrowth } from '../../sites'
import { runReport } from '../report/model'
import { checkedDir, checkedFile, DEFAULT_CACHE_BYTES, PathError, SnapshotCache, type Need } from './cache'

export interface McpOptions {
  /** Only files under this directory may be read (default: any readable file). */
  root?: string | null
  /** Byte budget of the loaded snapshots' tables (default 4 GiB). */
  cacheBytes?: number
}

/** Each list's default length and hard cap. */
export const LIMITS = {
  classes: { default: 20, cap: 200 },
  diff: { default: 25, cap: 500 },
  leaks: { default: 10, cap: 100 },
  top: { default: 10, cap: 200 },
  paths: { default: 5, cap: 50 },
  edges: { default: 20, cap: 200 },
  sites: { default: 20, cap: 500 },
} as const

type Limit = keyof typeof LIMITS

/** Notes an answer carries: a clamped limit, what was left out. */
class Notes {
  readonly list: string[] = []
  limit(name: string, kind: Limit, asked: number | undefined): number {
    const { default: def, cap } = LIMITS[kind]
    const n = asked ?? def
    if (n > cap) {
      this.list.push(`${name} ${n} is above the cap of ${cap}: clamped to ${cap}`)
      return cap
    }
    return n
  }
}

function loadSdk(): { sdk: any; stdio: any; z: any } {
  try {
    return {
      sdk: require('@modelcontextprotocol/sdk/server/mcp.js'),
      stdio: require('@modelcontextprotocol/sdk/server/stdio.js'),
      z: require('zod'),
    }
  } catch (e) {
    throw new Error(
      `heapdiff mcp needs the optional peer dependencies @modelcontextprotocol/sdk and zod ` +
        `(npm install @modelcontextprotocol/sdk zod): ${(e as Error).message.split('\n')[0]}`,
    )
  }
}

/** A tool answer: the data as structured content and as its JSON text. */
function answer(data: Record<string, unknown>) {
  return { structuredContent: data, content: [{ type: 'text', text: JSON.stringify(data) }] }
}

/** Builds the server (not yet connected): the tools over one snapshot cache. */
export function createMcpServer(options: McpOptions = {}) {
  const { sdk, z } = loadSdk()
  const root = options.root ? checkedRoot(options.root) : null
  const cache = new SnapshotCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES)
  const { version } = require('../../../package.json') as { version: string }
  const server = new sdk.McpServer({ name: 'heapdiff', version })

  const group = z
    .enum(['devtools', 'classic'])
    .optional()
    .describe("class names: 'devtools' (Chrome DevTools' Summary; default) or 'classic' (memwatch's)")
  const count = (what: string, kind: Limit) =>
    z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(`${what} (default ${LIMITS[kind].default}, at most ${LIMITS[kind].cap})`)
  const file = (what: string) => z.string().min(1).describe(what)

  // One question at a time: they are CPU-bound, and the cache may free a snapshot between two.
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => undefined)
    return run
  }
  const load = async (path: string, need: Need, loaded: Record<string, boolean>) => {
    const real = checkedFile(path, root)
    const got = await cache.get(real, need)
    loaded[path] = got.reused
    return got
  }
  /** Every answer says which files it reused (true) or parsed (false). */
  const tool = (
    name: string,
    description: string,
    input: Record<string, unknown>,
    run: (args: any, notes: Notes, loaded: Record<string, boolean>) => Promise<Record<string, unknown>>,
  ) =>
    server.registerTool(name, { description, inputSchema: input, annotations: { readOnlyHint: true } }, (args: any) =>
      serial(async () => {
        const notes = new Notes()
        const loaded: Record<string, boolean> = {}
        try {
          const data = await run(args, notes, loaded)
          return answer({ ...data, reused: loaded, notes: notes.list })
        } finally {
          cache.release()
        }
      }),
    )

  tool(
    'summary',
    'Totals of one heap snapshot (nodes, edges, bytes) and its largest classes by instance count and by retained size. ' +
      'Output: { node_count, edge_count, total_size, class_count, by_count: [{ what, count, self_size, retained_size }], by_retained_size: [...], left_out }.',
    { file: file('a .heapsnapshot file (gzip allowed)'), top: count('classes per list', 'classes'), group },
    async (a, notes, loaded) => {
      const top = notes.limit('top', 'classes', a.top)
      const grouping = a.group ?? 'devtools'
      const { handle } = await load(a.file, 'graph', loaded)
      const s = await binding.summarizeSnapshot(handle, grouping, top)
      return { ...s, left_out: Math.max(0, s.class_count - top) }
    },
  )

  tool(
    'diff',
    'What changed between two snapshots of one process, by class, as `heapdiff diff --json`. ' +
      'Output (HeapDiff.end() shape): { before, after, change: { size_bytes, size, freed_nodes, allocated_nodes, details: [{ what, size_bytes, "+", "-", retained_size_bytes?, retainers? }], explained? }, details_left_out }. ' +
      'details are cut to `top`, largest change first for devtools grouping.',
    {
      before: file('the earlier snapshot'),
      after: file('the later snapshot'),
      group,
      top: count('classes listed', 'diff'),
      retainers: z.boolean().optional().describe('retained sizes and retaining paths of the classes that grew most'),
    },
    async (a, notes, loaded) => {
      const top = notes.limit('top', 'diff', a.top)
      const opts = checkDiffOptions({ grouping: a.group ?? 'devtools', retainers: a.retainers ?? false })
      // The later file's graph is what the next questions (what holds it) need.
      // Both parsed at once, on two of libuv's threads, as heapdiff diff does.
      const [before, after] = await Promise.all([
        load(a.before, 'nodes', loaded),
        load(a.after, opts.retainers ? 'graph' : 'nodes', loaded),
      ])
      const result = toClassicDiff(
        await binding.diffLoadedSnapshots(before.handle, after.handle, opts),
        before.mtime,
        after.mtime,
        opts.grouping,
      )
      const all = result.change.details.length
      result.change.details = result.change.details.slice(0, top)
      return { ...result, details_left_out: all - result.change.details.length }
    },
  )

  tool(
    'leaks',
    'The three-snapshot technique, as `heapdiff leaks --json`: objects allocated between s1 and s2 that are still alive in s3, by class, ' +
      "the program's classes first, with retained sizes and grouped retaining paths (each step has an `id` for `object`/`retainers`). " +
      'Output: { leaked, allocated, leaks: [{ what, count, size_bytes, retained_size_bytes, internal, retainers: [{ path, count, steps }] }], leaks_left_out }; ' +
      'for snapshots of different processes no leaks but comparable: false and a warning saying how to take comparable ones.',
    {
      s1: file('baseline snapshot'),
      s2: file('snapshot after the action'),
      s3: file('snapshot after undoing the action'),
      top: count('classes listed', 'leaks'),
      min_count: z.number().int().min(1).optional().describe('least survivors a class needs to be listed'),
      group,
    },
    async (a, notes, loaded) => {
      const top = notes.limit('top', 'leaks', a.top)
      const opts = checkAnalysisOptions({
        grouping: a.group ?? 'devtools',
        maxClasses: top,
        ...(a.min_count !== undefined ? { minCount: a.min_count } : {}),
      })
      const [s1, s2, s3] = (
        await Promise.all([load(a.s1, 'nodes', loaded), load(a.s2, 'nodes', loaded), load(a.s3, 'graph', loaded)])
      ).map((l) => l.handle)
      return { ...toSurvivorReport(await binding.leaksInLoadedSnapshots(s1, s2, s3, opts, ownCode())) }
    },
  )

  tool(
    'top_retainers',
    'The objects with the largest retained sizes in one snapshot (dominator tree), as `heapdiff top --json`. ' +
      'Output: { retainers: [{ id, what, node_type, self_size, retained_size, path }] }.',
    { file: file('a .heapsnapshot file'), top: count('objects listed', 'top') },
    async (a, notes, loaded) => {
      const top = notes.limit('top', 'top', a.top)
      const { handle } = await load(a.file, 'graph', loaded)
      return { retainers: await binding.topRetainersOfLoaded(handle, checkTopRetainerOptions({ top })) }
    },
  )

  tool(
    'retainers',
    'Why objects are alive: the shortest retaining paths from the GC roots of every instance of `class`, grouped by shape, or of one object by `id`. ' +
      'Output: { what, count, retained_size, paths: [{ path, count, steps: [{ edge, node, id, ... }], keys }], paths_left_out }.',
    {
      file: file('a .heapsnapshot file'),
      class: z.string().min(1).optional().describe('a class name as the grouping names it'),
      id: z.number().int().min(0).optional().describe('a V8 object id (`@id`), from any other tool'),
      paths: count('path groups listed', 'paths'),
      group,
    },
    async (a, notes, loaded) => {
      if ((a.class === undefined) === (a.id === undefined))
        throw new Error('retainers takes exactly one of `class` and `id`')
      const paths = notes.limit('paths', 'paths', a.paths)
      const grouping = a.group ?? 'devtools'
      const { handle } = await load(a.file, 'graph', loaded)
      const r =
        a.id !== undefined
          ? await binding.objectRetainers(handle, a.id)
          : await binding.classRetainers(handle, grouping, a.class, paths)
      if (!r)
        throw new Error(
          a.id !== undefined ? `${a.file}: no object with id ${a.id}` : `${a.file}: no ${a.class} objects`,
        )
      return { ...r }
    },
  )

  tool(
    'object',
    'One object by V8 id: its type, name, sizes, shortest retaining path, its edges out and the edges pointing at it (retaining ones first), each cut at `limit`. ' +
      'Output: { node: { id, type, what, self_size }, retained_size, path, edges: [{ type, name, retains, node }], edge_count, retainers: [...], retainer_count }.',
    {
      file: file('a .heapsnapshot file'),
      id: z.number().int().min(0).describe('a V8 object id (`@id`), from any other tool'),
      limit: count('edges and retainers listed', 'edges'),
    },
    async (a, notes, loaded) => {
      const limit = notes.limit('limit', 'edges', a.limit)
      const { handle } = await load(a.file, 'graph', loaded)
      const v = await binding.inspectObject(handle, a.id, limit)
      if (!v) throw new Error(`${a.file}: no object with id ${a.id}`)
      return { ...v }
    },
  )

  tool(
    'profile',
    'Allocation sites of a sampling heap profile (.heapprofile, or pprof .pb.gz), as `heapdiff profile --json`: the most live bytes first; ' +
      'with `file2`, the sites whose live bytes grew from `file` to `file2`. Output: { sites: [{ name, url, line, column, stack, live_bytes, live_count, growth_bytes? }], sites_left_out }.',
    {
      file: file('a heap profile'),
      file2: file('a later heap profile').optional(),
      top: count('sites listed', 'sites'),
    },
    async (a, notes) => {
      const top = notes.limit('top', 'sites', a.top)
      const files = [a.file, ...(a.file2 ? [a.file2] : [])].map((f) => checkedFile(f, root))
      const sites = files.map(profileSites)
      const rows = files.length === 2 ? siteGrowth(sites[0], sites[1]) : sites[0]
      return { sites: rows.slice(0, top), sites_left_out: Math.max(0, rows.length - top) }
    },
  )

  tool(
    'run_report',
    'The outcome of a `heapdiff run` folder: the verdict sentence, the leak events, the top classes (when snapshots were taken) and the top allocation sites. ' +
      'Output: { verdict: { leak, sentence }, leaks: [{ memory, reason, growth, gcs }], classes: [...], sites: [...], notes, left_out }.',
    { dir: z.string().min(1).describe('a heapdiff run folder'), top: count('classes and sites listed', 'leaks') },
    async (a, notes) => {
      const top = notes.limit('top', 'leaks', a.top)
      const dir = checkedDir(a.dir, root)
      const r = await runReport(dir)
      return {
        verdict: r.verdict,
        leaks: r.leaks
          .slice(0, top)
          .map(({ thread, memory, reason, growth, gcs, time }) => ({ thread, memory, reason, growth, gcs, time })),
        classes: r.classes.slice(0, top),
        sites: r.sites.slice(0, top),
        run_notes: r.notes,
        left_out: {
          leaks: Math.max(0, r.leaks.length - top),
          classes: Math.max(0, r.classes.length - top),
          sites: Math.max(0, r.sites.length - top),
        },
      }
    },
  )

  return { server, cache, connect: () => server.connect(new (loadSdk().stdio.StdioServerTransport)()) }
}

function checkedRoot(root: string): string {
  try {
    return realpathSync(root)
  } catch {
    throw new PathError(`--root ${root}: no such directory`)
  }
}
