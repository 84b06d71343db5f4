"""The filter chain against the fake backend, driven by the configurable test
filter tests/stubs/stub_probe.c ([filter NAME] sections with module = its .so):
verdict merge, pending and resume (late ones too), timeouts and on_error, dry
run, edits seen byte-exact at the backend, notes, DNS from dns_local_data, the
store, the worker pool, discard, quarantine, score and BDAT.

The rules checked are the ones include/sluice/filter.h and host.h document.
BUILDDIR (exported by make check) locates $BUILDDIR/tests/stubs/.libs/stub_probe.so;
unset or missing fails the tests, never skips."""

import os
import re
import socket
import time

import tap
from sluicetest import SluiceTestCase, built_module, split_received

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]
CONTENT = b"Subject: chain\r\nFrom: alice@example.org\r\n\r\nbody line\r\n..dot line\r\n"
REPLY_TEMPFAIL = "451 4.7.1 Service unavailable - try again later"   # proxy/chain.c
REPLY_REJECT = "550 5.7.1 Command rejected"


def probe_module():
    return built_module("tests", "stubs", ".libs", "stub_probe.so")


class ChainCase(SluiceTestCase):
    def start_probes(self, probes, backend=None, **keys):
        """sluiced with one [filter NAME] section per (name, {key: value}) of
        probes, in order, each loading stub_probe.so."""
        return self.start_with_filters(
            [(name, dict({"module": probe_module()}, **conf)) for name, conf in probes],
            backend, **keys)

    def open_data(self, c, envelope=ENVELOPE):
        for line in envelope:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")

    def send_message(self, c, content=CONTENT, envelope=ENVELOPE):
        self.open_data(c, envelope)
        c.send(content + b".\r\n")
        return c.reply()

    def wait_log(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                self.fail("%r never appeared in the log:\n%s" % (text, self.log[-4000:]))
            time.sleep(0.05)

    def after_received(self, raw, rcpt="bob@example.com"):
        return split_received(raw, rcpt=rcpt)[1]

    def commands_from_mail(self, conn):
        cmds = list(conn.commands)
        first = next(i for i, c in enumerate(cmds) if c.upper().startswith("MAIL"))
        return cmds[first:]


class TestMerge(ChainCase):
    def test_first_reject_wins(self):
        """Filters run in order; the first REJECT decides, the later ACCEPT never runs."""
        fb = self.backend()
        self.start_probes([("p1", {"at": "mail", "verdict": "reject",
                                   "reply": "550 5.7.1 first says no"}),
                           ("p2", {"at": "mail", "verdict": "accept"})], fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 first says no"]))
        c.line("NOOP")
        c.expect(250)
        self.assertFalse(any(conn.has("MAIL") for conn in fb.conns()),
                         "a rejected MAIL reached the backend")

    def test_reject_wins_over_quarantine(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "rcpt", "verdict": "quarantine"}),
                           ("p2", {"at": "rcpt", "verdict": "reject",
                                   "reply": "550 5.7.1 second says no"})], fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 second says no"]))
        c.line("NOOP")
        c.expect(250)
        for conn in fb.conns():
            self.assertNotIn("RCPT TO:<bob@example.com>", conn.commands)

    def test_accept_skips_the_rest_of_the_transaction_only(self):
        """ACCEPT at mail: the rejecting filter does not run for that transaction,
        and runs again for the next one."""
        fb = self.backend()
        self.start_probes([("p1", {"at": "mail", "verdict": "accept",
                                   "sender_is": "vip@example.org"}),
                           ("p2", {"at": "rcpt", "verdict": "reject",
                                   "reply": "550 5.7.1 p2 ran"})], fb)
        c = self.client()
        c.ehlo()
        vip = ["MAIL FROM:<vip@example.org>", "RCPT TO:<bob@example.com>"]
        code, lines = self.send_message(c, envelope=vip)
        self.assertEqual(code, 250, lines)
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 p2 ran"]))
        self.assertEqual(len(fb.wait_messages(1)), 1)


