#!/usr/bin/env python3
"""seed_corpus.py - write the seed corpora in tests/fuzz/corpus/<target>/.

Run from tests/fuzz/ (python3 seed_corpus.py); the files are committed, this
script only documents and regenerates them. Sources: the smuggling end-of-data
lists of SMTP-Smuggling-Tools and smtpsmug (reliability.md 1.1 and 3), Postfix's
haproxy_srvr_test.c style PROXY cases, typical commands and replies."""
import os
import struct


def w(t, name, b):
    d = f'corpus/{t}'
    os.makedirs(d, exist_ok=True)
    if isinstance(b, str):
        b = b.encode('latin-1')
    with open(f'{d}/{name}', 'wb') as f:
        f.write(b)


# ---- fuzz_smtp_cmd: one command line, no CRLF
cmds = {
    'ehlo': 'EHLO client.example.org', 'helo': 'HELO [192.0.2.1]',
    'mail': 'MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME', 'mail_null': 'MAIL FROM:<>',
    'rcpt': 'RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40example.net',
    'rcpt_pm': 'RCPT TO:<Postmaster>', 'data': 'DATA', 'bdat': 'BDAT 100 LAST', 'rset': 'RSET',
    'noop': 'NOOP x', 'quit': 'QUIT', 'starttls': 'STARTTLS',
    'auth': 'AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=', 'xclient': 'XCLIENT ADDR=192.0.2.1 NAME=[UNAVAILABLE]',
    'proxy': 'PROXY TCP4 192.0.2.1 192.0.2.2 1234 25', 'space': '   ', 'lead': ' MAIL FROM:<a@b>',
    'nul': 'MAIL FROM:<a@b>\0x', 'cr': 'RCPT TO:<a@b>\rDATA', 'tab': 'MAIL\tFROM:<a@b>',
    'utf8': 'MAIL FROM:<j\xc3\xb6rg@b\xc3\xa4r.example> SMTPUTF8',
    'route': 'RCPT TO:<@relay.example:a@b.example>',
    'quoted': 'MAIL FROM:<"a b\\"c"@example.org> ENVID=abc+2Bdef AUTH=<>',
    'literal': 'RCPT TO:<a@[IPv6:2001:db8::1]>', 'mailx': 'MAILX FROM:<a@b>',
}
for k, v in cmds.items():
    w('fuzz_smtp_cmd', k, v)

# ---- fuzz_smtp_path: octet 0 bit 0 = RCPT, then the argument
paths = {
    'mail': (0, 'FROM:<a@example.org> SIZE=1 BODY=7BIT RET=HDRS ENVID=x'), 'null': (0, 'FROM:<>'),
    'sp': (0, 'FROM: <a@b.example>'), 'rcpt': (1, 'TO:<b@example.net> NOTIFY=NEVER'),
    'orcpt': (1, 'TO:<b@x.example> ORCPT=rfc822;b@x.example'), 'pm': (1, 'TO:<postmaster>'),
    'route': (1, 'TO:<@a.example,@b.example:c@d.example>'), 'v4': (1, 'TO:<c@[192.0.2.1]>'),
    'v6': (1, 'TO:<c@[IPv6:::1]>'), 'utf8': (0, 'FROM:<\xe2\x82\xac@\xc3\xa9.example> SMTPUTF8'),
    'quoted': (0, 'FROM:<"x\\\\y"@e.example>'), 'dup': (0, 'FROM:<a@b> SIZE=1 SIZE=2'),
    'many': (0, 'FROM:<a@b>' + ' X=1' * 17), 'binary': (0, 'FROM:<a@b> BODY=BINARYMIME'),
    'glued': (0, 'FROM:<a@b>SIZE=1'), 'long': (1, 'TO:<' + 'a' * 64 + '@' + 'b' * 190 + '.example>'),
    'auth': (0, 'FROM:<a@b> AUTH=a+2Bb@c'),
}
for k, (kind, v) in paths.items():
    w('fuzz_smtp_path', k, bytes([kind]) + v.encode('latin-1'))

# ---- fuzz_smtp_reply: reply lines
reps = {
    'ehlo': '250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ETRN\r\n'
            '250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n'
            '250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT\r\n'
            '250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n',
    'greet': '220 mx.example.org ESMTP\r\n', 'reject': '554 5.7.1 <a@b>: Relay access denied\r\n',
    'multi': '451-4.3.0 first\r\n451-4.3.0 second\r\n451 4.3.0 last\r\n', 'bare': '250',
    'lf': '250 ok\n', 'bad': '650 x\r\n', 'ctl': '250 ok\x01\r\n', '8bit': '250 \xff\r\n',
    'size0': '250-x\r\n250 SIZE\r\n', 'sizebig': '250-x\r\n250 SIZE 99999999999999999999999\r\n',
    'enh': '250 2.0.0 Ok: queued as ABC\r\n', 'long': '250 ' + 'x' * 600 + '\r\n',
}
for k, v in reps.items():
    w('fuzz_smtp_reply', k, v)

