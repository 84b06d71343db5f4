"""The spf filter in sluiced, against the recording fake backend: the seven
results and what each does by default and under each policy key, the
Received-SPF field and the notes (Authentication-Results), include, redirect,
macros, the lookup limits, a DNS failure and a DNS timeout, IPv6, the null
sender (its HELO name checked instead), the HELO check once per session, the
skip list and authenticated sessions.

DNS never leaves the machine: records come from unbound's local data
(`dns_local_data`); every other name is forwarded to a responder on loopback
(tests/lib/dnstest.py) that answers NXDOMAIN, SERVFAIL, or nothing. The client
addresses are documentation ones (RFC 5737, RFC 3849), given to sluiced with
the PROXY protocol from a trusted 127.0.0.1: libspf2 would pass loopback.

Expected results come from RFC 7208 (sections cited); codes from RFC 7372.
BUILDDIR (exported by make check) locates the built filter."""

import os
import re
import subprocess
import tempfile
import time

import tap
from dnstest import Responder, write_local_data
from sluicetest import (SluiceTestCase, Sluiced, Client, built_module, free_port,
                        log_lines, write_config)

RCPT = "bob@example.com"
CONTENT = b"Subject: spf\r\nFrom: alice@example.org\r\n\r\nbody\r\n"
AUTHSERV = "mx.sluice.test"

