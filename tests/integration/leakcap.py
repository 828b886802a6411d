"""Leak capture: record the client's link with tcpdump and judge each packet.

Allowed on the client's link:
- ARP, and ICMPv6 neighbour discovery and multicast listener messages
  (types 130-137 and 143), whoever they are for;
- TCP and UDP between the client and the proxy host (192.0.2.2 <->
  192.0.2.1, fd00:5357:1::2 <-> fd00:5357:1::1) only when the port on the
  proxy host's side is one that a proxy in use listens or relays on: the
  standard proxies' ports and relay ranges below, plus whatever the
  topology (Topology.open_port) or the test (LeakCapture.allow) declared;
- ICMP and ICMPv6 error messages between the client and the proxy host.
Anything else left the client namespace without going through the proxy: a
leak. The client's default routes lead to a decoy on the same link (see
topo.py), so a direct attempt to any address becomes a packet here.

DNS is a leak too, whoever it is for: any TCP or UDP packet from or to
port 53, and anything to the client's resolver (the trap, 192.0.2.53).
A test that expects a local query (split DNS, --dns=local) passes
allow_local_dns: then DNS between the client and the trap is allowed.

A capture that lost packets (tcpdump's "dropped by kernel") proves
nothing: stop() reports the count and the client fixture fails the test.
"""

import ipaddress
import os
import re
import signal
import struct
import time

import topo

TCPDUMP = "/usr/bin/tcpdump"

# client address -> the proxy host's address on the client's link
PROXY_OF = {topo.CLIENT4: topo.PROXY4_C, topo.CLIENT6: topo.PROXY6_C}

# (protocol, first port, last port) on the proxy host's side: the four
# standard proxies (proxies.py) and dante's two UDP relay ranges.
STANDARD_PORTS = (("tcp", 1080, 1083), ("udp", 40000, 41999))

DNS_PORT = 53
TRAP4 = "192.0.2.53"          # the client's resolver (dnsenv.py)

ETH_ARP, ETH_IP, ETH_IP6 = 0x0806, 0x0800, 0x86DD
IP6_EXT_HEADERS = (0, 43, 60)      # hop-by-hop, routing, destination options
PROTO_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "icmp6"}
# ICMPv6 that the link itself needs: MLD (130-132, 143), router and
# neighbour discovery (133-137).
ICMP6_LINK = frozenset((130, 131, 132, 133, 134, 135, 136, 137, 143))
# ICMP errors: destination unreachable, time exceeded (and for ICMPv6
# packet too big, parameter problem).
ICMP4_ERRORS = frozenset((3, 11))
ICMP6_ERRORS = frozenset((1, 2, 3, 4))
# Headers are all the judge reads (Ethernet, IPv6 with a few extension
# headers, the first bytes of TCP, UDP or ICMP): a short snapshot and a
# large buffer keep a burst (1000 connections at once) from outrunning
# tcpdump, which would then drop packets.
SNAPLEN = 160
BUFFER_KIB = 65536
DROPPED_RE = re.compile(r"(\d+) packets? dropped by kernel")


