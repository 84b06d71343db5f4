"""Backend connection pool: a clean backend connection outlives its client and
serves the next one, re-identified with XCLIENT and EHLO; anything unclean is
closed as before.

Under test: proxy/relay_pool.c (keeping, taking, the idle watch, shutdown), the
re-identification and its silent fallback in proxy/relay_open.c, and the clean
test's inputs in proxy/relay.c. tests/e2e/test_pool.py does the same against a
real Postfix."""

import re
import time

import tap
from sluicetest import SluiceTestCase, split_received

CONTENT = b"Subject: pool\r\n\r\nbody\r\n"
KEPT = "pool: keeping the connection"
NOT_KEPT = "pool: not keeping the connection"
REUSED = "pool: reusing the connection"


class PoolCase(SluiceTestCase):
    def wait_log(self, text, count=1, timeout=5.0):
        """Until the log holds text count times (bounded); returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log
            if log.count(text) >= count:
                return log
            if time.monotonic() > deadline:
                self.fail("log has %r %d times, want %d; log:\n%s"
                          % (text, log.count(text), count, log[-6000:]))
            time.sleep(0.02)

    def session(self, helo, ehlo=True, rcpt="bob@example.com", quit=True):
        """One client: EHLO/HELO helo, one message, QUIT. Returns the client and
        the reply to the dot."""
        c = self.client()
        c.line(("EHLO " if ehlo else "HELO ") + helo)
        c.expect(250)
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<%s>" % rcpt)
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        final = c.reply()
        if quit:
            c.line("QUIT")
            c.expect(221)
            self.assertTrue(c.closed(5), "sluiced did not close after QUIT")
            c.close()
        return c, final

    def kept_session(self, helo, n, **kw):
        """session(), then wait until sluiced kept its connection (n-th time)."""
        c, final = self.session(helo, **kw)
        self.assertEqual(final[0], 250, final)
        self.wait_log(KEPT, n)
        return c

    def assertXclient(self, attrs, client, helo, proto="ESMTP"):
        self.assertEqual(attrs.get("ADDR"), "127.0.0.1", attrs)
        self.assertEqual(attrs.get("PORT"), str(client.local_port), attrs)
        self.assertEqual(attrs.get("HELO"), helo, attrs)
        self.assertEqual(attrs.get("PROTO"), proto, attrs)

    def after(self, conn, verb_line):
        """The commands conn received after the last occurrence of verb_line's verb."""
        cmds = list(conn.commands)
        idx = [i for i, c in enumerate(cmds) if c.upper().startswith(verb_line)]
        return cmds[idx[-1] + 1:] if idx else []


