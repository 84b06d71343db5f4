"""AUTH passed through (proxy/auth.c) against the recording fake backend, for
what the end-to-end test with Postfix (tests/e2e/test_auth.py) cannot show
exactly: the LOGIN exchange line by line, a client's "*" cancel, the AUTH
offer following the backend's mechanisms, a connection that carried AUTH never
given to the next client, and the user name in XCLIENT LOGIN and to filters.
Listeners use auth_without_tls = yes so no TLS is needed here."""

import base64
import tempfile

import tap
from sluicetest import SluiceTestCase, Sluiced, built_module, free_port, write_config

CAPS = ["PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES",
        "XCLIENT NAME ADDR PORT PROTO HELO LOGIN"]
USERS = {"alice": "secret"}


def b64(s):
    return base64.b64encode(s.encode()).decode()


class AuthDialogue(SluiceTestCase):
    def start_sub(self, caps=CAPS + ["AUTH PLAIN LOGIN"], filters=(), **keys):
        fb = self.backend(caps=caps, auth=USERS)
        self.fb = fb
        self.backends = [fb]
        d = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        path = write_config(d, backend=fb, listen=None, **keys)
        port = free_port()
        lines = ["[listener sub]", "address = 127.0.0.1:%d" % port, "role = submission",
                 "auth_without_tls = yes"]
        for name, conf in filters:
            lines.append("[filter %s]" % name)
            lines += ["%s = %s" % kv for kv in conf.items()]
        with open(path, "a") as f:
            f.write("\n".join(lines) + "\n")
        self.daemon = Sluiced(d, config=path, listen_port=port)
        self.addCleanup(self._stop_daemon, self.daemon)
        fb.wait_probe(5.0)
        return fb

    def send(self, c):
        for line, code in (("MAIL FROM:<alice@example.org>", 250), ("RCPT TO:<b@example.com>", 250),
                           ("DATA", 354)):
            c.line(line)
            c.expect(code)
        c.send(b"Subject: a\r\n\r\nbody\r\n.\r\n")
        c.expect(250)

    def auth_conns(self):
        return [x for x in self.fb.conns() if x.auth]

    def test_login_exchange_and_xclient_login(self):
        """LOGIN: both 334 challenges reach the client as the backend sent
        them; 235; then the mail goes on the same connection (no new XCLIENT)."""
        self.start_sub()
        c = self.client()
        lines = c.ehlo("client.test")
        self.assertIn("250-AUTH PLAIN LOGIN", lines)
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (530, ["530 5.7.0 Authentication required"]))
        c.line("AUTH LOGIN")
        self.assertEqual(c.reply(), (334, ["334 VXNlcm5hbWU6"]))
        c.line(b64("alice"))
        self.assertEqual(c.reply(), (334, ["334 UGFzc3dvcmQ6"]))
        c.line(b64("secret"))
        self.assertEqual(c.reply(), (235, ["235 2.7.0 Authentication successful"]))
        self.send(c)
        conn = self.auth_conns()[0]
        self.assertEqual(conn.auth, [("LOGIN", "alice", "ok")])
        self.assertEqual(len(conn.messages), 1)
        self.assertIn("AUTH LOGIN succeeded for [127.0.0.1] user=alice", self.log)
        self.assertNotIn(b64("secret"), self.log)

    def test_cancel_is_not_a_failure(self):
        """A "*" response: the backend's 501 reaches the client, nothing is
        counted (auth_fail_limit = 1 would close the connection), AUTH again works."""
        self.start_sub(auth_fail_limit=1, auth_fail_delay="0s")
        c = self.client()
        c.ehlo("client.test")
        c.line("AUTH LOGIN")
        c.expect(334)
        c.line("*")
        self.assertEqual(c.reply(), (501, ["501 5.7.0 Authentication aborted"]))
        c.line("AUTH PLAIN " + b64("\0alice\0secret"))
        self.assertEqual(c.reply(), (235, ["235 2.7.0 Authentication successful"]))
        self.assertIn("AUTH LOGIN cancelled by the client", self.log)

    def test_mechanisms_follow_the_backend(self):
        """Only the backend's mechanisms are offered and accepted; a backend
        without AUTH means no AUTH offered (and submission's MAIL refused)."""
        self.start_sub(caps=CAPS + ["AUTH PLAIN"])
        c = self.client()
        lines = c.ehlo("client.test")
        self.assertIn("250-AUTH PLAIN", lines)
        c.line("AUTH LOGIN")
        self.assertEqual(c.reply(), (504, ["504 5.5.4 Error: unsupported authentication mechanism"]))

    def test_no_auth_backend_no_offer(self):
        self.start_sub(caps=CAPS)
        c = self.client()
        lines = c.ehlo("client.test")
        self.assertFalse(any("AUTH" in l for l in lines), lines)
        c.line("AUTH PLAIN " + b64("\0alice\0secret"))
        self.assertEqual(c.reply(), (503, ["503 5.5.1 Error: authentication not enabled"]))

    def test_authenticated_connection_never_pooled(self):
        """Two authenticated clients one after the other: two backend
        connections, even though the pool would take a clean one."""
        self.start_sub(backend_pool=8)
        for _ in range(2):
            c = self.client()
            c.ehlo("client.test")
            c.line("AUTH PLAIN " + b64("\0alice\0secret"))
            c.expect(235)
            self.send(c)
            c.line("QUIT")
            c.expect(221)
            c.close()
        self.fb.wait_for(lambda: len(self.auth_conns()) == 2, what="two AUTH connections")
        self.assertTrue(all(len(x.auth) == 1 for x in self.auth_conns()))

    def test_login_known_to_filters(self):
        """A filter's login() sees the user (the rules filter's `login` match)."""
        rules = built_module("filters", "rules", ".libs", "rules.so")
        self.start_sub(filters=[("rules", {"module": rules,
                                           "rule10": 'login ^alice$ add_header "X-Who: alice"'})])
        c = self.client()
        c.ehlo("client.test")
        c.line("AUTH PLAIN " + b64("\0alice\0secret"))
        c.expect(235)
        self.send(c)
        raw = self.fb.wait_messages(1)[-1].raw
        self.assertIn(b"X-Who: alice", raw)


if __name__ == "__main__":
    tap.main()
