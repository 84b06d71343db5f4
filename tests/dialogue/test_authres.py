"""Authentication-Results (RFC 8601) in the core, and the two host services the
sender-authentication filters lean on (ABI version 2), against the fake backend:

- a received Authentication-Results field naming our authserv-id is removed
  before any filter sees it (RFC 8601 section 5); one naming another id stays;
- sluice writes one Authentication-Results field from the filters'
  "auth-results." notes, clauses in the order the notes were set, and none when
  no filter left a result or authserv_id = none;
- dns_query_wait answers a work function from the loop's resolver
  (dns_local_data) and times out by itself (proxy/host_wait.c);
- message_read gives the message as it will leave, edits included
  (proxy/host_wait.c).

The filters are tests/stubs/stub_probe.c and the rules filter, loaded from
BUILDDIR (exported by make check)."""

import os
import re
import socket

import tap
from sluicetest import HOST, SluiceTestCase, built_module, split_received

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]
AUTHSERV = "mx.sluice.test"
FORGED = b"Authentication-Results: mx.sluice.test; spf=pass smtp.mailfrom=example.org\r\n"
FOREIGN = b"Authentication-Results: mx.elsewhere.example; dkim=pass header.d=example.org\r\n"


def probe_module():
    return built_module("tests", "stubs", ".libs", "stub_probe.so")


def rules_module():
    return built_module("filters", "rules", ".libs", "rules.so")


