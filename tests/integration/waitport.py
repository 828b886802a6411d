"""Wait until TCP ports accept connections: waitport.py SECONDS HOST,PORT...

Run inside a namespace with `ip netns exec`. Exit 0 when every port
accepted a connection before the deadline, 1 otherwise (naming the ports).
"""

import socket
import sys
import time


def accepts(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    pending = []
    for arg in sys.argv[2:]:
        host, port = arg.rsplit(",", 1)
        pending.append((host, int(port)))
    for _ in range(10000):
        pending = [hp for hp in pending if not accepts(*hp)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if pending:
        print("still closed: %s" % " ".join("%s,%d" % hp for hp in pending))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
