"""dnstest.py - hermetic DNS for filter tests: records as a file for sluiced's
`dns_local_data` (unbound's local data), and a tiny UDP responder on loopback
to forward every other name to, which answers NXDOMAIN (or SERVFAIL, or
nothing at all for chosen names). Nothing leaves the machine.

    zone = write_local_data(path, [("example.org", "TXT", "v=spf1 -all"),
                                   ("mail.example.org", "A", "192.0.2.25")])
    with Responder(servfail=["broken.example"], silent=["slow.example"]) as r:
        ... dns=r.addr, dns_local_data=zone, dns_timeout="1s" ...
        r.queries       # [(name, qtype)] the responder was asked
"""

import select
import socket
import struct
import threading
import time

__all__ = ["txt_strings", "write_local_data", "Responder", "QTYPES"]

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
          99: "SPF", 255: "ANY"}


def txt_strings(text, size=255):
    """A TXT value as zone-file character-strings of at most size octets each."""
    raw = text.encode("ascii")
    parts = [raw[i:i + size] for i in range(0, len(raw), size)] or [b""]
    return " ".join('"%s"' % p.decode().replace("\\", "\\\\").replace('"', '\\"') for p in parts)


def write_local_data(path, records, ttl=300):
    """One zone-file line per (name, type, value): TXT values quoted (split at
    255 octets), MX values "PREF NAME", PTR/MX targets given without the dot.
    Returns path."""
    with open(path, "w") as f:
        for name, rtype, value in records:
            rtype = rtype.upper()
            if rtype == "TXT":
                value = txt_strings(value)
            elif rtype in ("MX", "PTR", "CNAME"):
                value = value.rstrip(".") + "."
            f.write("%s. %d IN %s %s\n" % (name.rstrip("."), ttl, rtype, value))
    return path


class Responder:
    """UDP DNS on 127.0.0.1:port, for sluiced's `dns` (where unbound forwards
    what its local data does not hold). Every name gets `rcode` (3 NXDOMAIN by
    default) with no records; names in servfail get SERVFAIL (2); names in
    silent get no answer at all. It stops by itself after `lifetime` seconds,
    or on stop()."""

    def __init__(self, rcode=3, servfail=(), silent=(), lifetime=120.0):
        self.rcode = rcode
        self.servfail = {n.rstrip(".").lower() for n in servfail}
        self.silent = {n.rstrip(".").lower() for n in silent}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self._stop = threading.Event()
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _question(data):
        """(name, qtype, question bytes) of a query, or None when malformed."""
        pos, labels = 12, []
        while pos < len(data) and data[pos] != 0:
            n = data[pos]
            if n > 63:
                return None
            labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        if pos + 5 > len(data):
            return None
        qtype = struct.unpack("!H", data[pos + 1:pos + 3])[0]
        return ".".join(labels).lower(), qtype, data[12:pos + 5]

    def _answer(self, data):
        q = self._question(data)
        if q is None:
            return None
        name, qtype, question = q
        self.queries.append((name, QTYPES.get(qtype, str(qtype))))
        if name in self.silent:
            return None
        qid, flags = struct.unpack("!HH", data[:4])
        rcode = 2 if name in self.servfail else self.rcode
        rflags = 0x8000 | (flags & 0x0100) | 0x0080 | rcode      # QR, RD copied, RA
        return struct.pack("!HHHHHH", qid, rflags, 1, 0, 0, 0) + question

    def _serve(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                break
            if len(data) < 17:
                continue
            reply = self._answer(data)
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass
        self.sock.close()

    def asked(self, name, qtype=None):
        """True when the responder was asked for name (and qtype, when given)."""
        name = name.rstrip(".").lower()
        return any(n == name and (qtype is None or t == qtype) for n, t in self.queries)

    def stop(self):
        self._stop.set()
        self._thread.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