def read_pcap(path):
    """Yield the link-layer frames of a classic pcap file (Ethernet)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, expected Ethernet" % (path, linktype))
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        yield frame


def _port_allowed(ports, proto, port):
    name = PROTO_NAMES.get(proto)
    return any(name == p and lo <= port <= hi for p, lo, hi in ports)


def _judge(proto, src, dst, l4, allow_local_dns, ports):
    """Is an IP packet between src and dst allowed?"""
    pair = frozenset((src, dst))
    dns = proto in (6, 17) and len(l4) >= 4 and DNS_PORT in struct.unpack(
        "!HH", l4[:4])
    if allow_local_dns and dns and pair == frozenset((topo.CLIENT4, TRAP4)):
        return True
    if dns or TRAP4 in pair:
        return False
    if proto in (1, 58) and l4:
        if proto == 58 and l4[0] in ICMP6_LINK:
            return True
        errors = ICMP4_ERRORS if proto == 1 else ICMP6_ERRORS
        return l4[0] in errors and any(
            pair == frozenset((c, p)) for c, p in PROXY_OF.items())
    if proto not in (6, 17) or len(l4) < 4:
        return False
    sport, dport = struct.unpack("!HH", l4[:4])
    if PROXY_OF.get(src) == dst:
        return _port_allowed(ports, proto, dport)
    if PROXY_OF.get(dst) == src:
        return _port_allowed(ports, proto, sport)
    return False


def classify(frame, allow_local_dns=False, ports=STANDARD_PORTS):
    """Return (allowed, summary) for one Ethernet frame. ports: the
    (protocol, first, last) port ranges allowed on the proxy host."""
    if len(frame) < 14:
        return False, "short frame (%d bytes)" % len(frame)
    etype = struct.unpack("!H", frame[12:14])[0]
    payload = frame[14:]
    if etype == 0x8100 and len(frame) >= 18:          # VLAN tag
        etype = struct.unpack("!H", frame[16:18])[0]
        payload = frame[18:]
    if etype == ETH_ARP:
        return True, "arp"
    if etype == ETH_IP and len(payload) >= 20:
        ihl = (payload[0] & 0x0F) * 4
        proto = payload[9]
        src = str(ipaddress.IPv4Address(payload[12:16]))
        dst = str(ipaddress.IPv4Address(payload[16:20]))
        summary = "ip %s %s -> %s%s" % (PROTO_NAMES.get(proto, proto), src,
                                        dst, _ports(proto, payload[ihl:]))
        return _judge(proto, src, dst, payload[ihl:],
                      allow_local_dns, ports), summary
    if etype == ETH_IP6 and len(payload) >= 40:
        nxt = payload[6]
        src = str(ipaddress.IPv6Address(payload[8:24]))
        dst = str(ipaddress.IPv6Address(payload[24:40]))
        rest = payload[40:]
        for _ in range(8):                            # bounded header walk
            if nxt not in IP6_EXT_HEADERS or len(rest) < 8:
                break
            nxt, hlen = rest[0], (rest[1] + 1) * 8
            rest = rest[hlen:]
        summary = "ip6 %s %s -> %s%s" % (PROTO_NAMES.get(nxt, nxt), src, dst,
                                         _ports(nxt, rest))
        return _judge(nxt, src, dst, rest, allow_local_dns, ports), summary
    return False, "ethertype 0x%04x (%d bytes)" % (etype, len(frame))


def _ports(proto, l4):
    if proto in (6, 17) and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
        return " ports %d -> %d" % (sport, dport)
    if proto in (1, 58) and l4:
        return " type %d" % l4[0]
    return ""


class LeakCapture:
    """tcpdump on the client's veth, inside the client namespace."""

    def __init__(self, t, name, lifetime=300, allow_local_dns=False):
        self.allow_local_dns = allow_local_dns
        self.topo = t
        self.extra_ports = []
        self.path = os.path.join(t.workdir, "%s.pcap" % name)
        # --immediate-mode: without it, packets wait in the kernel ring for
        # up to a second and SIGINT throws them away uncounted.
        # -Z root: Debian's tcpdump drops to user tcpdump before it opens
        # the output file, which then may not be writable.
        self.proc = t.spawn(
            "tcpdump-%s" % name, t.client,
            [TCPDUMP, "-U", "--immediate-mode", "-n", "-Z", "root",
             "-i", t.if_client, "-B", str(BUFFER_KIB), "-s", str(SNAPLEN),
             "-w", self.path], lifetime=lifetime)
        self._wait_listening()

    def _wait_listening(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.proc.log_text():
                return
            if not self.proc.alive():
                break
            time.sleep(0.02)
        text = self.proc.log_text()
        self.proc.stop()
        raise topo.SetupError("tcpdump did not start:\n%s" % text)

    def allow(self, proto, first, last=None):
        """Allow traffic with the proxy host on these ports of its side
        for the rest of this capture (a test's own server there)."""
        self.extra_ports.append((proto, first, first if last is None
                                 else last))

    def ports(self):
        return (tuple(STANDARD_PORTS) + tuple(self.topo.proxy_ports) +
                tuple(self.extra_ports))

    def summaries(self, settle=0.1, limit=2.0):
        """Summaries of the packets captured so far: read again every
        `settle` seconds until the file stops growing (tcpdump may lag
        behind a burst), at most `limit` seconds."""
        deadline = time.monotonic() + limit
        size = -1
        while time.monotonic() < deadline:
            time.sleep(settle)
            try:
                now = os.path.getsize(self.path)
            except OSError:
                now = 0
            if now == size:
                break
            size = now
        ports = self.ports()
        return [classify(frame, self.allow_local_dns, ports)[1]
                for frame in read_pcap(self.path)]

    def dropped(self):
        """Packets tcpdump said the kernel dropped (after stop()); None
        when it did not say, which counts as a failure too."""
        counts = DROPPED_RE.findall(self.proc.log_text())
        return int(counts[-1]) if counts else None

    def stop(self):
        """Stop tcpdump (SIGINT flushes the file) and return the verdict:
        (leaks, all_summaries). Check dropped() as well."""
        time.sleep(0.1)            # let in-flight packets reach the capture
        self.proc.stop(sig=signal.SIGINT, wait=5)
        leaks, everything = [], []
        ports = self.ports()
        for frame in read_pcap(self.path):
            ok, summary = classify(frame, self.allow_local_dns, ports)
            everything.append(("ok   " if ok else "LEAK ") + summary)
            if not ok:
                leaks.append(summary)
        return leaks, everything
