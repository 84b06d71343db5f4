"""fakebackend.py - a recording fake backend MTA for dialogue tests.

A small threaded SMTP server on 127.0.0.1 (free port) that runs inside the test
process, records every byte it receives per connection, and has smtp-sink style
fault knobs.

    fb = FakeBackend()                       # started; fb.port, fb.addr
    ...
    conn = fb.wait_relayed()                 # the connection that carried MAIL
    conn.raw                                 # every byte received (bytes)
    conn.commands                            # command lines received (str, no CRLF)
    conn.messages                            # [Message]: .raw (as on the wire,
                                             #  still dot-stuffed), .content, .qid
    fb.stop()

Fault knobs (keyword arguments, all optional; per connection number through
per_conn={n: {knob: value}}, connections numbered from 1 in accept order):

    caps=[...]             EHLO keywords (default DEFAULT_CAPS)
    greeting="421 4.3.2 busy"   greeting line; a 4xx/5xx greeting closes after it
    blackhole=True         accept, never greet, read and record until closed
    replies={"MAIL": "451 4.3.0 later", "DOT": "554 5.7.1 no"}
                           reply for a verb instead of the default; "DOT" (or
                           ".") is the reply to the end of data; "GREETING" too.
                           A reply may be multi-line ("250-a\\r\\n250 b") or
                           malformed ("25 x", "garbage"); CRLF is appended.
    rcpt_replies={"bad@example.com": "550 5.1.1 <bad@example.com>: unknown"}
    delays={"DOT": 10.0}   seconds to wait before replying to a verb
    close_after={"DOT"}    close without a reply after receiving this verb
    extra={"MAIL": b"..."} bytes sent right after the reply to a verb
    xclient_needs_ehlo=True  XCLIENT before any EHLO gets "503 5.5.1"
    nth_replies={"XCLIENT": {2: "421 4.3.2 busy"}}
                           reply for the n-th time (from 1) a verb arrives on one
                           connection, over replies; the reply "CLOSE" closes
                           without a reply (a second XCLIENT on a reused
                           connection is the case this is for)
    nth_delays={"XCLIENT": {2: 5.0}}
                           delays for the n-th time a verb arrives, like nth_replies
    idle_timeout=2.0       seconds without a byte from the client before the
                           fake closes (default IDLE_TIMEOUT)
    idle_reply="421 4.4.2 backend.test Error: timeout exceeded"
                           sent (CRLF added) before that close, as Postfix does
    lenient_dot=True       end DATA also on <LF>.<LF>, <LF>.<CR><LF>, <CR><LF>.<LF>
                           (like a lenient MTA: makes smuggling visible as a
                           second message)
    starttls=(cert, key)   offer STARTTLS (before TLS only), answer 220 and wrap
                           the connection server-side with this certificate;
                           replies={"STARTTLS": "454 ..."} refuses instead.
                           conn.tls is then the TLS version, conn.tls_at the
                           number of commands received before the upgrade,
                           conn.tls_error why a handshake failed
    tls_caps=[...]         EHLO keywords after TLS (default: caps)
    starttls_inject=b"..." sent in the same write as the 220 to STARTTLS (a
                           man in the middle's injection)
    starttls_close=True    after the 220 to STARTTLS, close instead of TLS
    auth={"alice": "secret"}  answer AUTH PLAIN and AUTH LOGIN (offer them with
                           caps=[..., "AUTH PLAIN LOGIN"]) against these users:
                           235, 535 5.7.8, or 501 5.7.0 for a "*" response;
                           conn.auth records (mechanism, user, result) tuples

The knobs are copied when a connection is accepted: changing fb.knobs (say,
fb.knobs["greeting"] = "421 ...") affects later connections only.
conn.close_now(reply=None) closes one connection from the test (the backend
going away while sluice keeps the connection idle), after sending reply.

closed_port() gives a ClosedPort: a bound, non-listening socket (connections
to it are refused) that holds the port until .close().
"""

import base64
import itertools
import re
import socket
import ssl
import threading
import time

