#!/usr/bin/env python3
"""test_filters.py - end to end with filters: swaks -> sluiced [rules, an
out-of-tree filter] -> a real Postfix.

The out-of-tree filter is built the way doc/filter-api.md tells a user to: the
headers and sluice-filter.pc are installed with make (DESTDIR into a temp
directory), and the filter is compiled with the guide's exact command line,

    cc -shared -fPIC $(pkg-config --cflags sluice-filter) -o myfilter.so myfilter.c

with pkg-config pointed at that installation. sluiced then loads it by path.

Needs root (Postfix's master), postfix, swaks, cc, pkg-config, make, $SLUICED and
$BUILDDIR (the build tree, for the rules module and the install targets).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from postfix import Postfix  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
HELO = "client.example"
RCPT = "rcpt@example.com"

GUIDE_COMMAND = "cc -shared -fPIC $(pkg-config --cflags sluice-filter) -o myfilter.so myfilter.c"

# A filter a user might write after reading the guide: includes only the
# installed headers, stamps every message and refuses one recipient.
MYFILTER_C = r"""
#include <stdlib.h>
#include <string.h>
#include <sluice/filter.h>
#include <sluice/host.h>

static const struct sluice_host *host;

static int my_init(const struct sluice_host *h, struct sluice_filter_config *cfg, void **self_r)
{
	const char *v = h->config_get(cfg, "stamp");

	host = h;
	*self_r = (void *)(v != NULL ? strdup(v) : strdup("yes"));
	return *self_r != NULL ? 0 : -1;
}

static void my_fini(void *self)
{
	free(self);
}

static enum sluice_verdict my_rcpt(struct sluice_ctx *ctx, void *self, const char *rcpt,
                                   const char *const *params)
{
	(void)self;
	(void)params;
	if (strcmp(rcpt, "refused@example.com") != 0)
		return SLUICE_CONTINUE;
	host->set_reply(ctx, "550", "5.1.1", "myfilter refuses this one");
	return SLUICE_REJECT;
}

