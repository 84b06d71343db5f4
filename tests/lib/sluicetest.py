"""sluicetest.py - helpers for dialogue tests: config files, the daemon, a raw client.

    with Sluiced(tmpdir, backend=fb.addr, timeout_command="1s") as d:
        c = Client(d.port)
        c.expect("220 sluice.test ESMTP sluice")
        ...

SLUICED (environment) names the binary. When it is unset or missing, starting a
Sluiced raises AssertionError: the tests fail, they never skip.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from fakebackend import FakeBackend, ClosedPort, closed_port  # noqa: F401 (re-export)

__all__ = ["free_port", "write_config", "Sluiced", "Client", "SmtpError", "smtp_transaction",
           "SluiceTestCase", "RECEIVED_RE", "received_re", "split_received", "log_lines",
           "session_id", "CONNECT_RE", "FakeBackend", "closed_port", "HOST"]

HOST = "sluice.test"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
REPLY_TIMEOUT = 5.0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _addr(v):
    return "127.0.0.1:%d" % v if isinstance(v, int) else getattr(v, "addr", v)


def write_config(dir, **keys):
    """Write dir/sluice.conf with a [sluice] section and return its path.

    Defaults: listen (a free port, int ports become 127.0.0.1:PORT), hostname,
    workers, spool_dir (dir/spool), log_level, shutdown_timeout. A list value
    writes the key once per element; None drops a key. backend/listen accept a
    port number, an "ip:port" string, or a FakeBackend/ClosedPort (its .addr)."""
    conf = {
        "listen": free_port(),
        "hostname": HOST,
        "workers": 1,
        "spool_dir": os.path.join(dir, "spool"),
        "log_level": "debug",
        "shutdown_timeout": "3s",
    }
    conf.update(keys)
    os.makedirs(conf["spool_dir"] or os.path.join(dir, "spool"), exist_ok=True)
    lines = ["[sluice]"]
    for key, value in conf.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if key in ("listen", "backend"):
                v = _addr(v)
            lines.append("%s = %s" % (key, v))
    path = os.path.join(dir, "sluice.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _listening(port):
    """True when some socket is in LISTEN state on port (Linux /proc)."""
    want = ":%04X" % port
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except OSError:
            continue
    return False


class Sluiced:
    """sluiced -f -c CONF, stderr in DIR/sluiced.log. Started on construction.

    Sluiced(dir, **config_keys) writes the config with write_config; pass
    config=PATH to use an existing file (then listen_port=PORT too)."""

    def __init__(self, dir=None, config=None, listen_port=None, **keys):
        binary = os.environ.get("SLUICED")
        if not binary:
            raise AssertionError("SLUICED is not set: it must name the sluiced binary to test")
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise AssertionError("SLUICED=%s is not an executable file" % binary)
        self._own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix="sluiced-")
        if config is None:
            keys.setdefault("listen", free_port())
            listen_port = keys["listen"] if isinstance(keys["listen"], int) else \
                int(str(keys["listen"]).rsplit(":", 1)[1])
            config = write_config(self.dir, **keys)
        self.config = config
        self.port = listen_port
        self.addr = "127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.dir, "sluiced.log")
        self._logf = open(self.log_path, "wb")
        self.returncode = None
        self.proc = subprocess.Popen([binary, "-f", "-c", config], stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        self.pid = self.proc.pid
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        use_proc = os.path.exists("/proc/net/tcp")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self._logf.close()
                raise AssertionError("sluiced exited with status %s during start; log:\n%s"
                                     % (self.returncode, self.log))
            if use_proc:
                if _listening(self.port):
                    return
            else:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return
                except OSError:
                    pass
            time.sleep(0.02)
        self.stop()
        raise AssertionError("sluiced did not listen on %s within %.0fs; log:\n%s"
                             % (self.addr, START_TIMEOUT, self.log))

    @property
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for exit (bounded); returns the exit status, or None if still running."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; SIGKILL after timeout (then the status is -9). Returns
        the exit status (negative: killed by that signal)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        if not self._logf.closed:
            self._logf.close()
        return self.returncode

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SmtpError(AssertionError):
    pass


REPLY_LINE = re.compile(r"^(\d{3})([ -])(.*)$", re.S)


class Client:
    """A raw SMTP client on 127.0.0.1:port. Every send() is one write."""

    def __init__(self, port, timeout=REPLY_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.buf = bytearray()
        self.eof = False
        self.received = bytearray()        # everything read from the server
        self.transcript = []               # ("C"|"S", bytes)

    # ------------------------------------------------------------ writing
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.transcript.append(("C", data))
        self.sock.sendall(data)

    def send_split(self, data, sizes, pause=0.05):
        """Send data in several writes of the given sizes (the rest goes last),
        pausing between them so they arrive as separate segments."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        pos = 0
        for n in sizes:
            self.send(data[pos:pos + n])
            pos += n
            time.sleep(pause)
        if pos < len(data):
            self.send(data[pos:])

    def line(self, text):
        """Send one command line (CRLF appended)."""
        self.send((text.encode("utf-8") if isinstance(text, str) else text) + b"\r\n")

    # ------------------------------------------------------------ reading
    def _fill(self, deadline):
        """Read more into buf; False at EOF or when the deadline has passed."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        self.received += data
        self.transcript.append(("S", data))
        return True

    def reply(self, timeout=None, raw=False):
        """Read one complete reply. Returns (code, [lines]) (lines without CRLF,
        with their "250-"/"250 " prefix), or its raw text when raw=True.
        Raises SmtpError on timeout, EOF or a malformed line."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines = []
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i < 0:
                start = len(self.buf)
                if not self._fill(deadline):
                    why = "connection closed" if self.eof else "timeout"
                    raise SmtpError("%s while reading a reply; partial: %r" % (why, bytes(self.buf)))
                continue
            line = bytes(self.buf[:i + 1])
            del self.buf[:i + 1]
            start = 0
            text = line.decode("utf-8", "replace")
            if not text.endswith("\r\n"):
                raise SmtpError("reply line without CRLF: %r" % line)
            m = REPLY_LINE.match(text[:-2])
            if not m:
                raise SmtpError("malformed reply line %r (after %r)" % (text, lines))
            lines.append(text[:-2])
            if lines and lines[0][:3] != m.group(1):
                raise SmtpError("reply code changed within a reply: %r" % lines)
            if m.group(2) == " ":
                if raw:
                    return "".join(l + "\r\n" for l in lines)
                return int(m.group(1)), lines

    def expect(self, spec, timeout=None):
        """Read a reply and check it against spec: 250, "250", "550 5.5.2" or a
        longer prefix of the first line ("220 sluice.test ESMTP sluice").
        Returns the lines."""
        try:
            code, lines = self.reply(timeout)
        except SmtpError as e:
            raise SmtpError("expected %r: %s" % (spec, e)) from None
        spec = str(spec)
        if str(code) != spec[:3] or not lines[0][4:].startswith(spec[4:]):
            raise SmtpError("expected %r, got %r" % (spec, lines))
        return lines

    def expect_exact(self, text, timeout=None):
        """Read a reply and check it equals text ("\\r\\n" between lines, none at the end)."""
        got = self.reply(timeout, raw=True)
        if got != text + "\r\n":
            raise SmtpError("expected %r, got %r" % (text, got))
        return got

    def closed(self, timeout=None):
        """True when the server closes the connection within timeout (data that
        arrives meanwhile is kept in the buffer)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            if not self._fill(deadline) and not self.eof:
                return False
        return True

    def read_all_until_close(self, timeout=None):
        """Everything still unread up to EOF; raises SmtpError if no EOF within timeout."""
        if not self.closed(timeout):
            raise SmtpError("connection not closed; read so far: %r" % bytes(self.buf))
        data = bytes(self.buf)
        del self.buf[:]
        return data

    def replies_until_close(self, timeout=None):
        """Parse every reply up to EOF: a list of (code, lines)."""
        data = self.read_all_until_close(timeout)
        out = []
        cur = []
        for line in data.decode("utf-8", "replace").split("\r\n"):
            if not line:
                continue
            cur.append(line)
            if len(line) < 4 or line[3] != "-":
                out.append((int(line[:3]) if line[:3].isdigit() else None, cur))
                cur = []
        if cur:
            out.append((None, cur))
        return out

    # ------------------------------------------------------------ conveniences
    def greeting(self):
        return self.expect("220 %s ESMTP sluice" % HOST)

    def ehlo(self, name="client.test"):
        self.line("EHLO " + name)
        return self.expect(250)

    def helo(self, name="client.test"):
        self.line("HELO " + name)
        return self.expect("250 %s" % HOST)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def smtp_transaction(client, mail_from, rcpts, data_bytes, expect_final=None):
    """MAIL, RCPTs, DATA and the content, one command at a time. data_bytes is the
    content as on the wire (already dot-stuffed, ending with CRLF); ".\\r\\n" is
    appended. Expects 250 for MAIL and each RCPT and 354 for DATA. Returns the
    reply to the final dot as (code, lines); checks it when expect_final is given."""
    client.line("MAIL FROM:<%s>" % mail_from)
    client.expect(250)
    for r in rcpts:
        client.line("RCPT TO:<%s>" % r)
        client.expect(250)
    client.line("DATA")
    client.expect("354")
    client.send(data_bytes + b".\r\n")
    code, lines = client.reply()
    if expect_final is not None:
        spec = str(expect_final)
        if str(code) != spec[:3] or not lines[0][4:].startswith(spec[4:]):
            raise SmtpError("final dot: expected %r, got %r" % (spec, lines))
    return code, lines


# ---------------------------------------------------------------- Received header
DATE_RE = r"(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}(?::\d{2})? [+-]\d{4}(?: \([^)\r\n]*\))?"


def received_re(helo="client.test", proto="ESMTP", rcpt=None, addr="127.0.0.1"):
    """A compiled regex for sluice's Received header (bytes), anchored at the start.

    RFC 5321 4.4: Stamp = From-domain By-domain Opt-info [CFWS] ";" FWS date-time,
    so without a "for" clause the ";" follows the id."""
    pat = (r"Received: from %s \([^\s()\[\]]+ \[%s\]\)\r\n"
           r"\tby %s \(sluice\) with %s id [A-Za-z0-9]+"
           % (re.escape(helo), re.escape(addr), re.escape(HOST), proto))
    if rcpt is not None:
        pat += r"\r\n\tfor <?%s>?; %s\r\n" % (re.escape(rcpt), DATE_RE)
    else:
        pat += r";\r\n\t%s\r\n" % DATE_RE
    return re.compile(("\\A" + pat).encode("ascii"))


RECEIVED_RE = received_re


def split_received(data, **kw):
    """(header, rest) when data starts with a matching Received header, else raise."""
    r = received_re(**kw)
    m = r.match(data)
    if not m:
        raise AssertionError("backend data does not start with the expected Received header\n"
                             "pattern: %r\ndata: %r" % (r.pattern, data[:400]))
    return m.group(0), data[m.end():]


# ---------------------------------------------------------------- log
LOG_LINE = re.compile(r" sluiced (error|warning|info|debug) (\S+): (.*)$")


def log_lines(log):
    """[(level, sid, text)] for each sluiced log line."""
    out = []
    for line in log.splitlines():
        m = LOG_LINE.search(line)
        if m:
            out.append(m.groups())
    return out


CONNECT_RE = re.compile(r"(?<!dis)connect from")


def session_id(log, client_port=None):
    """The session id of the "connect from" line (the one naming client_port when
    given and present, else the last)."""
    connects = [(lvl, sid, t) for lvl, sid, t in log_lines(log) if CONNECT_RE.search(t)]
    if not connects:
        raise AssertionError("no 'connect from' line in the log:\n" + log)
    if client_port is not None:
        mine = [c for c in connects if re.search(r"\b%d\b" % client_port, c[2])]
        if mine:
            return mine[-1][1]
    return connects[-1][1]


# ---------------------------------------------------------------- test base class
def built_module(*relpath):
    """A .so that make built, under $BUILDDIR; a missing one fails, never skips."""
    builddir = os.environ.get("BUILDDIR")
    if not builddir:
        raise AssertionError("BUILDDIR is not set: it must name the build directory")
    path = os.path.join(builddir, *relpath)
    if not os.path.isfile(path):
        raise AssertionError("module %s was not built" % path)
    return path


class SluiceTestCase(unittest.TestCase):
    """Per-test temp dir, backends, a daemon and clients, all cleaned up; the
    daemon's exit status must be 0 (ASan leaks make it non-zero)."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sluice-test-")
        self.clients = []
        self.daemon = None
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def backend(self, **knobs):
        fb = FakeBackend(**knobs)
        self.addCleanup(fb.stop)
        return fb

    def closed_port(self):
        cp = closed_port()
        self.addCleanup(cp.close)
        return cp

    def start(self, backend=None, wait_probe=True, **keys):
        """Start sluiced (one per test). backend: a FakeBackend, ClosedPort, address
        or a list of them; a fresh FakeBackend when None. Waits (bounded, not
        fatal) for sluiced's capability probe to reach each FakeBackend."""
        if backend is None:
            backend = self.backend()
        backends = backend if isinstance(backend, (list, tuple)) else [backend]
        self.backends = backends
        self.fb = backends[0] if isinstance(backends[0], FakeBackend) else None
        d = Sluiced(tempfile.mkdtemp(prefix="d", dir=self.tmp), backend=list(backends), **keys)
        self.daemon = d
        self.addCleanup(self._stop_daemon, d)
        if wait_probe:
            for b in backends:
                if isinstance(b, FakeBackend) and not b.knobs.get("blackhole") \
                        and str(b.knobs.get("greeting", "220")).startswith("220"):
                    try:
                        b.wait_probe(5.0)
                    except AssertionError:
                        pass
        return d

    def start_with_filters(self, sections, backend=None, **keys):
        """Start sluiced with one [filter NAME] section per (name, {key: value}) of
        sections, in order, after the [sluice] keys; each section names its
        module. Waits (bounded, not fatal) for the capability probe."""
        if backend is None:
            backend = self.backend()
        self.backends = [backend]
        self.fb = backend
        d_dir = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        port = free_port()
        path = write_config(d_dir, listen=port, backend=backend.addr, **keys)
        with open(path, "a") as f:
            for name, conf in sections:
                f.write("\n[filter %s]\n" % name)
                for k, v in conf.items():
                    f.write("%s = %s\n" % (k, v))
        d = Sluiced(d_dir, config=path, listen_port=port)
        self.daemon = d
        self.addCleanup(self._stop_daemon, d)
        try:
            backend.wait_probe(5.0)
        except AssertionError:
            pass
        return d

    def _stop_daemon(self, d):
        for c in self.clients:
            c.close()
        status = d.stop()
        if status != 0:
            self.fail("sluiced exited with status %r; log:\n%s" % (status, d.log[-20000:]))

    def client(self, greet=True, timeout=REPLY_TIMEOUT):
        c = Client(self.daemon.port, timeout)
        self.clients.append(c)
        if greet:
            c.greeting()
        return c

    def ehlo_client(self, name="client.test"):
        c = self.client()
        c.ehlo(name)
        return c

    @property
    def log(self):
        return self.daemon.log if self.daemon else ""

    # ------------------------------------------------------------ assertions
    def assertReply(self, got, spec):
        code, lines = got
        spec = str(spec)
        self.assertTrue(str(code) == spec[:3] and lines[0][4:].startswith(spec[4:]),
                        "expected %r, got %r" % (spec, lines))

    def assertNoBareCRLF(self, data):
        stripped = data.replace(b"\r\n", b"")
        self.assertNotIn(b"\r", stripped, "bare CR in %r" % data)
        self.assertNotIn(b"\n", stripped, "bare LF in %r" % data)

    def assertNoDataAtBackend(self, fb=None):
        for b in ([fb] if fb else [x for x in self.backends if isinstance(x, FakeBackend)]):
            for c in b.conns():
                self.assertFalse(c.has("DATA") or c.has("BDAT"),
                                 "backend received DATA/BDAT: %r" % c.raw)
                self.assertEqual(c.messages, [])

    def xclient_re(self, client, helo="client.test", proto="ESMTP"):
        """Regex (bytes) of the XCLIENT line sluiced sends for client."""
        return (r"XCLIENT NAME=[^\s=]+ ADDR=127\.0\.0\.1 PORT=%d PROTO=%s HELO=%s\r\n"
                % (client.local_port, proto, re.escape(helo))).encode()

    def assertRelayed(self, conn, client, envelope, content, helo="client.test", proto="ESMTP",
                      xclient=True, rcpt=None):
        """Check the exact bytes of a relayed backend connection up to the final dot:
        EHLO (optional with XCLIENT) [XCLIENT, then the client's own EHLO/HELO again, as Postfix needs to
        keep the client's HELO] envelope lines (MAIL, RCPT... as str, without CRLF),
        DATA, sluice's Received header (rcpt: its "for" address), content (as on
        the wire, dot-stuffed), ".\r\n". Anything after that is not checked.
        Returns the regex match."""
        pat = re.escape(b"EHLO sluice.test\r\n")
        if xclient:
            # When the backend's capabilities are already known (probe), sluice
            # sends XCLIENT right after the greeting, without its own EHLO.
            pat = b"(?:" + pat + b")?"
            again = ("EHLO " if proto == "ESMTP" else "HELO ") + helo + "\r\n"
            pat += self.xclient_re(client, helo, proto) + re.escape(again.encode())
        for line in envelope:
            pat += re.escape(line.encode("utf-8") + b"\r\n")
        pat += re.escape(b"DATA\r\n")
        pat += received_re(helo, proto, rcpt).pattern[2:]   # drop \A
        pat += re.escape(content + b".\r\n")
        m = re.match(pat, conn.raw)
        if not m:
            self.fail("backend bytes differ from the expected relay\nexpected (regex): %r\n"
                      "got: %r" % (pat, conn.raw))
        return m