class TestReuse(PoolCase):
    def test_two_clients_one_connection(self):
        fb = self.backend()
        self.start(fb)
        c1 = self.kept_session("one.test", 1)
        c2 = self.kept_session("two.test", 2)
        self.assertIn(REUSED, self.log)
        relayed = fb.relayed()
        self.assertEqual(len(relayed), 1, "want one backend connection, got %r" % relayed)
        conn = relayed[0]
        # Each session announced with its own client, then its own EHLO again.
        self.assertEqual(len(conn.xclient), 2, conn.commands)
        self.assertXclient(conn.xclient[0], c1, "one.test")
        self.assertXclient(conn.xclient[1], c2, "two.test")
        # Nothing of the first client may survive: every attribute is set again.
        self.assertEqual(conn.xclient[1].get("LOGIN"), "[UNAVAILABLE]", conn.xclient[1])
        cmds = conn.commands
        x2 = [i for i, c in enumerate(cmds) if c.startswith("XCLIENT")][1]
        self.assertEqual(cmds[x2 + 1], "EHLO two.test", cmds)
        self.assertEqual(cmds[x2 + 2], "MAIL FROM:<alice@example.org>", cmds)
        # No QUIT between the sessions, both messages on the one connection.
        self.assertNotIn("QUIT", conn.verbs())
        self.assertEqual(len(conn.messages), 2)
        for m, helo in zip(conn.messages, ("one.test", "two.test")):
            self.assertEqual(split_received(m.raw, helo=helo, rcpt="bob@example.com")[1], CONTENT)

    def test_helo_client_reused(self):
        """A HELO client on a reused connection: PROTO=SMTP and HELO again."""
        fb = self.backend()
        self.start(fb)
        self.kept_session("one.test", 1)
        c2 = self.kept_session("two.test", 2, ehlo=False)
        conn = fb.relayed()[0]
        self.assertEqual(len(fb.relayed()), 1)
        self.assertXclient(conn.xclient[1], c2, "two.test", proto="SMTP")
        self.assertIn("HELO two.test", conn.commands)

    def test_without_xclient_ehlo_again(self):
        """xclient = no: sluice's own EHLO again (proves the connection alive)."""
        fb = self.backend()
        self.start(fb, xclient="no")
        self.kept_session("one.test", 1)
        self.kept_session("two.test", 2)
        self.assertEqual(len(fb.relayed()), 1)
        conn = fb.relayed()[0]
        self.assertNotIn("XCLIENT", conn.verbs())
        self.assertEqual(conn.commands.count("EHLO sluice.test"), 2, conn.commands)
        self.assertEqual(len(conn.messages), 2)

    def test_pool_off(self):
        fb = self.backend()
        self.start(fb, backend_pool=0)
        self.session("one.test")
        fb.wait_for(lambda: fb.relayed() and fb.relayed()[0].has("QUIT"), 5,
                    "QUIT right after the client left")
        self.session("two.test")
        fb.wait_for(lambda: len(fb.relayed()) == 2, 5, "a second backend connection")
        self.assertNotIn(KEPT, self.log)
        for conn in fb.relayed():
            self.assertEqual(len(conn.xclient), 1, conn.commands)
            self.assertEqual(len(conn.messages), 1)

    def test_reuse_bound(self):
        """One connection serves at most 100 sessions, then gets QUIT."""
        fb = self.backend()
        self.start(fb)
        for i in range(100):
            c, final = self.session("c%d.test" % i)
            self.assertEqual(final[0], 250, final)
        self.wait_log("served 100 sessions")
        fb.wait_for(lambda: fb.relayed()[0].has("QUIT"), 5, "QUIT after 100 sessions")
        self.assertEqual(len(fb.relayed()), 1)
        self.assertEqual(len(fb.relayed()[0].messages), 100)
        self.session("last.test")
        self.assertEqual(len(fb.relayed()), 2)


class TestNotReused(PoolCase):
    def test_disconnect_after_mail(self):
        fb = self.backend()
        self.start(fb)
        c = self.ehlo_client("one.test")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.close()
        self.wait_log("not keeping the connection")
        self.assertIn("transaction open", self.log)
        fb.wait_for(lambda: fb.relayed()[0].done.is_set(), 5, "the connection closed")
        self.session("two.test")
        self.assertEqual(len(fb.relayed()), 2)
        self.assertEqual(len(fb.relayed()[1].messages), 1)
        self.assertEqual(fb.relayed()[0].messages, [])

    def test_disconnect_during_data(self):
        fb = self.backend()
        self.start(fb)
        c = self.ehlo_client("one.test")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(b"Subject: half\r\n\r\nhalf a mess")
        time.sleep(0.2)
        c.close()
        self.wait_log("not keeping the connection")
        fb.wait_for(lambda: fb.relayed()[0].done.is_set(), 5, "the connection closed")
        self.session("two.test")
        self.assertEqual(len(fb.relayed()), 2)
        self.assertEqual(fb.relayed()[0].messages, [])
        self.assertEqual(len(fb.relayed()[1].messages), 1)

    def test_error_reply_not_reused(self):
        """Postfix counts 4xx/5xx per connection: the next client must not inherit them."""
        fb = self.backend(rcpt_replies={"nobody@example.com": "550 5.1.1 <nobody@example.com>: unknown"})
        self.start(fb)
        c = self.ehlo_client("one.test")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<nobody@example.com>")
        c.expect("550 5.1.1")
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect(354)
        c.send(CONTENT + b".\r\n")
        c.expect(250)
        c.line("QUIT")
        c.expect(221)
        self.wait_log("answered 4xx/5xx on it")
        self.session("two.test")
        self.assertEqual(len(fb.relayed()), 2)

    def test_rset_not_reused(self):
        """RSET is a junk command to Postfix (smtpd_junk_command_limit)."""
        fb = self.backend()
        self.start(fb)
        c = self.ehlo_client("one.test")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RSET")
        c.expect(250)
        c.line("MAIL FROM:<alice@example.org>")   # sluice sends RSET first
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect(354)
        c.send(CONTENT + b".\r\n")
        c.expect(250)
        c.line("QUIT")
        c.expect(221)
        self.wait_log("RSET was sent on it")
        self.session("two.test")
        self.assertEqual(len(fb.relayed()), 2)