# ---- fuzz_smtp_data: options, split (2 octets), data
smug = ['\n.\n', '\n.\r', '\r.\n', '\r.\r', '\n.\r\n', '\r.\r\n', '\r\n\x00.\r\n', '\r\n.\r\r\n',
        '\r\r\n.\r\r\n', '\r\n.\n', '\r\n.\r', '\n.\r\r\n']
for i, sm in enumerate(smug):
    body = ('Subject: x\r\n\r\nbody' + sm + 'MAIL FROM:<evil@example.org>\r\n'
            'RCPT TO:<v@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n')
    w('fuzz_smtp_data', f'smuggle{i}', b'\x00\x00\x10' + body.encode('latin-1'))
w('fuzz_smtp_data', 'plain', b'\x00\x00\x05Subject: hi\r\n\r\nhello\r\n..dot\r\n.\r\nQUIT\r\n')
w('fuzz_smtp_data', 'first_dot', b'\x00\x00\x01.\r\n')
w('fuzz_smtp_data', 'split_crlf', b'\x00\x00\x0fSubject: a\r\n\r\nxx\r\n.\r\n')
w('fuzz_smtp_data', 'max', b'\x01\x20\x03Subject: a\r\n\r\n0123456789012345678901234567890123456789\r\n.\r\n')
w('fuzz_smtp_data', 'longline', b'\x02\x00\x07' + b'a' * 1001 + b'\r\n.\r\n')
w('fuzz_smtp_data', 'nul', b'\x00\x00\x03a\x00b\r\n.\r\n')
w('fuzz_smtp_data', 'trailing_cr', b'\x00\x00\x02abc\r')
w('fuzz_smtp_data', 'dotcr', b'\x00\x00\x02x\r\n.\r')
w('fuzz_smtp_data', 'hdr_bare', b'\x00\x00\x04A: b\n\nbody\r\n.\r\n')

# ---- fuzz_proxy_proto: mode (1 v1, 2 v2, 3 any), split, data
v1 = ['PROXY TCP4 192.168.0.1 192.168.0.2 12345 54321\r\n',
      'PROXY TCP6 fc:00:00:00:1:2:3:4 fc:00:00:00:4:3:2:1 123 321\r\n',
      'PROXY TCP6 1.2.3.4 4.3.2.1 123 321\r\n', 'PROXY TCP4 1.2.3.4 4.3.2.1 0123 321\r\n',
      'PROXY TCP4 1.2.3.4 4.3.2.1 65536 321\r\n', 'PROXY UNKNOWN\r\n',
      'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n', 'PROXY TCP4 1.2.3.4 4.3.2.1 123 321\n',
      'PROXY TCP4  1.2.3.4 4.3.2.1 123 321\r\n', 'PROXY TCP4 1.2.3.4 4.3.2.1 123 321\r\nEHLO x\r\n',
      'PROXY TCP4 1.2.3.4 4.3.2.1 123\r\n', 'PROXY TCP4 ::1 ::2 1 2\r\n',
      'PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n',
      'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n', 'EHLO x\r\n',
      'PROXY FOO 1 2 3 4\r\n', 'PROXY UNKNOWN' + ' ' * 100 + '\r\n']
