/**
 * The HTML report's browser code: reads the report JSON embedded in the page (gzip + base64
 * when large) and draws it with plain DOM and uPlot. No framework and no request: the page's
 * CSP forbids any. Built into `lib/cli/report/ui.html` with uPlot by `scripts/build-report-ui.mjs`.
 */
import type uPlotT from 'uplot'

import type { ClassRow, FlameNode, Report, ThreadSeries as Thread } from '../lib/cli/report/types'

declare const uPlot: typeof uPlotT
/** heapdiff's size wording (lib/cli/report/size.ts), inlined into the page by lib/cli/report/html.ts. */
declare function formatSize(bytes: number): string

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v
    else el.setAttribute(k, v)
  }
  for (const c of children) el.append(c)
  return el
}

function bytes(n: number | null): string {
  return n === null ? '' : formatSize(n)
}

async function loadData(): Promise<Report> {
  const el = document.getElementById('heapdiff-data')!
  const text = el.textContent ?? ''
  if (el.dataset.encoding !== 'gzip-base64') return JSON.parse(text)
  const bin = atob(text)
  const buf = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i)
  const stream = new Blob([buf]).stream().pipeThrough(new DecompressionStream('gzip'))
  return JSON.parse(await new Response(stream).text())
}

// ---------------------------------------------------------------------------------------------
// Timeline: post-GC heap against the estimated base, leak markers, GC pauses below

/**
 * At most `buckets` buckets of consecutive GCs, each kept as its lowest and its highest point
 * (in their order), so a 100,000-GC run draws as fast as a short one and no peak disappears.
 */
function downsample(x: number[], ys: number[][], buckets: number): [number[], ...number[][]] {
  const n = x.length
  if (n <= buckets * 2) return [x, ...ys]
  const outX: number[] = []
  const outY = ys.map(() => [] as number[])
  const main = ys[0]
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets)
    const to = Math.floor(((b + 1) * n) / buckets)
    let lo = from
    let hi = from
    for (let i = from + 1; i < to; i++) {
      if (main[i] < main[lo]) lo = i
      if (main[i] > main[hi]) hi = i
    }
    const picks = lo === hi ? [lo] : lo < hi ? [lo, hi] : [hi, lo]
    for (const i of picks) {
      outX.push(x[i])
      // The other series keep their own extreme in the bucket at the same points.
      ys.forEach((y, k) => {
        if (k === 0) outY[k].push(y[i])
        else {
          let m = y[from]
          for (let j = from + 1; j < to; j++) if (y[j] > m) m = y[j]
          outY[k].push(k === 1 ? y[i] : m)
        }
      })
    }
  }
  return [outX, ...outY]
}

/** External memory's line and its leak marks. */
const EXTERNAL_COLOUR = '#9467bd'

