"""The two shipped filters against the fake backend: example (the template) and
rules (the access list), loaded from the build directory as sluiced would load
any filter: [filter NAME] sections with module = PATH.

BUILDDIR (exported by make check) locates the modules libtool built in
$BUILDDIR/filters/*/.libs/. Unset or missing modules fail the tests, never skip."""

import os
import re
import time

import tap
from sluicetest import SluiceTestCase, Sluiced, built_module, free_port, split_received, write_config

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]
CONTENT = b"Subject: filters\r\nFrom: alice@example.org\r\n\r\nbody line\r\n..dot line\r\n"


def module(name):
    return built_module("filters", name, ".libs", name + ".so")


class FilterCase(SluiceTestCase):
    def start_filters(self, filters, backend=None, **keys):
        """Start sluiced with [filter NAME] sections after [sluice]; filters is a
        list of (name, {key: value}); "module" defaults to the built module of the
        same name without trailing digits."""
        sections = []
        for name, conf in filters:
            conf = dict(conf)
            conf.setdefault("module", module(re.sub(r"\d+$", "", name)))
            sections.append((name, conf))
        return self.start_with_filters(sections, backend, **keys)

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


class TestExample(FilterCase):
    def relay_once(self, filters):
        fb = self.backend()
        self.start_filters(filters, fb)
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        self.assertRelayed(fb.wait_relayed(), c, ENVELOPE, CONTENT, rcpt="bob@example.com")
        return fb.wait_messages(1)[0]

    def test_five_examples_change_nothing(self):
        """With no keys, five example filters in a row leave every byte alone: the
        backend sees exactly what it sees with no filter at all."""
        plain = self.relay_once([])
        self.daemon.stop()
        chained = self.relay_once([("example%d" % i, {}) for i in range(1, 6)])
        self.assertEqual(split_received(chained.raw, rcpt="bob@example.com")[1],
                         split_received(plain.raw, rcpt="bob@example.com")[1])
        self.assertEqual(split_received(chained.raw, rcpt="bob@example.com")[1], CONTENT)

    def test_reject_one_rcpt_of_three(self):
        fb = self.backend()
        self.start_filters([("example", {"reject_rcpt": "carol@example.com"})], fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("RCPT TO:<carol@example.com>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 Example filter says no to this recipient"]))
        c.line("RCPT TO:<dave@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0 Ok: queued as")
        conn = fb.wait_relayed()
        self.assertIn("RCPT TO:<bob@example.com>", conn.commands)
        self.assertIn("RCPT TO:<dave@example.com>", conn.commands)
        self.assertNotIn("RCPT TO:<carol@example.com>", conn.commands,
                         "a refused recipient reached the backend")
        self.assertEqual(len(fb.wait_messages(1)), 1)

    def test_add_header_on_top(self):
        """header_add puts the field above sluice's own Received header."""
        fb = self.backend()
        self.start_filters([("example", {"add_header": "yes"})], fb)
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        raw = fb.wait_messages(1)[0].raw
        self.assertTrue(raw.startswith(b"X-Example: seen\r\n"),
                        "X-Example is not the first header: %r" % raw[:300])
        rest = raw[len(b"X-Example: seen\r\n"):]
        self.assertEqual(split_received(rest, rcpt="bob@example.com")[1], CONTENT)

    def test_delay_waits_without_blocking_others(self):
        """delay_ms: MAIL is answered after the timer; meanwhile another session
        is served at once (the loop thread is not blocked)."""
        fb = self.backend()
        self.start_filters([("example", {"delay_ms": "1500"})], fb, workers=1)
        slow = self.client()
        slow.ehlo()
        t0 = time.monotonic()
        slow.line("MAIL FROM:<alice@example.org>")
        other = self.client()                     # greeted while slow waits
        other.line("NOOP")
        other.expect(250)
        self.assertLess(time.monotonic() - t0, 1.2, "another session waited for the timer")
        slow.expect(250, timeout=5)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)

    def test_bad_key_refused(self):
        """A bad value is a configuration error naming file:line; sluiced -t style."""
        d_dir = os.path.join(self.tmp, "bad")
        os.makedirs(d_dir)
        port = free_port()
        path = write_config(d_dir, listen=port, backend=self.backend().addr)
        with open(path, "a") as f:
            f.write("\n[filter example]\nmodule = %s\ndelay_ms = soon\n" % module("example"))
        with self.assertRaises(AssertionError) as cm:
            Sluiced(d_dir, config=path, listen_port=port).stop()
        self.assertIn("delay_ms", str(cm.exception))
        self.assertRegex(str(cm.exception), r"sluice\.conf:\d+")


