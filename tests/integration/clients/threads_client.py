"""Many threads connect at once: threads_client.py HOST PORT COUNT.

Each thread waits at a barrier, connects, sends its own line and expects
the same line back. Prints JSON {"ok": N, "failures": [...]}.
"""

import errno
import json
import socket
import sys
import threading


def worker(i, host, port, barrier, results):
    msg = ("thread %d says hi\n" % i).encode()
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        barrier.wait(timeout=20)
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect((host, port))
            peer = s.getpeername()[:2]
            s.sendall(msg)
            data = b""
            for _ in range(1000):
                if len(data) >= len(msg):
                    break
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        if data != msg:
            results[i] = "thread %d got %r" % (i, data)
        elif peer != (host, port):
            results[i] = "thread %d peer %r" % (i, peer)
        else:
            results[i] = None
    except OSError as e:
        results[i] = "thread %d: %s" % (
            i, errno.errorcode.get(e.errno, "") + " " + str(e))
    except threading.BrokenBarrierError:
        results[i] = "thread %d: barrier broken" % i


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    barrier = threading.Barrier(count)
    results = ["not run"] * count
    threads = [threading.Thread(target=worker,
                                args=(i, host, port, barrier, results))
               for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    failures = [r for r in results if r is not None]
    print(json.dumps({"ok": count - len(failures), "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
