"""The dkim filter (filters/dkim: dkim_filter.c the hooks, dkim_verify.c,
dkim_sign.c) against the recording fake backend.

Verifying: messages signed by python3-dkim (an independent implementation) with
keys made by openssl at test time; the key records come from sluiced's
dns_local_data, or from a DNS responder on loopback (FakeDNS: NXDOMAIN for the
rest, SERVFAIL for temperror, slow answers for the pending eom). The results
are read where a user reads them: the Authentication-Results field sluice
writes, the notes a later filter sees (stub_probe's note_expect), the log.

Signing: sessions on a listener named in sign_listeners are signed with the
sign table's key for the From domain; python3-dkim verifies the message as the
backend received it, including edits other filters made before dkim.

BUILDDIR (exported by make check) locates the modules. Missing modules,
python3-dkim or openssl fail the tests, never skip."""

import os
import re
import shutil
import subprocess
import tempfile
import time

import tap
from dkimtest import (FakeDNS, KeySet, ar_value, sig_tags, sign, signatures, verify,
                      write_dkim_config, write_zone)
from sluicetest import Client, SluiceTestCase, Sluiced, built_module, free_port, write_config

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]
AUTHSERV = "mx.sluice.test"

MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: bob@example.com\r\n"
       b"Subject: DKIM test\r\n"
       b"Date: Sun, 29 Nov 2026 12:00:00 +0000\r\n"
       b"Message-ID: <t1@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=us-ascii\r\n"
       b"\r\n"
       b"Hello Bob,\r\n"
       b".a line that starts with a dot\r\n"
       b"  indented   with  spaces \t \r\n"
       b"\r\n"
       b"the end\r\n")


def module(name):
    return built_module("filters", name, ".libs", name + ".so")


def probe_module():
    return built_module("tests", "stubs", ".libs", "stub_probe.so")


def stuff(content):
    """Dot-stuff content for DATA."""
    return re.sub(rb"(^|\r\n)\.", rb"\1..", content)


def auth_results(content):
    """(authserv-id, [resinfo clauses]) of the first Authentication-Results field,
    unfolded; None when there is none."""
    head = content.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?mi)^Authentication-Results:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)
    if m is None:
        return None
    value = re.sub(rb"\r\n[ \t]", b" ", m.group(1)).decode()
    parts = [p.strip() for p in value.split(";")]
    return parts[0], parts[1:]


def clause(result, domain, selector, message, idx=0, reason=None):
    """The A-R clause expected for the idx-th signature of message (RFC 8601
    2.7.1, header.b per RFC 6008: its first 8 characters)."""
    b = sig_tags(signatures(message)[idx])["b"][:8]
    return "dkim=%s%s header.d=%s header.s=%s header.b=%s" % (
        result, " (%s)" % reason if reason else "", domain, selector, ar_value(b))


