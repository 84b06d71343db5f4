"""TLS on the client leg: STARTTLS (optional and required listeners), implicit TLS,
the STARTTLS command injection defence (RFC 3207 4.2, CVE-2011-0411), the SMTP state
reset after the handshake, SNI between two certificates, a failed handshake that
closes only its own session, and certificate errors at load.

The test makes its own CA and two server certificates with the openssl command at
test time (mail.example.org, the default; smtp.example.net with *.example.net).
Everything is on loopback and every wait is bounded."""

import os
import ssl
import subprocess
import tempfile
import time

import tap
from sluicetest import SluiceTestCase, Sluiced, Client, free_port, write_config
from tlstest import certs, client_context, starttls

SWAKS_TIMEOUT = 30

def peer_cn(sock):
    cert = sock.getpeercert()
    return dict(x[0] for x in cert["subject"])["commonName"]


class TlsTestCase(SluiceTestCase):
    def start_tls(self, listeners, **keys):
        """sluiced with a plain `listen` port (self.daemon.port) and the given
        [listener NAME] sections: {name: [lines]}; self.ports[name] is each port."""
        fb = self.backend()
        self.fb = fb
        self.backends = [fb]
        d = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        port = free_port()
        path = write_config(d, backend=fb, listen=port, **keys)
        self.ports = {}
        lines = []
        for name, body in listeners.items():
            self.ports[name] = free_port()
            lines += ["", "[listener %s]" % name, "address = 127.0.0.1:%d" % self.ports[name]]
            lines += body
        with open(path, "a") as f:
            f.write("\n".join(lines) + "\n")
        self.conf = path
        daemon = Sluiced(d, config=path, listen_port=port)
        self.daemon = daemon
        self.addCleanup(self._stop_daemon, daemon)
        try:
            fb.wait_probe(5.0)
        except AssertionError:
            pass
        return daemon

    def tls_lines(self, mode="optional", pairs=("mail", "smtp")):
        out = ["tls = %s" % mode]
        for p in pairs:
            out += ["tls_cert = %s" % certs()[p][0], "tls_key = %s" % certs()[p][1]]
        return out

    def connect(self, name, greet=True):
        c = Client(self.ports[name])
        self.clients.append(c)
        if greet:
            c.greeting()
        return c

    def wait_log(self, text, timeout=3.0):
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                self.fail("%r not in the log:\n%s" % (text, self.log))
            time.sleep(0.02)

    def swaks(self, port, *args):
        cmd = ["swaks", "--server", "127.0.0.1", "--port", str(port), "--ehlo", "client.test",
               "--from", "alice@example.org", "--to", "bob@example.com",
               "--header", "Subject: tls", "--body", "hello over TLS", "--timeout", "10"]
        r = subprocess.run(cmd + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=SWAKS_TIMEOUT)
        out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "swaks failed:\n%s\nlog:\n%s" % (out, self.log))
        return out


def ehlo(c, name="client.test"):
    c.line("EHLO " + name)
    code, lines = c.reply()
    assert code == 250, lines
    return [l[4:] for l in lines[1:]]