static enum sluice_verdict my_eom(struct sluice_ctx *ctx, void *self)
{
	return host->header_add(ctx, "X-Myfilter", self) == 0 ? SLUICE_CONTINUE : SLUICE_TEMPFAIL;
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "myfilter",
	.description = "out-of-tree test filter",
	.init = my_init,
	.fini = my_fini,
	.rcpt = my_rcpt,
	.eom = my_eom,
};
"""


def need_env(name):
    v = os.environ.get(name)
    if not v:
        raise AssertionError("%s is not set" % name)
    return v


def build_out_of_tree(tmp):
    """Install headers + .pc into tmp/inst with make, build myfilter.so there with
    the guide's command; returns the .so path."""
    builddir = need_env("BUILDDIR")
    inst = os.path.join(tmp, "inst")
    r = subprocess.run(["make", "-C", builddir, "DESTDIR=" + inst,
                        "install-sluiceincludeHEADERS", "install-pkgconfigDATA"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("make install of the filter headers failed:\n%s%s"
                             % (r.stdout, r.stderr))
    pcs = [os.path.join(d, f) for d, _, fs in os.walk(inst) for f in fs
           if f == "sluice-filter.pc"]
    if len(pcs) != 1:
        raise AssertionError("want one installed sluice-filter.pc under %s, found %r" % (inst, pcs))
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    with open(os.path.join(src, "myfilter.c"), "w") as f:
        f.write(MYFILTER_C)
    env = dict(os.environ)
    # What DESTDIR means to pkg-config: the .pc's paths live under a sysroot.
    env["PKG_CONFIG_PATH"] = os.path.dirname(pcs[0])
    env["PKG_CONFIG_SYSROOT_DIR"] = inst
    r = subprocess.run(["sh", "-c", GUIDE_COMMAND], cwd=src, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("the guide's command failed: %s\n%s%s"
                             % (GUIDE_COMMAND, r.stdout, r.stderr))
    cflags = subprocess.run(["pkg-config", "--cflags", "sluice-filter"], env=env,
                            capture_output=True, text=True).stdout.strip()
    if not cflags.startswith("-I" + inst + "/"):
        raise AssertionError("pkg-config --cflags sluice-filter gave %r" % cflags)
    plugins = subprocess.run(["pkg-config", "--variable=pluginsdir", "sluice-filter"], env=env,
                             capture_output=True, text=True).stdout.strip()
    if not plugins.endswith("/sluice"):
        raise AssertionError("pluginsdir is %r" % plugins)
    return os.path.join(src, "myfilter.so")


def start_sluiced(tmp, backend_port, myfilter_so):
    builddir = need_env("BUILDDIR")
    rules_so = os.path.join(builddir, "filters", "rules", ".libs", "rules.so")
    if not os.path.isfile(rules_so):
        raise AssertionError("%s was not built" % rules_so)
    port = sluicetest.free_port()
    d = os.path.join(tmp, "sluiced")
    os.makedirs(d)
    conf = sluicetest.write_config(d, listen=port, backend="127.0.0.1:%d" % backend_port,
                                   workers=2, log_level="info")
    with open(conf, "a") as f:
        f.write("\n[filter rules]\nmodule = %s\n" % rules_so)
        f.write('rule10 = sender @blocked\\.example$ reject "550 5.7.1 Blocked sender"\n')
        f.write('rule20 = any add_header "X-Rules: passed"\n')
        f.write("\n[filter myfilter]\nmodule = %s\nstamp = out-of-tree\n" % myfilter_so)
    return sluicetest.Sluiced(d, config=conf, listen_port=port)


def swaks(port, *args, timeout=120):
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--ehlo", HELO,
           "--timeout", "60", *args]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


class FiltersE2E(unittest.TestCase):
    pf = None
    sluiced = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-filters-")
        try:
            cls.myfilter = build_out_of_tree(cls.tmp)
            cls.pf = Postfix()
            cls.pf.start()
            cls.sluiced = start_sluiced(cls.tmp, cls.pf.port, cls.myfilter)
        except BaseException:
            cls.tearDownClass()
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
        self.pf.fresh()

    def diag(self):
        return self.pf.diag(self.sluiced.log)

    def test_a_rejected_sender_never_reaches_postfix(self):
        rc, out = swaks(self.sluiced.port, "--from", "spammer@blocked.example", "--to", RCPT,
                        "--header", "Subject: e2e-blocked")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("<** 550 5.7.1 Blocked sender", out, self.diag())
        self.assertEqual(self.pf.messages(count=0, settle=2.0), [], "a blocked message arrived")
        self.assertNotIn("blocked.example", self.pf.log(),
                         "Postfix heard of the blocked sender" + self.diag())

    def test_b_accepted_message_carries_headers(self):
        rc, out = swaks(self.sluiced.port, "--from", "friend@example.org", "--to", RCPT,
                        "--header", "Subject: e2e-rules", "--body", "hello through filters")
        self.assertEqual(rc, 0, out + self.diag())
        msgs = self.pf.messages(count=1, timeout=60, settle=1.0)
        self.assertEqual(len(msgs), 1, self.diag())
        head = msgs[0].split(b"\n\n", 1)[0]
        self.assertRegex(head, rb"(?m)^X-Rules: passed$", "the rules' header is missing")
        self.assertRegex(head, rb"(?m)^X-Myfilter: out-of-tree$",
                         "the out-of-tree filter's header is missing")
        self.assertIn(b"hello through filters", msgs[0])
        # Both sit above sluice's Received header (Postfix's own is on top).
        pos_sluice = re.search(rb"(?m)^Received: from \S+ \(.*\n\tby sluice\.test", head)
        self.assertIsNotNone(pos_sluice, head)
        self.assertLess(head.index(b"X-Rules:"), pos_sluice.start())
        self.assertLess(head.index(b"X-Myfilter:"), pos_sluice.start())

    def test_c_out_of_tree_filter_refuses_its_recipient(self):
        rc, out = swaks(self.sluiced.port, "--from", "friend@example.org",
                        "--to", "refused@example.com", "--header", "Subject: e2e-refused")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("<** 550 5.1.1 myfilter refuses this one", out, self.diag())
        self.assertEqual(self.pf.messages(count=0, settle=2.0), [])

    def test_z_sluiced_exits_cleanly(self):
        s, type(self).sluiced = self.sluiced, None
        rc = s.stop()
        self.assertEqual(rc, 0, "sluiced exit status %r; log tail:\n%s"
                         % (rc, "\n".join(s.log.splitlines()[-30:])))


if __name__ == "__main__":
    tap.main()
