/** Human-readable rendering of a diff for the CLI: largest growth first, aligned columns. */
import { styleText } from 'node:util'

import type { AllocationStack, HeapDiffDetail, HeapDiffResult, RetainerPath } from '../heapdiff'
import { formatStack, type SurvivorReport, type TopRetainer } from '../leaks'

export interface TableOptions {
  top: number
  color: boolean
  before: string
  after: string
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1024,
  k: 1024,
  mb: 1048576,
  m: 1048576,
  gb: 1073741824,
  g: 1073741824,
}

/** Reads `10mb`, `512 kb`, `1.5gb` or plain bytes; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return undefined
  const unit = UNITS[m[2].toLowerCase()]
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit)
}

type Style = Parameters<typeof styleText>[0]

/** The caller decided whether the stream takes colour; Node's newer check must not veto it. */
function paint(on: boolean, style: Style, s: string): string {
  return on ? styleText(style, s, { validateStream: false }) : s
}

/**
 * Rows in reading order: largest growth first; with retainers, the explained classes before
 * that, owners before their parts, so that `Session` is read before the strings it holds.
 */
export function readingOrder(change: HeapDiffResult['change']): HeapDiffDetail[] {
  const explained = change.explained ?? []
  const byWhat = new Map(change.details.map((d) => [d.what, d]))
  const first = explained.flatMap((w) => byWhat.get(w) ?? [])
  const rest = change.details
    .filter((d) => !explained.includes(d.what))
    .sort((a, b) => b.size_bytes - a.size_bytes || (a.what < b.what ? -1 : 1))
  return [...first, ...rest]
}

export function renderTable(result: HeapDiffResult, opts: TableOptions): string {
  const { before, after, change } = result
  const rows = readingOrder(change)
  const shown = opts.top > 0 ? rows.slice(0, opts.top) : rows
  const sign = (n: number) => (n > 0 ? `+${n}` : String(n))
  const header = ['class', 'new', 'freed', 'net', 'size change']
  const body = shown.map((d) => [
    d.what,
    String(d['+']),
    String(d['-']),
    sign(d['+'] - d['-']),
    (d.size_bytes > 0 ? '+' : '') + d.size,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const maxClass = 60
  widths[0] = Math.min(widths[0], maxClass)
  const fit = (s: string) => (s.length > maxClass ? s.slice(0, maxClass - 1) + '…' : s)
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? fit(c).padEnd(widths[0]) : c.padStart(widths[i]))).join('  ')

  const out: string[] = []
  out.push(`before  ${opts.before}: ${before.nodes} nodes, ${before.size}`)
  out.push(`after   ${opts.after}: ${after.nodes} nodes, ${after.size}`)
  const total = `${change.size_bytes > 0 ? '+' : ''}${change.size}`
  if (result.comparable === false) {
    // Two processes: the ids pair no objects, so no class grew or shrank by this count.
    out.push(`change  ${total} in size; not a diff: the snapshots come from different processes`)
    return out.join('\n') + '\n'
  }
  out.push(
    `change  ${paint(opts.color, change.size_bytes > 0 ? 'red' : 'green', total)}: ${change.allocated_nodes} allocated, ${change.freed_nodes} freed nodes`,
  )
  out.push('')
  out.push(paint(opts.color, 'bold', line(header)))
  for (const [i, r] of body.entries()) {
    const d = shown[i]
    const text = line(r)
    out.push(
      d.size_bytes > 0 ? paint(opts.color, 'red', text) : d.size_bytes < 0 ? paint(opts.color, 'green', text) : text,
    )
    if (d.retainers) {
      if (d.retained_size) out.push(`    retained by ${d['+']} new instances: ${d.retained_size}`)
      out.push(...renderPaths(d.retainers))
    }
    out.push(...renderSites(d.allocated_at))
  }
  if (shown.length < rows.length) out.push(`… ${rows.length - shown.length} more classes (--top 0 shows all)`)
  return out.join('\n') + '\n'
}

/** `    allocated at 3 × makeLeak (/app/a.js:10:20) ← main (/app/a.js:30:1)`, one line a stack. */
function renderSites(sites: AllocationStack[] | undefined): string[] {
  return (sites ?? []).map((s) => `    allocated at ${formatStack(s)}`)
}

function renderPaths(paths: RetainerPath[]): string[] {
  return paths.map(
    (p) => `    ${String(p.count).padStart(7)} × ${p.path}${p.keys.length > 0 ? `  (e.g. ${p.keys.join(', ')})` : ''}`,
  )
}

/** `heapdiff top`: largest retained sizes first. */
export function renderTop(rows: TopRetainer[]): string {
  const header = ['retained', 'self', 'object', 'id']
  const body = rows.map((r) => [r.retained_size, String(r.self_size), r.what.slice(0, 60), `@${r.id}`])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 2 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const out = [line(header)]
  for (const [i, b] of body.entries()) {
    out.push(line(b))
    if (rows[i].path) out.push(`    ${rows[i].path}`)
  }
  return out.join('\n') + '\n'
}

/**
 * `heapdiff leaks`: surviving classes in reading order (the program's by retained size, then V8's
 * own under a heading of their own), with their paths.
 */
export function renderLeaks(report: SurvivorReport, files: string[]): string {
  const out: string[] = []
  if (report.comparable === false) {
    // Not one process: the ids pair no objects, so nothing was found to survive.
    return `not a leak report: the snapshots ${files.join(', ')} come from different processes\n`
  }
  out.push(
    `${report.allocated} objects allocated between ${files[0]} and ${files[1]}; ${report.leaked} still alive in ${files[2]}`,
  )
  if (report.leaks.length === 0) {
    out.push('no leaked classes')
    return out.join('\n') + '\n'
  }
  out.push('')
  let own = false
  for (const l of report.leaks) {
    if (l.internal && !own) {
      own = true
      out.push("V8's own objects (compiled code, hidden classes, collections' backing stores):")
    }
    const retained = l.retained_size ? `, retained ${l.retained_size}` : ''
    out.push(`${l.what}: ${l.count} leaked (${l.size}${retained})`)
    out.push(...renderPaths(l.retainers))
    out.push(...renderSites(l.allocated_at))
  }
  return out.join('\n') + '\n'
}