for i, x in enumerate(v1):
    for mode in (1, 3):
        w('fuzz_proxy_proto', f'v1_{i}_m{mode}', bytes([mode, (len(x) // 2) % 256]) + x.encode())
sig = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])


def v2(cmd, fam, addr, tlv=b''):
    blk = addr + tlv
    return sig + bytes([0x20 | cmd, fam]) + struct.pack('>H', len(blk)) + blk


a4 = bytes([192, 0, 2, 1, 192, 0, 2, 2]) + struct.pack('>HH', 1234, 25)
a6 = bytes(range(16)) + bytes(range(16, 32)) + struct.pack('>HH', 1234, 25)
cases = {
    'v2_4': v2(1, 0x11, a4), 'v2_6': v2(1, 0x21, a6), 'v2_local': v2(0, 0, b''),
    'v2_local_fam': v2(0, 0x11, a4),
    'v2_tlv': v2(1, 0x11, a4, bytes([0x01, 0, 2]) + b'h2' + bytes([0x04, 0, 0])),
    'v2_badtlv': v2(1, 0x11, a4, bytes([0x01, 0, 9]) + b'x'), 'v2_short': v2(1, 0x21, a4),
    'v2_udp': v2(1, 0x12, a4), 'v2_unix': v2(1, 0x31, b'\0' * 216),
    'v2_ver': sig + bytes([0x10, 0x11, 0, 12]) + a4, 'v2_cmd': sig + bytes([0x22, 0x11, 0, 12]) + a4,
    'v2_long': sig + bytes([0x21, 0x11, 0x02, 0x10]) + a4 + b'\0' * 516,
    'v2_data': v2(1, 0x11, a4) + b'EHLO x\r\n',
}
for k, b in cases.items():
    for mode in (2, 3):
        w('fuzz_proxy_proto', f'{k}_m{mode}', bytes([mode, (len(b) // 2) % 256]) + b)
w('fuzz_proxy_proto', 'no_mode', b'\x00\x05PROXY UNKNOWN\r\n')


# ---- fuzz_xclient: attrs, flags, port (2), name NUL addr NUL helo NUL login
def xc(attrs, flags, port, *s):
    return bytes([attrs, flags, port >> 8, port & 255]) + b'\0'.join(x.encode('latin-1') for x in s)


w('fuzz_xclient', 'basic', xc(0x3f, 2, 1234, 'client.example.org', '192.0.2.1', 'helo.example', 'user'))
w('fuzz_xclient', 'v6', xc(0x3f, 3 | 12, 65535, '[UNAVAILABLE]', '2001:db8::1', '[IPv6:2001:db8::1]', ''))
w('fuzz_xclient', 'escape', xc(0x3f, 0, 25, 'a+b=c', '1.2.3.4', 'he lo\x01\xff', 'us=er'))
w('fuzz_xclient', 'long', xc(0x3f, 4, 1, 'n' * 200, '1.2.3.4', 'h' * 300, 'l' * 160))
w('fuzz_xclient', 'toolong', xc(0x3f, 0, 1, '+' * 200, '1.2.3.4', 'h' * 600, 'x'))
w('fuzz_xclient', 'one_line', xc(0x3f, 0, 587, 'n' * 250, '1.2.3.4', 'h' * 250, 'l' * 250))
w('fuzz_xclient', 'none', xc(0, 0, 0, '', '', '', ''))


# ---- fuzz_message: content length (LE16), options, header_size, content, edits
def msg(content, opts, hs, ops=b''):
    c = content.encode('latin-1') if isinstance(content, str) else content
    return struct.pack('<H', len(c)) + bytes([opts, hs]) + c + ops


def s(x):
    x = x.encode('latin-1')
    return bytes([len(x)]) + x


std = ('Received: from a\r\n\tby b\r\nSubject: hello\r\nFrom: <a@example.org>\r\nX-Long: a\r\n b\r\n'
       '\r\nbody line\r\n..dotted\r\n.\r\n')
w('fuzz_message', 'plain', msg(std, 0, 0))
w('fuzz_message', 'hs', msg(std, 2, 1))
w('fuzz_message', 'edits', msg(std, 4, 0, bytes([0]) + s('X-Added') + s('yes') + bytes([1, 1]) + s('X-Ins')
                                + s(' folded\n\tline') + bytes([2, 1]) + s('subject') + s('new')
                                + bytes([4, 1, 0]) + bytes([5]) + s('new body\nbare\rcr\r\n')))
w('fuzz_message', 'env', msg(std, 6, 0, bytes([6]) + s('new@example.org') + s('SIZE=10') + bytes([7])
                              + s('c@example.org') + s('') + bytes([8]) + s('A@example.org')))
w('fuzz_message', 'bodyonly', msg('no header here\r\n\r\nx\r\n.\r\n', 0, 0, bytes([1, 0]) + s('X-A') + s('b')))
w('fuzz_message', 'bare', msg('A: b\nC: d\r\rbody\n.\n', 0, 0, bytes([5]) + s('x')))
w('fuzz_message', 'nocrlf', msg('A: b\r\nC: d', 1, 0, bytes([1, 5]) + s('X') + s('y') + bytes([5]) + s('b')))
w('fuzz_message', 'opaque', msg('A: b\r\nopaque line\r\nC: d\r\n\r\nbody\r\n.\r\n', 0, 1, bytes([3, 1]) + s('v')))
w('fuzz_message', 'disk', msg(std * 3, 0x80, 0, bytes([5]) + s('y' * 200)))
w('fuzz_message', 'long', msg('A: ' + 'x' * 1000 + '\r\n\r\nb\r\n.\r\n', 0, 0))