class TestIdle(PoolCase):
    def test_backend_closes_idle_connection(self):
        fb = self.backend()
        self.start(fb)
        self.kept_session("one.test", 1)
        fb.relayed()[0].close_now()
        self.wait_log("closed by the backend")
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertEqual(len(fb.relayed()), 2)
        self.assertEqual(len(fb.relayed()[1].messages), 1)
        self.assertXclient(fb.relayed()[1].xclient[0], c2, "two.test")

    def test_backend_421_while_idle(self):
        """Postfix's own idle timeout: "421 ... timeout exceeded", then close."""
        fb = self.backend()
        self.start(fb)
        self.kept_session("one.test", 1)
        fb.relayed()[0].close_now("421 4.4.2 backend.test Error: timeout exceeded")
        self.wait_log("pool: dropped the idle connection")
        self.assertRegex(self.log, r'the backend said "421 4\.4\.2')
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertEqual(len(fb.relayed()), 2)

    def test_idle_timeout_quit(self):
        fb = self.backend()
        self.start(fb, backend_idle_timeout="1s")
        self.kept_session("one.test", 1)
        t0 = time.monotonic()
        conn = fb.relayed()[0]
        fb.wait_for(lambda: conn.has("QUIT"), 5, "QUIT after backend_idle_timeout")
        self.assertGreater(time.monotonic() - t0, 0.5, "QUIT came before the idle timeout")
        self.wait_log("unused for 1000 ms")
        c2, final = self.session("two.test")
        self.assertEqual(len(fb.relayed()), 2)


class TestReidentifyFails(PoolCase):
    def test_xclient_421_falls_back(self):
        """421 to the second XCLIENT: a new connection, and the client never knows."""
        fb = self.backend(nth_replies={"XCLIENT": {2: "421 4.3.2 backend.test busy"}})
        self.start(fb)
        self.kept_session("one.test", 1)
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertIn("pool: reused connection to", self.log)
        relayed = fb.relayed()
        self.assertEqual(len(relayed), 2, relayed)
        self.assertEqual(len(relayed[0].messages), 1)
        self.assertEqual(len(relayed[1].messages), 1)
        self.assertXclient(relayed[1].xclient[0], c2, "two.test")
        # Not the backend's fault: it is not marked down.
        self.assertNotRegex(self.log, r"backend \S+ failed:")
        # A 421 says nothing about the next reuse: the new connection is kept.
        self.wait_log(KEPT, 2)

    def test_xclient_closed_falls_back(self):
        fb = self.backend(nth_replies={"XCLIENT": {2: "CLOSE"}})
        self.start(fb)
        self.kept_session("one.test", 1)
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertEqual(len(fb.relayed()), 2)
        self.assertEqual(len(fb.relayed()[1].messages), 1)

    def test_ehlo_after_xclient_refused_falls_back(self):
        fb = self.backend(nth_replies={"EHLO": {2: "421 4.3.2 busy"}})
        self.start(fb)
        self.kept_session("one.test", 1)
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertEqual(len(fb.relayed()), 2)

    def test_xclient_timeout_falls_back(self):
        """A silent reused connection is given up after backend_timeout_connect,
        not backend_timeout_command."""
        fb = self.backend(nth_delays={"XCLIENT": {2: 4.0}})
        self.start(fb, backend_timeout_connect="1s", backend_timeout_command="30s")
        self.kept_session("one.test", 1)
        t0 = time.monotonic()
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertLess(time.monotonic() - t0, 3.5, "the client waited for the silent connection")
        self.assertRegex(self.log, r"pool: reused connection to \S+ failed: timeout")
        self.assertEqual(len(fb.relayed()), 2)
        self.assertEqual(len(fb.relayed()[1].messages), 1)

    def test_xclient_550_stops_pooling(self):
        """Postfix checks smtpd_authorized_xclient_hosts against the previous
        client: once refused, connections to that backend are not kept."""
        fb = self.backend(nth_replies={"XCLIENT": {2: "550 5.7.0 Error: insufficient authorization"}})
        self.start(fb)
        self.kept_session("one.test", 1)
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        log = self.wait_log("backend marked down or refuses reuse")
        self.assertRegex(log, r"warning -: backend \S+ refused XCLIENT on a reused connection")
        self.assertNotRegex(log, r"backend \S+ failed:")
        c3, final = self.session("three.test")
        self.assertEqual(final[0], 250, final)
        self.assertEqual(len(fb.relayed()), 3)
        self.assertEqual([len(c.messages) for c in fb.relayed()], [1, 1, 1])


