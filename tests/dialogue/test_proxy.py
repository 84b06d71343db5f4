"""PROXY protocol listeners: v1 and v2 from a trusted load balancer (the real client
is used for XCLIENT, Received and the log), v2 LOCAL, untrusted peers, malformed and
truncated headers, bytes pipelined after the header, the per-IP limit on the real
client, and a plain listener next to a PROXY one.

DNS never leaves the machine: `dns` points at a silent local socket, and the
client names of 127.0.0.1 and the documentation addresses (192.0.2.0/24,
2001:db8::/32) come from unbound's built-in local zones."""

import socket
import struct
import tempfile
import time

import tap
from sluicetest import (SluiceTestCase, Sluiced, Client, free_port, write_config, log_lines,
                        split_received, CONNECT_RE, HOST)

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]
CONTENT = b"Subject: proxied\r\n\r\nhello\r\n"

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src="192.0.2.7", dst="198.51.100.1", sport=4321, dport=25, proto=None):
    proto = proto or ("TCP6" if ":" in src else "TCP4")
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def v2(src="192.0.2.7", dst="198.51.100.1", sport=4321, dport=25, command=1, tlvs=b""):
    if command == 0:
        return V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", len(tlvs)) + tlvs
    if ":" in src:
        fam, af = 0x21, socket.AF_INET6
    else:
        fam, af = 0x11, socket.AF_INET
    addrs = (socket.inet_pton(af, src) + socket.inet_pton(af, dst) +
             struct.pack("!HH", sport, dport))
    body = addrs + tlvs
    return V2_SIG + bytes([0x20 | command, fam]) + struct.pack("!H", len(body)) + body


class ProxyTestCase(SluiceTestCase):
    def start_proxy(self, mode="any", trusted="127.0.0.1", proxy_timeout=None, plain=False,
                    **keys):
        """sluiced with [listener haproxy] (the port tests connect to) and, when plain,
        a `listen` line too (self.plain_port)."""
        fb = self.backend()
        self.fb = fb
        self.backends = [fb]
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        d = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        self.plain_port = free_port() if plain else None
        path = write_config(d, backend=fb, listen=self.plain_port,
                            dns="127.0.0.1:%d" % silent.getsockname()[1],
                            dns_timeout="1s", **keys)
        port = free_port()
        lines = ["[listener haproxy]", "address = 127.0.0.1:%d" % port,
                 "proxy_protocol = %s" % mode]
        if trusted:
            lines.append("trusted = %s" % trusted)
        if proxy_timeout:
            lines.append("proxy_timeout = %s" % proxy_timeout)
        with open(path, "a") as f:
            f.write("\n".join(lines) + "\n")
        daemon = Sluiced(d, config=path, listen_port=port)
        self.daemon = daemon
        self.addCleanup(self._stop_daemon, daemon)
        try:
            fb.wait_probe(5.0)
        except AssertionError:
            pass
        return daemon

    def connect(self, port=None):
        c = Client(port or self.daemon.port)
        self.clients.append(c)
        return c

    def relay_one(self, c):
        """EHLO and one message; returns the backend connection and the message."""
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        conn = self.fb.wait_relayed()
        msg = self.fb.wait_messages(1)[0]
        return conn, msg

    def connect_line(self, addr):
        lines = [t for _, _, t in log_lines(self.log) if CONNECT_RE.search(t) and
                 ("[%s]" % addr) in t]
        self.assertTrue(lines, "no connect line for [%s] in the log:\n%s" % (addr, self.log))
        return lines[-1]

    def wait_log(self, text, timeout=3.0):
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                self.fail("%r not in the log:\n%s" % (text, self.log))
            time.sleep(0.02)

    def assertNoSession(self):
        self.assertFalse([t for _, _, t in log_lines(self.log) if CONNECT_RE.search(t)], self.log)

    def assertClosedSilently(self, c, timeout=3.0):
        data = c.read_all_until_close(timeout)
        self.assertEqual(data, b"", "got bytes before the close: %r" % data)


