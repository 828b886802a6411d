"""A server that names itself: every connection gets one line,
"NAME peer ADDR PORT\n", and is closed; each connection is also appended to
a log file as "ADDR PORT". Used where a test must tell which of several
servers (one on the client's loopback, one on the proxy host's) a
connection reached.

    banner_server.py NAME LOGFILE LIFETIME ADDR:PORT [ADDR:PORT...]

ADDR may be an IPv6 address in brackets. Prints "ready" once listening.
"""

import socket
import sys
import threading
import time


def parse(hostport):
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), host, int(port)


def serve(srv, name, log, lock, end):
    srv.settimeout(0.5)
    while time.monotonic() < end:
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            continue
        with conn, lock:
            log.write("%s %d\n" % (peer[0], peer[1]))
            log.flush()
            try:
                conn.sendall(("%s peer %s %d\n" % (name, peer[0], peer[1]))
                             .encode())
            except OSError:
                pass


def main(argv):
    name, logpath, lifetime = argv[0], argv[1], float(argv[2])
    end = time.monotonic() + lifetime
    log = open(logpath, "a", buffering=1)
    lock = threading.Lock()
    threads = []
    for hostport in argv[3:]:
        fam, host, port = parse(hostport)
        srv = socket.socket(fam, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(64)
        t = threading.Thread(target=serve, args=(srv, name, log, lock, end),
                             daemon=True)
        t.start()
        threads.append(t)
    print("ready", flush=True)
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