function timeline(report: Report, root: HTMLElement): void {
  const threads = report.threads.filter((t) => t.series.time.length > 0)
  if (threads.length === 0) return
  const section = h('section', { id: 'timeline' }, h('h2', {}, 'Post-GC heap and external memory over time'))
  const picker = h('select', { id: 'thread', 'aria-label': 'thread' })
  for (const t of threads) picker.append(h('option', { value: t.id }, `${t.label}: ${t.series.time.length} full GCs`))
  if (threads.length > 1) section.append(h('label', {}, 'Thread ', picker))
  const heapEl = h('div', { id: 'chart-heap', class: 'chart' })
  const pauseEl = h('div', { id: 'chart-pause', class: 'chart' })
  section.append(
    heapEl,
    pauseEl,
    h(
      'p',
      { class: 'hint' },
      'One point per full GC. Dashed lines: leak events (red: heap, purple: external memory); grey bands: heap snapshots. Drag to zoom, double-click to reset.',
    ),
  )
  root.append(section)

  let plots: uPlotT[] = []
  const draw = (t: Thread) => {
    for (const p of plots) p.destroy()
    const width = Math.max(320, heapEl.clientWidth || 900)
    const s = t.series
    const secs = s.time.map((ms) => ms / 1000)
    // Folders from versions before external memory was recorded have no such series.
    const ext = s.external ?? s.heap.map(() => 0)
    const [x, heap, base, pause, external] = downsample(secs, [s.heap, s.base, s.pause_ms, ext], Math.ceil(width))
    const leaks = report.leaks.filter((l) => l.thread === t.id)
    const snaps = t.snapshots.map((sn) => [sn.start / 1000, sn.end / 1000])
    const sync = uPlot.sync('heapdiff')
    const marker = (u: uPlotT) => {
      const ctx = u.ctx
      ctx.save()
      // Heap snapshots (--snapshots on-leak) stop the program: shaded, so their GCs explain themselves.
      ctx.fillStyle = 'rgba(120,120,120,0.15)'
      for (const [a, b] of snaps) {
        const x0 = u.valToPos(a, 'x', true)
        const x1 = Math.max(u.valToPos(b, 'x', true), x0 + 2 * devicePixelRatio)
        ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height)
      }
      ctx.lineWidth = 2 * devicePixelRatio
      ctx.font = `${11 * devicePixelRatio}px sans-serif`
      for (const l of leaks) {
        // Heap leaks in red, external ones in the external line's purple, each labelled. Both
        // memories often cross the rule in the same GC, so their marks share a column: the
        // external dashes fill the heap dashes' gaps and its label sits a line lower, so that
        // neither hides the other.
        const external = l.memory === 'external'
        ctx.strokeStyle = ctx.fillStyle = external ? EXTERNAL_COLOUR : '#d62728'
        ctx.setLineDash([5 * devicePixelRatio, 5 * devicePixelRatio])
        ctx.lineDashOffset = external ? 5 * devicePixelRatio : 0
        const px = u.valToPos(l.time / 1000, 'x', true)
        ctx.beginPath()
        ctx.moveTo(px, u.bbox.top)
        ctx.lineTo(px, u.bbox.top + u.bbox.height)
        ctx.stroke()
        const row = external ? 26 : 12
        ctx.fillText(
          external ? 'external leak' : 'leak',
          px + 4 * devicePixelRatio,
          u.bbox.top + row * devicePixelRatio,
        )
      }
      ctx.restore()
    }
    const axisBytes = (_u: uPlotT, vals: number[]) => vals.map((v) => bytes(v))
    plots = [
      new uPlot(
        {
          width,
          height: 280,
          cursor: { sync: { key: sync.key } },
          scales: { x: { time: true } },
          series: [
            {},
            { label: 'post-GC heap', stroke: '#1f77b4', width: 1.5, value: (_u, v) => bytes(v) },
            { label: 'estimated base', stroke: '#ff7f0e', width: 1.5, dash: [5, 3], value: (_u, v) => bytes(v) },
            { label: 'post-GC external', stroke: EXTERNAL_COLOUR, width: 1.5, value: (_u, v) => bytes(v) },
          ],
          axes: [{}, { values: axisBytes, size: 70 }],
          hooks: { draw: [marker] },
        },
        [x, heap, base, external],
        heapEl,
      ),
      new uPlot(
        {
          width,
          height: 130,
          cursor: { sync: { key: sync.key } },
          scales: { x: { time: true } },
          series: [
            {},
            {
              label: 'GC pause (ms)',
              stroke: '#2ca02c',
              fill: 'rgba(44,160,44,0.25)',
              // Bars while each GC gets a few pixels; a filled line beyond that.
              paths: x.length < width / 4 ? uPlot.paths.bars!({ size: [0.9, 6] }) : undefined,
              value: (_u, v) => (v === null ? '' : `${v.toFixed(2)} ms`),
            },
          ],
          axes: [{}, { size: 70 }],
          hooks: { draw: [marker] },
        },
        [x, pause],
        pauseEl,
      ),
    ]
  }
  const current = () => threads.find((t) => t.id === picker.value) ?? threads[0]
  picker.addEventListener('change', () => draw(current()))
  let resize = 0
  window.addEventListener('resize', () => {
    clearTimeout(resize)
    resize = window.setTimeout(() => draw(current()), 150)
  })
  draw(threads[0])
}

// ---------------------------------------------------------------------------------------------
// Icicle of allocation sites: click a frame to zoom into it, click the top bar to zoom out

