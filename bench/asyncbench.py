"""asyncbench: N concurrent TCP connections from one asyncio event loop.

    asyncbench.py native PROXY_ADDR PROXY_PORT TARGET_ADDR TARGET_PORT N CAP
    asyncbench.py plain TARGET_ADDR TARGET_PORT N CAP

Starts N tasks at once; each opens a connection, sends 1 byte, reads it
back and closes. They differ only in how the connection is made:

  native: the task speaks SOCKS5 itself (RFC 1928 sections 3, 4, 6) with
          asyncio streams: open_connection() to the proxy, the no-auth
          greeting and its answer, CONNECT and its reply, one message at a
          time, every wait an await. The baseline: what an asyncio program
          that knows SOCKS5 gets.
  plain:  open_connection() to the target, nothing else; under LD_PRELOAD=
          libsocks5wrap.so the library does the SOCKS5 part.

Prints one line
    "connections N started S connected C echoed D ms M estimate_ms E"
with M the milliseconds from the start of the first task to the end of the
last, C the connections that were made (for native: CONNECT answered), D
those that echoed. A task that finds CAP seconds gone before it begins does
not start: a library that holds the loop inside connect() would otherwise
keep the benchmark for N times the proxy's delay. Then E = M * N / D, an
estimate of the time all N would have taken at the rate the first D went,
marked as such by the caller; E = M when all N were done. Any failure is an
error (exit 1); so is a connection not done within 10 s.
"""

import asyncio
import ipaddress
import socket
import sys
import time

LIMIT = 10.0  # seconds for one connection


def die(msg):
    sys.stderr.write("asyncbench: %s\n" % msg)
    sys.exit(1)


async def native_open(proxy, target):
    reader, writer = await asyncio.open_connection(*proxy)
    writer.write(b"\x05\x01\x00")
    if await reader.readexactly(2) != b"\x05\x00":
        raise OSError("method selection failed")
    addr = socket.inet_aton(target[0])
    writer.write(b"\x05\x01\x00\x01" + addr + target[1].to_bytes(2, "big"))
    rep = await reader.readexactly(10)
    if rep[0] != 5 or rep[1] != 0 or rep[3] != 1:
        raise OSError("CONNECT refused or not IPv4")
    return reader, writer


async def one(conf, counts, cap):
    if time.monotonic() >= cap:
        return
    counts["started"] += 1
    if conf["proxy"] is not None:
        reader, writer = await native_open(conf["proxy"], conf["target"])
    else:
        reader, writer = await asyncio.open_connection(*conf["target"])
    counts["connected"] += 1
    writer.write(b"Z")
    if await reader.readexactly(1) != b"Z":
        raise OSError("wrong echo")
    writer.close()
    await writer.wait_closed()
    counts["echoed"] += 1


async def run(conf, n, cap_s):
    counts = {"started": 0, "connected": 0, "echoed": 0}
    t0 = time.monotonic()
    cap = t0 + cap_s
    await asyncio.gather(*(asyncio.wait_for(one(conf, counts, cap), LIMIT)
                           for _ in range(n)))
    return counts, (time.monotonic() - t0) * 1000.0


def addr(host, port):
    try:
        ipaddress.IPv4Address(host)
        p = int(port)
    except ValueError:
        die("bad address %s:%s" % (host, port))
    if not 0 < p < 65536:
        die("bad port %s" % port)
    return (host, p)


def number(s, lo, hi, name):
    try:
        v = int(s)
    except ValueError:
        v = None
    if v is None or not lo <= v <= hi:
        die("bad %s: %s (want %d..%d)" % (name, s, lo, hi))
    return v


def main(argv):
    if len(argv) == 8 and argv[1] == "native":
        conf = {"proxy": addr(argv[2], argv[3]),
                "target": addr(argv[4], argv[5])}
        a = 6
    elif len(argv) == 6 and argv[1] == "plain":
        conf = {"proxy": None, "target": addr(argv[2], argv[3])}
        a = 4
    else:
        sys.stderr.write(
            "usage: asyncbench.py native PROXY_ADDR PROXY_PORT TARGET_ADDR "
            "TARGET_PORT N CAP\n"
            "       asyncbench.py plain TARGET_ADDR TARGET_PORT N CAP\n")
        return 2
    n = number(argv[a], 1, 1000, "N")
    cap = number(argv[a + 1], 1, 600, "CAP")
    try:
        counts, ms = asyncio.run(run(conf, n, cap))
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        die("connection failed: %r" % e)
    if counts["echoed"] == 0:
        die("no connection was done within %d s" % cap)
    done = counts["echoed"]
    print("connections %d started %d connected %d echoed %d ms %.1f "
          "estimate_ms %.1f" % (n, counts["started"], counts["connected"],
                                done, ms, ms * n / done))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