class TestPending(ChainCase):
    def test_resume_after_200ms(self):
        self.start_probes([("p1", {"at": "mail", "verdict": "pending", "resume_after_ms": 200,
                                   "resume_verdict": "reject",
                                   "reply": "550 5.7.1 resumed no"})])
        c = self.client()
        c.ehlo()
        t0 = time.monotonic()
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 resumed no"]))
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)

    def test_resume_continue_delivers(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "rcpt", "verdict": "pending", "resume_after_ms": 200,
                                   "resume_verdict": "continue"})], fb)
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        self.assertRelayed(fb.wait_relayed(), c, ENVELOPE, CONTENT, rcpt="bob@example.com")

    def timeout_case(self, on_error):
        fb = self.backend()
        self.start_probes([("p1", {"at": "mail", "never_resume": "yes", "timeout": "500ms",
                                   "on_error": on_error})], fb)
        c = self.client()
        c.ehlo()
        t0 = time.monotonic()
        c.line("MAIL FROM:<alice@example.org>")
        got = c.reply()
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)
        self.assertIn("no answer within 500 ms", self.log)
        return got

    def test_timeout_tempfail(self):
        self.assertEqual(self.timeout_case("tempfail"), (451, [REPLY_TEMPFAIL]))

    def test_timeout_reject(self):
        self.assertEqual(self.timeout_case("reject"), (550, [REPLY_REJECT]))

    def test_timeout_accept(self):
        code, lines = self.timeout_case("accept")
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.fb.wait_relayed().has("MAIL"))

    def test_late_resume_after_rset(self):
        """The hook times out (on_error accept), RSET ends the transaction; then the
        filter resumes the old token from a session timer: dropped and logged,
        resume answers -1, and the session and sluiced go on."""
        fb = self.backend()
        self.start_probes([("p1", {"at": "rcpt", "late_resume_ms": 1200, "timeout": "300ms",
                                   "on_error": "accept"})], fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("RSET")
        c.expect(250)
        self.wait_log("probe: late resume returned", 5)
        self.assertIn("late or unknown resume", self.log)
        self.assertIn("probe: late resume returned -1", self.log)
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        c.line("QUIT")
        c.expect(221)
        c2 = self.client()
        c2.ehlo()
        code, lines = self.send_message(c2)
        self.assertEqual(code, 250, lines)
        self.assertEqual(len(fb.wait_messages(2)), 2)

    def test_late_resume_after_disconnect(self):
        """The client leaves while the hook is pending; the next session's filter
        resumes the orphaned token: dropped (session gone), logged, harmless."""
        fb = self.backend()
        self.start_probes([("p1", {"at": "rcpt", "late_resume_ms": 60000, "timeout": "1s",
                                   "on_error": "accept"})], fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        time.sleep(0.1)
        c.close()
        self.wait_log("disconnect from", 5)
        c2 = self.client()
        self.wait_log("probe: late resume returned", 5)
        self.assertIn("late or unknown resume", self.log)
        self.assertIn("session gone", self.log)
        self.assertIn("probe: late resume returned -1", self.log)
        c2.ehlo()
        code, lines = self.send_message(c2)
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.daemon.running())

    def test_dry_run(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "rcpt", "verdict": "reject", "dry_run": "yes",
                                   "reply": "550 5.7.1 would say no"})], fb)
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        self.assertIn("(dry run) would reject", self.log)
        self.assertRelayed(fb.wait_relayed(), c, ENVELOPE, CONTENT, rcpt="bob@example.com")

    def test_invalid_verdict_is_on_error(self):
        self.start_probes([("p1", {"at": "mail", "verdict": "invalid", "on_error": "reject"}),
                           ("p2", {"at": "rcpt", "verdict": "invalid"})])
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (550, [REPLY_REJECT]))
        self.assertIn("invalid verdict", self.log)


