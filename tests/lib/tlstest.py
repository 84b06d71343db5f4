"""tlstest.py - certificates made at test time with the openssl command (a CA and
server certificates signed by it), and client-side TLS helpers for tests/lib's
Client. Shared by the TLS dialogue tests and the AUTH end-to-end tests."""

import atexit
import os
import shutil
import ssl
import subprocess
import tempfile

_certs = None


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, timeout=30,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def certs():
    """{"dir", "ca", "mail": (cert, key), "smtp": (cert, key), "other": (cert, key)}
    made once per run: a CA, mail.example.org and smtp.example.net (+ *.example.net)
    signed by it, and a key that belongs to neither certificate ("other")."""
    global _certs
    if _certs is not None:
        return _certs
    d = tempfile.mkdtemp(prefix="sluice-tls-")
    atexit.register(shutil.rmtree, d, True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=Sluice Test CA", cwd=d)
    out = {"dir": d, "ca": os.path.join(d, "ca.pem")}
    for name, cn, san in (("mail", "mail.example.org", "DNS:mail.example.org"),
                          ("smtp", "smtp.example.net", "DNS:smtp.example.net,DNS:*.example.net"),
                          ("other", "other.example.com", "DNS:other.example.com")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        _openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + cn, cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", "2",
                 "-extfile", name + ".ext", cwd=d)
        out[name] = (os.path.join(d, name + ".pem"), os.path.join(d, name + ".key"))
    _certs = out
    return out


def client_context(verify=True):
    ctx = ssl.create_default_context(cafile=certs()["ca"])
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def starttls(c, hostname="mail.example.org", verify=True):
    """Wrap Client c's socket after the server's 220 (nothing may be buffered)."""
    assert not c.buf, "bytes after the 220 to STARTTLS: %r" % bytes(c.buf)
    c.sock.settimeout(c.timeout)
    c.sock = client_context(verify).wrap_socket(c.sock, server_hostname=hostname)
    return c.sock