class AuthresCase(SluiceTestCase):
    def send(self, content, fb):
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(content + b".\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        return fb.wait_messages(1)[0].raw

    def probes(self, probes, fb, **keys):
        return self.start_with_filters(
            [(n, dict({"module": probe_module()}, **conf)) for n, conf in probes], fb, **keys)


class TestForged(AuthresCase):
    def test_ours_removed_foreign_kept_without_filters(self):
        """With no filter loaded, the field naming our id is gone at the backend;
        the one naming another id arrives unchanged."""
        fb = self.backend()
        self.start(fb, authserv_id=AUTHSERV)
        content = FORGED + FOREIGN + b"Subject: x\r\n\r\nbody\r\n"
        raw = self.send(content, fb)
        rest = split_received(raw, rcpt="bob@example.com")[1]
        self.assertEqual(rest, FOREIGN + b"Subject: x\r\n\r\nbody\r\n")
        self.assertIn("removed 1 Authentication-Results field naming our authserv-id", self.log)

    def test_id_forms(self):
        """Case, comments, a quoted id and a version after the id are all ours;
        a longer name that starts with our id is not."""
        fb = self.backend()
        self.start(fb, authserv_id=AUTHSERV)
        ours = [b"Authentication-Results: MX.Sluice.Test; none\r\n",
                b"Authentication-Results: (c) mx.sluice.test 1; spf=pass\r\n",
                b"Authentication-Results: \"mx.sluice.test\"; none\r\n",
                b"Authentication-Results:\r\n\tmx.sluice.test;\r\n\tdkim=pass\r\n"]
        other = b"Authentication-Results: mx.sluice.test.evil.example; none\r\n"
        content = b"".join(ours) + other + b"\r\nbody\r\n"
        raw = self.send(content, fb)
        rest = split_received(raw, rcpt="bob@example.com")[1]
        self.assertEqual(rest, other + b"\r\nbody\r\n")

    def test_filter_never_sees_it(self):
        """A rules filter rejecting any message with our id in an
        Authentication-Results field does not fire: the field is gone first."""
        fb = self.backend()
        self.start_with_filters([("rules", {
            "module": rules_module(),
            "rule10": 'header Authentication-Results "^mx\\.sluice\\.test" '
                      'reject "550 5.7.1 saw the forged field"'})], fb, authserv_id=AUTHSERV)
        raw = self.send(FORGED + b"Subject: y\r\n\r\nbody\r\n", fb)
        self.assertNotIn(b"mx.sluice.test; spf=pass", raw)

    def test_none_keeps_everything(self):
        """authserv_id = none: nothing is removed."""
        fb = self.backend()
        self.start(fb, authserv_id="none")
        raw = self.send(FORGED + b"\r\nbody\r\n", fb)
        self.assertEqual(split_received(raw, rcpt="bob@example.com")[1], FORGED + b"\r\nbody\r\n")


class TestWritten(AuthresCase):
    def test_one_field_in_note_order(self):
        """Two filters each leave a result; one field carries both, first note
        first, each clause on its own folded line, above sluice's Received."""
        fb = self.backend()
        self.probes([("p1", {"at": "mail", "note_set": "auth-results.spf=spf=pass smtp.mailfrom=example.org"}),
                     ("p2", {"at": "eom", "note_set": "auth-results.dkim=dkim=pass header.d=example.org; "
                                                     "dkim=fail header.d=other.example"})],
                    fb, authserv_id=AUTHSERV)
        raw = self.send(b"Subject: z\r\n\r\nbody\r\n", fb)
        want = (b"Authentication-Results: mx.sluice.test;\r\n"
                b"\tspf=pass smtp.mailfrom=example.org;\r\n"
                b"\tdkim=pass header.d=example.org;\r\n"
                b"\tdkim=fail header.d=other.example\r\n")
        self.assertTrue(raw.startswith(want), raw[:400])
        rest = split_received(raw[len(want):], rcpt="bob@example.com")[1]
        self.assertEqual(rest, b"Subject: z\r\n\r\nbody\r\n")

    def test_no_result_no_field(self):
        fb = self.backend()
        self.probes([("p1", {"at": "mail", "note_set": "other.note=x"})], fb, authserv_id=AUTHSERV)
        raw = self.send(b"Subject: z\r\n\r\nbody\r\n", fb)
        self.assertNotIn(b"Authentication-Results", raw)

    def test_authserv_none_writes_nothing(self):
        fb = self.backend()
        self.probes([("p1", {"at": "mail", "note_set": "auth-results.spf=spf=pass"})], fb,
                    authserv_id="none")
        raw = self.send(b"Subject: z\r\n\r\nbody\r\n", fb)
        self.assertNotIn(b"Authentication-Results", raw)

    def test_default_id_is_hostname(self):
        fb = self.backend()
        self.probes([("p1", {"at": "mail", "note_set": "auth-results.spf=spf=none"})], fb)
        raw = self.send(b"Subject: z\r\n\r\nbody\r\n", fb)
        want = b"Authentication-Results: %s;\r\n\tspf=none\r\n" % HOST.encode()
        self.assertTrue(raw.startswith(want), raw[:200])


class TestServices(AuthresCase):
    def test_dns_query_wait(self):
        """A work function's waited lookups: a local-data name answers, a name
        the silent server is asked for times out after dns_timeout."""
        zone = os.path.join(self.tmp, "local.zone")
        with open(zone, "w") as f:
            f.write('wait.example.org. 300 IN A 192.0.2.44\n')
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # bound, never answers
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        fb = self.backend()
        self.probes([("p1", {"at": "mail", "work": "yes", "work_dns": "wait.example.org A"}),
                     ("p2", {"at": "rcpt", "work": "yes", "work_dns": "gone.example.org TXT"})],
                    fb, dns_local_data=zone, dns="127.0.0.1:%d" % silent.getsockname()[1],
                    dns_timeout="500ms")
        raw = self.send(b"Subject: w\r\n\r\nbody\r\n", fb)
        self.assertTrue(re.match(rb"X-Probe-Work: ok 192\.0\.2\.44\r\nX-Probe-Work: timeout\r\n", raw),
                        raw[:300])

    def test_message_read_sees_edits(self):
        """p1 adds a header and changes Subject; p2 reads the message at eom.
        What it read is what the backend got, less the lines added after it
        (its own X-Probe-Read and sluice's Received) and the stuffed dot."""
        fb = self.backend()
        self.probes([("p1", {"at": "eom", "header_add": "X-First: one",
                             "header_change": "Subject 1 changed"}),
                     ("p2", {"at": "eom", "message_read": "yes"})], fb)
        content = b"Subject: original\r\nFrom: a@example.org\r\n\r\nline 1\r\n..dotted\r\n"
        raw = self.send(content, fb)
        m = re.match(rb"X-First: one\r\nX-Probe-Read: (\d+)\r\n", raw)
        self.assertTrue(m, raw[:300])
        rest = split_received(raw[m.end():], rcpt="bob@example.com")[1]
        # On the wire the body is dot-stuffed; message_read gives it unstuffed.
        self.assertEqual(rest, b"Subject: changed\r\nFrom: a@example.org\r\n\r\nline 1\r\n..dotted\r\n")
        self.assertEqual(int(m.group(1)), len(b"X-First: one\r\n") + len(rest) - 1)


if __name__ == "__main__":
    tap.main()