class TestEdits(ChainCase):
    def test_header_and_body_edits_byte_exact(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "eom", "header_add": "X-Probe-Top: on top",
                                   "header_insert": "0 X-Probe-Ins: inserted",
                                   "header_change": "Subject 1 changed subject",
                                   "header_delete": "X-Old 1",
                                   "body_replace": r"new body\nline two\n"})], fb)
        c = self.client()
        c.ehlo()
        content = (b"Subject: original\r\nX-Old: gone\r\nFrom: alice@example.org\r\n\r\n"
                   b"body line\r\n")
        code, lines = self.send_message(c, content)
        self.assertEqual(code, 250, lines)
        raw = fb.wait_messages(1)[0].raw
        top = b"X-Probe-Top: on top\r\n"
        self.assertTrue(raw.startswith(top), "header_add is not on top: %r" % raw[:300])
        self.assertEqual(self.after_received(raw[len(top):]),
                         b"X-Probe-Ins: inserted\r\nSubject: changed subject\r\n"
                         b"From: alice@example.org\r\n\r\nnew body\r\nline two\r\n")

    def test_envelope_edits(self):
        """sender_change, rcpt_add, rcpt_delete: the backend gets RSET, the new
        MAIL FROM, the final RCPT list, then DATA."""
        fb = self.backend()
        self.start_probes([("p1", {"at": "eom", "sender_change": "new@example.net",
                                   "rcpt_add": "carol@example.com",
                                   "rcpt_delete": "bob@example.com"})], fb)
        c = self.client()
        c.ehlo()
        env = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>",
               "RCPT TO:<dave@example.com>"]
        code, lines = self.send_message(c, envelope=env)
        self.assertEqual(code, 250, lines)
        msg = fb.wait_messages(1)[0]
        conn = fb.wait_relayed()
        self.assertEqual(self.commands_from_mail(conn)[:7],
                         env + ["RSET", "MAIL FROM:<new@example.net>",
                                "RCPT TO:<dave@example.com>", "RCPT TO:<carol@example.com>"])
        self.assertEqual(self.commands_from_mail(conn)[7], "DATA")
        self.assertTrue(msg.raw.endswith(CONTENT), msg.raw[-200:])


class TestNotesAndServices(ChainCase):
    def test_note_seen_by_a_later_filter(self):
        self.start_probes([("pa", {"at": "mail", "note_set": "probe.mark=seen"}),
                           ("pb", {"at": "rcpt", "note_expect": "probe.mark=seen"})])
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)

    def test_note_expect_can_fail(self):
        """The control: a value not set is refused with the probe's reply."""
        self.start_probes([("pa", {"at": "mail", "note_set": "probe.mark=seen"}),
                           ("pb", {"at": "rcpt", "note_expect": "probe.mark=other"})])
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        self.assertEqual(c.reply(), (550, ['550 5.7.1 probe: note probe.mark is "seen"']))

    def test_dns_local_data_and_timeout(self):
        """A name in dns_local_data is answered from it; one that is not goes to the
        configured server, a bound UDP socket that never answers (nothing leaves
        the machine), and times out after dns_timeout. (Not under .test: the
        resolver answers that special-use domain NXDOMAIN by itself.)"""
        zone = os.path.join(self.tmp, "local.zone")
        with open(zone, "w") as f:
            f.write('probe.test. 300 IN TXT "hello"\n')
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # bound, never answers
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        fb = self.backend()
        self.start_probes([("p1", {"at": "mail", "dns": "probe.test TXT"}),
                           ("p2", {"at": "rcpt", "dns": "probe-missing.example.org A"})], fb,
                          dns_local_data=zone, dns="127.0.0.1:%d" % silent.getsockname()[1],
                          dns_timeout="500ms")
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        raw = fb.wait_messages(1)[0].raw
        m = re.match(rb"X-Probe-DNS: ok hello\r\nX-Probe-DNS: (timeout)\r\n", raw)
        self.assertTrue(m, "DNS results not at the top: %r" % raw[:300])
        self.assertEqual(self.after_received(raw[m.end():]), CONTENT)

    def test_store_counts_across_sessions_and_work(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "mail", "store_incr": "probe.count", "work": "yes"})], fb)
        for n in (1, 2):
            c = self.client()
            c.ehlo()
            code, lines = self.send_message(c)
            self.assertEqual(code, 250, lines)
            c.line("QUIT")
            c.expect(221)
            raw = fb.wait_messages(n)[n - 1].raw
            head = (b"X-Probe-Count: %d\r\nX-Probe-Work: done in a worker thread\r\n" % n)
            self.assertTrue(raw.startswith(head), "session %d: %r" % (n, raw[:300]))
            self.assertEqual(self.after_received(raw[len(head):]), CONTENT)


