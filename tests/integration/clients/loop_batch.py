"""Many connections at once from one asyncio event loop, with a ticker.

    loop_batch.py asyncio|aiohttp HOST PORT COUNT [--warmup] [--guard S]

asyncio: COUNT asyncio.open_connection() to HOST PORT (an echo server),
each sends its own line and reads it back. aiohttp: COUNT GETs of
http://HOST:PORT/loop/N from one ClientSession, one connection each.
All COUNT start together; a ticker (a call_later chain every TICK_S) in
the same loop records the longest gap between two ticks while they run.
A connect() that does the proxy handshake before it returns freezes the
loop for the whole handshake: the gap shows it.

--warmup first runs an untimed batch of COUNT (connections COUNT to
2 COUNT - 1) before the ticker starts, so that the first use of each code
path (imports, caches, memory pools) is not measured. --guard bounds each
connection (seconds).

Prints one JSON line: {"wall": s, "max_gap": s, "max_gap_at": s,
"ticks": n, "results": [{"i", "ok", "errno", "error", "elapsed",
"received"}]}.
"""

import argparse
import asyncio
import json
import sys
import time

TICK_S = 0.005


class Ticker:
    """The longest gap between two ticks (max_gap) and when, from start(),
    it ended (max_gap_at)."""

    def __init__(self, loop):
        self.loop = loop
        self.t0 = self.last = time.monotonic()
        self.max_gap = self.max_gap_at = 0.0
        self.ticks = 0
        self.handle = None

    def start(self):
        self.t0 = self.last = time.monotonic()
        self.handle = self.loop.call_later(TICK_S, self.tick)

    def gap(self, now):
        if now - self.last > self.max_gap:
            self.max_gap = now - self.last
            self.max_gap_at = now - self.t0
        self.last = now

    def tick(self):
        self.gap(time.monotonic())
        self.ticks += 1
        self.handle = self.loop.call_later(TICK_S, self.tick)

    def stop(self):
        self.handle.cancel()
        # A loop frozen until the very end shows in the last gap too.
        self.gap(time.monotonic())


def failure(out, e):
    out["errno"] = getattr(e, "errno", None)
    out["error"] = "%s: %s" % (type(e).__name__, e)


async def echo_one(host, port, i, guard):
    text = "loop batch connection %d\n" % i
    out = {"i": i, "ok": False, "errno": None, "error": None,
           "received": None}
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), guard)
        try:
            writer.write(text.encode())
            await writer.drain()
            data = await asyncio.wait_for(
                reader.readexactly(len(text)), guard)
            out["received"] = data.decode("latin-1")
            out["ok"] = out["received"] == text
        finally:
            writer.close()
            await writer.wait_closed()
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        failure(out, e)
    out["elapsed"] = time.monotonic() - t0
    return out


async def http_one(session, host, port, i, guard):
    import aiohttp
    path = "/loop/%d" % i
    out = {"i": i, "ok": False, "errno": None, "error": None,
           "received": None}
    t0 = time.monotonic()
    try:
        async with session.get("http://%s:%d%s" % (host, port, path),
                               timeout=aiohttp.ClientTimeout(
                                   total=guard)) as resp:
            body = await resp.text()
        out["received"] = body
        out["ok"] = resp.status == 200 and ("path %s\n" % path) in body
    except aiohttp.ClientConnectorError as e:
        failure(out, e.os_error)
    except (OSError, asyncio.TimeoutError, aiohttp.ClientError) as e:
        failure(out, e)
    out["elapsed"] = time.monotonic() - t0
    return out


async def batch(opts):
    loop = asyncio.get_running_loop()
    session = None
    if opts.kind == "aiohttp":
        import aiohttp
        # limit=0: no cap on connections; force_close: one per request.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            limit=0, force_close=True))

        def one(i):
            return http_one(session, opts.host, opts.port, i, opts.guard)
    else:
        def one(i):
            return echo_one(opts.host, opts.port, i, opts.guard)
    try:
        if opts.warmup:
            await asyncio.gather(*(one(opts.count + i)
                                   for i in range(opts.count)))
        ticker = Ticker(loop)
        ticker.start()
        t0 = time.monotonic()
        results = await asyncio.gather(*(one(i) for i in range(opts.count)))
        wall = time.monotonic() - t0
        ticker.stop()
    finally:
        if session is not None:
            await session.close()
    return {"wall": wall, "max_gap": ticker.max_gap,
            "max_gap_at": ticker.max_gap_at, "ticks": ticker.ticks,
            "results": list(results)}


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["asyncio", "aiohttp"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--warmup", action="store_true")
    ap.add_argument("--guard", type=float, default=15.0)
    opts = ap.parse_args(argv)
    if opts.kind == "aiohttp":
        import aiohttp  # noqa: F401  (imported before anything is timed)
    print(json.dumps(asyncio.run(batch(opts))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
