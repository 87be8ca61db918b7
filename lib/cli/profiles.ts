/**
 * Sampled heap profile files for `heapdiff profile`: `.heapprofile` JSON (DevTools, speedscope,
 * `writeHeapProfile`) or pprof protobuf (plain or gzipped, decoded natively), read into stacks
 * and summed per allocation site as `leak` events name them.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

import binding = require('../../binding')
import { profileRows, siteTotals, type HeapProfile, type SiteTotal, type StackRow } from '../sites'

/** The stacks of a profile file; throws an Error naming the file and what is wrong with it. */
export function readProfileFile(path: string): StackRow[] {
  let raw: Buffer
  try {
    raw = readFileSync(path)
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`)
  }
  let data = raw
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      data = gunzipSync(raw)
    } catch (e) {
      throw new Error(`${path}: damaged gzip data (${(e as Error).message})`)
    }
  }
  const first = data.subarray(0, 64).toString('latin1').trimStart()[0]
  if (first === '{') return jsonRows(path, data)
  let p: binding.PprofProfile
  try {
    p = binding.decodeHeapPprof(data)
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`)
  }
  return p.samples.map((s) => ({
    frames: s.stack.map((i) => p.frames[i]),
    bytes: s.bytes,
    objects: s.objects,
  }))
}

function jsonRows(path: string, data: Buffer): StackRow[] {
  const text = data.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`)
  }
  const p = json as Partial<HeapProfile> & { samplingInterval?: unknown }
  const node = p?.head as { callFrame?: unknown; children?: unknown } | undefined
  if (
    typeof node !== 'object' ||
    node === null ||
    typeof node.callFrame !== 'object' ||
    !Array.isArray(node.children)
  ) {
    const what =
      json && typeof json === 'object' && 'snapshot' in json ? ' (a heap snapshot: use heapdiff diff/top)' : ''
    throw new Error(`${path}: not a sampling heap profile: no "head" node with callFrame and children${what}`)
  }
  const interval = typeof p.samplingInterval === 'number' && p.samplingInterval > 0 ? p.samplingInterval : null
  try {
    return profileRows(text, interval)
  } catch (e) {
    throw new Error(`${path}: malformed heap profile (${(e as Error).message})`)
  }
}

/** Sites of a profile file, most live bytes first. */
export function profileSites(path: string): SiteTotal[] {
  return siteTotals(readProfileFile(path))
}

/** `heapdiff profile`: one line per site, its heaviest stack's callers below it. */
export function renderSites(sites: SiteTotal[], growth: boolean): string {
  const header = [growth ? 'growth' : 'live', ...(growth ? ['live'] : []), 'objects', 'site']
  const body = sites.map((s) => [
    ...(growth ? [binding.formatSize(s.growth_bytes ?? 0)] : []),
    binding.formatSize(s.live_bytes),
    s.live_count === null ? '?' : String(s.live_count),
    s.stack[s.stack.findIndex((f) => f.startsWith(`${s.name} `) || f === s.name)] ?? s.name,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const last = header.length - 1
  const line = (cells: string[]) => cells.map((c, i) => (i === last ? c : c.padStart(widths[i]))).join('  ')
  const out = [line(header)]
  const indent = ' '.repeat(widths.slice(0, last).reduce((a, w) => a + w + 2, 0))
  for (const [i, b] of body.entries()) {
    out.push(line(b))
    const s = sites[i]
    const at = s.stack.findIndex((f) => f === b[last])
    const callers = s.stack.slice(at + 1, at + 4)
    for (const c of callers) out.push(`${indent}  ← ${c}`)
  }
  return out.join('\n') + '\n'
}
