"""A tiny SOCKS5 client that speaks the protocol itself (no library).

    socks_client.py PROXY_HOST PROXY_PORT DST_HOST DST_PORT TEXT [USER PASS]

Used to prove the harness (topology, proxies, targets, leak capture)
without socks5wrap. Prints JSON {"result", "rep", "received"}.
"""

import ipaddress
import json
import socket
import sys


def recv_exact(s, n):
    buf = b""
    for _ in range(n + 1):
        if len(buf) >= n:
            break
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("proxy closed")
        buf += chunk
    return buf


def main():
    phost, pport, dhost, dport, text = sys.argv[1:6]
    creds = sys.argv[6:8]
    fam = socket.AF_INET6 if ":" in phost else socket.AF_INET
    out = {"result": None, "rep": None, "received": None}
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((phost, int(pport)))
        s.sendall(b"\x05\x01" + (b"\x02" if creds else b"\x00"))
        ver, method = recv_exact(s, 2)
        if creds and method == 2:
            u, p = creds[0].encode(), creds[1].encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            if recv_exact(s, 2)[1] != 0:
                out["result"] = "auth rejected"
                print(json.dumps(out))
                return 0
        elif method != 0:
            out["result"] = "method %d" % method
            print(json.dumps(out))
            return 0
        ip = ipaddress.ip_address(dhost)
        atyp = 1 if ip.version == 4 else 4
        s.sendall(b"\x05\x01\x00" + bytes([atyp]) + ip.packed +
                  int(dport).to_bytes(2, "big"))
        head = recv_exact(s, 4)
        out["rep"] = head[1]
        alen = {1: 4, 4: 16}.get(head[3], 0)
        recv_exact(s, alen + 2)
        if head[1] != 0:
            out["result"] = "rep %d" % head[1]
            print(json.dumps(out))
            return 0
        # Read back as many bytes as were sent (or until EOF) without a
        # half-close first: microsocks ends both directions on the first EOF.
        s.sendall(text.encode())
        data = b""
        for _ in range(10000):
            if text and len(data) >= len(text):
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        out["received"] = data.decode("latin-1")
        out["result"] = "ok"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