class TestStarttls(TlsTestCase):
    def test_swaks_delivers(self):
        self.start_tls({"mx": self.tls_lines()})
        out = self.swaks(self.ports["mx"], "--tls")
        self.assertIn("220 2.0.0 Ready to start TLS", out)
        msg = self.fb.wait_messages(1)[0]
        self.assertIn(b"hello over TLS", msg.raw)
        self.wait_log("TLS established with [127.0.0.1]: TLSv1.3 with cipher")

    def test_received_shows_tls(self):
        """RFC 3848 "with ESMTPS", and the protocol and cipher in Postfix's words."""
        self.start_tls({"mx": self.tls_lines()})
        self.swaks(self.ports["mx"], "--tls")
        msg = self.fb.wait_messages(1)[0]
        self.assertRegex(msg.raw, rb"\AReceived: from client\.test \([^()]+ \[127\.0\.0\.1\]\)\r\n"
                         rb"\t\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\)\)"
                         rb"\r\n\tby sluice\.test \(sluice\) with ESMTPS id [A-Za-z0-9]+\r\n")

    def test_offered_only_before_tls(self):
        self.start_tls({"mx": self.tls_lines()})
        c = self.connect("mx")
        self.assertIn("STARTTLS", ehlo(c))
        c.line("STARTTLS")
        c.expect("220 2.0.0 Ready to start TLS")
        starttls(c)
        self.assertNotIn("STARTTLS", ehlo(c))
        c.line("STARTTLS")
        c.expect("503 5.5.1")
        # The session works inside TLS.
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("QUIT")
        c.expect(221)

    def test_injection_discarded(self):
        """STARTTLS and MAIL in one write: MAIL is never executed, neither before
        nor after the handshake, and the state is reset (MAIL needs EHLO again)."""
        self.start_tls({"mx": self.tls_lines()})
        c = self.connect("mx")
        ehlo(c)
        c.send(b"STARTTLS\r\nMAIL FROM:<x@y>\r\n")
        c.expect("220 2.0.0 Ready to start TLS")
        starttls(c)
        c.line("NOOP")
        c.expect("250 2.0.0 Ok")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("503 5.5.1")
        self.wait_log("discarded 17 octets after STARTTLS")
        self.assertEqual(self.fb.relayed(), [], "the backend saw a transaction")

    def test_no_pipelined_plaintext_after_handshake(self):
        """Plaintext that arrives after the 220 but before the handshake is no
        command either: it breaks the handshake and closes that session."""
        self.start_tls({"mx": self.tls_lines()})
        c = self.connect("mx")
        ehlo(c)
        c.line("STARTTLS")
        c.expect("220 2.0.0")
        c.send(b"MAIL FROM:<x@y>\r\nRCPT TO:<z@y>\r\n")
        data = c.read_all_until_close(5.0)
        self.assertNotIn(b"250", data)
        self.wait_log("TLS handshake failed with [127.0.0.1]")

    def test_syntax_and_plain_listener(self):
        self.start_tls({"mx": self.tls_lines()})
        c = self.connect("mx")
        ehlo(c)
        c.line("STARTTLS now")
        c.expect("501 5.5.4")
        # A listener without TLS neither offers nor accepts it.
        p = Client(self.daemon.port)
        self.clients.append(p)
        p.greeting()
        self.assertNotIn("STARTTLS", ehlo(p))
        p.line("STARTTLS")
        p.expect("502 5.5.1")

    def test_handshake_failure_is_local(self):
        self.start_tls({"mx": self.tls_lines()})
        other = self.connect("mx")
        ehlo(other)
        bad = self.connect("mx")
        ehlo(bad)
        bad.line("STARTTLS")
        bad.expect("220 2.0.0")
        bad.send(b"\x16\x03\x01\x00\x05hello garbage that is no ClientHello\r\n" * 4)
        bad.read_all_until_close(5.0)
        self.assertTrue(bad.eof, "the session with the bad handshake is still open")
        self.wait_log("TLS handshake failed with [127.0.0.1]: ")
        other.line("STARTTLS")
        other.expect("220 2.0.0")
        starttls(other)
        ehlo(other)
        other.line("NOOP")
        other.expect(250)
        fresh = self.connect("mx")
        ehlo(fresh)


class TestRequired(TlsTestCase):
    def test_mail_needs_starttls(self):
        # auth = none: this is about TLS; submission's AUTH is tests/e2e/test_auth.py's
        self.start_tls({"submission": self.tls_lines("required") + ["role = submission",
                                                                    "auth = none"]})
        c = self.connect("submission")
        self.assertIn("STARTTLS", ehlo(c))
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("530 5.7.0 Must issue a STARTTLS command first")
        c.line("STARTTLS")
        c.expect("220 2.0.0")
        starttls(c)
        ehlo(c)
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect(354)
        c.send(b"Subject: required\r\n\r\nsecret\r\n.\r\n")
        c.expect("250 2.0.0")
        msg = self.fb.wait_messages(1)[0]
        self.assertIn(b"secret", msg.raw)


class TestImplicit(TlsTestCase):
    def test_swaks_tls_on_connect(self):
        self.start_tls({"smtps": self.tls_lines("implicit")})
        out = self.swaks(self.ports["smtps"], "--tls-on-connect")
        self.assertIn("220 sluice.test ESMTP sluice", out)
        msg = self.fb.wait_messages(1)[0]
        self.assertIn(b"hello over TLS", msg.raw)

    def test_greeting_after_handshake(self):
        self.start_tls({"smtps": self.tls_lines("implicit")})
        c = self.connect("smtps", greet=False)
        starttls(c)
        c.greeting()
        self.assertNotIn("STARTTLS", ehlo(c))
        c.line("STARTTLS")
        c.expect("503 5.5.1")


