// `npm run demo`: a small HTTP-less "service" that leaks a little on every request, with
// heapdiff watching. It prints every `stats` event, reports the leak, then uses HeapDiff to
// show which class is growing and what keeps it alive. Runs for about 10 seconds.
'use strict'
const memwatch = require('..')

class Session {
  constructor(id) {
    this.id = id
    this.payload = 'x'.repeat(512) + id
    this.createdAt = Date.now()
  }
}

const sessions = [] // the bug: sessions are never removed
let requests = 0
let hd = null

function handleRequest() {
  requests++
  sessions.push(new Session(requests))
  // ordinary per-request garbage
  const scratch = []
  for (let i = 0; i < 200; i++) scratch.push({ i, s: String(i) })
  return scratch.length
}

const mb = (n) => (n / 1048576).toFixed(2) + ' MB'

memwatch.on('stats', (s) => {
  console.log(
    `[stats] full GC #${s.num_full_gc} (${s.source}${s.forced ? ', forced' : ''}): ` +
      `base ${mb(s.current_base)}, estimated ${mb(s.estimated_base)}, trend ${s.usage_trend}%, ` +
      `pause ${s.pause_ms.toFixed(2)} ms, heap limit ${mb(s.heap_size_limit)}`,
  )
})

memwatch.on('leak', (info) => {
  console.log(`[leak]  ${info.reason} (growth ${mb(info.growth)})`)
  if (!hd) {
    console.log('[leak]  taking a heap snapshot to see what grows ...')
    hd = new memwatch.HeapDiff()
  }
})

console.log(`heapdiff demo: pid ${process.pid}, V8 hook: ${JSON.stringify(memwatch.status().installed)}`)
const timer = setInterval(() => {
  for (let i = 0; i < 300; i++) handleRequest()
  memwatch.gc() // a busy service would GC on its own; forcing keeps the demo short
}, 100)

setTimeout(() => {
  clearInterval(timer)
  if (!hd) {
    console.log('no leak reported (unexpected for this demo)')
    return
  }
  const diff = hd.end({ retainers: true, retainerClasses: 3, maxPaths: 2 })
  // `details` keep memwatch's order; `explained` ranks the classes given retainers owners first
  // (a Session before the strings it holds). The rest follow by growth.
  const { details, explained } = diff.change
  const rest = details.filter((d) => !explained.includes(d.what)).sort((a, b) => b.size_bytes - a.size_bytes)
  const top = [...explained.map((w) => details.find((d) => d.what === w)), ...rest].slice(0, 5)
  console.log(`\n[diff]  heap changed by ${diff.change.size} since the leak was reported; owners first, then growth:`)
  for (const d of top) {
    const retained = d.retained_size ? `, retaining ${d.retained_size}` : ''
    console.log(`        ${d.what.padEnd(24)} +${d['+']} -${d['-']}  ${d.size}${retained}`)
    for (const p of d.retainers ?? []) console.log(`            ${p.count} × ${p.path}`)
  }
}, 10000)
