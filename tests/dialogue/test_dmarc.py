"""The dmarc filter against the fake backend, with hermetic DNS.

The chain is [authnotes] [dmarc] [report]: authnotes (tests/stubs/stub_authnotes.c)
leaves the spf.* and dkim.* notes the spf and dkim filters would leave, from its
keys; report (the same stub, later in the chain) copies dmarc.result,
dmarc.policy and auth-results.dmarc into X-Note-* headers, so that the backend
shows what dmarc noted. Policy records come from dns_local_data, under the
special-use name .test, which the resolver answers by itself (no record: NXDOMAIN
without any query); every other name goes to a local UDP responder that answers
SERVFAIL, so nothing leaves the machine and a lookup failure is one query away.

Expected values come from RFC 7489 (alignment 3.1, policy discovery 6.6.3,
sampling 6.6.4, results 11.2), not from the filter's output.

BUILDDIR locates the modules; a missing one fails, never skips."""

import os
import re
import socket
import struct
import threading
import time

import tap
from sluicetest import SluiceTestCase, Sluiced, built_module, free_port, write_config

REPORTED = "dmarc.result dmarc.policy auth-results.dmarc"

# One record per behaviour; the names say what they publish.
ZONE = r"""
_dmarc.reject.test. 300 IN TXT "v=DMARC1; p=reject"
_dmarc.strict.test. 300 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
_dmarc.quarantine.test. 300 IN TXT "v=DMARC1; p=quarantine"
_dmarc.none.test. 300 IN TXT "v=DMARC1; p=none"
_dmarc.parent.test. 300 IN TXT "v=DMARC1; p=none; sp=reject"
_dmarc.pct0.test. 300 IN TXT "v=DMARC1; p=quarantine; pct=0"
_dmarc.pct0reject.test. 300 IN TXT "v=DMARC1; p=reject; pct=0"
_dmarc.pct100.test. 300 IN TXT "v=DMARC1; p=reject; pct=100"
_dmarc.bad.test. 300 IN TXT "v=DMARC1; p=bogus"
_dmarc.badrua.test. 300 IN TXT "v=DMARC1; p=bogus; rua=mailto:reports@badrua.test"
_dmarc.two.test. 300 IN TXT "v=DMARC1; p=reject"
_dmarc.two.test. 300 IN TXT "v=DMARC1; p=none"
_dmarc.spfonly.test. 300 IN TXT "v=spf1 -all"
_dmarc.split.test. 300 IN TXT "v=DMARC1; " "p=reject"
"""


