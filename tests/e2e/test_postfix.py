#!/usr/bin/env python3
"""test_postfix.py - end to end: swaks / smtp-source -> sluiced -> a real Postfix.

One private Postfix (tests/lib/postfix.py) and one sluiced in front of it are
shared by the tests of this file; each test waits until Postfix's queue is
empty, then empties the capture directory, so it sees only its own mail.
Postfix delivers every accepted message to a file; mail to @example.com is
accepted, any other domain is refused at RCPT ("554 5.7.1 ... Relay access
denied").

A captured message is: Postfix's own Received header, then sluice's Received
header, then exactly the message the client sent (LF line ends: that is how
Postfix's pipe(8) writes it; dot-stuffing undone).

Needs root (Postfix's master), postfix, swaks, smtp-source, and $SLUICED.
Run: PYTHONPATH=tests/lib SLUICED=./sluiced python3 tests/e2e/test_postfix.py
"""

import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from postfix import Postfix, strip_trace_headers  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
HELO = "client.example"
SENDER = "sender@example.org"
RCPT = "rcpt@example.com"

# sluice's trace header, unfolded: "Received: from ... by sluice.test (sluice) ..."
SLUICE_RECEIVED = re.compile(rb"^Received:.*\bby sluice\.test \(sluice\)", re.I | re.S)


def unfold(header):
    return re.sub(rb"\r?\n[ \t]+", b" ", header).rstrip(b"\r\n")


def sluice_received(trace):
    return [h for h in trace if SLUICE_RECEIVED.match(unfold(h))]


def postfix_received(trace):
    return [h for h in trace if re.match(rb"^Received:.*\bby backend\.test \(Postfix\)",
                                         unfold(h), re.S)]


def count_sluice_received(msg):
    """sluice Received headers anywhere in the header section."""
    head = msg.split(b"\n\n", 1)[0]
    fields = re.split(rb"\n(?![ \t])", head)
    return sum(1 for f in fields if SLUICE_RECEIVED.match(unfold(f)))


def as_delivered(data):
    """What Postfix's pipe writes for a message sent as `data`: LF line ends."""
    return data.replace(b"\r\n", b"\n")


def swaks(port, *args, timeout=120):
    """Run swaks against 127.0.0.1:port; (returncode, transcript)."""
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--ehlo", HELO,
           "--timeout", "60", *args]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def send_file(tmp, port, data, rcpt, *extra):
    """swaks --data @file. swaks sends the file, then "\r\n.\r\n" (after
    turning LF into CRLF and dot-stuffing): so the file holds the message
    without its last CRLF, and what goes on the wire is exactly `data`."""
    assert data.endswith(b"\r\n")
    path = os.path.join(tmp, "data-%d.eml" % time.monotonic_ns())
    with open(path, "wb") as f:
        f.write(data[:-2])
    try:
        return swaks(port, "--from", SENDER, "--to", rcpt, "--data", "@" + path, *extra)
    finally:
        os.unlink(path)


def make_message(subject, body_lines):
    """A complete message (CRLF), headers chosen by the test so the bytes are known.
    No '%' anywhere: swaks expands %TOKENS% in --data."""
    head = [
        f"From: Sender <{SENDER}>",
        f"To: Rcpt <{RCPT}>",
        f"Subject: {subject}",
        "Date: Mon, 02 Mar 2026 10:00:00 +0000",
        f"Message-ID: <{subject}@client.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "X-Folded: first part",
        "\tsecond part",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body_lines) + "\r\n").encode()


def tricky_body():
    # Lines that must survive dot-stuffing on both hops, and spacing that
    # must not be touched.
    return [
        "Hello,",
        "",
        ".a line starting with a dot",
        "..two dots",
        ".",
        " . a dot after a space",
        "trailing spaces   ",
        "\ttab at the start",
        "From the start of a line (no mbox quoting expected)",
        "",
        "end.",
    ]


def big_body(octets):
    """About `octets` of varied printable text in 76-column lines, some starting
    with a dot, deterministic."""
    rnd = random.Random(20260302)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/()"
    lines, size, n = [], 0, 0
    while size < octets:
        n += 1
        line = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 76)))
        if n % 97 == 0:
            line = "." + line[1:]
        line = line.rstrip(" ")  # keep it simple: no trailing blanks in the bulk
        lines.append(line)
        size += len(line) + 2
    return lines


