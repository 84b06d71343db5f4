"""dkimtest.py - helpers for the dkim filter's tests: keys made at test time with
openssl, records for sluiced's dns_local_data, python3-dkim as the independent
signer and verifier (hermetic: its DNS is a dict), a one-rcode DNS responder on
loopback, and sluiced configurations with named listeners.

    keys = KeySet(tmpdir)                       # rsa + ed25519, made once
    zone = write_zone(path, {"sel._domainkey.example.org": keys.rsa.record})
    signed = sign(msg, keys.rsa, "sel", "example.org")
    ok = verify(msg, {"sel._domainkey.example.org": keys.rsa.record})

python3-dkim (Debian package python3-dkim, module `dkim`) is looked up on the
interpreter's path and then in /usr/lib/python3/dist-packages, where Debian
installs it (a python3 from pyenv does not see that directory). When it is
missing, importing this module raises: the tests fail, they never skip.
"""

import base64
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

try:
    import dkim  # noqa: F401
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import dkim  # noqa: F401,E402

__all__ = ["dkim", "Key", "KeySet", "rsa_key", "ed25519_key", "txt_chunks", "write_zone", "sign",
           "verify", "verify_all", "signatures", "sig_tags", "FakeDNS", "ar_value", "write_dkim_config"]

OPENSSL = "openssl"


def _run(cmd, **kw):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return r.stdout


class Key:
    """A key pair: pem (sluice's sign table reads it), signer (what python3-dkim
    signs with) and record (the TXT record of the public key)."""

    def __init__(self, kind, pem, signer, record):
        self.kind = kind
        self.pem = pem
        self.signer = signer
        self.record = record

    @property
    def algorithm(self):
        return b"ed25519-sha256" if self.kind == "ed25519" else b"rsa-sha256"


def rsa_key(dir, name="rsa", bits=2048):
    pem = os.path.join(dir, name + ".pem")
    # PKCS#1 ("BEGIN RSA PRIVATE KEY"): what python3-dkim parses, and what
    # opendkim-genkey writes.
    _run([OPENSSL, "genrsa", "-traditional", "-out", pem, str(bits)])
    der = _run([OPENSSL, "rsa", "-in", pem, "-pubout", "-outform", "DER"])
    with open(pem, "rb") as f:
        signer = f.read()
    return Key("rsa", pem, signer, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())


