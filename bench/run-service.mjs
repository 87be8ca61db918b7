// The HTTP service of bench/run-overhead.mjs: a JSON API with a small per-request working set
// (parse a body-like string, build a response object, keep nothing), as a typical service does.
// Prints {"port","pid"} on stdout once listening.
import http from 'node:http'

const catalog = Array.from({ length: 2000 }, (_, i) => ({
  id: i,
  name: `item-${i}`,
  price: i * 1.5,
  tags: ['a', 'b', String(i % 7)],
}))

const server = http.createServer((req, res) => {
  const q = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 20)
  const items = []
  for (let i = 0; i < q; i++) {
    const it = catalog[(i * 37 + q) % catalog.length]
    items.push({ ...it, label: `${it.name}:${it.price.toFixed(2)}`, tags: it.tags.map((t) => t.toUpperCase()) })
  }
  const body = JSON.stringify({ ok: true, count: items.length, items })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n')
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