class TestOutcomes(ChainCase):
    def test_discard_at_eom(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "eom", "verdict": "discard"})], fb)
        c = self.client()
        c.ehlo()
        for _ in range(2):
            code, lines = self.send_message(c)
            self.assertEqual(code, 250, lines)
            self.assertTrue(lines[0].startswith("250 2.0.0 Ok: queued as"), lines)
        c.line("QUIT")
        c.expect(221)
        conn = fb.wait_relayed()
        conn.done.wait(3)
        cmds = self.commands_from_mail(conn)
        self.assertNotIn("DATA", [x.upper() for x in cmds])
        self.assertEqual(fb.messages(), [])
        self.assertEqual(cmds[:5], ENVELOPE + ["RSET"] + ENVELOPE, cmds)

    def test_quarantine(self):
        fb = self.backend()
        self.start_probes([("quar", {"at": "rcpt", "verdict": "quarantine"})], fb)
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        raw = fb.wait_messages(1)[0].raw
        first = b"X-Sluice-Quarantine: quar\r\n"
        self.assertTrue(raw.startswith(first), raw[:300])
        self.assertEqual(self.after_received(raw[len(first):]), CONTENT)

    def test_quarantine_to_a_mailbox(self):
        """quarantine_rcpt: the message goes to that mailbox only (the backend
        gets RSET, MAIL, the one RCPT, DATA), still with the header."""
        fb = self.backend()
        self.start_probes([("quar", {"at": "rcpt", "verdict": "quarantine"})], fb,
                          quarantine_rcpt="quarantine@example.org")
        c = self.client()
        c.ehlo()
        env = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>",
               "RCPT TO:<dave@example.com>"]
        code, lines = self.send_message(c, envelope=env)
        self.assertEqual(code, 250, lines)
        msg = fb.wait_messages(1)[0]
        conn = fb.wait_relayed()
        self.assertEqual(self.commands_from_mail(conn)[:7],
                         env + ["RSET", "MAIL FROM:<alice@example.org>",
                                "RCPT TO:<quarantine@example.org>", "DATA"])
        self.assertTrue(msg.raw.startswith(b"X-Sluice-Quarantine: quar\r\n"), msg.raw[:200])

    def test_reply_that_does_not_fit_the_verdict(self):
        """A 4xx reply with reject (filter.h: refused): the default 5xx is used."""
        self.start_probes([("p1", {"at": "rcpt", "verdict": "reject",
                                   "reply": "451 4.7.1 not a reject"})])
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 Command rejected"]))
        self.assertIn("does not fit reject", self.daemon.log)

    def test_score_header_sums(self):
        fb = self.backend()
        self.start_probes([("p1", {"at": "mail", "score": "1.5 first"}),
                           ("p2", {"at": "rcpt", "score": "2.25 second"})], fb,
                          score_header="X-Sluice-Score")
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        raw = fb.wait_messages(1)[0].raw
        first = b"X-Sluice-Score: 3.75 (first=1.50, second=2.25)\r\n"
        self.assertTrue(raw.startswith(first), raw[:300])
        self.assertEqual(self.after_received(raw[len(first):]), CONTENT)

    def test_bdat_rejected_at_data_stays_in_sync(self):
        """A reject at data for BDAT: the chunk is read and thrown away (its bytes
        are not taken as commands), one reply, the session goes on."""
        fb = self.backend()
        self.start_probes([("p1", {"at": "data", "verdict": "reject",
                                   "reply": "550 5.7.1 no data today"})], fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        chunk = b"NOOP\r\nNOOP\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        self.assertEqual(c.reply(), (550, ["550 5.7.1 no data today"]))
        c.line("RSET")
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertFalse(c._fill(time.monotonic() + 0.3), "extra bytes: %r" % bytes(c.buf))
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")                       # p1 refuses DATA the same way
        self.assertEqual(c.reply(), (550, ["550 5.7.1 no data today"]))
        c.line("NOOP")
        c.expect(250)
        for conn in fb.conns():
            self.assertFalse(conn.has("BDAT") or conn.has("DATA"), conn.commands)


if __name__ == "__main__":
    tap.main()
