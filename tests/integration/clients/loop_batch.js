// Many connections at once from node's event loop, with a ticker.
//
//     node loop_batch.js net|fetch HOST PORT COUNT [--warmup]
//
// net: COUNT net.connect() to HOST PORT (an echo server), each sends its
// own line and reads it back. fetch: COUNT fetch() of
// http://HOST:PORT/loop/N. All COUNT start together; a setInterval ticker
// records the longest gap between two ticks while they run (libuv's
// connect() blocking in the proxy handshake freezes the loop: the gap
// shows it). --warmup first runs an untimed batch of COUNT (connections
// COUNT to 2 COUNT - 1) before the ticker starts, so that loading undici
// and compiling the code paths are not measured: after a single warm-up
// connection, 20 fetches still stalled the loop for 40-160 ms without any
// proxy (more under ASan).
//
// Prints one JSON line, like loop_batch.py: {"wall": s, "max_gap": s,
// "max_gap_at": s, "ticks": n, "results": [{"i", "ok", "errno", "error",
// "elapsed", "received"}]}.
'use strict';

const net = require('net');
const os = require('os');
const { performance } = require('perf_hooks');

const TICK_MS = 5;
const GUARD_MS = 15000;

function result(i) {
  return { i, ok: false, errno: null, error: null, received: null };
}

function failure(out, e) {
  // A system error carries errno as a negative number (libuv), code as
  // its name; report the positive number as the other clients do.
  const code = (e && e.cause && e.cause.code) || (e && e.code);
  const num = code && os.constants.errno[code];
  out.errno = num === undefined ? null : num;
  out.error = `${code || ''} ${e && e.message}`.trim();
}

function echoOne(host, port, i) {
  const text = `loop batch connection ${i}\n`;
  const out = result(i);
  const t0 = performance.now();
  return new Promise((resolve) => {
    let got = '';
    const done = () => {
      out.elapsed = (performance.now() - t0) / 1000;
      resolve(out);
    };
    const s = net.connect({ host, port });
    s.setTimeout(GUARD_MS, () => {
      failure(out, { code: 'GUARD', message: 'no answer in time' });
      s.destroy();
    });
    s.setEncoding('latin1');
    s.on('connect', () => s.write(text));
    s.on('data', (d) => {
      got += d;
      if (got.length >= text.length) s.end();
    });
    s.on('error', (e) => failure(out, e));
    s.on('close', () => {
      if (!out.error) {
        out.received = got;
        out.ok = got === text;
      }
      done();
    });
  });
}

async function fetchOne(host, port, i) {
  const path = `/loop/${i}`;
  const out = result(i);
  const t0 = performance.now();
  try {
    const resp = await fetch(`http://${host}:${port}${path}`,
      { signal: AbortSignal.timeout(GUARD_MS) });
    const body = await resp.text();
    out.received = body;
    out.ok = resp.status === 200 && body.includes(`path ${path}\n`);
  } catch (e) {
    failure(out, e);
  }
  out.elapsed = (performance.now() - t0) / 1000;
  return out;
}

async function main() {
  const [kind, host, portText, countText, ...flags] = process.argv.slice(2);
  const port = Number(portText);
  const count = Number(countText);
  if (!['net', 'fetch'].includes(kind) || !host || !(port > 0) ||
      !(count > 0)) {
    console.error('usage: node loop_batch.js net|fetch HOST PORT COUNT ' +
                  '[--warmup]');
    process.exit(2);
  }
  const one = kind === 'net' ? (i) => echoOne(host, port, i)
    : (i) => fetchOne(host, port, i);
  if (flags.includes('--warmup')) {
    await Promise.all(Array.from({ length: count }, (_, i) => one(count + i)));
  }

  let last = performance.now();
  let maxGap = 0;
  let maxGapAt = 0;
  let ticks = 0;
  const t0 = last;
  const gap = (now) => {
    if (now - last > maxGap) {
      maxGap = now - last;
      maxGapAt = now - t0;
    }
    last = now;
  };
  const ticker = setInterval(() => {
    gap(performance.now());
    ticks += 1;
  }, TICK_MS);
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => one(i)));
  const end = performance.now();
  clearInterval(ticker);
  // A loop frozen until the very end shows in the last gap too.
  gap(end);
  process.stdout.write(JSON.stringify({
    wall: (end - t0) / 1000, max_gap: maxGap / 1000,
    max_gap_at: maxGapAt / 1000, ticks, results,
  }) + '\n');
  // Pipes are written synchronously on Linux; idle sockets in undici's
  // pool must not keep the process alive.
  process.exit(0);
}

// Nothing may keep the process alive past the guard.
setTimeout(() => {
  console.error('loop_batch.js: gave up');
  process.exit(4);
}, 2 * GUARD_MS + 5000).unref();

main().catch((e) => {
  console.error(e);
  process.exit(3);
});