class DkimCase(SluiceTestCase):
    keys = None

    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="sluice-dkim-keys-")
        cls.keys = KeySet(cls.keydir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def fake_dns(self, **kw):
        dns = FakeDNS(**kw)
        self.addCleanup(dns.stop)
        return dns

    def default_records(self):
        k = self.keys
        return {"rsa._domainkey.example.org": k.rsa.record,
                "ed._domainkey.example.org": k.ed25519.record,
                "other._domainkey.example.net": k.rsa2.record,
                "revoked._domainkey.example.org": "v=DKIM1; k=rsa; p=",
                "broken._domainkey.example.org": "v=DKIM1; k=rsa; p=bm90IGEga2V5"}

    def start_dkim(self, conf=None, records=None, dns=None, before=(), after=(), backend=None,
                   **keys):
        """sluiced with [filter dkim] (conf), optional filters before and after it,
        dns_local_data from records and every other name sent to dns (a FakeDNS
        answering NXDOMAIN unless given)."""
        zone = write_zone(os.path.join(self.tmp, "keys.zone"),
                          self.default_records() if records is None else records)
        dns = dns or self.fake_dns()
        fb = backend or self.backend()
        sections = list(before) + [("dkim", dict({"module": module("dkim")}, **(conf or {})))] + \
            list(after)
        keys.setdefault("authserv_id", AUTHSERV)
        keys.setdefault("dns_timeout", "2s")
        self.start_with_filters(sections, fb, dns_local_data=zone, dns=dns.addr, **keys)
        return fb

    def deliver(self, content, fb, client=None, expect=250):
        """Send one message; return its content as the backend got it
        (dot-stuffing undone), or the reply when expect is not 250."""
        c = client or self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(stuff(content) + b".\r\n")
        code, lines = c.reply(timeout=10)
        if expect != 250:
            self.assertEqual(code, expect, lines)
            return lines
        self.assertEqual(code, 250, "%r\n%s" % (lines, self.log[-3000:]))
        msg = fb.wait_messages(1)[0]
        self.assertTrue(msg.content.endswith(content), "the message changed on its way: %r"
                        % msg.content[:600])
        return msg.content


# ---------------------------------------------------------------- verifying

class TestVerify(DkimCase):
    def check_one(self, signed, want, **start):
        fb = self.start_dkim(**start)
        got = self.deliver(signed, fb)
        self.assertEqual(auth_results(got), (AUTHSERV, want), got[:800])
        return got

    def test_rsa_relaxed_pass(self):
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org")
        self.check_one(signed, [clause("pass", "example.org", "rsa", signed)])
        self.assertRegex(self.log, r"dkim: verify: 1 signature: pass d=example\.org s=rsa")

    def test_rsa_simple_pass(self):
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org", canonicalize=(b"simple", b"simple"))
        self.assertIn(b"c=simple/simple", signed)
        self.check_one(signed, [clause("pass", "example.org", "rsa", signed)])

    def test_ed25519_pass(self):
        """RFC 8463: ed25519-sha256 signed by python3-dkim."""
        signed = sign(MSG, self.keys.ed25519, "ed", "example.org")
        self.assertIn(b"a=ed25519-sha256", signed)
        self.check_one(signed, [clause("pass", "example.org", "ed", signed)])

    def test_key_split_over_strings_passes(self):
        """A 2048-bit key record is longer than 255 octets: its TXT strings are
        concatenated (RFC 6376 3.6.2.2) whether it comes from dns_local_data or a
        DNS server."""
        self.assertGreater(len(self.keys.rsa.record), 255)
        signed = sign(MSG, self.keys.rsa, "far", "example.org")
        dns = self.fake_dns(records={"far._domainkey.example.org": self.keys.rsa.record})
        self.check_one(signed, [clause("pass", "example.org", "far", signed)], dns=dns)

    def test_tampered_body_fails(self):
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org")
        bad = signed.replace(b"Hello Bob", b"Hello Eve")
        self.check_one(bad, [clause("fail", "example.org", "rsa", bad, reason="body hash mismatch")])

    def test_tampered_signed_header_fails(self):
        signed = sign(MSG, self.keys.ed25519, "ed", "example.org")
        bad = signed.replace(b"Subject: DKIM test", b"Subject: DKIM test, changed")
        self.check_one(bad, [clause("fail", "example.org", "ed", bad, reason="signature mismatch")])

    def test_unsigned_header_added_still_passes(self):
        """A field the signature does not cover may be added in transit."""
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org",
                      include_headers=["From", "To", "Subject"])
        added = signed.replace(b"Date:", b"X-Mailing-Footer: yes\r\nDate:")
        self.check_one(added, [clause("pass", "example.org", "rsa", added)])

    def test_missing_key_permerror(self):
        """No record: RFC 6376 6.1.2 PERMFAIL (no key for signature); RFC 8601
        permerror. The name is asked of the DNS server, which says NXDOMAIN."""
        dns = self.fake_dns()
        signed = sign(MSG, self.keys.rsa, "gone", "example.org")
        self.check_one(signed, [clause("permerror", "example.org", "gone", signed, reason="no key")],
                       dns=dns)
        self.assertIn("gone._domainkey.example.org", dns.queries)

    def test_revoked_key_fails(self):
        """An empty p= is a revoked key: RFC 6376 6.1.2 says to treat it as a
        failed signature check (PERMFAIL, key revoked)."""
        signed = sign(MSG, self.keys.rsa, "revoked", "example.org")
        self.check_one(signed, [clause("fail", "example.org", "revoked", signed,
                                       reason="key revoked")])

    def test_undecodable_key_permerror(self):
        signed = sign(MSG, self.keys.rsa, "broken", "example.org")
        self.check_one(signed, [clause("permerror", "example.org", "broken", signed,
                                       reason="bad key record")])

    def test_body_length_tag_appended_text_passes(self):
        """l= signs only the first l octets of the body: text appended after
        signing leaves the signature valid."""
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org", length=True)
        self.assertRegex(sig_tags(signatures(signed)[0]).get("l", ""), r"^\d+$")
        longer = signed + b"-- \r\nappended by a mailing list\r\n"
        self.check_one(longer, [clause("pass", "example.org", "rsa", longer)])

    def test_servfail_temperror(self):
        """The key's DNS server answers SERVFAIL: temperror (RFC 8601 2.7.1)."""
        dns = self.fake_dns(rcode=2)
        signed = sign(MSG, self.keys.rsa, "flaky", "example.org")
        t0 = time.monotonic()
        self.check_one(signed, [clause("temperror", "example.org", "flaky", signed,
                                       reason="key lookup failed")], dns=dns, dns_timeout="1s")
        self.assertLess(time.monotonic() - t0, 8)
        self.assertIn("flaky._domainkey.example.org", dns.queries)

    def test_unsigned_none(self):
        self.check_one(MSG, ["dkim=none"])
        self.assertIn("dkim: verify: none (unsigned)", self.log)

    def test_malformed_signature_permerror(self):
        bad = b"DKIM-Signature: this is not a tag list\r\n" + MSG
        fb = self.start_dkim()
        got = self.deliver(bad, fb)
        self.assertEqual(auth_results(got), (AUTHSERV, ["dkim=permerror (signature syntax error)"]))

    def test_two_signatures_in_order(self):
        """Every signature is evaluated, the topmost first: an Ed25519 one by
        example.net over an RSA one by example.org, both pass; a third one whose
        key does not exist is a permerror without spoiling the others."""
        k = self.keys
        one = sign(MSG, k.rsa, "rsa", "example.org")
        two = sign(one, k.rsa2, "other", "example.net")
        three = sign(two, k.ed25519, "nokey", "example.com")
        want = [clause("permerror", "example.com", "nokey", three, 0, reason="no key"),
                clause("pass", "example.net", "other", three, 1),
                clause("pass", "example.org", "rsa", three, 2)]
        self.check_one(three, want)
        self.assertRegex(self.log, r"verify: 3 signatures: permerror \(no key\) d=example\.com "
                                   r"s=nokey; pass d=example\.net s=other; pass d=example\.org s=rsa")

    def test_notes_for_later_filters(self):
        """dkim.count and dkim.N.{result,domain,selector}, as host.h specifies,
        seen by a filter after dkim (stub_probe's note_expect rejects otherwise)."""
        k = self.keys
        signed = sign(sign(MSG, k.rsa, "rsa", "example.org"), k.ed25519, "ed", "Example.ORG")
        bad = signed.replace(b"the end", b"the END")
        expects = ["dkim.count=2", "dkim.1.result=fail", "dkim.1.domain=example.org",
                   "dkim.1.selector=ed", "dkim.2.result=fail", "dkim.2.selector=rsa"]
        fb = self.start_dkim(after=[("p%d" % i, {"module": probe_module(), "at": "eom",
                                                 "note_expect": e})
                                    for i, e in enumerate(expects)])
        self.deliver(bad, fb)

    def test_waits_for_slow_key_at_eom(self):
        """The key's answer comes after the message: eom is pending, then resumes
        with the result; meanwhile another session is served at once."""
        signed = sign(MSG, self.keys.rsa, "slow", "example.org")
        dns = self.fake_dns(records={"slow._domainkey.example.org": self.keys.rsa.record},
                            delay=0.6)
        fb = self.start_dkim(dns=dns, workers=1, dns_timeout="5s")
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        t0 = time.monotonic()
        c.send(stuff(signed) + b".\r\n")
        other = self.client()               # same loop thread (workers = 1)
        other.line("NOOP")
        other.expect(250)
        self.assertLess(time.monotonic() - t0, 0.5, "the loop thread was blocked")
        c.expect(250, timeout=10)
        self.assertGreater(time.monotonic() - t0, 0.5)
        got = fb.wait_messages(1)[0].content
        self.assertEqual(auth_results(got), (AUTHSERV, [clause("pass", "example.org", "slow",
                                                               signed)]))
        self.assertIn("eom waits for 1 key lookup", self.log)

    def test_client_gone_while_waiting(self):
        """The client disconnects while eom waits for a key: the lookup is
        cancelled, nothing is delivered, sluiced stays up and exits cleanly
        (ASan would catch a use after free or a leak at exit)."""
        signed = sign(MSG, self.keys.rsa, "slow", "example.org")
        dns = self.fake_dns(records={"slow._domainkey.example.org": self.keys.rsa.record},
                            delay=1.0)
        fb = self.start_dkim(dns=dns)
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(stuff(signed) + b".\r\n")
        time.sleep(0.3)
        c.close()
        time.sleep(1.5)
        self.assertEqual(fb.messages(), [])
        again = self.client()
        again.line("NOOP")
        again.expect(250)

    def test_on_fail_reject(self):
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org")
        bad = signed.replace(b"Hello Bob", b"Hello Eve")
        fb = self.start_dkim({"on_fail": "reject"})
        lines = self.deliver(bad, fb, expect=550)
        self.assertEqual(lines, ["550 5.7.20 No passing DKIM signature found"])
        self.assertEqual(fb.messages(), [])

    def test_on_fail_spares_a_passing_message(self):
        """on_fail applies only when no signature passes."""
        k = self.keys
        signed = sign(sign(MSG, k.rsa, "revoked", "example.org"), k.ed25519, "ed", "example.org")
        fb = self.start_dkim({"on_fail": "reject"})
        got = self.deliver(signed, fb)
        self.assertEqual(auth_results(got)[1],
                         [clause("pass", "example.org", "ed", signed, 0),
                          clause("fail", "example.org", "revoked", signed, 1, "key revoked")])

    def test_on_fail_score(self):
        signed = sign(MSG, self.keys.rsa, "rsa", "example.org")
        bad = signed.replace(b"Hello Bob", b"Hello Eve")
        fb = self.start_dkim({"on_fail": "score:4.5"}, score_header="X-Sluice-Score")
        got = self.deliver(bad, fb)
        self.assertRegex(got, rb"(?m)^X-Sluice-Score: 4\.50 \(dkim fail=4\.50\)\r$")

    def test_bad_config_refused(self):
        for conf, word in (({"on_fail": "bounce"}, "on_fail"),
                           ({"verify": "maybe"}, "verify"),
                           ({"max_signatures": "0"}, "max_signatures"),
                           ({"sign_listeners": "submission"}, "needs sign_table"),
                           ({"verify": "no"}, "nothing to do")):
            d_dir = tempfile.mkdtemp(dir=self.tmp)
            port = free_port()
            path = write_config(d_dir, listen=port, backend=self.backend().addr)
            with open(path, "a") as f:
                f.write("\n[filter dkim]\nmodule = %s\n" % module("dkim"))
                for k, v in conf.items():
                    f.write("%s = %s\n" % (k, v))
            with self.assertRaises(AssertionError) as cm:
                Sluiced(d_dir, config=path, listen_port=port).stop()
            self.assertIn(word, str(cm.exception))
            self.assertRegex(str(cm.exception), r"sluice\.conf:\d+")