def ed25519_key(dir, name="ed"):
    """RFC 8463: the record's p= is the raw 32-octet public key; python3-dkim
    signs with the raw 32-octet private key, base64."""
    pem = os.path.join(dir, name + ".pem")
    _run([OPENSSL, "genpkey", "-algorithm", "ed25519", "-out", pem])
    priv = _run([OPENSSL, "pkey", "-in", pem, "-outform", "DER"])
    pub = _run([OPENSSL, "pkey", "-in", pem, "-pubout", "-outform", "DER"])
    if len(priv) != 48 or len(pub) != 44:
        raise AssertionError("unexpected Ed25519 DER sizes %d/%d" % (len(priv), len(pub)))
    return Key("ed25519", pem, base64.b64encode(priv[-32:]),
               "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub[-32:]).decode())


class KeySet:
    """Keys for one test class: rsa, rsa2 (a second RSA key), ed25519."""

    def __init__(self, dir):
        self.rsa = rsa_key(dir, "rsa")
        self.rsa2 = rsa_key(dir, "rsa2")
        self.ed25519 = ed25519_key(dir, "ed")


def txt_chunks(text, size=255):
    """A TXT value as zone-file character-strings of at most size octets."""
    raw = text.encode("ascii")
    parts = [raw[i:i + size] for i in range(0, len(raw), size)] or [b""]
    return " ".join('"%s"' % p.decode().replace("\\", "\\\\").replace('"', '\\"') for p in parts)


def write_zone(path, records):
    """dns_local_data: {name: txt or [txt, ...]} as one TXT line per record,
    long values split into strings of <= 255 octets on the same line."""
    with open(path, "w") as f:
        for name, values in records.items():
            for v in (values if isinstance(values, (list, tuple)) else [values]):
                f.write("%s. 300 IN TXT %s\n" % (name.rstrip("."), txt_chunks(v)))
    return path


def _dnsfunc(records):
    table = {k.rstrip(".").lower(): v for k, v in records.items()}

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        v = table.get(name.rstrip(".").lower())
        if v is None:
            return None
        return v.encode() if isinstance(v, str) else v
    return dnsfunc


def sign(message, key, selector, domain, canonicalize=(b"relaxed", b"relaxed"), length=False,
         include_headers=None):
    """message with a DKIM-Signature by python3-dkim on top."""
    kw = {}
    if include_headers is not None:
        kw["include_headers"] = [h.encode() if isinstance(h, str) else h for h in include_headers]
    sig = dkim.sign(message, selector.encode(), domain.encode(), key.signer,
                    canonicalize=canonicalize, signature_algorithm=key.algorithm, length=length,
                    **kw)
    return sig + message


def verify(message, records, idx=0):
    """python3-dkim's verdict on the idx-th DKIM-Signature (0 = topmost)."""
    d = dkim.DKIM(message, minkey=1024)
    try:
        return d.verify(idx=idx, dnsfunc=_dnsfunc(records))
    except dkim.DKIMException:
        return False


def verify_all(message, records):
    return [verify(message, records, i) for i in range(len(signatures(message)))]


def _unfold(value):
    return re.sub(rb"\r?\n[ \t]", b" ", value)


def signatures(message):
    """The values of the DKIM-Signature fields of a message (bytes), top first."""
    head = re.split(rb"\r?\n\r?\n", message, maxsplit=1)[0]
    return [_unfold(m.group(1)) for m in
            re.finditer(rb"(?mi)^DKIM-Signature:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", head)]


def sig_tags(value):
    """{tag: value} of one DKIM-Signature value, whitespace removed (b=, h=)."""
    out = {}
    for part in value.split(b";"):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            out[k.strip().decode()] = re.sub(rb"\s+", b"", v).decode()
    return out


TSPECIALS = set('()<>@,;:\\"/[]?=')


def ar_value(v):
    """An RFC 2045 token as is, anything else as a quoted-string (RFC 8601 pvalue)."""
    if v and not any(c in TSPECIALS or ord(c) <= 32 or ord(c) > 126 for c in v):
        return v
    return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


class FakeDNS:
    """A UDP DNS responder on 127.0.0.1. A name in `records` ({name: txt}) gets
    its TXT record; any other name the rcode (3 NXDOMAIN, 2 SERVFAIL) and no
    records. Answers wait `delay` seconds. Nothing leaves the machine; it stops
    by itself after `lifetime` seconds, or on stop()."""

    def __init__(self, rcode=3, records=None, delay=0.0, lifetime=120.0):
        self.rcode = rcode
        self.records = {k.rstrip(".").lower(): v for k, v in (records or {}).items()}
        self.delay = delay
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self._stop = threading.Event()
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _answer(self, data):
        qid, flags, qd = struct.unpack("!HHH", data[:6])
        # The question: labels up to the zero octet, then QTYPE and QCLASS.
        pos = 12
        labels = []
        while pos < len(data) and data[pos] != 0:
            n = data[pos]
            labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        question = data[12:pos + 5]
        qtype = struct.unpack("!H", data[pos + 1:pos + 3])[0] if pos + 3 <= len(data) else 0
        name = ".".join(labels).lower()
        self.queries.append(name)
        txt = self.records.get(name)
        answer = b""
        rcode = self.rcode
        if txt is not None:
            rcode = 0
            if qtype == 16:
                raw = txt.encode("ascii")
                rdata = b"".join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255]
                                 for i in range(0, len(raw), 255))
                answer = struct.pack("!HHHIH", 0xc00c, 16, 1, 60, len(rdata)) + rdata
        rflags = 0x8000 | (flags & 0x0100) | 0x0080 | rcode      # QR, RD copied, RA
        return struct.pack("!HHHHHH", qid, rflags, 1 if qd else 0, 1 if answer else 0, 0, 0) + \
            question + answer

    def _send(self, reply, peer):
        try:
            self.sock.sendto(reply, peer)
        except OSError:
            pass

    def _serve(self):
        timers = []
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
            if self.delay > 0:
                t = threading.Timer(self.delay, self._send, (reply, peer))
                t.daemon = True
                t.start()
                timers.append(t)
            else:
                self._send(reply, peer)
        for t in timers:
            t.cancel()
        self.sock.close()

    def stop(self):
        self._stop.set()
        self._thread.join(2)


def write_dkim_config(dir, backend_addr, listeners, filters, **sluice_keys):
    """Write dir/sluice.conf: [sluice] (backend and the given keys, no `listen`),
    one [listener NAME] per (name, port), then [filter NAME] sections (name,
    {key: value}). Returns the path."""
    from sluicetest import write_config
    path = write_config(dir, listen=None, backend=backend_addr, **sluice_keys)
    with open(path, "a") as f:
        for name, port in listeners:
            f.write("\n[listener %s]\naddress = 127.0.0.1:%d\n" % (name, port))
        for name, conf in filters:
            f.write("\n[filter %s]\n" % name)
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
    return path
