"""TLS on the backend leg (backend_tls): STARTTLS towards the backend after its
EHLO, the capabilities learned before TLS forgotten and EHLO sent again, the
certificate checked against backend_tls_ca and the backend's name, what
required and opportunistic do when that fails, bytes injected after the
backend's 220 not believed, and TLS connections never pooled.

Under test: proxy/relay_open.c (STARTTLS, the handshake, the fallbacks),
proxy/relay.c (I/O through the filter), proxy/tls.c (the client context) and the
backend_tls* keys. The recording fake backend wraps its side with Python's ssl
module; the certificates are made at test time (tests/lib/tlstest.py, plus one
for "localhost", the backend's name here, and one from another CA)."""

import os
import subprocess
import tempfile

import tap
from sluicetest import SluiceTestCase, Sluiced
from tlstest import certs

CONTENT = b"Subject: backend tls\r\n\r\nbody\r\n"
ESTABLISHED = "backend TLS established with"

_local = None


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, timeout=30,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def local_certs():
    """{"localhost": (cert, key) signed by certs()'s CA, "rogue": (cert, key) for
    localhost signed by a CA of its own}."""
    global _local
    if _local is not None:
        return _local
    d = certs()["dir"]
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(os.path.join(d, "localhost.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    _openssl("req", *ec, "-keyout", "localhost.key", "-out", "localhost.csr",
             "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "localhost.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "localhost.pem", "-days", "2",
             "-extfile", "localhost.ext", cwd=d)
    _openssl("req", "-x509", *ec, "-keyout", "rogueca.key", "-out", "rogueca.pem",
             "-days", "2", "-subj", "/CN=Rogue CA", cwd=d)
    _openssl("req", *ec, "-keyout", "rogue.key", "-out", "rogue.csr",
             "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "rogue.csr", "-CA", "rogueca.pem", "-CAkey", "rogueca.key",
             "-CAcreateserial", "-out", "rogue.pem", "-days", "2",
             "-extfile", "localhost.ext", cwd=d)
    _local = {name: (os.path.join(d, name + ".pem"), os.path.join(d, name + ".key"))
              for name in ("localhost", "rogue")}
    return _local


class BackendTlsCase(SluiceTestCase):
    def start_tls(self, backends, mode="required", **keys):
        """sluiced with the fake backends addressed by name (localhost:PORT, so
        that the name is checked) and backend_tls = mode, trusting the test CA."""
        bs = backends if isinstance(backends, list) else [backends]
        keys.setdefault("backend_tls_ca", certs()["ca"])
        self.backends = bs
        self.fb = bs[0]
        self.daemon = Sluiced(tempfile.mkdtemp(prefix="d", dir=self.tmp),
                              backend=["localhost:%d" % b.port for b in bs],
                              backend_tls=mode, **keys)
        self.addCleanup(self._stop_daemon, self.daemon)
        for b in bs:
            try:
                b.wait_probe(8.0)
            except AssertionError:
                pass
        return self.daemon

    def send_mail(self, expect_mail=250):
        """One client: EHLO, one message; returns (client, reply to the dot or to MAIL)."""
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        if expect_mail != 250:
            return c, c.expect(expect_mail, timeout=10)
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        return c, c.expect(250)

    def assertUpgraded(self, conn):
        """conn went EHLO, STARTTLS in the clear, then EHLO again over TLS before
        anything else, and carried the message over TLS."""
        self.assertIsNotNone(conn.tls, conn.commands)
        before = [v for v in conn.verbs()[:conn.tls_at]]
        self.assertEqual(before, ["EHLO", "STARTTLS"], conn.commands)
        after = [c.split(" ", 1)[0].upper() for c in conn.after_tls()]
        self.assertEqual(after[0], "EHLO", after)
        self.assertLess(after.index("EHLO"), after.index("MAIL"), after)
        self.assertIn("DATA", after)
        self.assertTrue(conn.messages[0].content.endswith(b"\r\n" + CONTENT), conn.messages)


class TestRequired(BackendTlsCase):
    def test_upgrade_verified(self):
        fb = self.backend(starttls=local_certs()["localhost"])
        self.start_tls(fb)
        self.send_mail()
        conn = fb.wait_relayed()
        self.assertUpgraded(conn)
        # XCLIENT goes over TLS, after the second EHLO, never in the clear.
        after = [c.split(" ", 1)[0].upper() for c in conn.after_tls()]
        self.assertIn("XCLIENT", after)
        self.assertLess(after.index("EHLO"), after.index("XCLIENT"))
        log = self.log
        self.assertIn(ESTABLISHED, log)
        self.assertRegex(log, r"backend TLS established with \S+: TLSv1\.[23] with "
                              r"cipher \S+ \(\d+/\d+ bits\), certificate verified")

    def test_no_starttls_tempfails(self):
        fb = self.backend()
        self.start_tls(fb)
        c, _ = self.send_mail(expect_mail="451 4.4.1")
        self.assertEqual(fb.relayed(), [])
        self.assertIn("does not offer STARTTLS (backend_tls = required)", self.log)

    def test_no_starttls_next_backend(self):
        plain = self.backend()
        good = self.backend(starttls=local_certs()["localhost"])
        self.start_tls([plain, good])
        self.send_mail()
        self.assertEqual(plain.relayed(), [])
        self.assertUpgraded(good.wait_relayed())

    def test_starttls_refused(self):
        fb = self.backend(starttls=local_certs()["localhost"],
                          replies={"STARTTLS": "454 4.7.0 TLS not available"})
        self.start_tls(fb)
        self.send_mail(expect_mail="451 4.4.1")
        self.assertEqual(fb.relayed(), [])
        self.assertIn("refused STARTTLS (backend_tls = required): 454 4.7.0", self.log)

    def test_other_ca_refused(self):
        fb = self.backend(starttls=local_certs()["rogue"])
        self.start_tls(fb)
        self.send_mail(expect_mail="451 4.4.1")
        self.assertEqual(fb.relayed(), [])
        self.assertNotIn(ESTABLISHED, self.log)
        self.assertRegex(self.log, r"TLS handshake failed: .*certificate verify failed")

    def test_name_mismatch_refused(self):
        # Signed by the trusted CA, but for mail.example.org, not localhost.
        fb = self.backend(starttls=certs()["mail"])
        self.start_tls(fb)
        self.send_mail(expect_mail="451 4.4.1")
        self.assertEqual(fb.relayed(), [])
        self.assertRegex(self.log, r"TLS handshake failed: .*certificate verify failed "
                                   r"\(hostname mismatch\)")

    def test_verify_off(self):
        fb = self.backend(starttls=local_certs()["rogue"])
        self.start_tls(fb, backend_tls_verify="no")
        self.send_mail()
        self.assertUpgraded(fb.wait_relayed())
        self.assertIn("certificate not verified", self.log)


class TestOpportunistic(BackendTlsCase):
    def test_no_starttls_plain(self):
        fb = self.backend()
        self.start_tls(fb, mode="opportunistic")
        self.send_mail()
        conn = fb.wait_relayed()
        self.assertIsNone(conn.tls)
        self.assertNotIn("STARTTLS", conn.verbs())
        self.assertTrue(conn.messages[0].content.endswith(b"\r\n" + CONTENT), conn.messages)

    def test_unverified_upgrade(self):
        # RFC 7435: encrypt without authenticating; the log says what was checked.
        fb = self.backend(starttls=local_certs()["rogue"])
        self.start_tls(fb, mode="opportunistic")
        self.send_mail()
        self.assertUpgraded(fb.wait_relayed())
        self.assertRegex(self.log, r"certificate not verified: \w+")

    def test_handshake_failure_falls_back(self):
        # The backend's "TLS" is garbage: the same backend again, in the clear.
        fb = self.backend(starttls=local_certs()["localhost"], starttls_close=True)
        self.start_tls(fb, mode="opportunistic")
        self.send_mail()
        conn = fb.wait_relayed()
        self.assertIsNone(conn.tls)
        self.assertNotIn("STARTTLS", conn.verbs())
        self.assertIn("again without TLS (backend_tls = opportunistic)", self.log)

    def test_caps_after_tls(self):
        # SMTPUTF8 only after TLS: the client is offered what the backend offers
        # over TLS (the probe upgrades too).
        pre = [c for c in ("PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES",
                           "XCLIENT NAME ADDR PORT PROTO HELO LOGIN")]
        fb = self.backend(starttls=local_certs()["localhost"], caps=pre,
                          tls_caps=pre + ["SMTPUTF8"])
        self.start_tls(fb, mode="opportunistic")
        c = self.client()
        lines = c.ehlo()
        self.assertIn("250-SMTPUTF8", lines)


class TestInjection(BackendTlsCase):
    def test_injected_after_220(self):
        # Believed, the 554 would be the reply to the EHLO sent after TLS.
        inject = b"554 5.7.1 injected\r\n250 fake\r\n"
        fb = self.backend(starttls=local_certs()["localhost"], starttls_inject=inject)
        self.start_tls(fb)
        c, final = self.send_mail()
        conn = fb.wait_relayed()
        self.assertUpgraded(conn)
        self.assertEqual(final, ["250 2.0.0 Ok: queued as %s" % conn.messages[0].qid])
        log = self.log
        self.assertIn("discarded %d octets after the backend's 220 to STARTTLS" % len(inject), log)
        self.assertNotIn("injected", log.replace("starttls_inject", ""))
        c.line("QUIT")
        c.expect(221)


class TestPool(BackendTlsCase):
    def test_not_pooled(self):
        fb = self.backend(starttls=local_certs()["localhost"])
        self.start_tls(fb)
        for _ in range(2):
            c, _ = self.send_mail()
            c.line("QUIT")
            c.expect(221)
            self.assertTrue(c.closed(5))
        fb.wait_for(lambda: len(fb.relayed()) == 2, 5, "two relayed connections")
        for conn in fb.relayed():
            self.assertUpgraded(conn)
            self.assertEqual(len(conn.messages), 1)
        self.assertNotIn("pool: keeping the connection", self.log)
        self.assertNotIn("pool: reusing the connection", self.log)
        # QUIT goes through TLS too.
        for conn in fb.relayed():
            fb.wait_for(lambda: conn.has("QUIT"), 5, "QUIT over TLS")


if __name__ == "__main__":
    tap.main()