class ServfailResponder:
    """A UDP DNS server on loopback that answers SERVFAIL to every query."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.queries = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if len(data) < 12:
                continue
            qid, flags, qdcount = struct.unpack("!HHH", data[:6])
            end = 12
            while end < len(data) and data[end] != 0:
                end += data[end] + 1
            question = data[12:end + 5] if qdcount == 1 else b""
            self.queries.append(question)
            # QR, the opcode and RD of the query, RA; RCODE 2 = SERVFAIL.
            rflags = 0x8000 | (flags & 0x7900) | 0x0080 | 2
            reply = struct.pack("!HHHHHH", qid, rflags, 1 if question else 0, 0, 0, 0) + question
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def stub_module():
    return built_module("tests", "stubs", ".libs", "stub_authnotes.so")


def dmarc_module():
    return built_module("filters", "dmarc", ".libs", "dmarc.so")


def message(from_field=b"From: <alice@reject.test>\r\n", subject=b"dmarc"):
    return from_field + b"Subject: " + subject + b"\r\n\r\nbody line\r\n"


class DmarcCase(SluiceTestCase):
    def zone(self):
        path = os.path.join(self.tmp, "dmarc.zone")
        with open(path, "w") as f:
            f.write(ZONE)
        return path

    def dns_keys(self):
        resp = ServfailResponder()
        self.addCleanup(resp.stop)
        self.dns = resp
        return {"dns_local_data": self.zone(), "dns": resp.addr, "dns_timeout": "1s"}

    def start_dmarc(self, dmarc=None, auth=None, backend=None, **keys):
        """[authnotes AUTH] [dmarc DMARC] [report]; returns the backend."""
        fb = backend or self.backend()
        conf = self.dns_keys()
        conf.update(keys)
        self.start_with_filters([
            ("authnotes", dict({"module": stub_module()}, **(auth or {}))),
            ("dmarc", dict({"module": dmarc_module()}, **(dmarc or {}))),
            ("report", {"module": stub_module(), "report_notes": REPORTED}),
        ], fb, **conf)
        return fb

    def send(self, content, mail_from="alice@reject.test", c=None):
        """One transaction; returns (code, lines)."""
        if c is None:
            c = self.client()
            c.ehlo()
        c.line("MAIL FROM:<%s>" % mail_from)
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(content + b".\r\n")
        return c.reply(timeout=10)

    def delivered(self, fb, n=1):
        """The n-th message at the backend: (header section as text, notes dict)."""
        raw = fb.wait_messages(n)[n - 1].content
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        notes = dict(re.findall(r"(?m)^X-Note-([^:]+): (.*?)\r?$", head))
        return head, notes

    def assert_notes(self, notes, result, policy, clause):
        self.assertEqual((notes.get("dmarc.result"), notes.get("dmarc.policy"),
                          notes.get("auth-results.dmarc")), (result, policy, clause),
                         "notes: %r\nlog tail:\n%s" % (notes, self.log[-3000:]))

    def assert_nothing_delivered(self, fb):
        time.sleep(0.5)
        self.assertEqual(fb.messages(), [], "a refused message reached the backend")

    def assert_rejected(self, code, lines, domain):
        self.assertEqual(code, 550, lines)
        self.assertTrue(lines[0].startswith("550 5.7.1 "), lines)
        self.assertIn("DMARC", lines[0])
        self.assertIn(domain, lines[0], "the reply does not name the domain's policy")


class TestAlignment(DmarcCase):
    """RFC 7489 3.1 and 4.2: pass needs a pass of SPF or DKIM for a domain
    aligned with the From domain."""

    def test_spf_only_aligned_pass(self):
        fb = self.start_dmarc(auth={"spf_result": "pass"})
        code, lines = self.send(message(), mail_from="bounce@reject.test")
        self.assertEqual(code, 250, lines)
        _, notes = self.delivered(fb)
        self.assert_notes(notes, "pass", "none", "dmarc=pass (p=reject dis=none) header.from=reject.test")

    def test_dkim_only_aligned_pass(self):
        fb = self.start_dmarc(auth={"spf_result": "fail", "dkim_results": "pass:reject.test"})
        code, lines = self.send(message(), mail_from="bounce@other.test")
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "pass", "none",
                          "dmarc=pass (p=reject dis=none) header.from=reject.test")

    def test_both_fail_rejected(self):
        fb = self.start_dmarc(auth={"spf_result": "fail", "dkim_results": "fail:reject.test"})
        code, lines = self.send(message())
        self.assert_rejected(code, lines, "reject.test")
        self.assert_nothing_delivered(fb)
        self.assertRegex(self.log, r"dmarc=fail header\.from=reject\.test policy=reject")

    def test_no_results_at_all_rejected(self):
        """Neither filter noted anything: no identifier passed, so the policy applies."""
        fb = self.start_dmarc()
        code, lines = self.send(message())
        self.assert_rejected(code, lines, "reject.test")
        self.assert_nothing_delivered(fb)

    def test_pass_but_unaligned_rejected(self):
        """SPF and DKIM pass, for another domain: no alignment, no DMARC pass."""
        fb = self.start_dmarc(auth={"spf_result": "pass", "dkim_results": "pass:other.test"})
        code, lines = self.send(message(), mail_from="bounce@other.test")
        self.assert_rejected(code, lines, "reject.test")
        self.assert_nothing_delivered(fb)

    def test_failed_aligned_signature_does_not_borrow_a_pass(self):
        fb = self.start_dmarc(auth={"dkim_results": "fail:reject.test pass:other.test"})
        code, lines = self.send(message(), mail_from="bounce@other.test")
        self.assert_rejected(code, lines, "reject.test")
        self.assert_nothing_delivered(fb)

    def test_relaxed_subdomain_passes(self):
        """aspf/adkim relaxed (the default): a subdomain of the From domain aligns."""
        fb = self.start_dmarc(auth={"spf_result": "pass"})
        code, lines = self.send(message(), mail_from="bounce@mail.reject.test")
        self.assertEqual(code, 250, lines)
        self.assertEqual(self.delivered(fb)[1].get("dmarc.result"), "pass")

    def test_strict_subdomain_spf_rejected(self):
        """aspf=s: SPF for mail.strict.test is not aligned with strict.test."""
        fb = self.start_dmarc(auth={"spf_result": "pass"})
        code, lines = self.send(message(b"From: alice@strict.test\r\n"),
                                mail_from="bounce@mail.strict.test")
        self.assert_rejected(code, lines, "strict.test")
        self.assert_nothing_delivered(fb)

    def test_strict_subdomain_dkim_rejected_exact_passes(self):
        fb = self.start_dmarc(auth={"dkim_results": "pass:mail.strict.test"})
        code, lines = self.send(message(b"From: alice@strict.test\r\n"), mail_from="x@other.test")
        self.assert_rejected(code, lines, "strict.test")
        self.daemon.stop()
        fb = self.start_dmarc(auth={"dkim_results": "pass:mail.strict.test pass:strict.test"})
        code, lines = self.send(message(b"From: alice@strict.test\r\n"), mail_from="x@other.test")
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "pass", "none",
                          "dmarc=pass (p=reject dis=none) header.from=strict.test")

    def test_aligned_temperror_is_no_fail(self):
        """SPF could not be checked for the aligned domain and nothing passed:
        temperror, and no policy applied (temperror_action = none)."""
        fb = self.start_dmarc(auth={"spf_result": "temperror"})
        code, lines = self.send(message())
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "temperror", "none",
                          "dmarc=temperror (p=reject dis=none) header.from=reject.test")


class TestPolicies(DmarcCase):
    def test_quarantine(self):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@quarantine.test\r\n"))
        self.assertEqual(code, 250, lines)
        head, notes = self.delivered(fb)
        self.assertRegex(head, r"(?m)^X-Sluice-Quarantine: dmarc\r?$", head)
        self.assert_notes(notes, "fail", "quarantine",
                          "dmarc=fail (p=quarantine dis=quarantine) header.from=quarantine.test")

    def test_quarantine_to_a_mailbox(self):
        """The quarantine verdict follows sluice's quarantine_rcpt."""
        fb = self.start_dmarc(auth={"spf_result": "fail"}, quarantine_rcpt="quarantine@example.com")
        code, lines = self.send(message(b"From: alice@quarantine.test\r\n"))
        self.assertEqual(code, 250, lines)
        self.delivered(fb)
        conn = fb.wait_relayed()
        self.assertIn("RCPT TO:<quarantine@example.com>", conn.commands)

    def test_p_none_only_records(self):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@none.test\r\n"))
        self.assertEqual(code, 250, lines)
        head, notes = self.delivered(fb)
        self.assertNotIn("X-Sluice-Quarantine", head)
        self.assert_notes(notes, "fail", "none", "dmarc=fail (p=none dis=none) header.from=none.test")

    def test_subdomain_policy_from_organizational_domain(self):
        """No record at sub.parent.test: the Organizational Domain's record
        applies, with its sp= (6.6.3); parent.test itself gets p=none."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@sub.parent.test\r\n"))
        self.assert_rejected(code, lines, "sub.parent.test")
        c = self.client()
        c.ehlo()
        code, lines = self.send(message(b"From: alice@parent.test\r\n"), c=c)
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "fail", "none",
                          "dmarc=fail (p=none sp=reject dis=none) header.from=parent.test")

    def test_pct_0_not_enforced(self):
        """pct=0: no message is in the sample; p=quarantine drops to none (6.6.4)."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        for n in range(1, 4):
            code, lines = self.send(message(b"From: alice@pct0.test\r\n"))
            self.assertEqual(code, 250, lines)
            head, notes = self.delivered(fb, n)
            self.assertNotIn("X-Sluice-Quarantine", head)
            self.assert_notes(notes, "fail", "none",
                              "dmarc=fail (p=quarantine dis=none) header.from=pct0.test")

    def test_pct_0_reject_becomes_quarantine(self):
        """6.6.4: a message left out of a p=reject sample is quarantined."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@pct0reject.test\r\n"))
        self.assertEqual(code, 250, lines)
        head, notes = self.delivered(fb)
        self.assertIn("X-Sluice-Quarantine: dmarc", head)
        self.assert_notes(notes, "fail", "quarantine",
                          "dmarc=fail (p=reject dis=quarantine) header.from=pct0reject.test")

    def test_pct_100_always_enforced(self):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        c = self.client()
        c.ehlo()
        for _ in range(3):
            code, lines = self.send(message(b"From: alice@pct100.test\r\n"), c=c)
            self.assert_rejected(code, lines, "pct100.test")
        self.assert_nothing_delivered(fb)

    def test_reject_action_quarantine(self):
        fb = self.start_dmarc(dmarc={"reject_action": "quarantine"}, auth={"spf_result": "fail"})
        code, lines = self.send(message())
        self.assertEqual(code, 250, lines)
        head, notes = self.delivered(fb)
        self.assertIn("X-Sluice-Quarantine: dmarc", head)
        self.assert_notes(notes, "fail", "quarantine",
                          "dmarc=fail (p=reject dis=quarantine) header.from=reject.test")

    def test_reject_and_quarantine_actions_none(self):
        fb = self.start_dmarc(dmarc={"reject_action": "none", "quarantine_action": "none"},
                              auth={"spf_result": "fail"})
        for n, (domain, p) in enumerate([("reject.test", "reject"),
                                         ("quarantine.test", "quarantine")], 1):
            code, lines = self.send(message(b"From: alice@%s\r\n" % domain.encode()))
            self.assertEqual(code, 250, lines)
            head, notes = self.delivered(fb, n)
            self.assertNotIn("X-Sluice-Quarantine", head)
            self.assert_notes(notes, "fail", "none",
                              "dmarc=fail (p=%s dis=none) header.from=%s" % (p, domain))

    def test_override_list(self):
        """Listed domains (From, or the envelope sender's, e.g. a mailing list):
        recorded, not enforced."""
        fb = self.start_dmarc(dmarc={"override": "reject.test lists.example.net"},
                              auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@sub.reject.test\r\n"))
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "fail", "none",
                          "dmarc=fail (p=reject dis=none) header.from=sub.reject.test")
        code, lines = self.send(message(b"From: alice@pct100.test\r\n"),
                                mail_from="list-bounces@lists.example.net")
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb, 2)[1], "fail", "none",
                          "dmarc=fail (p=reject dis=none) header.from=pct100.test")
        code, lines = self.send(message(b"From: alice@pct100.test\r\n"), mail_from="a@other.test")
        self.assert_rejected(code, lines, "pct100.test")
        self.assertIn("(override)", self.log)

    def test_authentication_results_header(self):
        """sluice writes auth-results.dmarc into its Authentication-Results
        header (RFC 8601), named by authserv_id."""
        fb = self.start_dmarc(auth={"spf_result": "fail"}, authserv_id="mx.example.net")
        code, lines = self.send(message(b"From: alice@quarantine.test\r\n"))
        self.assertEqual(code, 250, lines)
        head, _ = self.delivered(fb)
        self.assertRegex(head, r"(?m)^Authentication-Results: mx\.example\.net;\s+"
                               r"dmarc=fail \(p=quarantine dis=quarantine\) "
                               r"header\.from=quarantine\.test\r?$")

    def test_dry_run_logs_only(self):
        fb = self.start_dmarc(dmarc={"dry_run": "yes"}, auth={"spf_result": "fail"})
        code, lines = self.send(message())
        self.assertEqual(code, 250, lines)
        self.assertEqual(self.delivered(fb)[1].get("dmarc.policy"), "reject")
        self.assertRegex(self.log, r"filter dmarc \(dry run\) would reject")


class TestDiscovery(DmarcCase):
    """Policy discovery, RFC 7489 6.6.3."""

    def test_no_record_is_none(self):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@nodmarc.test\r\n"))
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "none", "none", "dmarc=none header.from=nodmarc.test")
        self.assertEqual(self.dns.queries, [], "a .test name was sent to the resolver")

    def test_only_other_txt_records_is_none(self):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@spfonly.test\r\n"))
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "none", "none", "dmarc=none header.from=spfonly.test")

    def test_several_records_is_none(self):
        """Step 4: more than one DMARC record, no DMARC processing."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@two.test\r\n"))
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "none", "none",
                          "dmarc=none (several DMARC records) header.from=two.test")

    def test_record_of_several_strings(self):
        """A TXT record's strings are concatenated: "v=DMARC1; " "p=reject"."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@split.test\r\n"))
        self.assert_rejected(code, lines, "split.test")
        self.assert_nothing_delivered(fb)

    def test_bad_record_is_permerror(self):
        """Step 5: an invalid p= and no report address: no policy, permerror (11.2)."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@bad.test\r\n"))
        self.assertEqual(code, 250, lines)
        notes = self.delivered(fb)[1]
        self.assertEqual((notes.get("dmarc.result"), notes.get("dmarc.policy")),
                         ("permerror", "none"), notes)
        self.assertRegex(notes.get("auth-results.dmarc", ""),
                         r"^dmarc=permerror \([^)]+\) header\.from=bad\.test$")

    def test_bad_record_with_rua_is_p_none(self):
        """Step 5: an invalid p= with a valid rua=: as if p=none."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@badrua.test\r\n"))
        self.assertEqual(code, 250, lines)
        notes = self.delivered(fb)[1]
        self.assertEqual((notes.get("dmarc.result"), notes.get("dmarc.policy")), ("fail", "none"))
        self.assertTrue(notes.get("auth-results.dmarc", "").startswith(
            "dmarc=fail (p=none dis=none)"), notes)

    def test_lookup_failure_is_temperror(self):
        """SERVFAIL for the policy: temperror, delivered (temperror_action = none)."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@servfail.example\r\n"),
                                mail_from="a@servfail.example")
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "temperror", "none",
                          "dmarc=temperror (policy lookup failed) header.from=servfail.example")
        self.assertTrue(any(b"servfail" in q for q in self.dns.queries), self.dns.queries)

    def test_lookup_failure_tempfails_when_asked(self):
        fb = self.start_dmarc(dmarc={"temperror_action": "tempfail"}, auth={"spf_result": "fail"})
        code, lines = self.send(message(b"From: alice@servfail.example\r\n"))
        self.assertEqual(code, 451, lines)
        self.assertTrue(lines[0].startswith("451 4."), lines)
        self.assertIn("servfail.example", lines[0])
        self.assert_nothing_delivered(fb)

    def test_answer_before_end_of_message(self):
        """The lookup starts at the end of the header section: with a pause
        before the body, its answer is in before the end of the message."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@reject.test>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(b"From: alice@reject.test\r\nSubject: slow\r\n\r\n")
        time.sleep(0.5)
        c.send(b"body\r\n.\r\n")
        code, lines = c.reply()
        self.assert_rejected(code, lines, "reject.test")
        self.assert_nothing_delivered(fb)


class TestFromField(DmarcCase):
    """RFC 7489 6.6.1: one From field with one Author Domain, or permerror."""

    def check_permerror(self, content, reason):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        code, lines = self.send(content)
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "permerror", "none", "dmarc=permerror (%s)" % reason)

    def test_missing_from(self):
        self.check_permerror(b"Subject: no from\r\n\r\nbody\r\n", "no From field")

    def test_several_from_fields(self):
        self.check_permerror(b"From: a@reject.test\r\nFrom: b@reject.test\r\n\r\nbody\r\n",
                             "several From fields")

    def test_unparsable_from(self):
        self.check_permerror(message(b"From: not an address\r\n"), "unparsable From field")

    def test_several_author_domains(self):
        self.check_permerror(message(b"From: a@reject.test, b@none.test\r\n"),
                             "From addresses of several domains")

    def test_display_name_and_comments(self):
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        content = message(b'From: "Alice, (the boss)" <alice(x)@Reject.TEST>\r\n')
        code, lines = self.send(content)
        self.assert_rejected(code, lines, "reject.test")
        self.assert_nothing_delivered(fb)

    def test_two_messages_one_session(self):
        """Each transaction has its own From, lookup and result (RSET between)."""
        fb = self.start_dmarc(auth={"spf_result": "fail"})
        c = self.client()
        c.ehlo()
        code, lines = self.send(message(b"From: a@reject.test\r\n"), c=c)
        self.assert_rejected(code, lines, "reject.test")
        c.line("RSET")
        c.expect(250)
        code, lines = self.send(message(b"From: a@none.test\r\n"), c=c)
        self.assertEqual(code, 250, lines)
        self.assert_notes(self.delivered(fb)[1], "fail", "none",
                          "dmarc=fail (p=none dis=none) header.from=none.test")


class TestRealChain(DmarcCase):
    """The shipped spf, dkim and dmarc filters together, in that order, as the
    documentation tells an administrator to configure them. The client comes
    through a PROXY listener as 192.0.2.10: spf does not check loopback."""

    def start_chain(self, zone):
        fb = self.backend()
        self.fb, self.backends = fb, [fb]
        resp = ServfailResponder()
        self.addCleanup(resp.stop)
        d = os.path.join(self.tmp, "chain")
        os.makedirs(d)
        path = write_config(d, listen=None, backend=fb.addr, dns_local_data=zone, dns=resp.addr,
                            dns_timeout="2s", authserv_id="mx.test")
        port = free_port()
        sections = [
            ("spf", {"module": built_module("filters", "spf", ".libs", "spf.so"),
                     "fail": "none", "softfail": "none"}),
            ("dkim", {"module": built_module("filters", "dkim", ".libs", "dkim.so")}),
            ("dmarc", {"module": dmarc_module()}),
            ("report", {"module": stub_module(), "report_notes": REPORTED}),
        ]
        with open(path, "a") as f:
            f.write("\n[listener haproxy]\naddress = 127.0.0.1:%d\nproxy_protocol = v1\n"
                    "trusted = 127.0.0.1\n" % port)
            for name, conf in sections:
                f.write("\n[filter %s]\n" % name)
                f.write("".join("%s = %s\n" % kv for kv in conf.items()))
        self.daemon = Sluiced(d, config=path, listen_port=port)
        self.addCleanup(self._stop_daemon, self.daemon)
        return fb

    def chain_client(self):
        c = self.client(greet=False)
        c.send(b"PROXY TCP4 192.0.2.10 198.51.100.1 4321 25\r\n")
        c.greeting()
        c.ehlo("mail.client.test")
        return c

    def test_spf_dkim_dmarc(self):
        from dkimtest import KeySet, sign, txt_chunks    # python3-dkim: only this test needs it

        os.makedirs(os.path.join(self.tmp, "keys"))
        keys = KeySet(os.path.join(self.tmp, "keys"))
        zone = self.zone()
        with open(zone, "a") as f:
            f.write('spfok.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"\n')
            f.write('nospf.test. 300 IN TXT "v=spf1 -all"\n')
            f.write('_dmarc.spfok.test. 300 IN TXT "v=DMARC1; p=reject"\n')
            f.write('_dmarc.signed.test. 300 IN TXT "v=DMARC1; p=reject; adkim=s"\n')
            f.write("sel._domainkey.signed.test. 300 IN TXT %s\n" % txt_chunks(keys.rsa.record))
        fb = self.start_chain(zone)

        # SPF passes for spfok.test, the From domain: aligned.
        code, lines = self.send(message(b"From: a@spfok.test\r\n"), "a@spfok.test", self.chain_client())
        self.assertEqual(code, 250, lines)
        head, notes = self.delivered(fb, 1)
        self.assert_notes(notes, "pass", "none", "dmarc=pass (p=reject dis=none) header.from=spfok.test")
        ar = re.search(r"(?ms)^Authentication-Results: mx\.test;(.*?)\r\n(?=\S)", head)
        self.assertIsNotNone(ar, head)
        self.assertRegex(ar.group(1), r"(?s)spf=pass .*dkim=none.*;\s+dmarc=pass \(p=reject dis=none\)"
                                      r" header\.from=spfok\.test$", "spf, dkim, then dmarc")

        # SPF fails, a DKIM signature by signed.test (adkim=s, exact d=) passes.
        signed = sign(message(b"From: a@signed.test\r\n"), keys.rsa, "sel", "signed.test")
        code, lines = self.send(signed, "a@nospf.test", self.chain_client())
        self.assertEqual(code, 250, lines)
        head, notes = self.delivered(fb, 2)
        self.assert_notes(notes, "pass", "none", "dmarc=pass (p=reject dis=none) header.from=signed.test")

        # The same signature, the body changed in transit: DKIM fails, so DMARC.
        broken = signed.replace(b"body line", b"body line, changed")
        code, lines = self.send(broken, "a@nospf.test", self.chain_client())
        self.assert_rejected(code, lines, "signed.test")

        # SPF passes, but for spfok.test; the From domain is reject.test.
        code, lines = self.send(message(b"From: a@reject.test\r\n"), "a@spfok.test", self.chain_client())
        self.assert_rejected(code, lines, "reject.test")
        time.sleep(0.3)
        self.assertEqual(len(fb.messages()), 2, "a refused message reached the backend")


class TestConfiguration(DmarcCase):
    def refused(self, keys):
        d_dir = os.path.join(self.tmp, "bad")
        os.makedirs(d_dir, exist_ok=True)
        port = free_port()
        path = write_config(d_dir, listen=port, backend=self.backend().addr)
        with open(path, "a") as f:
            f.write("\n[filter dmarc]\nmodule = %s\n" % dmarc_module())
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
        with self.assertRaises(AssertionError) as cm:
            Sluiced(d_dir, config=path, listen_port=port).stop()
        self.assertRegex(str(cm.exception), r"sluice\.conf:\d+")
        return str(cm.exception)

    def test_bad_reject_action(self):
        self.assertIn("reject_action", self.refused({"reject_action": "bounce"}))

    def test_quarantine_action_cannot_reject(self):
        self.assertIn("quarantine_action", self.refused({"quarantine_action": "reject"}))

    def test_bad_temperror_action(self):
        self.assertIn("temperror_action", self.refused({"temperror_action": "reject"}))

    def test_bad_override_domain(self):
        self.assertIn("bad..example", self.refused({"override": "ok.example bad..example"}))

    def test_missing_public_suffix_list(self):
        self.assertIn("/nonexistent/psl.dat", self.refused({"public_suffix_list": "/nonexistent/psl.dat"}))


if __name__ == "__main__":
    tap.main()
