"""asyncio echo client: asyncio_client.py HOST PORT TEXT; prints JSON.

asyncio connects non-blocking (connect -> EINPROGRESS or 0, then waits
for writability), the path most event loops take.
"""

import asyncio
import errno
import json
import sys


async def run(host, port, text):
    out = {"result": None, "peer": None, "received": None}
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), 20)
    except OSError as e:
        out["result"] = errno.errorcode.get(e.errno, str(e))
        return out
    peer = writer.get_extra_info("peername")
    out["peer"] = [peer[0], peer[1]]
    writer.write(text.encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.readexactly(len(text.encode())), 20)
    out["received"] = data.decode("latin-1")
    writer.close()
    await writer.wait_closed()
    out["result"] = "ok"
    return out


def main():
    host, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(json.dumps(asyncio.run(run(host, port, text))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