function icicle(report: Report, root: HTMLElement): void {
  if (!report.flame) return
  const section = h(
    'section',
    { id: 'sites' },
    h('h2', {}, report.kind === 'profile' ? 'Allocation sites (sampled live bytes)' : 'Allocation sites of the growth'),
    h(
      'p',
      { class: 'hint' },
      'Outermost frame at the top, the allocating function at the bottom. Click a frame to zoom in, the top bar to zoom out.',
    ),
  )
  const box = h('div', { class: 'flame', id: 'flame' })
  section.append(box)
  if (report.sites.length > 0) {
    const list = h('ol', { class: 'site-list' })
    for (const s of report.sites.slice(0, 10)) {
      const where = s.url ? `${s.url}:${s.line}:${s.column}` : ''
      const amount = s.growth_bytes !== null ? `+${bytes(s.growth_bytes)}` : bytes(s.live_bytes)
      list.append(
        h('li', {}, h('code', {}, s.name), ' ', h('span', { class: 'where' }, where), ' ', h('b', {}, amount)),
      )
    }
    section.append(h('h3', {}, 'Top sites'), list)
  }
  root.append(section)

  const ROW = 22
  const parents = new Map<FlameNode, FlameNode>()
  const index = (n: FlameNode, depth: number): number => {
    let d = depth
    for (const c of n.children) {
      parents.set(c, n)
      d = Math.max(d, index(c, depth + 1))
    }
    return d
  }
  index(report.flame, 0)
  const total = report.flame.value
  let frames = 0
  const render = (focus: FlameNode) => {
    box.textContent = ''
    frames = 0
    const chain: FlameNode[] = []
    for (let n = parents.get(focus); n; n = parents.get(n)) chain.unshift(n)
    let depth = 0
    const frame = (n: FlameNode, left: number, width: number, d: number, cls: string, zoom: FlameNode) => {
      const pct = ((n.value / total) * 100).toFixed(1)
      const el = h(
        'div',
        {
          class: `frame ${cls}`,
          title: `${n.name}\n${bytes(n.value)} (${pct}% of all)`,
          style: `left:${left * 100}%;width:${width * 100}%;top:${d * ROW}px`,
        },
        width > 0.03 ? `${n.name} · ${bytes(n.value)}` : '',
      )
      el.addEventListener('click', () => render(zoom))
      box.append(el)
      frames++
      depth = Math.max(depth, d)
    }
    // Ancestors of the focus as full-width bars: clicking one zooms back out to it.
    chain.forEach((n, i) => frame(n, 0, 1, i, 'ancestor', n))
    const walk = (n: FlameNode, left: number, width: number, d: number) => {
      // Frames narrower than a pixel or so, and beyond a few thousand, are not drawn.
      if (width < 0.002 || frames > 5000) return
      frame(n, left, width, d, n === focus ? 'focus' : '', n === focus ? (parents.get(n) ?? n) : n)
      let x = left
      for (const c of n.children) {
        const w = (c.value / n.value) * width
        walk(c, x, w, d + 1)
        x += w
      }
    }
    walk(focus, 0, 1, chain.length)
    box.style.height = `${(depth + 1) * ROW}px`
  }
  render(report.flame)
}

// ---------------------------------------------------------------------------------------------
// Class table: sortable, virtualised (only the rows in view are in the DOM)

interface Column {
  key: string
  label: string
  num: boolean
  get: (c: ClassRow) => number | string | null
  show: (c: ClassRow) => string
}

function classTable(report: Report, root: HTMLElement): void {
  if (report.classes.length === 0) return
  const diff = report.kind === 'diff'
  // A class census counts objects: what grew and what is alive, no sizes or paths.
  const census = report.classes.some((c) => typeof c.growth === 'number')
  const cols: Column[] = [
    { key: 'what', label: 'class', num: false, get: (c) => c.what, show: (c) => c.what },
    ...(census
      ? [
          {
            key: 'growth',
            label: 'grew',
            num: true,
            get: (c: ClassRow) => c.growth,
            show: (c: ClassRow) => `+${c.growth}`,
          },
        ]
      : []),
    {
      key: 'count',
      label: diff ? 'new' : 'alive',
      num: true,
      get: (c) => c.count,
      show: (c) => String(c.count),
    },
  ]
  if (diff)
    cols.push({ key: 'freed', label: 'freed', num: true, get: (c) => c.freed, show: (c) => String(c.freed ?? '') })
  if (!census)
    cols.push(
      {
        key: 'size',
        label: diff ? 'size change' : 'size',
        num: true,
        get: (c) => c.size_bytes,
        show: (c) => (c.size_bytes === null ? '' : (diff && c.size_bytes > 0 ? '+' : '') + bytes(c.size_bytes)),
      },
      {
        key: 'retained',
        label: 'retained',
        num: true,
        get: (c) => c.retained_size_bytes,
        show: (c) => bytes(c.retained_size_bytes),
      },
    )
  if (report.classes.some((c) => c.allocated_at))
    cols.push({
      key: 'at',
      label: 'allocated at',
      num: false,
      get: (c) => c.allocated_at,
      show: (c) => c.allocated_at ?? '',
    })

  const section = h(
    'section',
    { id: 'classes' },
    h('h2', {}, `Classes (${report.classes.length}): ${report.class_source ?? ''}`),
  )
  const grid = `grid-template-columns: minmax(14em, 3fr) ${cols
    .slice(1)
    .map((c) => (c.key === 'at' ? 'minmax(12em, 3fr)' : 'minmax(6em, 1fr)'))
    .join(' ')}`
  const head = h('div', { class: 'row head', role: 'row', style: grid })
  const ROW = 26
  const viewport = h('div', { class: 'vtable', role: 'table', id: 'class-table' })
  const spacer = h('div', { class: 'spacer' })
  viewport.append(spacer)
  section.append(head, viewport)
  root.append(section)

  let rows = report.classes.slice()
  let sortKey = ''
  let desc = true
  for (const c of cols) {
    const btn = h('button', { type: 'button', class: c.num ? 'num' : '', 'data-key': c.key }, c.label)
    btn.addEventListener('click', () => {
      desc = sortKey === c.key ? !desc : c.num
      sortKey = c.key
      const dir = desc ? -1 : 1
      rows = report.classes.slice().sort((a, b) => {
        const va = c.get(a)
        const vb = c.get(b)
        if (va === vb) return 0
        if (va === null) return 1
        if (vb === null) return -1
        return (va < vb ? -1 : 1) * dir
      })
      for (const b of head.querySelectorAll('button')) b.removeAttribute('aria-sort')
      btn.setAttribute('aria-sort', desc ? 'descending' : 'ascending')
      paint(true)
    })
    head.append(h('div', { role: 'columnheader' }, btn))
  }
  viewport.style.height = `${Math.min(rows.length, 18) * ROW + 2}px`
  spacer.style.height = `${rows.length * ROW}px`
  let shown = ''
  const paint = (force = false) => {
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - 5)
    const last = Math.min(rows.length, first + Math.ceil(viewport.clientHeight / ROW) + 10)
    const range = `${first}:${last}`
    if (range === shown && !force) return
    shown = range
    for (const el of viewport.querySelectorAll('.row')) el.remove()
    for (let i = first; i < last; i++) {
      const c = rows[i]
      const row = h('div', { class: 'row', role: 'row', 'data-index': String(i), style: `${grid};top:${i * ROW}px` })
      for (const col of cols) {
        const text = col.show(c)
        row.append(h('div', { role: 'cell', class: col.num ? 'num' : '', title: text }, text))
      }
      viewport.append(row)
    }
  }
  viewport.addEventListener('scroll', () => paint())
  paint(true)
}

