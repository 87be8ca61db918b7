import test from 'ava'
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'

const root = resolve(__dirname, '..')

/** Runs a script in a fresh process so that a crash shows up as an exit code, not a dead runner. */
function run(script: string): { out: string } {
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, HEAPDIFF_ROOT: root },
  })
  return { out }
}

test('a worker gets its own stats, unaffected by the main thread, and exits cleanly', (t) => {
  const { out } = run(`
    const { Worker } = require('node:worker_threads');
    const mw = require(process.env.HEAPDIFF_ROOT);
    let mainStats = 0;
    mw.on('stats', () => mainStats++);
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads');
      const mw = require(process.env.HEAPDIFF_ROOT);
      const seen = [];
      mw.on('stats', (s) => {
        seen.push(s);
        if (seen.length === 3) parentPort.postMessage({ n: seen.length, installed: mw.status().installed, source: s.source, compactions: seen.map((x) => x.heap_compactions) });
      });
      let i = 0;
      const tick = () => { mw.gc(); if (++i < 3) setTimeout(tick, 10); };
      tick();
    \`, { eval: true });
    w.on('message', (m) => console.log(JSON.stringify(m)));
    w.on('error', (e) => { console.error(e); process.exit(2); });
    w.on('exit', (code) => setTimeout(() => { console.log(JSON.stringify({ code, mainStats })); }, 100));
  `)
  const [msg, exit] = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.deepEqual(msg, { n: 3, installed: true, source: 'v8-gc-callback', compactions: [1, 2, 3] })
  t.is(exit.code, 0)
  t.is(exit.mainStats, 0, "the worker's GCs must not reach the main thread's listener")
})

test('loading the module in many workers at once, twice in one thread, and terminating mid-work do not crash', (t) => {
  const { out } = run(`
    const { Worker } = require('node:worker_threads');
    const path = require('node:path');
    const code = \`
      const { parentPort, workerData } = require('node:worker_threads');
      const mw = require(process.env.HEAPDIFF_ROOT);
      mw.on('stats', () => {});
      mw.on('leak', () => {});
      for (let i = 0; i < 3; i++) mw.gc();
      if (workerData.snapshot) new mw.HeapDiff().end();
      if (workerData.spin) { const keep = []; setInterval(() => { for (let i = 0; i < 1e4; i++) keep.push({ i }); mw.gc(); }, 1); }
      parentPort.postMessage('ready');
      if (workerData.exit) process.exit(0);
    \`;
    async function round(n, opts) {
      const exits = await Promise.all(Array.from({ length: n }, (_, i) => new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { ...opts, snapshot: i === 0 } });
        w.on('message', () => { if (opts.spin) setTimeout(() => w.terminate(), 20) });
        w.on('error', reject);
        w.on('exit', resolve);
      })));
      return exits;
    }
    (async () => {
      // Loading twice in the same thread: a fresh require of the same package.
      const first = require(process.env.HEAPDIFF_ROOT);
      for (const k of Object.keys(require.cache)) if (k.startsWith(process.env.HEAPDIFF_ROOT) && !k.includes('node_modules')) delete require.cache[k];
      const second = require(process.env.HEAPDIFF_ROOT);
      let a = 0, b = 0;
      first.on('stats', () => a++); second.on('stats', () => b++);
      second.gc();
      await new Promise((r) => setTimeout(r, 50));
      const results = [a >= 1 && b >= 1];
      results.push(await round(8, { exit: false }));
      results.push(await round(4, { exit: true }));
      results.push(await round(4, { spin: true }));
      // Only workers had the module in this round's threads; the main thread keeps working.
      first.gc();
      await new Promise((r) => setTimeout(r, 50));
      console.log(JSON.stringify(results));
    })().catch((e) => { console.error(e); process.exit(3); });
  `)
  const [bothFired, r1, r2, r3] = JSON.parse(out.trim().split('\n').pop()!)
  t.true(bothFired)
  t.deepEqual(r1, [0, 0, 0, 0, 0, 0, 0, 0])
  t.deepEqual(r2, [0, 0, 0, 0])
  t.is(r3.length, 4)
  for (const code of r3) t.is(code, 1, 'terminate() gives exit code 1')
})

test('a worker that alone loaded the module can exit while GCs continue elsewhere', (t) => {
  const { out } = run(`
    const { Worker } = require('node:worker_threads');
    const w = new Worker(\`
      const mw = require(process.env.HEAPDIFF_ROOT);
      mw.on('stats', () => {});
      mw.gc();
    \`, { eval: true });
    w.on('exit', (code) => {
      // The library may be unloaded now; full GCs on this thread must not call into it.
      const v8 = require('node:v8'); const vm = require('node:vm');
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc');
      for (let i = 0; i < 5; i++) gc();
      // Load again after the unload: statics are re-initialised.
      const mw = require(process.env.HEAPDIFF_ROOT);
      mw.once('stats', (s) => { console.log(code, s.source); });
      mw.gc();
    });
  `)
  t.is(out.trim(), '0 v8-gc-callback')
})