class PostfixE2E(unittest.TestCase):
    pf = None
    sluiced = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-")
        cls.pf = Postfix()
        cls.pf.start()
        try:
            cls.sluiced, cls.port = start_sluiced(cls.tmp, cls.pf.port)
        except BaseException:
            cls.pf.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sluiced is not None:
                cls.sluiced.stop()
        finally:
            if cls.pf is not None:
                cls.pf.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        # Let the previous test's deliveries finish, then start from empty.
        self.pf.fresh()

    def diag(self):
        """Logs for a failure message."""
        return self.pf.diag(sluiced_log(self.sluiced), lines=40)

    def send_data(self, data, *extra, rcpt=RCPT, port=None):
        """Send a complete message (bytes ending in CRLF) with swaks, through
        sluiced unless port says otherwise."""
        return send_file(self.tmp, port or self.port, data, rcpt, *extra)

    def one_message(self, timeout=60):
        msgs = self.pf.messages(count=1, timeout=timeout, settle=1.0)
        self.assertEqual(len(msgs), 1, "want exactly 1 captured message, got %d%s"
                         % (len(msgs), self.diag()))
        return msgs[0]

    def assert_intact(self, got, sent):
        """got = captured message; sent = the bytes given to swaks."""
        self.assertNotIn(b"\r", got, "pipe(8) writes LF; a CR means a stray CR was relayed")
        trace, rest = strip_trace_headers(got)
        self.assertEqual(len(sluice_received(trace)), 1,
                         "want exactly one sluice Received header among the trace headers, got:\n"
                         + b"".join(trace).decode(errors="replace"))
        self.assertEqual(count_sluice_received(got), 1, "sluice Received header not exactly once")
        self.assertEqual(len(postfix_received(trace)), 1, "Postfix's own Received header missing")
        # Order: Postfix prepends its header above sluice's.
        self.assertTrue(postfix_received(trace[:1]), "topmost header is not Postfix's Received")
        want = as_delivered(sent)
        if rest != want:
            # Say where they differ instead of dumping megabytes.
            i = next((k for k in range(min(len(rest), len(want))) if rest[k] != want[k]),
                     min(len(rest), len(want)))
            self.fail("content differs at octet %d (got %d octets, want %d):\n got: %r\nwant: %r"
                      % (i, len(rest), len(want), rest[max(0, i - 60):i + 60],
                         want[max(0, i - 60):i + 60]))

    # -- (0) control: the harness itself, without sluice -------------------

    def test_0_control_direct_to_postfix(self):
        """Same comparison as test_a, straight to Postfix: if this fails, the
        harness is wrong, not sluice."""
        data = make_message("e2e-control", tricky_body())
        rc, out = self.send_data(data, port=self.pf.port)
        self.assertEqual(rc, 0, out)
        got = self.one_message()
        trace, rest = strip_trace_headers(got)
        self.assertEqual(len(postfix_received(trace)), 1, got)
        self.assertEqual(rest, as_delivered(data))

    # -- (a) a message arrives byte for byte ------------------------------

    def test_a_message_intact(self):
        data = make_message("e2e-intact", tricky_body())
        rc, out = self.send_data(data)
        self.assertEqual(rc, 0, out + self.diag())
        self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]+",
                         "the client's 250 must be Postfix's own 250")
        got = self.one_message()
        self.assert_intact(got, data)
        # sluice's header in full, as the dialogue tests expect it (CRLF there).
        hdr = sluice_received(strip_trace_headers(got)[0])[0].replace(b"\n", b"\r\n")
        self.assertTrue(any(sluicetest.received_re(helo=HELO, rcpt=r).match(hdr)
                            for r in (RCPT, None)),
                        "sluice Received header has an unexpected form: %r" % hdr)

    # -- (b) XCLIENT: Postfix sees the client's HELO, not sluice's ----------

    def test_b_xclient_helo(self):
        data = make_message("e2e-xclient", ["xclient test"])
        rc, out = self.send_data(data)
        self.assertEqual(rc, 0, out + self.diag())
        got = self.one_message()
        trace, _ = strip_trace_headers(got)
        top = unfold(postfix_received(trace)[0]).decode(errors="replace")
        # Without XCLIENT this would read "from sluice.test (localhost [127.0.0.1])".
        self.assertRegex(top, r"^Received: from client\.example \(\S+ \[127\.0\.0\.1\]\)",
                         "Postfix's Received header does not show the client's HELO")
        # The same seen in Postfix's log: header_checks WARN logs the client
        # Postfix believes in, with its HELO and protocol.
        m = self.pf.wait_log(r"warning: header Subject: e2e-xclient from \S+\[127\.0\.0\.1\];"
                             r" from=<sender@example\.org> to=<rcpt@example\.com>"
                             r" proto=ESMTP helo=<client\.example>")
        self.assertIsNotNone(m, "no header_checks line with helo=<client.example>" + self.diag())
        # And sluice did use XCLIENT: smtpd counts it in the disconnect line.
        # (logged when sluice closes its backend connection, after the client's QUIT)
        self.assertIsNotNone(self.pf.wait_log(r"disconnect from \S+\[127\.0\.0\.1\].* xclient="),
                             "Postfix saw no XCLIENT command" + self.diag())

    # -- (c) 50 messages from smtp-source, exactly 50 arrive ----------------

    def test_c_smtp_source_50(self):
        n = 50
        r = subprocess.run([SMTP_SOURCE, "-4", "-c", "-l", "1024", "-m", str(n), "-s", "5",
                            "-M", HELO, "-f", SENDER, "-t", RCPT, "127.0.0.1:%d" % self.port],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
        self.assertEqual(r.returncode, 0, "smtp-source failed: %r %r%s"
                         % (r.stdout[-500:], r.stderr[-500:], self.diag()))
        msgs = self.pf.messages(count=n, timeout=120, settle=0.5)
        # Nothing more may come: wait for an empty queue and a little longer.
        deadline = time.monotonic() + 30
        while not self.pf.queue_empty() and time.monotonic() < deadline:
            time.sleep(0.1)
        msgs = self.pf.messages(count=0, settle=2.0)
        self.assertEqual(len(msgs), n, "want exactly %d messages, got %d%s"
                         % (n, len(msgs), self.diag()))
        for i, m in enumerate(msgs):
            self.assertEqual(count_sluice_received(m), 1,
                             "message %d lacks exactly one sluice Received header:\n%s"
                             % (i, m[:600].decode(errors="replace")))
            self.assertTrue(postfix_received(strip_trace_headers(m)[0]), "message %d" % i)
        # All distinct messages (smtp-source numbers nothing, but Postfix
        # queue ids in the top Received header are unique per message).
        ids = {re.search(rb"by backend\.test \(Postfix\) with \S+ id ([0-9A-F]+)",
                         unfold(m)).group(1) for m in msgs}
        self.assertEqual(len(ids), n, "duplicate deliveries")

    # -- (d) Postfix's own RCPT reject reaches the client -------------------

    def test_d_rcpt_reject_passthrough(self):
        bad = "nobody@not-relayed.test"
        data = make_message("e2e-reject", ["should never arrive"])
        rc, out = self.send_data(data, rcpt=bad)
        self.assertNotEqual(rc, 0, out)
        # swaks marks a failed reply with "<**".
        self.assertIn("<** 554 5.7.1 <nobody@not-relayed.test>: Relay access denied", out,
                      "the client must see Postfix's own reply text" + self.diag())
        self.assertIsNotNone(self.pf.wait_log(
            r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 554 5\.7\.1 <nobody@not-relayed\.test>"),
            "Postfix did not log the reject" + self.diag())
        msgs = self.pf.messages(count=0, settle=3.0)
        self.assertEqual(msgs, [], "a rejected message was delivered")

    # -- (e) 5 MB arrives intact ---------------------------------------------

    def test_e_5mb_intact(self):
        data = make_message("e2e-5mb", big_body(5 * 1024 * 1024))
        self.assertGreater(len(data), 5 * 1024 * 1024)
        rc, out = self.send_data(data, "--silent", "2")  # don't echo 5 MB into the transcript
        self.assertEqual(rc, 0, out[-2000:] + self.diag())
        got = self.one_message(timeout=120)
        trace, rest = strip_trace_headers(got)
        self.assertEqual(hashlib.sha256(rest).hexdigest(),
                         hashlib.sha256(as_delivered(data)).hexdigest(),
                         "5 MB message changed in transit (%d octets received, %d sent)"
                         % (len(rest), len(as_delivered(data))))
        self.assert_intact(got, data)

    # -- last: sluiced stops cleanly after all that ---------------------------

    def test_z_sluiced_exits_cleanly(self):
        """SIGTERM: exit status 0 (under ASan, a leak makes it non-zero)."""
        s, type(self).sluiced = self.sluiced, None
        rc = s.stop()
        self.assertEqual(rc, 0, "sluiced exit status %r; log tail:\n%s"
                         % (rc, "\n".join(sluiced_log(s).splitlines()[-30:])))


# -- sluiced, through the shared helpers (tests/lib/sluicetest.py) ----------

def start_sluiced(tmp, backend_port):
    """Start sluiced in front of the Postfix on backend_port; (handle, port).
    As everywhere in the tests: SLUICED unset is a failure, not a skip."""
    s = sluicetest.Sluiced(
        tmp,
        backend="127.0.0.1:%d" % backend_port,
        hostname="sluice.test",
        workers=2,
        max_message_size="20M",
        log_level="info",
    )
    return s, s.port


def sluiced_log(s):
    try:
        return s.log if s is not None else ""
    except Exception as e:  # diagnostics must never mask the real failure
        return "(no log: %s)" % e


if __name__ == "__main__":
    tap.main()