class TestTrusted(ProxyTestCase):
    def check_relayed(self, header, mode, addr, xaddr, port):
        self.start_proxy(mode)
        c = self.connect()
        c.send(header)
        c.greeting()
        conn, msg = self.relay_one(c)
        self.assertEqual(conn.xclient[0]["ADDR"], xaddr, conn.commands)
        self.assertEqual(conn.xclient[0]["PORT"], str(port), conn.commands)
        self.assertNotIn(b"PROXY", conn.raw)
        split_received(msg.raw, rcpt="bob@example.com",
                       addr=("IPv6:" + addr) if ":" in addr else addr)
        line = self.connect_line(addr)
        self.assertIn("connect from unknown[%s]:%d to haproxy via 127.0.0.1:%d"
                      % (addr, port, c.local_port), line)

    def test_v1_ipv4(self):
        self.check_relayed(v1(), "v1", "192.0.2.7", "192.0.2.7", 4321)

    def test_v1_ipv6(self):
        self.check_relayed(v1("2001:db8::7", "2001:db8::1", 40000), "v1",
                           "2001:db8::7", "IPV6:2001:db8::7", 40000)

    def test_v2_ipv4(self):
        self.check_relayed(v2(), "v2", "192.0.2.7", "192.0.2.7", 4321)

    def test_v2_ipv6_with_tlvs(self):
        self.check_relayed(v2("2001:db8::7", "2001:db8::1", 40001, tlvs=b"\x01\x00\x02h2"),
                           "v2", "2001:db8::7", "IPV6:2001:db8::7", 40001)

    def test_any_takes_both(self):
        self.start_proxy("any")
        for header in (v1(sport=1111), v2(sport=2222)):
            c = self.connect()
            c.send(header)
            c.greeting()
            c.line("QUIT")
            c.expect(221)
        self.wait_log("[192.0.2.7]:1111 to haproxy")
        self.wait_log("[192.0.2.7]:2222 to haproxy")

    def test_v2_local_keeps_the_connection(self):
        self.start_proxy("v2")
        c = self.connect()
        c.send(v2(command=0))
        c.greeting()
        conn, msg = self.relay_one(c)
        self.assertEqual(conn.xclient[0]["ADDR"], "127.0.0.1", conn.commands)
        self.assertEqual(conn.xclient[0]["PORT"], str(c.local_port), conn.commands)
        split_received(msg.raw, rcpt="bob@example.com", addr="127.0.0.1")
        line = self.connect_line("127.0.0.1")
        self.assertNotIn(" via ", line)

    def test_v1_unknown_keeps_the_connection(self):
        self.start_proxy("v1")
        c = self.connect()
        c.send(b"PROXY UNKNOWN\r\n")
        c.greeting()
        c.line("QUIT")
        c.expect(221)
        line = self.connect_line("127.0.0.1")
        self.assertRegex(line, r"connect from \S+\[127\.0\.0\.1\]:%d to haproxy$" % c.local_port)

    def test_header_in_pieces(self):
        self.start_proxy("v2")
        c = self.connect()
        c.send_split(v2(), [1, 12, 3, 5])
        c.greeting()
        c.line("QUIT")
        c.expect(221)

    def test_pipelined_after_header_is_early_talking(self):
        """Bytes after the header, before the greeting, are early talking as from
        any client (Postfix postscreen/smtpd treat them as pre-greeting traffic):
        554 5.5.0 and a close, no greeting. The header itself is not counted."""
        self.start_proxy("any")
        for header in (v1(), v2()):
            c = self.connect()
            c.send(header + b"EHLO client.test\r\n")
            replies = c.replies_until_close(5)
            self.assertEqual([r[0] for r in replies], [554], replies)
            self.assertTrue(replies[0][1][0].startswith("554 5.5.0"), replies)
        self.wait_log("client [192.0.2.7] talked before the greeting")
        self.assertEqual(self.fb.relayed(), [])