__all__ = ["FakeBackend", "Connection", "Message", "ClosedPort", "closed_port", "DEFAULT_CAPS"]

DEFAULT_CAPS = [
    "PIPELINING",
    "SIZE 10240000",
    "8BITMIME",
    "SMTPUTF8",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "XCLIENT NAME ADDR PORT PROTO HELO LOGIN",
]

HOSTNAME = "backend.test"
IDLE_TIMEOUT = 30.0          # a connection idle this long is closed by the fake
MAX_LINE = 1 << 20

_qids = itertools.count(1)
_qid_lock = threading.Lock()


def _new_qid():
    with _qid_lock:
        return "QID%06d" % next(_qids)


class ClosedPort:
    """A port with nothing listening: bound (so nobody else gets it), not listening."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port

    def close(self):
        self.sock.close()

    def stop(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def closed_port():
    return ClosedPort()


class Message:
    def __init__(self, raw, kind="DATA"):
        self.raw = bytes(raw)              # as received, dot-stuffed, without the final ".\r\n"
        self.kind = kind                   # "DATA" or "BDAT"
        self.qid = None
        self.reply = None
        if kind == "DATA":
            self.content = re.sub(rb"(^|\r\n)\.", rb"\1", self.raw)
        else:
            self.content = self.raw

    def __repr__(self):
        return "<Message %s %s %d octets>" % (self.kind, self.qid, len(self.raw))


class _Cancel(Exception):
    pass


class _Closed(Exception):
    pass


class Connection:
    """One accepted connection and what was received on it."""

    def __init__(self, number, sock, peer, knobs, stop_event):
        self.number = number
        self.sock = sock
        self.peer = peer
        self.knobs = knobs
        self._stop = stop_event
        self._raw = bytearray()
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.commands = []                 # str lines (latin-1), without line end
        self.messages = []                 # [Message]
        self.xclient = []                  # [dict] of each XCLIENT's attributes
        self.xforward = []                 # [dict] of each XFORWARD's attributes
        self.auth = []                     # (mechanism, user, result) of each AUTH
        self.sent = bytearray()            # every byte the fake sent
        self.done = threading.Event()      # set when the connection is finished
        self._counts = {}                  # verb -> times seen (nth_replies)
        self.tls = None                    # TLS version once upgraded
        self.tls_at = None                 # len(commands) at the upgrade
        self.tls_error = None              # a failed server-side handshake

    # ------------------------------------------------------------ recording
    @property
    def raw(self):
        with self._lock:
            return bytes(self._raw)

    def verbs(self):
        return [c.split(" ", 1)[0].upper() for c in list(self.commands)]

    def has(self, verb):
        return verb.upper() in self.verbs()

    def __repr__(self):
        return "<Connection #%d %r>" % (self.number, self.raw[:300])

    # ------------------------------------------------------------ I/O
    def _recv_more(self):
        deadline = time.monotonic() + self.knobs.get("idle_timeout", IDLE_TIMEOUT)
        while True:
            if self._stop.is_set():
                raise _Closed()
            if time.monotonic() > deadline:
                if self.knobs.get("idle_reply"):
                    self.send(self.knobs["idle_reply"] + "\r\n")
                raise _Closed()
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                raise _Closed()
            if not data:
                raise _Closed()
            with self._lock:
                self._raw += data
            self._buf += data
            return

    def _readline(self):
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[: i + 1])
                del self._buf[: i + 1]
                return line
            if len(self._buf) > MAX_LINE:
                raise _Closed()
            self._recv_more()

    def _readexact(self, n):
        while len(self._buf) < n:
            self._recv_more()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _read_data(self):
        """Read DATA content up to the end-of-data line; return it without that line."""
        lenient = self.knobs.get("lenient_dot")
        start = 0
        while True:
            buf = self._buf
            if bytes(buf[:3]) == b".\r\n":
                del self._buf[:3]
                return b""
            if lenient and bytes(buf[:2]) == b".\n":
                del self._buf[:2]
                return b""
            i = buf.find(b"\r\n.\r\n", start)
            cands = [(i, 5, 2)] if i >= 0 else []
            if lenient:
                for pat, keep in ((b"\n.\r\n", 1), (b"\n.\n", 1)):
                    j = buf.find(pat, start)
                    if j >= 0:
                        cands.append((j, len(pat), keep))
            if cands:
                j, plen, keep = min(cands)
                data = bytes(buf[: j + keep])
                del self._buf[: j + plen]
                return data
            start = max(0, len(buf) - 5)
            self._recv_more()

    def close_now(self, reply=None):
        """From the test: send reply (CRLF added) if given, then close."""
        try:
            if reply is not None:
                self.send(reply + "\r\n")
            self.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, _Closed):
            pass
        self.done.wait(3)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.sent += data
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Closed()

    # ------------------------------------------------------------ behaviour
    def _wait(self, seconds):
        if seconds:
            self._stop.wait(seconds)
            if self._stop.is_set():
                raise _Closed()

    def _auth_response(self, challenge):
        """Send a 334 challenge, read the client's line; None when it cancels."""
        self._reply("AUTH-334", "334 " + challenge)
        line = self._readline().rstrip(b"\r\n").decode("latin-1")
        self.commands.append("(AUTH response)")
        return None if line == "*" else line

    def _auth(self, arg):
        """AUTH PLAIN [ir] or AUTH LOGIN, checked against knobs["auth"]."""
        users = self.knobs["auth"]
        mech, _, ir = arg.partition(" ")
        mech = mech.upper()
        try:
            if mech == "PLAIN":
                resp = ir if ir else self._auth_response("")
                if resp is None:
                    raise _Cancel()
                parts = base64.b64decode(resp).split(b"\0")
                user, password = parts[1].decode(), parts[2].decode()
            elif mech == "LOGIN":
                u = self._auth_response("VXNlcm5hbWU6")
                if u is None:
                    raise _Cancel()
                p = self._auth_response("UGFzc3dvcmQ6")
                if p is None:
                    raise _Cancel()
                user, password = base64.b64decode(u).decode(), base64.b64decode(p).decode()
            else:
                self._reply("AUTH", "504 5.5.4 Unrecognized authentication type")
                return
        except _Cancel:
            self.auth.append((mech, None, "cancelled"))
            self._reply("AUTH", "501 5.7.0 Authentication aborted")
            return
        except (ValueError, IndexError):
            self.auth.append((mech, None, "malformed"))
            self._reply("AUTH", "501 5.5.2 Cannot decode response")
            return
        ok = users.get(user) == password
        self.auth.append((mech, user, "ok" if ok else "failed"))
        self._reply("AUTH", "235 2.7.0 Authentication successful" if ok
                    else "535 5.7.8 Error: authentication failed: authentication failure")

    def _reply(self, verb, default):
        """Apply delay / close_after / replies / extra for verb, sending default
        unless a reply is configured. Returns the reply actually sent."""
        k = self.knobs
        self._counts[verb] = self._counts.get(verb, 0) + 1
        self._wait(k.get("delays", {}).get(verb, 0))
        self._wait(k.get("nth_delays", {}).get(verb, {}).get(self._counts[verb], 0))
        if verb in k.get("close_after", ()):
            raise _Closed()
        text = k.get("replies", {}).get(verb, default)
        if verb == "DOT" and "DOT" not in k.get("replies", {}):
            text = k.get("replies", {}).get(".", default)
        text = k.get("nth_replies", {}).get(verb, {}).get(self._counts[verb], text)
        if text == "CLOSE":
            raise _Closed()
        self.send(text + "\r\n")
        if verb in k.get("extra", {}):
            self.send(k["extra"][verb])
        return text

    def _ehlo_reply(self, name):
        caps = list(self.knobs.get("caps", DEFAULT_CAPS))
        if self.tls:
            caps = list(self.knobs.get("tls_caps", caps))
        elif self.knobs.get("starttls"):
            caps.append("STARTTLS")
        lines = [HOSTNAME] + list(caps)
        return "\r\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                           for i, l in enumerate(lines))

    def after_tls(self):
        """The commands received over TLS (None when never upgraded)."""
        return None if self.tls_at is None else list(self.commands)[self.tls_at:]

    def _starttls(self):
        k = self.knobs
        text = k.get("replies", {}).get("STARTTLS", "220 2.0.0 Ready to start TLS")
        # One write: an injection arrives together with the 220.
        self.send((text + "\r\n").encode() + k.get("starttls_inject", b""))
        if not text.startswith("220"):
            return
        del self._buf[:]          # what the client pipelined is not believed either
        if k.get("starttls_close"):
            self.tls_at = len(self.commands)
            self.tls_error = "closed (starttls_close)"
            raise _Closed()
        cert, key = k["starttls"]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.tls_at = len(self.commands)
        self.sock.settimeout(10.0)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.tls_error = str(e)
            raise _Closed()
        self.sock.settimeout(0.2)
        self.tls = self.sock.version()

    def _caps_upper(self):
        return [c.split(" ", 1)[0].upper() for c in self.knobs.get("caps", DEFAULT_CAPS)]

    def run(self):
        try:
            self.sock.settimeout(0.2)
            self._serve()
        except _Closed:
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.done.set()

    def _serve(self):
        k = self.knobs
        if k.get("blackhole"):
            while True:
                self._recv_more()
        greeting = k.get("greeting", "220 %s ESMTP fakebackend" % HOSTNAME)
        greeting = self._reply("GREETING", greeting)
        if not greeting.startswith("220"):
            raise _Closed()
        bdat_parts = None
        while True:
            line = self._readline()
            text = line.rstrip(b"\r\n").decode("latin-1")
            self.commands.append(text)
            verb = text.split(" ", 1)[0].upper()
            arg = text[len(verb) + 1:] if " " in text else ""
            if verb == "EHLO":
                self._reply(verb, self._ehlo_reply(arg))
            elif verb == "HELO":
                self._reply(verb, "250 %s" % HOSTNAME)
            elif verb == "XCLIENT" and k.get("xclient_needs_ehlo") and not any(
                    c.upper().startswith("EHLO") for c in self.commands[:-1]):
                # Some servers want EHLO before XCLIENT.
                self._reply("XCLIENT-EARLY", "503 5.5.1 Error: send EHLO first")
            elif verb in ("XCLIENT", "XFORWARD"):
                attrs = {}
                for item in arg.split():
                    key, _, value = item.partition("=")
                    attrs[key.upper()] = value
                if verb == "XCLIENT":
                    self.xclient.append(attrs)
                    self._reply(verb, greeting)
                else:
                    # Postfix: attributes for the next transaction only.
                    self.xforward.append(attrs)
                    self._reply(verb, "250 2.0.0 Ok")
            elif verb == "AUTH" and k.get("auth") is not None:
                self._auth(arg)
            elif verb == "STARTTLS" and k.get("starttls") and not self.tls:
                self._starttls()
            elif verb == "MAIL":
                bdat_parts = None
                self._reply(verb, "250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.match(r"(?i)TO:\s*<([^>]*)>", arg)
                addr = m.group(1).lower() if m else ""
                per = {a.lower(): r for a, r in k.get("rcpt_replies", {}).items()}
                self._reply(verb, per.get(addr, "250 2.1.5 Ok"))
            elif verb == "DATA":
                sent = self._reply(verb, "354 End data with <CR><LF>.<CR><LF>")
                if not sent.startswith("354"):
                    continue
                msg = Message(self._read_data(), "DATA")
                self.messages.append(msg)
                msg.qid = _new_qid()
                msg.reply = self._reply("DOT", "250 2.0.0 Ok: queued as %s" % msg.qid)
            elif verb == "BDAT" and "CHUNKING" in self._caps_upper():
                parts = arg.split()
                try:
                    size = int(parts[0])
                except (IndexError, ValueError):
                    self._reply(verb, "501 5.5.4 Syntax: BDAT count [LAST]")
                    continue
                chunk = self._readexact(size)
                bdat_parts = (bdat_parts or []) + [chunk]
                if len(parts) > 1 and parts[1].upper() == "LAST":
                    msg = Message(b"".join(bdat_parts), "BDAT")
                    bdat_parts = None
                    self.messages.append(msg)
                    msg.qid = _new_qid()
                    msg.reply = self._reply("DOT", "250 2.0.0 Ok: queued as %s" % msg.qid)
                else:
                    self._reply(verb, "250 2.0.0 Ok: %d bytes" % size)
            elif verb == "RSET":
                bdat_parts = None
                self._reply(verb, "250 2.0.0 Ok")
            elif verb == "NOOP":
                self._reply(verb, "250 2.0.0 Ok")
            elif verb == "QUIT":
                self._reply(verb, "221 2.0.0 Bye")
                raise _Closed()
            else:
                self._reply(verb, "502 5.5.2 Error: command not recognized")


class FakeBackend:
    """Recording fake MTA. Starts listening on construction (see module doc)."""

    def __init__(self, per_conn=None, **knobs):
        self.knobs = knobs
        self.per_conn = per_conn or {}
        self.connections = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(64)
        self._lsock.settimeout(0.2)
        self.port = self._lsock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True,
                                          name="fakebackend-%d" % self.port)
        self._accepter.start()

    def _knobs_for(self, number):
        k = dict(self.knobs)
        k.update(self.per_conn.get(number, {}))
        return k

    def _accept_loop(self):
        number = 0
        while not self._stop.is_set():
            try:
                sock, peer = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            number += 1
            conn = Connection(number, sock, peer, self._knobs_for(number), self._stop)
            with self._lock:
                self.connections.append(conn)
            t = threading.Thread(target=conn.run, daemon=True,
                                 name="fakebackend-%d-%d" % (self.port, number))
            self._threads.append(t)
            t.start()

    # ------------------------------------------------------------ queries
    def conns(self):
        with self._lock:
            return list(self.connections)

    def relayed(self):
        """Connections that carried a MAIL command (the relayed ones, not probes)."""
        return [c for c in self.conns() if c.has("MAIL")]

    def probes(self):
        return [c for c in self.conns() if not c.has("MAIL")]

    def messages(self):
        return [m for c in self.conns() for m in c.messages]

    def wait_for(self, predicate, timeout=5.0, what="condition"):
        """Poll predicate() until true (returns its value) or raise AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("fake backend %s: timed out waiting for %s; connections: %r"
                                     % (self.addr, what, self.conns()))
            time.sleep(0.02)

    def wait_relayed(self, timeout=5.0):
        """The first connection that carried MAIL."""
        return self.wait_for(lambda: (self.relayed() or [None])[0], timeout, "a relayed connection")

    def wait_messages(self, n=1, timeout=5.0):
        return self.wait_for(lambda: len(self.messages()) >= n and self.messages(), timeout,
                             "%d message(s)" % n)

    def wait_probe(self, timeout=5.0):
        """Wait until one connection has sent EHLO and finished (sluiced's probe)."""
        return self.wait_for(lambda: [c for c in self.conns() if c.done.is_set()
                                      and (c.has("EHLO") or c.has("HELO"))],
                             timeout, "a finished probe connection")

    def all_raw(self):
        return b"".join(c.raw for c in self.conns())

    # ------------------------------------------------------------ lifetime
    def stop(self, timeout=3.0):
        self._stop.set()
        try:
            self._lsock.close()
        except OSError:
            pass
        for c in self.conns():
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        self._accepter.join(max(0.0, deadline - time.monotonic()))
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":  # run standalone for manual poking: python3 fakebackend.py
    import sys
    fb = FakeBackend()
    print("listening on", fb.addr, flush=True)
    try:
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 3600)
    except KeyboardInterrupt:
        pass
    fb.stop()
    for c in fb.conns():
        print(c.number, c.commands, c.messages)