// ---------------------------------------------------------------------------------------------
// Retaining paths: one collapsed group per path shape, its steps inside

function retainingPaths(report: Report, root: HTMLElement): void {
  const held = report.classes.filter((c) => c.paths.length > 0).slice(0, 20)
  if (held.length === 0) return
  const section = h('section', { id: 'paths' }, h('h2', {}, 'Retaining paths (from the GC roots)'))
  for (const c of held) {
    section.append(h('h3', {}, c.what))
    for (const p of c.paths) {
      const steps = h('ol', { class: 'steps' })
      for (const s of p.steps) {
        steps.append(
          h(
            'li',
            {},
            s.edge !== null ? h('span', { class: 'edge' }, s.edge.startsWith('[') ? s.edge : `.${s.edge}`) : '',
            ' ',
            h('code', {}, s.node),
            ' ',
            h('span', { class: 'type' }, `${s.type} @${s.id}`),
          ),
        )
      }
      section.append(
        h(
          'details',
          { class: 'path' },
          h('summary', {}, h('b', {}, `${p.count} ×`), ' ', h('code', {}, p.path)),
          steps,
        ),
      )
    }
  }
  root.append(section)
}

function leakList(report: Report, root: HTMLElement): void {
  if (report.leaks.length === 0 && report.notes.length === 0) return
  const section = h('section', { id: 'events' })
  if (report.leaks.length > 0) {
    section.append(h('h2', {}, `Leak events (${report.leaks.length})`))
    const ul = h('ul', {})
    for (const l of report.leaks.slice(0, 200))
      ul.append(h('li', {}, h('time', {}, new Date(l.time).toISOString()), ` ${l.thread}: ${l.reason}`))
    section.append(ul)
  }
  for (const n of report.notes) section.append(h('p', { class: 'note' }, n))
  root.append(section)
}

async function main(): Promise<void> {
  const report = await loadData()
  const root = h('main', {})
  document.body.append(root)
  root.append(
    h('h1', {}, report.title),
    h('p', { id: 'verdict', class: report.verdict.leak ? 'bad' : 'good' }, report.verdict.sentence),
    h('p', { class: 'meta' }, `heapdiff report · ${report.generated} · ${report.inputs.join(', ')}`),
  )
  timeline(report, root)
  icicle(report, root)
  classTable(report, root)
  retainingPaths(report, root)
  leakList(report, root)
  // Time from navigation start to a drawn report (the bench reads it).
  document.body.dataset.readyMs = performance.now().toFixed(1)
  document.body.dataset.ready = 'true'
}

main().catch((e: Error) => {
  document.body.append(h('pre', { class: 'error' }, `heapdiff report: ${e.stack ?? e.message}`))
  throw e
})