class TestSni(TlsTestCase):
    def handshake(self, hostname):
        c = self.connect("mx")
        ehlo(c)
        c.line("STARTTLS")
        c.expect("220 2.0.0")
        sock = starttls(c, hostname, verify=False)
        ehlo(c)
        return self.subject_cn(sock)

    @staticmethod
    def subject_cn(sock):
        # verify=False leaves getpeercert() empty: ask openssl for the subject.
        pem = ssl.DER_cert_to_PEM_cert(sock.getpeercert(True))
        r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
                           input=pem.encode(), capture_output=True, timeout=10, check=True)
        return r.stdout.decode().strip().split("CN=", 1)[1]

    def test_sni_picks_certificate(self):
        self.start_tls({"mx": self.tls_lines()})
        self.assertEqual(self.handshake("smtp.example.net"), "smtp.example.net")
        self.assertEqual(self.handshake("mail.example.org"), "mail.example.org")
        self.assertEqual(self.handshake("mx.example.net"), "smtp.example.net")   # wildcard
        self.assertEqual(self.handshake("a.b.example.net"), "mail.example.org")  # one label only
        self.assertEqual(self.handshake("unknown.example.com"), "mail.example.org")

    def test_verified_by_name(self):
        self.start_tls({"mx": self.tls_lines()})
        c = self.connect("mx")
        ehlo(c)
        c.line("STARTTLS")
        c.expect("220 2.0.0")
        sock = starttls(c, "smtp.example.net", verify=True)
        self.assertEqual(peer_cn(sock), "smtp.example.net")
        self.wait_log("sni=smtp.example.net")


class TestConfig(TlsTestCase):
    def check(self, body):
        """sluiced -t on a config with [listener x] = body: (status, output, the
        line number of each body line in the file)."""
        d = tempfile.mkdtemp(prefix="c", dir=self.tmp)
        path = write_config(d)
        with open(path) as f:
            first = len(f.read().splitlines()) + 1
        lines = ["[listener x]", "address = 127.0.0.1:%d" % free_port()] + body
        with open(path, "a") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([os.environ["SLUICED"], "-t", "-c", path], capture_output=True,
                           timeout=20)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        return r.returncode, out, path, {l: first + 2 + i for i, l in enumerate(body)}

    def test_good(self):
        status, out, _, _ = self.check(self.tls_lines())
        self.assertEqual(status, 0, out)

    def test_missing_cert_file(self):
        body = ["tls = optional", "tls_cert = /nonexistent/cert.pem",
                "tls_key = %s" % certs()["mail"][1]]
        status, out, path, line = self.check(body)
        self.assertNotEqual(status, 0, out)
        self.assertIn("%s:%d: tls_cert /nonexistent/cert.pem: No such file or directory"
                      % (path, line[body[1]]), out)

    def test_key_mismatch(self):
        body = ["tls = optional", "tls_cert = %s" % certs()["mail"][0],
                "tls_key = %s" % certs()["other"][1]]
        status, out, path, line = self.check(body)
        self.assertNotEqual(status, 0, out)
        self.assertIn("%s:%d: tls_key %s: not the private key of" % (path, line[body[2]],
                                                                     certs()["other"][1]), out)

    def test_unpaired_and_missing(self):
        body = ["tls = required", "tls_cert = %s" % certs()["mail"][0]]
        status, out, path, line = self.check(body)
        self.assertNotEqual(status, 0, out)
        self.assertIn("%s:%d: [listener x]: tls_cert without a matching tls_key" %
                      (path, line[body[1]]), out)
        status, out, path, line = self.check(["tls = implicit"])
        self.assertIn("%s:%d: [listener x] has tls = implicit but no certificate" %
                      (path, line["tls = implicit"]), out)

    def test_bad_values(self):
        status, out, path, line = self.check(self.tls_lines() + ["tls_min_version = SSLv3"])
        self.assertNotEqual(status, 0, out)
        self.assertIn("%s:%d: " % (path, line["tls_min_version = SSLv3"]), out)
        status, out, path, line = self.check(self.tls_lines() + ["tls_ciphers = NOSUCHCIPHER"])
        self.assertNotEqual(status, 0, out)
        self.assertIn("%s:%d: bad value 'NOSUCHCIPHER' for tls_ciphers" %
                      (path, line["tls_ciphers = NOSUCHCIPHER"]), out)
        status, out, path, line = self.check(["role = relay"])
        self.assertIn("%s:%d: " % (path, line["role = relay"]), out)


if __name__ == "__main__":
    tap.main()