class TestBackendDown(PoolCase):
    def test_idle_connection_to_down_backend_not_used(self):
        a = self.backend()
        b = self.backend()
        self.start([a, b], backend_probe_interval="1s", backend_retry="60s")
        self.kept_session("one.test", 1)
        self.assertEqual(len(a.relayed()), 1)
        # From now on a greets with 421: the next probe marks it down.
        a.knobs["greeting"] = "421 4.3.2 backend.test going down"
        self.wait_log("skipping it for", 1, timeout=8)
        c2, final = self.session("two.test")
        self.assertEqual(final[0], 250, final)
        self.assertEqual(len(b.relayed()), 1)
        self.assertEqual(len(b.relayed()[0].messages), 1)
        conn = a.relayed()[0]
        self.assertEqual(len(conn.xclient), 1, "the idle connection to the down backend was used")
        a.wait_for(lambda: conn.has("QUIT"), 5, "QUIT on the idle connection to the down backend")

    def test_connection_to_down_backend_not_kept(self):
        a = self.backend()
        b = self.backend()
        self.start([a, b], backend_probe_interval="1s", backend_retry="60s")
        c, final = self.session("one.test", quit=False)
        self.assertEqual(final[0], 250, final)
        a.knobs["greeting"] = "421 4.3.2 backend.test going down"
        self.wait_log("skipping it for", 1, timeout=8)
        c.line("QUIT")
        c.expect(221)
        self.wait_log("backend marked down or refuses reuse")
        self.assertNotIn(KEPT, self.log)
        conn = a.relayed()[0]
        a.wait_for(lambda: conn.has("QUIT"), 5, "QUIT when the client left")


class TestShutdown(PoolCase):
    def test_sigterm_quits_idle_connections(self):
        fb = self.backend()
        self.start(fb)
        self.kept_session("one.test", 1)
        conn = fb.relayed()[0]
        self.assertFalse(conn.has("QUIT"))
        status = self.daemon.stop()
        self.assertEqual(status, 0, self.daemon.log[-4000:])
        fb.wait_for(lambda: conn.has("QUIT"), 5, "QUIT at shutdown")
        self.assertIn("shutting down", self.daemon.log)

    def test_sigterm_with_busy_and_idle(self):
        """One idle, one in a session: both get QUIT, exit 0."""
        fb = self.backend()
        self.start(fb)
        self.kept_session("one.test", 1)
        c = self.ehlo_client("two.test")   # takes the idle one
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RSET")
        c.expect(250)
        c3 = self.ehlo_client("three.test")
        self.kept_session("four.test", 2)   # a new connection, kept
        self.assertEqual(len(fb.relayed()), 2)
        self.daemon.signal(15)
        # The idle client c3 gets 421 and the busy one too; all QUIT at the backend.
        c3.expect("421 4.3.2")
        status = self.daemon.wait()
        self.assertEqual(status, 0, self.daemon.log[-4000:])
        for conn in fb.relayed():
            fb.wait_for(lambda: conn.has("QUIT"), 5, "QUIT on every backend connection")


if __name__ == "__main__":
    tap.main()
