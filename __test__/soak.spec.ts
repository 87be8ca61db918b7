/**
 * Soak: the host process under churn. Several workers load the module, listen to `stats` and
 * `leak`, churn their heaps, take in-process diffs and diff files while the main thread
 * terminates and restarts them at random moments, forces GCs and diffs files (good and
 * corrupt). Afterwards the process must exit by itself, heapdiff's native memory must be back at
 * its baseline (within the 256 bytes own-memory.spec.ts allows for lazily made buffers), the
 * median RSS at the end of the churn within 1.5x of its warm level, and RSS below that level
 * once the workers are gone.
 * Bounded: ~20 s of churn (HEAPDIFF_SOAK_MS to soak longer).
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')

const SOAK_MS = Number(process.env.HEAPDIFF_SOAK_MS ?? 20000)
const WARM_MS = 7000

const script = `
const { Worker } = require('node:worker_threads');
const { writeFileSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');
const mw = require(process.env.HEAPDIFF_ROOT);
const dir = process.env.SOAK_DIR;
const a = v8.writeHeapSnapshot(join(dir, 'a.heapsnapshot'));
globalThis.kept = Array.from({ length: 5000 }, (_, i) => ({ i, s: 'k' + i }));
const b = v8.writeHeapSnapshot(join(dir, 'b.heapsnapshot'));
// One edge of b pointing past the last node (a multiple of 6 and 7 node fields): a corrupt
// file that must be refused every time.
const text = readFileSync(b, 'utf8');
const at = text.indexOf('"edges":[') + 9;
const second = text.indexOf(',', text.indexOf(',', at) + 1) + 1;
const bad = join(dir, 'bad.heapsnapshot');
// (Node 20 and 22 end each edge with a newline, Node 24 and 26 write commas only.)
writeFileSync(bad, text.slice(0, second) + '999999999978' + text.slice(second + text.slice(second).search(/[^0-9]/)));

const settle = async () => {
  for (let i = 0; i < 3; i++) { await new Promise((r) => setImmediate(r)); mw.gc(); }
  await new Promise((r) => setTimeout(r, 50));
};

const workerCode = \`
const { parentPort, workerData } = require('node:worker_threads');
const mw = require(process.env.HEAPDIFF_ROOT);
let stats = 0;
mw.on('stats', () => stats++);
mw.on('leak', () => {});
const keep = [];
(async () => {
  for (let round = 0; ; round++) {
    for (let i = 0; i < 20000; i++) keep.push({ i, s: 'w' + i });
    if (keep.length > 100000) keep.length = 0;
    mw.gc();
    if (round % 2 === 0) new mw.HeapDiff().end();
    else await new mw.HeapDiff().endAsync();
    await mw.diffFiles(workerData.a, workerData.b);
    parentPort.postMessage({ stats });
  }
})();
\`;

(async () => {
  let refused = 0, diffs = 0, started = 0, messages = 0, stats = 0;
  mw.on('stats', () => stats++);
  const workers = new Set();
  const spawnWorker = () => {
    const w = new Worker(workerCode, { eval: true, workerData: { a, b }, env: process.env });
    started++;
    w.on('message', () => messages++);
    w.on('error', (e) => { console.error('worker error', e); process.exitCode = 2; });
    w.on('exit', () => workers.delete(w));
    workers.add(w);
  };
  // Warm up: the module on this thread, and a first set of workers terminated mid-work (the
  // first of everything allocates once: thread pools, registries), before the baseline.
  await mw.diffFiles(a, b);
  new mw.HeapDiff().end();
  for (let i = 0; i < 4; i++) spawnWorker();
  await new Promise((r) => setTimeout(r, 1500));
  await Promise.all([...workers].map((w) => w.terminate()));
  await settle();
  const baseline = mw.status().nativeBytes;
  started = 0;
  for (let i = 0; i < 4; i++) spawnWorker();
  const t0 = Date.now();
  // RSS in two windows of the same length: once the churn has settled in, and at its end. Each
  // is judged by its median, since how many workers snapshot at the same moment moves the
  // maximum by a third from run to run.
  const warmRss = [], lateRss = [];
  let peak = 0;
  const rss = setInterval(() => {
    const r = process.memoryUsage().rss;
    const at = Date.now() - t0;
    if (at >= ${WARM_MS} / 2 && at < ${WARM_MS}) warmRss.push(r);
    if (at >= ${SOAK_MS} - ${WARM_MS} / 2) lateRss.push(r);
    if (at >= ${WARM_MS}) peak = Math.max(peak, r);
  }, 50);
  const median = (v) => v.sort((x, y) => x - y)[v.length >> 1] ?? 0;
  while (Date.now() - t0 < ${SOAK_MS}) {
    // Terminate one worker at a random moment of its work, and start another.
    const list = [...workers];
    if (list.length) await list[Math.floor(Math.random() * list.length)].terminate();
    while (workers.size < 4) spawnWorker();
    mw.gc();
    const d = await mw.diffFiles(a, b);
    if (d.change.allocated_nodes > 0) diffs++;
    try { await mw.diffFiles(a, bad); } catch (e) { if (/corrupt heap snapshot: edge #0 points to node/.test(e.message)) refused++; }
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
  }
  clearInterval(rss);
  const warm = median(warmRss), late = median(lateRss);
  await Promise.all([...workers].map((w) => w.terminate()));
  await settle();
  const after = mw.status().nativeBytes;
  console.log(JSON.stringify({ baseline, after, warm, late, peak, final: process.memoryUsage().rss, refused, diffs, started, messages, stats }));
  // No process.exit(): the process must end by itself, the 'stats' listener still on.
})();
`

// Runs alone: scripts/test-all-node.mjs starts this file after each runtime's suite with
// HEAPDIFF_SOAK=1. Its workers take both cores for 20 s, which starved the timing-sensitive leak
// scenarios that ava runs beside it (a fast leak saw 2 full GCs in 20 s).
const soak = process.env.HEAPDIFF_SOAK === '1' ? test : test.skip

soak('workers terminated mid-work, GCs and diffs: exits by itself, native memory and RSS return', async (t) => {
  t.timeout(90000)
  const dir = mkdtempSync(join(tmpdir(), 'heapdiff-soak-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const started = Date.now()
  const child = spawn(process.execPath, ['-e', script], {
    cwd: root,
    env: { ...process.env, HEAPDIFF_ROOT: root, SOAK_DIR: dir },
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise<number | null>((res) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 75000)
    child.on('exit', (c, signal) => {
      clearTimeout(kill)
      res(signal ? -1 : c)
    })
  })
  t.is(code, 0, `exit ${code}, killed=${code === -1} (did not exit by itself?): ${err}`)
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}')
  t.log(r, `${((Date.now() - started) / 1000).toFixed(1)} s`)
  // The tolerance of own-memory.spec.ts: a few lazily made buffers, never growth per operation.
  t.true(Math.abs(r.after - r.baseline) <= 256, `native bytes ${r.after}, baseline ${r.baseline}`)
  t.true(r.late <= 1.5 * r.warm, `median RSS at the end of the churn ${r.late} vs warm ${r.warm}`)
  // With the workers gone nothing of theirs stays: RSS falls below the churn's level (before
  // the module returned snapshot memory to the OS it stayed at 1.0–1.4 GB, above it).
  t.true(r.final < r.warm, `final RSS ${r.final} vs warm ${r.warm}`)
  // How much gets done depends on the machine; enough that every kind of work overlapped.
  t.true(r.refused >= 3 && r.refused === r.diffs, `corrupt file refused ${r.refused} of ${r.diffs} times`)
  t.true(r.started >= 8, `${r.started} workers started`)
  t.true(r.messages >= 1 && r.stats >= 5, `worker rounds ${r.messages}, main stats ${r.stats}`)
})