# Records every test may use; tests add their own.
ZONE = [
    ("example.org", "TXT", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:25::/48 -all"),
    ("mail.example.org", "TXT", "v=spf1 a -all"),
    ("mail.example.org", "A", "192.0.2.25"),
    ("soft.example", "TXT", "v=spf1 ip4:192.0.2.0/24 ~all"),
    ("neutral.example", "TXT", "v=spf1 ip4:192.0.2.0/24 ?all"),
    ("broken.example", "TXT", "v=spf1 ip4:192.0.2.0/24 frobnicate:x -all"),
    ("nospf.example", "TXT", "just some text"),
    ("bad-helo.example", "TXT", "v=spf1 -all"),
]


def spf_module():
    return built_module("filters", "spf", ".libs", "spf.so")


def probe_module():
    return built_module("tests", "stubs", ".libs", "stub_probe.so")


def proxy_v1(src):
    proto = "TCP6" if ":" in src else "TCP4"
    dst = "2001:db8::1" if ":" in src else "198.51.100.1"
    return ("PROXY %s %s %s 4321 25\r\n" % (proto, src, dst)).encode()


def unfold(raw):
    return re.sub(rb"\r\n[ \t]+", b" ", raw)


class SpfCase(SluiceTestCase):
    """sluiced with a PROXY listener (the port clients use), the spf filter and
    any filters after it, hermetic DNS."""

    def start_spf(self, spf=None, zone=(), after=(), servfail=(), silent=(), backend=None,
                  listener=None, **keys):
        fb = backend or self.backend()
        self.fb = fb
        self.backends = [fb]
        self.dns = Responder(servfail=servfail, silent=silent)
        self.addCleanup(self.dns.stop)
        d = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        local = write_local_data(os.path.join(d, "local.zone"), list(ZONE) + list(zone))
        keys.setdefault("dns_timeout", "1s")
        path = write_config(d, listen=None, backend=fb, dns=self.dns.addr, dns_local_data=local,
                            **keys)
        port = free_port()
        with open(path, "a") as f:
            f.write("\n[listener haproxy]\naddress = 127.0.0.1:%d\nproxy_protocol = v1\n"
                    "trusted = 127.0.0.1\n" % port)
            for k, v in (listener or {}).items():
                f.write("%s = %s\n" % (k, v))
            sections = [("spf", dict({"module": spf_module()}, **(spf or {})))] + list(after)
            for name, conf in sections:
                f.write("\n[filter %s]\n" % name)
                for k, v in conf.items():
                    f.write("%s = %s\n" % (k, v))
        self.daemon = Sluiced(d, config=path, listen_port=port)
        self.addCleanup(self._stop_daemon, self.daemon)
        try:
            fb.wait_probe(5.0)
        except AssertionError:
            pass
        return self.daemon

    def connect(self, ip="192.0.2.10", helo="mail.example.org"):
        c = Client(self.daemon.port)
        self.clients.append(c)
        c.send(proxy_v1(ip))
        c.greeting()
        if helo is not None:
            c.ehlo(helo)
        return c

    def mail(self, c, sender):
        c.line("MAIL FROM:<%s>" % sender)
        return c.reply(timeout=10)

    def deliver(self, c, sender="alice@example.org"):
        """MAIL (must be accepted), RCPT, DATA; returns the raw message at the backend."""
        before = len(self.fb.messages())
        code, lines = self.mail(c, sender)
        self.assertEqual(code, 250, lines)
        c.line("RCPT TO:<%s>" % RCPT)
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        return self.fb.wait_messages(before + 1)[-1].raw

    def received_spf(self, raw):
        """The unfolded value of the one Received-SPF field, which must come
        above sluice's Received (RFC 7208 9.1: prepended, like trace fields)."""
        m = re.search(rb"(?m)^Received-SPF: ((?:[^\r\n]|\r\n[ \t])*)\r\n", raw)
        self.assertTrue(m, "no Received-SPF field: %r" % raw[:400])
        self.assertEqual(raw.count(b"Received-SPF:"), 1, raw[:600])
        self.assertLess(m.start(), raw.index(b"Received: from "), raw[:600])
        for line in m.group(0).split(b"\r\n"):
            self.assertLessEqual(len(line), 78, "an over-long line: %r" % line)
        return unfold(m.group(1)).decode()

    def info(self, text):
        return [t for lvl, _, t in log_lines(self.log) if lvl == "info" and text in t]


# ---------------------------------------------------------------- results and policy

class TestResults(SpfCase):
    def test_pass_delivered_with_received_spf(self):
        """RFC 7208 5.6: ip4 matches; pass is recorded (RFC 7208 9.1) and the
        message goes on."""
        self.start_spf()
        c = self.connect("192.0.2.10")
        raw = self.deliver(c)
        v = self.received_spf(raw)
        self.assertTrue(v.startswith("pass ("), v)
        self.assertIn("domain of example.org designates 192.0.2.10 as permitted sender)", v)
        for kv in ("client-ip=192.0.2.10;", 'envelope-from="alice@example.org";',
                   "helo=mail.example.org;", "identity=mailfrom;"):
            self.assertIn(kv, v)
        self.assertTrue(self.info("mailfrom <alice@example.org> from 192.0.2.10: pass"),
                        self.log)

    def test_fail_rejected_at_mail(self):
        """-all and no match: fail, refused with 550 5.7.23 (RFC 7372); nothing
        reaches the backend."""
        self.start_spf()
        c = self.connect("198.51.100.7")
        code, lines = self.mail(c, "alice@example.org")
        self.assertEqual(code, 550, lines)
        self.assertTrue(lines[0].startswith("550 5.7.23 "), lines)
        self.assertIn("198.51.100.7", lines[0])
        self.assertIn("example.org", lines[0])
        c.line("RCPT TO:<%s>" % RCPT)
        c.expect("503 5.5.1")
        self.assertNoDataAtBackend()
        self.assertTrue(self.info("from 198.51.100.7: fail"), self.log)
        self.assertTrue(self.info("action reject"), self.log)

    def test_softfail_and_neutral_score(self):
        """softfail and neutral add points (defaults 2.0 and 0.5) and go on."""
        self.start_spf(score_header="X-Score")
        c = self.connect("198.51.100.7")
        raw = self.deliver(c, "alice@soft.example")
        self.assertTrue(self.received_spf(raw).startswith("softfail ("), raw[:300])
        self.assertRegex(raw, rb"X-Score: 2\.00 \(SPF softfail=2\.00\)\r\n")
        raw = self.deliver(c, "alice@neutral.example")
        self.assertTrue(self.received_spf(raw).startswith("neutral ("), raw[:300])
        self.assertRegex(raw, rb"X-Score: 0\.50 \(SPF neutral=0\.50\)\r\n")

    def test_none(self):
        """RFC 7208 4.3/4.5: no such domain, or no SPF record: none, delivered."""
        self.start_spf()
        c = self.connect("198.51.100.7")
        raw = self.deliver(c, "alice@nowhere.example")
        v = self.received_spf(raw)
        self.assertTrue(v.startswith("none ("), v)
        self.assertIn("domain of nowhere.example does not provide an SPF record", v)
        raw = self.deliver(c, "alice@nospf.example")
        self.assertTrue(self.received_spf(raw).startswith("none ("), raw[:300])

    def test_temperror_servfail(self):
        """RFC 7208 4.4: the record's lookup fails (SERVFAIL): temperror, and
        451 4.7.24 by default so that the client tries again."""
        self.start_spf(servfail=["servfail.example"])
        c = self.connect("192.0.2.10")
        code, lines = self.mail(c, "alice@servfail.example")
        self.assertEqual(code, 451, lines)
        self.assertTrue(lines[0].startswith("451 4.7.24 "), lines)
        self.assertTrue(self.dns.asked("servfail.example", "TXT"), self.dns.queries)
        self.assertNoDataAtBackend()

    def test_dns_timeout(self):
        """A name whose server never answers: after dns_timeout (1s), temperror;
        the session is answered within the filter's time, not stuck."""
        self.start_spf(silent=["slow.example"], zone=[
            ("timeout.example", "TXT", "v=spf1 a:slow.example ip4:192.0.2.0/24 -all")])
        c = self.connect("192.0.2.10")
        t0 = time.monotonic()
        code, lines = self.mail(c, "alice@timeout.example")
        self.assertEqual(code, 451, lines)
        self.assertTrue(lines[0].startswith("451 4.7.24 "), lines)
        self.assertLess(time.monotonic() - t0, 8.0)
        self.assertTrue(self.dns.asked("slow.example"), self.dns.queries)
        # The session goes on: another sender is checked at once.
        code, lines = self.mail(c, "alice@example.org")
        self.assertEqual(code, 250, lines)

    def test_permerror_recorded_by_default(self):
        """RFC 7208 4.6: an unknown mechanism is permerror. By default it is
        recorded only: delivered, with problem= in Received-SPF."""
        self.start_spf()
        c = self.connect("192.0.2.10")
        raw = self.deliver(c, "alice@broken.example")
        v = self.received_spf(raw)
        self.assertTrue(v.startswith("permerror ("), v)
        self.assertIn("problem=", v)

    def test_policy_keys(self):
        """Each result's key: permerror = reject gives 550 5.7.24, fail =
        tempfail 451 4.7.23, softfail = reject 550 5.7.23, pass = score:-1."""
        self.start_spf({"permerror": "reject", "fail": "tempfail", "softfail": "reject",
                        "pass": "score:-1"}, score_header="X-Score")
        c = self.connect("198.51.100.7")
        for sender, want in (("alice@broken.example", "550 5.7.24 "),
                             ("alice@example.org", "451 4.7.23 "),
                             ("alice@soft.example", "550 5.7.23 ")):
            code, lines = self.mail(c, sender)
            self.assertTrue(lines[0].startswith(want), (sender, lines))
        c2 = self.connect("192.0.2.10")
        raw = self.deliver(c2)
        self.assertRegex(raw, rb"X-Score: -1\.00 \(SPF pass=-1\.00\)\r\n")

    def test_bad_keys_refused(self):
        """sluiced -t names the key and the value it cannot use."""
        d = tempfile.mkdtemp(prefix="t", dir=self.tmp)
        path = write_config(d, backend="127.0.0.1:25")
        with open(path, "a") as f:
            f.write("\n[filter spf]\nmodule = %s\nfail = explode\nskip = 192.0.2.1/24\n"
                    "helo_fail = maybe\nauthenticated = perhaps\nsoftfail = score:lots\n"
                    % spf_module())
        r = subprocess.run([os.environ["SLUICED"], "-t", "-c", path], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        err = r.stderr.decode() + r.stdout.decode()
        self.assertNotEqual(r.returncode, 0, err)
        for text in ('fail: want reject, tempfail, score:N or none, got "explode"',
                     'skip: "192.0.2.1/24" is no address or CIDR',
                     'helo_fail: want none or reject, got "maybe"',
                     'authenticated: want skip or check, got "perhaps"',
                     'softfail: want score:N'):
            self.assertIn(text, err)


# ---------------------------------------------------------------- the record's features

class TestRecords(SpfCase):
    def test_include_and_redirect(self):
        """RFC 7208 5.2 and 6.1 through sluice's resolver."""
        self.start_spf(zone=[
            ("inc.example", "TXT", "v=spf1 include:_spf.provider.example -all"),
            ("red.example", "TXT", "v=spf1 redirect=_spf.provider.example"),
            ("_spf.provider.example", "TXT", "v=spf1 ip4:203.0.113.0/24 ~all")])
        c = self.connect("203.0.113.5")
        self.assertTrue(self.received_spf(self.deliver(c, "a@inc.example")).startswith("pass"))
        self.assertTrue(self.received_spf(self.deliver(c, "a@red.example")).startswith("pass"))
        c2 = self.connect("198.51.100.7")
        # The include's softfail is no match, so -all decides; the redirect's is the result.
        self.assertTrue(self.mail(c2, "a@inc.example")[1][0].startswith("550 5.7.23"))
        raw = self.deliver(c2, "a@red.example")
        self.assertTrue(self.received_spf(raw).startswith("softfail"), raw[:300])

    def test_macros(self):
        """RFC 7208 7: %{ir}, %{l}, %{d}, %{i} and %{s} expanded into the exists: name."""
        self.start_spf(zone=[
            ("macro.example", "TXT", "v=spf1 exists:%{ir}.%{l}._spf.%{d} "
                                     "exists:%{i}.ip.macro.example -all"),
            ("smacro.example", "TXT", "v=spf1 exists:%{s}.s.macro.example -all"),
            ("10.2.0.192.alice._spf.macro.example", "A", "127.0.0.2"),
            ("198.51.100.9.ip.macro.example", "A", "127.0.0.2")])
        c = self.connect("192.0.2.10")
        v = self.received_spf(self.deliver(c, "alice@macro.example"))
        self.assertTrue(v.startswith("pass"), v)
        code, lines = self.mail(self.connect("192.0.2.10"), "bob@macro.example")
        self.assertEqual(code, 550, lines)
        self.assertTrue(self.dns.asked("10.2.0.192.bob._spf.macro.example", "A"), self.dns.queries)
        code, lines = self.mail(self.connect("192.0.2.10"), "bob@smacro.example")
        self.assertEqual(code, 550, lines)
        self.assertTrue(self.dns.asked("bob@smacro.example.s.macro.example", "A"),
                        self.dns.queries)
        c3 = self.connect("198.51.100.9")
        self.assertTrue(self.received_spf(self.deliver(c3, "carol@macro.example"))
                        .startswith("pass"))

    def test_ten_lookup_limit(self):
        """RFC 7208 4.6.4: 10 DNS-querying terms are allowed; an 11th is permerror,
        even when it would match."""
        names = [("a%d.limit.example" % i, "A", "198.51.100.200") for i in range(1, 11)]
        ten = " ".join("a:a%d.limit.example" % i for i in range(1, 11))
        self.start_spf({"permerror": "reject"}, zone=names + [
            ("ten.example", "TXT", "v=spf1 %s ip4:192.0.2.0/24 -all" % ten),
            ("eleven.example", "TXT", "v=spf1 %s a:mail.example.org -all" % ten)])
        c = self.connect("192.0.2.25")
        self.assertTrue(self.received_spf(self.deliver(c, "a@ten.example")).startswith("pass"))
        code, lines = self.mail(c, "a@eleven.example")
        self.assertEqual(code, 550, lines)
        self.assertTrue(lines[0].startswith("550 5.7.24 "), lines)
        self.assertIn("more than 10 DNS-querying terms", lines[0])

    def test_void_lookup_limit(self):
        """RFC 7208 4.6.4: two void lookups are allowed, a third is permerror."""
        self.start_spf(zone=[
            ("two.example", "TXT", "v=spf1 a:nx1.example a:nx2.example ip4:192.0.2.0/24 -all"),
            ("three.example", "TXT", "v=spf1 a:nx1.example a:nx2.example a:nx3.example "
                                     "ip4:192.0.2.0/24 -all")])
        c = self.connect("192.0.2.10")
        self.assertTrue(self.received_spf(self.deliver(c, "a@two.example")).startswith("pass"))
        v = self.received_spf(self.deliver(c, "a@three.example"))
        self.assertTrue(v.startswith("permerror"), v)
        self.assertIn('problem="more than 2 void DNS lookups";', v)

    def test_ipv6(self):
        """RFC 7208 5.6: ip6 with an IPv6 client; client-ip quoted (RFC 7208 9.1)."""
        self.start_spf()
        c = self.connect("2001:db8:25::7")
        v = self.received_spf(self.deliver(c))
        self.assertTrue(v.startswith("pass ("), v)
        self.assertIn('client-ip="2001:db8:25::7";', v)
        code, lines = self.mail(self.connect("2001:db8:26::7"), "alice@example.org")
        self.assertEqual(code, 550, lines)


# ---------------------------------------------------------------- identities, notes

class TestIdentities(SpfCase):
    def test_null_sender_checks_helo(self):
        """RFC 7208 2.4: for MAIL FROM:<> the HELO identity is checked
        (postmaster@helo); its result is the transaction's."""
        self.start_spf(authserv_id=AUTHSERV)
        c = self.connect("192.0.2.25", helo="mail.example.org")
        raw = self.deliver(c, "")
        v = self.received_spf(raw)
        self.assertTrue(v.startswith("pass ("), v)
        self.assertIn("identity=helo;", v)
        self.assertNotIn("envelope-from", v)
        self.assertIn(b"spf=pass smtp.helo=mail.example.org", unfold(raw))
        c2 = self.connect("192.0.2.26", helo="mail.example.org")
        code, lines = self.mail(c2, "")
        self.assertEqual(code, 550, lines)
        self.assertIn("HELO", lines[0])

    def test_helo_fail_recorded_or_rejected(self):
        """A failing HELO name: recorded by default (spf.helo_result), refused
        with helo_fail = reject."""
        self.start_spf(after=[("p1", {"module": probe_module(), "at": "rcpt",
                                      "note_expect": "spf.helo_result=fail"})])
        c = self.connect("192.0.2.10", helo="bad-helo.example")
        self.deliver(c)
        self.daemon.stop()
        self.start_spf({"helo_fail": "reject"})
        c = self.connect("192.0.2.10", helo="bad-helo.example")
        code, lines = self.mail(c, "alice@example.org")
        self.assertEqual(code, 550, lines)
        self.assertTrue(lines[0].startswith("550 5.7.23 "), lines)
        self.assertIn("HELO name bad-helo.example", lines[0])

    def test_helo_checked_once_per_session(self):
        """Two transactions, one HELO check; a new EHLO name is checked again."""
        self.start_spf()
        c = self.connect("192.0.2.10", helo="mail.example.org")
        self.deliver(c)
        self.deliver(c)
        self.assertEqual(len([t for _, _, t in log_lines(self.log)
                              if "checked HELO mail.example.org" in t]), 1, self.log)
        c.ehlo("bad-helo.example")
        self.deliver(c)
        self.assertEqual(len([t for _, _, t in log_lines(self.log)
                              if "checked HELO bad-helo.example" in t]), 1, self.log)

    def test_helo_temperror_not_kept(self):
        """A HELO check that failed for DNS reasons is asked again at the next
        MAIL (a temperror is no result to keep for the session)."""
        self.start_spf(servfail=["flaky.example"])
        c = self.connect("192.0.2.10", helo="flaky.example")
        for _ in range(2):
            code, lines = self.mail(c, "")
            self.assertTrue(lines[0].startswith("451 4.7.24 "), lines)
        self.assertEqual(len([t for _, _, t in log_lines(self.log)
                              if "checked HELO flaky.example: temperror" in t]), 2, self.log)

    def test_notes(self):
        """The notes of host.h's contract, read by filters after spf (the probe
        refuses RCPT when a note differs), and the Authentication-Results
        clause sluice writes from auth-results.spf."""
        expect = [("spf.result", "softfail"), ("spf.domain", "softall.example"),
                  ("spf.scope", "mfrom"), ("spf.helo_result", "pass")]
        self.start_spf(authserv_id=AUTHSERV, zone=[("softall.example", "TXT", "v=spf1 ~all")],
                       after=[("p%d" % i, {"module": probe_module(), "at": "rcpt",
                                           "note_expect": "%s=%s" % kv})
                              for i, kv in enumerate(expect, 1)])
        c = self.connect("192.0.2.25", helo="mail.example.org")
        raw = self.deliver(c, "alice@softall.example")
        self.assertRegex(unfold(raw), rb"Authentication-Results: mx\.sluice\.test;"
                                      rb" spf=softfail smtp\.mailfrom=softall\.example\r\n")


class TestSkips(SpfCase):
    def test_skip_list(self):
        """Clients in skip are not checked: no verdict, no field, no note."""
        self.start_spf({"skip": "198.51.100.0/24 2001:db8:ff::/48"})
        c = self.connect("198.51.100.7")
        raw = self.deliver(c)
        self.assertNotIn(b"Received-SPF", raw)
        c = self.connect("203.0.113.7")
        self.assertEqual(self.mail(c, "alice@example.org")[0], 550)

    def test_authenticated_skipped(self):
        """A session that authenticated (AUTH passed to the backend) is not
        checked by default; with authenticated = check it is."""
        auth_backend = dict(caps=["PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                                  "AUTH PLAIN LOGIN"],
                            replies={"AUTH": "235 2.7.0 Authentication successful"})
        listener = {"auth": "optional", "auth_without_tls": "yes"}
        for setting, want in ((None, 250), ("check", 550)):
            keys = {"authenticated": setting} if setting else {}
            self.start_spf(keys, backend=self.backend(**auth_backend), listener=listener)
            c = self.connect("198.51.100.7")
            c.line("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
            c.expect("235")
            self.assertEqual(self.mail(c, "alice@example.org")[0], want, self.log[-3000:])
            self.daemon.stop()


if __name__ == "__main__":
    tap.main()