class TestRefused(ProxyTestCase):
    def test_untrusted_peer_closed_without_a_byte(self):
        self.start_proxy("any", trusted="192.0.2.0/24, 2001:db8::/32")
        for header in (b"", v1(), v2()):
            c = self.connect()
            if header:
                c.send(header)
            self.assertClosedSilently(c)
        self.wait_log("refused connection from 127.0.0.1:")
        self.assertIn("on haproxy: not trusted to send PROXY protocol headers", self.log)
        self.assertNoSession()
        self.assertEqual(self.fb.relayed(), [])

    def test_malformed_headers(self):
        self.start_proxy("any")
        bad = [
            (b"PROXY TCP4 192.0.2.7 198.51.100.1 0123 25\r\n", "v1: bad source port"),
            (b"PROXY BLAH\r\n", "v1: protocol is not TCP4, TCP6 or UNKNOWN"),
            (b"PROXY TCP6 192.0.2.7 198.51.100.1 123 25\r\n", "v1: bad IPv6 source address"),
            (b"PROXY TCP4 192.0.2.7 198.51.100.1 123\r\n", "v1: bad source port"),
            (b"EHLO client.test\r\n", "not a PROXY protocol header"),
            (b"\r\n\r\n\x00\r\nQUIX\n" + v2()[12:], "not a PROXY v2 header (signature)"),
            (V2_SIG + b"\x11" + v2()[13:], "v2: unsupported version"),
            (V2_SIG + b"\x21\x31\x00\x0c" + b"\x00" * 12, "v2: address family"),
        ]
        for header, why in bad:
            with self.subTest(header=header):
                c = self.connect()
                c.send(header)
                self.assertClosedSilently(c)
                self.wait_log("bad PROXY protocol header from [127.0.0.1] on haproxy: " + why)
        self.assertNoSession()
        self.assertEqual(self.fb.relayed(), [])

    def test_v2_on_a_v1_listener(self):
        self.start_proxy("v1")
        c = self.connect()
        c.send(v2())
        self.assertClosedSilently(c)
        self.wait_log("not a PROXY v1 header")

    def test_truncated_headers_time_out(self):
        self.start_proxy("any", proxy_timeout="500ms")
        for header in (v1(), v2("2001:db8::7", "2001:db8::1")):
            with self.subTest(header=header):
                c = self.connect()
                start = time.monotonic()
                c.send(header[:len(header) // 2])
                self.assertClosedSilently(c, 5)
                self.assertGreaterEqual(time.monotonic() - start, 0.4)
        self.wait_log("no complete PROXY protocol header from [127.0.0.1] on haproxy "
                      "within 500 ms")
        self.assertNoSession()

    def test_silent_trusted_peer_times_out(self):
        self.start_proxy("v2", proxy_timeout="300ms")
        c = self.connect()
        self.assertClosedSilently(c, 5)


class TestLimits(ProxyTestCase):
    def test_per_ip_limit_counts_the_real_client(self):
        """All connections come from 127.0.0.1 (the proxy); with a per-IP limit of 1
        two different real clients both get in, a second one from the same real
        client gets 421."""
        self.start_proxy("v1", max_connections_per_ip=1)
        a = self.connect()
        a.send(v1("192.0.2.7"))
        a.greeting()
        b = self.connect()
        b.send(v1("192.0.2.8"))
        b.greeting()
        c = self.connect()
        c.send(v1("192.0.2.7", sport=5555))
        c.expect("421 4.7.0 %s Error: too many connections from 192.0.2.7" % HOST)
        self.assertTrue(c.closed(3))
        self.wait_log("max_connections_per_ip reached")
        a.line("QUIT")
        a.expect(221)
        self.assertTrue(a.closed(3))
        # 192.0.2.7's count went back down: it may connect again.
        deadline = time.monotonic() + 3
        while True:
            d = self.connect()
            d.send(v1("192.0.2.7", sport=6666))
            code, lines = d.reply()
            if code == 220 or time.monotonic() > deadline:
                break
            d.close()
            time.sleep(0.05)
        self.assertEqual(code, 220, lines)


class TestPlainListener(ProxyTestCase):
    def test_proxy_line_is_an_unknown_command_elsewhere(self):
        self.start_proxy("any", plain=True)
        c = self.connect(self.plain_port)
        c.greeting()
        c.send(v1())
        c.expect("502 5.5.2")
        c.line("QUIT")
        c.expect(221)


if __name__ == "__main__":
    tap.main()
