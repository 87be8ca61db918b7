// `npm run demo`: a small HTTP-less "service" that leaks a little on every request, with
// heapdiff watching for about 10 seconds. Then, within a screen: the answer (which class leaks
// and what holds it), the `stats` events summarised, the `leak` events, and the HeapDiff taken
// from the first leak event on.
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

// Sizes in the wording of memwatch's `size` strings, as the diff prints them: bytes, kb, mb.
const size = (n) =>
  n >= 1048576 ? `${(n / 1048576).toFixed(2)} mb` : n >= 1024 ? `${(n / 1024).toFixed(2)} kb` : `${n} bytes`
const started = Date.now()
const seconds = () => ((Date.now() - started) / 1000).toFixed(1)

// The `stats` events summarised as they come (kept whole, they would show in the diff).
const stats = { gcs: 0, firstBase: 0, lastBase: 0, minPause: Infinity, maxPause: 0, pauses: 0 }
memwatch.on('stats', (s) => {
  if (stats.gcs++ === 0) stats.firstBase = s.current_base
  stats.lastBase = s.current_base
  stats.minPause = Math.min(stats.minPause, s.pause_ms)
  stats.maxPause = Math.max(stats.maxPause, s.pause_ms)
  stats.pauses += s.pause_ms
})

const leaks = [] // one line each: when, and the rule's reason
memwatch.on('leak', (info) => {
  leaks.push({ gc: stats.gcs, at: seconds(), reason: info.reason, growth: size(info.growth) })
  if (!hd) hd = new memwatch.HeapDiff() // from the first report on: what grows
})

console.log(`heapdiff demo: a service that leaks a little per request, watched for 10 s (pid ${process.pid}) ...`)
const timer = setInterval(() => {
  for (let i = 0; i < 300; i++) handleRequest()
  memwatch.gc() // a busy service would GC on its own; forcing keeps the demo short
}, 100)

setTimeout(() => {
  clearInterval(timer)
  const watched = seconds()
  if (!hd) {
    console.log('no leak reported (unexpected for this demo)')
    process.exitCode = 1
    return
  }
  const diff = hd.end({ retainers: true, retainerClasses: 3, maxPaths: 2 })
  // `details` keep memwatch's order; `explained` ranks the classes given retainers owners first
  // (a Session before the strings it holds). The rest follow by growth.
  const { details, explained } = diff.change
  const rest = details.filter((d) => !explained.includes(d.what)).sort((a, b) => b.size_bytes - a.size_bytes)
  const top = [...explained.map((w) => details.find((d) => d.what === w)), ...rest].slice(0, 5)

  const first = top[0]
  const holder = first.retainers?.[0]?.path ?? 'unknown'
  console.log(
    `\nanswer: ${first.what} leaks: +${first['+'] - first['-']} since the first leak event, ` +
      `retaining ${first.retained_size ?? first.size}, held by\n        ${holder}\n`,
  )

  const mean = stats.pauses / stats.gcs
  console.log(
    `[stats] ${stats.gcs} full GCs in ${watched} s: post-GC heap ${size(stats.firstBase)} → ${size(stats.lastBase)}, ` +
      `pauses ${stats.minPause.toFixed(1)}–${stats.maxPause.toFixed(1)} ms (mean ${mean.toFixed(1)} ms)`,
  )
  const [l] = leaks
  console.log(`[leak]  at full GC #${l.gc} (${l.at} s): ${l.reason}, grew ${l.growth}`)
  if (leaks.length > 1) {
    const rates = leaks.slice(1).map((e) => Number.parseFloat(e.reason.replace(/.* - /, '')))
    const range = `${Math.min(...rates)}–${Math.max(...rates)} mb/hr`
    console.log(`[leak]  then ${leaks.length - 1} more, the last at ${leaks[leaks.length - 1].at} s: ${range}`)
  }
  console.log(`[diff]  heap changed by ${diff.change.size} since the first leak event; owners first, then growth:`)
  for (const d of top) {
    const retained = d.retained_size ? `, retaining ${d.retained_size}` : ''
    console.log(`        ${d.what.padEnd(24)} +${d['+']} -${d['-']}  ${d.size}${retained}`)
    for (const p of d.retainers ?? []) console.log(`            ${p.count} × ${p.path}`)
  }
}, 10000)