class TestRules(FilterCase):
    def rules(self, *lines, **more):
        conf = {"rule%d" % (10 * (i + 1)): line for i, line in enumerate(lines)}
        conf.update(more)
        return [("rules", conf)]

    def test_client_reject(self):
        fb = self.backend()
        self.start_filters(self.rules("client 192.0.2.0/24 accept",
                                      'client 127.0.0.0/8 reject "550 5.7.1 Go away"'), fb)
        c = self.client(greet=False)
        seen = []
        code, lines = c.reply()
        seen.append(lines)
        if code == 220:
            # A host may greet and refuse every command instead of the greeting.
            c.line("EHLO client.test")
            code, lines = c.reply()
            seen.append(lines)
            if code == 250:
                c.line("MAIL FROM:<alice@example.org>")
                code, lines = c.reply()
                seen.append(lines)
        self.assertTrue(any(l[0] == "550 5.7.1 Go away" for l in seen),
                        "the rule's reply never came: %r" % seen)
        self.assertFalse(any(conn.has("MAIL") for conn in fb.conns()),
                         "a refused client's transaction reached the backend")

    def test_sender_reject(self):
        fb = self.backend()
        self.start_filters(self.rules(r'sender @spam\.example$ reject "550 5.7.1 Sender refused"'),
                           fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<x@SPAM.example>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 Sender refused"]))
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        for conn in fb.conns():
            self.assertFalse(any("spam.example" in cmd.lower() for cmd in conn.commands),
                             "refused sender reached the backend: %r" % conn.commands)
        self.assertEqual(len(fb.wait_messages(1)), 1)

    def test_rcpt_whitelist_before_client_reject(self):
        """Order decides: a recipient rule above a client rule holds the client
        rule back until RCPT, so postmaster still gets mail."""
        fb = self.backend()
        self.start_filters(self.rules("rcpt ^postmaster@ accept",
                                      'client 127.0.0.1 reject "550 5.7.1 Not from you"'), fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        self.assertEqual(c.reply(), (550, ["550 5.7.1 Not from you"]))
        c.line("RCPT TO:<postmaster@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect(250)
        self.assertEqual(len(fb.wait_messages(1)), 1)

    def test_header_regex_reject(self):
        fb = self.backend()
        self.start_filters(self.rules('header Subject "^buy now" reject "550 5.7.1 No thanks"'),
                           fb)
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(
            c, b"Subject: BUY NOW\r\n cheap\r\nFrom: a@example.org\r\n\r\nbody\r\n")
        self.assertEqual((code, lines), (550, ["550 5.7.1 No thanks"]))
        # Nothing was delivered; the session goes on.
        c.line("NOOP")
        c.expect(250)
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        msgs = fb.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual(len(fb.messages()), 1)
        self.assertNotIn(b"BUY NOW", msgs[0].raw)

    def test_add_header_and_score(self):
        fb = self.backend()
        self.start_filters(self.rules('sender ^alice@ add_header "X-Rules: alice seen"',
                                      'rcpt ^bob@ score 2.5 "bob is popular"',
                                      'header Subject ^never$ add_header "X-Never: 1"'),
                           fb, score_header="X-Sluice-Score")
        c = self.client()
        c.ehlo()
        code, lines = self.send_message(c)
        self.assertEqual(code, 250, lines)
        raw = fb.wait_messages(1)[0].raw
        head = raw.split(b"\r\n\r\n", 1)[0]
        self.assertIn(b"\r\nX-Rules: alice seen\r\n", b"\r\n" + head + b"\r\n")
        self.assertNotIn(b"X-Never", head)
        self.assertRegex(head, rb"(?m)^X-Sluice-Score: [^\r\n]*2\.5")
        # The rules' header is above sluice's Received, the original content intact.
        self.assertTrue(raw.startswith(b"X-"), raw[:200])
        self.assertTrue(raw.endswith(CONTENT), raw[-200:])

    def test_rules_file_reload(self):
        """A changed rules file is picked up at a connect after reload_interval;
        a broken edit keeps the old rules."""
        fb = self.backend()
        rules = os.path.join(self.tmp, "rules")
        with open(rules, "w") as f:
            f.write("# first version\nsender ^one@ reject \"550 5.7.1 one\"\n")
        self.start_filters([("rules", {"rules_file": rules, "reload_interval": "1s"})], fb)

        def mail_reply(sender):
            c = self.client()
            c.ehlo()
            c.line("MAIL FROM:<%s>" % sender)
            r = c.reply()
            c.line("QUIT")
            c.close()
            return r

        self.assertEqual(mail_reply("one@example.org")[0], 550)
        self.assertEqual(mail_reply("two@example.org")[0], 250)
        time.sleep(1.1)
        with open(rules + ".new", "w") as f:
            f.write("sender ^two@ reject \"550 5.7.1 two\"\n")
        os.rename(rules + ".new", rules)

        def wait_for(sender, code, what):
            deadline = time.monotonic() + 6
            while True:
                got = mail_reply(sender)     # each connect may trigger the reload
                if got[0] == code:
                    return
                if time.monotonic() > deadline:
                    self.fail("%s: %s still gets %r\n%s" % (what, sender, got, self.log[-3000:]))
                time.sleep(0.3)

        wait_for("two@example.org", 550, "reload")
        self.assertEqual(mail_reply("one@example.org")[0], 250)
        time.sleep(1.1)
        with open(rules + ".new", "w") as f:
            f.write("sender ((( reject\n")
        os.rename(rules + ".new", rules)
        deadline = time.monotonic() + 6
        while "not reloaded" not in self.log and time.monotonic() < deadline:
            mail_reply("x@example.org")
            time.sleep(0.3)
        self.assertIn("not reloaded", self.log)
        self.assertEqual(mail_reply("two@example.org")[0], 550, "old rules lost after a bad edit")

    def test_bad_rule_refused_with_location(self):
        d_dir = os.path.join(self.tmp, "bad")
        os.makedirs(d_dir)
        port = free_port()
        path = write_config(d_dir, listen=port, backend=self.backend().addr)
        with open(path, "a") as f:
            f.write("\n[filter rules]\nmodule = %s\nrule1 = sender x explode\n" % module("rules"))
        with self.assertRaises(AssertionError) as cm:
            Sluiced(d_dir, config=path, listen_port=port).stop()
        self.assertIn('unknown action "explode"', str(cm.exception))
        self.assertRegex(str(cm.exception), r"sluice\.conf:\d+")


if __name__ == "__main__":
    tap.main()