# ---------------------------------------------------------------- signing

class TestSign(DkimCase):
    def sign_table(self, extra=""):
        path = os.path.join(self.tmp, "signing.table")
        with open(path, "w") as f:
            f.write("# domain selector key\n")
            f.write("example.org rsa %s\n" % self.keys.rsa.pem)
            f.write("example.net ed %s\n" % self.keys.ed25519.pem)
            f.write(extra)
        return path

    def start_sign(self, conf=None, before=(), table=None):
        """sluiced with two listeners, mx and submission; dkim signs on submission."""
        fb = self.backend()
        dns = self.fake_dns()
        zone = write_zone(os.path.join(self.tmp, "keys.zone"), self.default_records())
        self.mx_port, self.sub_port = free_port(), free_port()
        dkim_conf = {"module": module("dkim"), "sign_table": table or self.sign_table(),
                     "sign_listeners": "submission"}
        dkim_conf.update(conf or {})
        d_dir = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        path = write_dkim_config(d_dir, fb.addr, [("mx", self.mx_port), ("submission", self.sub_port)],
                                 list(before) + [("dkim", dkim_conf)], dns_local_data=zone,
                                 dns=dns.addr, authserv_id=AUTHSERV)
        self.backends = [fb]
        self.fb = fb
        self.daemon = Sluiced(d_dir, config=path, listen_port=self.mx_port)
        self.addCleanup(self._stop_daemon, self.daemon)
        try:
            fb.wait_probe(5.0)
        except AssertionError:
            pass
        return fb

    def submit(self, content, fb, port=None):
        c = Client(port or self.sub_port)
        self.clients.append(c)
        c.greeting()
        return self.deliver(content, fb, client=c)

    def records(self):
        return {"rsa._domainkey.example.org": self.keys.rsa.record,
                "ed._domainkey.example.net": self.keys.ed25519.record}

    def assert_signed(self, got, domain, selector, algorithm, top=True):
        sigs = signatures(got)
        self.assertEqual(len(sigs), 1, got[:600])
        if top:
            self.assertTrue(got.startswith(b"DKIM-Signature: "), "not on top: %r" % got[:300])
        # Above sluice's Received, with the other trace and result fields.
        self.assertLess(got.index(b"DKIM-Signature: "), got.index(b"Received: "))
        t = sig_tags(sigs[0])
        self.assertEqual((t["d"], t["s"], t["a"], t["c"]),
                         (domain, selector, algorithm, "relaxed/relaxed"))
        signed = [h.lower() for h in t["h"].split(":")]
        self.assertEqual(signed.count("from"), 2, "From not oversigned: h=%s" % t["h"])
        for name in ("to", "subject", "date", "message-id", "mime-version", "content-type"):
            self.assertIn(name, signed)
        self.assertNotIn("received", signed)
        self.assertTrue(verify(got, self.records()), "python3-dkim does not verify:\n%r" % got[:1500])
        return t

    def test_rsa_signed_on_sign_listener(self):
        fb = self.start_sign()
        got = self.submit(MSG, fb)
        self.assert_signed(got, "example.org", "rsa", "rsa-sha256")
        self.assertIn("dkim: signed d=example.org s=rsa a=rsa-sha256", self.log)
        # Oversigning: a From added after signing breaks the signature.
        forged = got.replace(b"From: Alice", b"From: Mallory <m@evil.example>\r\nFrom: Alice", 1)
        self.assertFalse(verify(forged, self.records()))
        # Signing sessions are not verified: no result, no Authentication-Results.
        self.assertIsNone(auth_results(got))

    def test_ed25519_signed(self):
        """RFC 8463, signed by sluice's own Ed25519 signer: enough signed fields
        that h= folds, two To fields, odd whitespace; python3-dkim verifies."""
        fb = self.start_sign()
        extra = (b"Reply-To:   Alice  <alice@example.net>\r\n"
                 b"Cc: carol@example.com,\r\n\tdave@example.com\r\n"
                 b"In-Reply-To: <p1@example.com>\r\nReferences: <p0@example.com>\r\n"
                 b"\t<p1@example.com>\r\nList-Id: Dev <dev.example.net>\r\n"
                 b"To: second@example.com\r\n")
        msg = MSG.replace(b"alice@example.org", b"alice@example.net").replace(
            b"MIME-Version", extra + b"MIME-Version")
        got = self.submit(msg, fb)
        t = self.assert_signed(got, "example.net", "ed", "ed25519-sha256")
        self.assertEqual([h.lower() for h in t["h"].split(":")].count("to"), 2)
        self.assertIn("dkim: signed d=example.net s=ed a=ed25519-sha256", self.log)
        bad = got.replace(b"To: second@example.com", b"To: third@example.com")
        self.assertFalse(verify(bad, self.records()))

    def test_large_message_signed(self):
        """A body far larger than one message_read chunk."""
        fb = self.start_sign()
        body = b"".join(b"line %06d of a long body ............................\r\n" % i
                        for i in range(6000))
        got = self.submit(MSG + body, fb)
        self.assert_signed(got, "example.org", "rsa", "rsa-sha256")

    def test_edits_of_earlier_filters_are_signed(self):
        """dkim last in the chain signs the message as it leaves: a field the
        rules filter adds (List-Id, in the signed set) and a Subject stub_probe
        changes are covered; python3-dkim verifies the delivered message, and
        no longer does once the added field is taken out again."""
        before = [("rules", {"module": module("rules"),
                             "rule10": 'any add_header "List-Id: <dev.example.org>"'}),
                  ("p1", {"module": probe_module(), "at": "eom",
                          "header_change": "Subject 1 Changed by the probe"})]
        fb = self.start_sign(before=before)
        c = Client(self.sub_port)
        self.clients.append(c)
        c.greeting()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(stuff(MSG) + b".\r\n")
        c.expect(250, timeout=10)
        got = fb.wait_messages(1)[0].content
        self.assertIn(b"List-Id: <dev.example.org>\r\n", got)
        self.assertIn(b"Subject: Changed by the probe\r\n", got)
        # Fields added by filters go on top in call order: rules' List-Id first.
        self.assertTrue(got.startswith(b"List-Id: <dev.example.org>\r\nDKIM-Signature: "))
        t = self.assert_signed(got, "example.org", "rsa", "rsa-sha256", top=False)
        self.assertIn("list-id", t["h"].lower().split(":"))
        without = got.replace(b"List-Id: <dev.example.org>\r\n", b"")
        self.assertFalse(verify(without, self.records()), "List-Id was not covered")
        original = got.replace(b"Subject: Changed by the probe", b"Subject: DKIM test")
        self.assertFalse(verify(original, self.records()), "the changed Subject was not signed")

    def test_mx_listener_verifies_instead(self):
        """The same message on the other listener is not signed but verified
        (unsigned: dkim=none); sluice's own signature verifies as pass there."""
        fb = self.start_sign()
        c = Client(self.mx_port)
        self.clients.append(c)
        c.greeting()
        got = self.deliver(MSG, fb, client=c)
        self.assertEqual(signatures(got), [])
        self.assertEqual(auth_results(got), (AUTHSERV, ["dkim=none"]))

    def test_signed_by_sluice_verified_by_sluice(self):
        fb = self.start_sign()
        got = self.submit(MSG, fb)
        # The delivered message, trace header dropped, sent in again on mx.
        signed = re.sub(rb"(?s)\r\nReceived: .*?\r\n(?=\S)", b"\r\n", got, count=1)
        self.assertTrue(verify(signed, self.records()))
        c = Client(self.mx_port)
        self.clients.append(c)
        c.greeting()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(stuff(signed) + b".\r\n")
        c.expect(250, timeout=10)
        again = fb.wait_messages(2)[1].content
        self.assertEqual(auth_results(again),
                         (AUTHSERV, [clause("pass", "example.org", "rsa", signed)]))

    def test_unknown_domain_not_signed(self):
        fb = self.start_sign()
        msg = MSG.replace(b"alice@example.org", b"alice@elsewhere.example")
        got = self.submit(msg, fb)
        self.assertEqual(signatures(got), [])
        self.assertIn("not signed: From domain not in the sign table elsewhere.example", self.log)

    def test_opendkim_genkey_key(self):
        """A key made by opendkim-genkey (PKCS#8 PEM) signs; its own zone stub
        gives the record python3-dkim verifies with."""
        gen = os.path.join(self.tmp, "genkey")
        os.makedirs(gen)
        subprocess.run(["opendkim-genkey", "--directory=" + gen, "--domain=example.com",
                        "--selector=gk", "--bits=2048"], check=True, timeout=60,
                       stdin=subprocess.DEVNULL, capture_output=True)
        with open(os.path.join(gen, "gk.txt")) as f:
            record = "".join(re.findall(r'"([^"]*)"', f.read()))
        table = self.sign_table("example.com gk %s\n" % os.path.join(gen, "gk.private"))
        fb = self.start_sign(table=table)
        got = self.submit(MSG.replace(b"alice@example.org", b"alice@example.com"), fb)
        sig = sig_tags(signatures(got)[0])
        self.assertEqual((sig["d"], sig["s"]), ("example.com", "gk"))
        self.assertTrue(verify(got, {"gk._domainkey.example.com": record}))

    def test_bad_key_file_refused(self):
        """A key file that is missing or no key stops sluiced at start, naming
        the sign table's line."""
        notkey = os.path.join(self.tmp, "notkey.pem")
        with open(notkey, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
        for extra, why in (("example.com s %s\n" % os.path.join(self.tmp, "missing.pem"),
                            "No such file"),
                           ("example.com s %s\n" % notkey, "no PEM private key")):
            d_dir = tempfile.mkdtemp(dir=self.tmp)
            port = free_port()
            path = write_config(d_dir, listen=port, backend=self.backend().addr)
            with open(path, "a") as f:
                f.write("\n[filter dkim]\nmodule = %s\nsign_table = %s\n"
                        % (module("dkim"), self.sign_table(extra)))
            with self.assertRaises(AssertionError) as cm:
                Sluiced(d_dir, config=path, listen_port=port).stop()
            self.assertRegex(str(cm.exception), r"sluice\.conf:\d+: .*sign_table.*line 4: .*" + why)


if __name__ == "__main__":
    tap.main()
