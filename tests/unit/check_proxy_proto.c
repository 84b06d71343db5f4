/* check_proxy_proto.c - PROXY protocol v1/v2 headers (HAProxy proxy-protocol.txt;
 * the malformed classes of Postfix's haproxy_srvr_test.c), every split point. */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_proto.h"

#define B(s) s, sizeof(s) - 1
#define SIG "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"
/* 192.0.2.7:4321 -> 198.51.100.1:25 */
#define V4ADDRS "\xC0\x00\x02\x07" "\xC6\x33\x64\x01" "\x10\xE1" "\x00\x19"
/* [2001:db8::7]:4321 -> [2001:db8::1]:25 */
#define V6ADDRS "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07" \
                "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" \
                "\x10\xE1" "\x00\x19"
#define FFFF "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

enum { V1 = PROXY_PROTO_V1, V2 = PROXY_PROTO_V2, ANY = PROXY_PROTO_ANY };
enum { MORE = PROXY_PROTO_NEED_MORE, BAD = PROXY_PROTO_INVALID, DONE = PROXY_PROTO_DONE };

static const struct pcase {
	const char *what;
	int mode;
	const char *in;
	size_t inlen;                    /* may include bytes after the header */
	int want;                        /* status for the whole input */
	size_t len;                      /* DONE: header length */
	int cmd, family;
	const char *src, *dst;
	unsigned sport, dport;
	const char *reason;              /* BAD: a substring of the reason */
} cases[] = {
	/* ---- v1, valid */
	{ "v1 tcp4, SMTP after it", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25\r\nEHLO x\r\n"),
	  DONE, 43, PROXY_CMD_PROXY, AF_INET, "192.0.2.7", "198.51.100.1", 4321, 25, NULL },
	{ "v1 tcp4 in any mode", ANY, B("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25\r\n"),
	  DONE, 43, PROXY_CMD_PROXY, AF_INET, "192.0.2.7", "198.51.100.1", 4321, 25, NULL },
	{ "v1 tcp4 port bounds", V1, B("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
	  DONE, 44, PROXY_CMD_PROXY, AF_INET, "0.0.0.0", "255.255.255.255", 0, 65535, NULL },
	{ "v1 tcp6", V1, B("PROXY TCP6 2001:db8::7 2001:db8::1 4321 25\r\n"),
	  DONE, 44, PROXY_CMD_PROXY, AF_INET6, "2001:db8::7", "2001:db8::1", 4321, 25, NULL },
	{ "v1 tcp6 upper case, v4-mapped", V1, B("PROXY TCP6 2001:DB8::7 ::ffff:192.0.2.1 1 2\r\n"),
	  DONE, 45, PROXY_CMD_PROXY, AF_INET6, "2001:db8::7", "::ffff:192.0.2.1", 1, 2, NULL },
	{ "v1 unknown", V1, B("PROXY UNKNOWN\r\nEHLO"),
	  DONE, 15, PROXY_CMD_PROXY, AF_UNSPEC, NULL, NULL, 0, 0, NULL },
	{ "v1 unknown, worst case 107 octets", V1,
	  B("PROXY UNKNOWN " FFFF " " FFFF " 65535 65535\r\n"),
	  DONE, 107, PROXY_CMD_PROXY, AF_UNSPEC, NULL, NULL, 0, 0, NULL },
	/* ---- v1, invalid (Postfix haproxy_srvr_test.c classes and more) */
	{ "v1 port with a leading zero", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 0123 25\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "source port" },
	{ "v1 dport with a leading zero", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 123 025\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "destination port" },
	{ "v1 IPv4 under TCP6", V1, B("PROXY TCP6 192.0.2.7 198.51.100.1 123 25\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "IPv6 source" },
	{ "v1 IPv6 under TCP4", V1, B("PROXY TCP4 2001:db8::7 2001:db8::1 123 25\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "IPv4 source" },
	{ "v1 missing port", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 123\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "source port" },
	{ "v1 missing ports", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "destination address" },
	{ "v1 missing everything", V1, B("PROXY TCP4\r\n"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "protocol" },
	{ "v1 PROXY BLAH", V1, B("PROXY BLAH\r\n"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "protocol" },
	{ "v1 PROXY alone", V1, B("PROXY\r\n"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "not a PROXY v1" },
	{ "v1 lower case", V1, B("proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "not a PROXY v1" },
	{ "v1 two spaces", V1, B("PROXY  TCP4 192.0.2.7 198.51.100.1 1 2\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "protocol" },
	{ "v1 two spaces between addresses", V1, B("PROXY TCP4 192.0.2.7  198.51.100.1 1 2\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "destination address" },
	{ "v1 trailing space", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 \r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "destination port" },
	{ "v1 port above 65535", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "source port" },
	{ "v1 negative port", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "source port" },
	{ "v1 bad IPv4 octet", V1, B("PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "IPv4 source" },
	{ "v1 short IPv4 (inet_aton form)", V1, B("PROXY TCP4 127.1 198.51.100.1 1 2\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "IPv4 source" },
	{ "v1 bare LF", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "destination port" },
	{ "v1 CR without LF", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "end of line" },
	{ "v1 unknown, bare LF", V1, B("PROXY UNKNOWN\n"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "UNKNOWN" },
	{ "v1 unknown, no CRLF in 107 octets", V1,
	  B("PROXY UNKNOWN " FFFF " " FFFF " 65535 655350\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "107" },
	{ "v1 SMTP instead", V1, B("EHLO client.test\r\n"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "not a PROXY v1" },
	{ "v1 header on a v2 listener", V2, B("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "signature" },
	{ "SMTP in any mode", ANY, B("EHLO client.test\r\n"), BAD, 0, 0, 0, NULL, NULL, 0, 0,
	  "not a PROXY protocol header" },
	/* ---- v2, valid */
	{ "v2 proxy inet, SMTP after it", V2, B(SIG "\x21\x11\x00\x0C" V4ADDRS "EHLO x\r\n"),
	  DONE, 28, PROXY_CMD_PROXY, AF_INET, "192.0.2.7", "198.51.100.1", 4321, 25, NULL },
	{ "v2 proxy inet in any mode", ANY, B(SIG "\x21\x11\x00\x0C" V4ADDRS),
	  DONE, 28, PROXY_CMD_PROXY, AF_INET, "192.0.2.7", "198.51.100.1", 4321, 25, NULL },
	{ "v2 proxy inet6", V2, B(SIG "\x21\x21\x00\x24" V6ADDRS),
	  DONE, 52, PROXY_CMD_PROXY, AF_INET6, "2001:db8::7", "2001:db8::1", 4321, 25, NULL },
	{ "v2 proxy inet with TLVs (ALPN, NOOP)", V2,
	  B(SIG "\x21\x11\x00\x14" V4ADDRS "\x01\x00\x02h2" "\x04\x00\x00"),
	  DONE, 36, PROXY_CMD_PROXY, AF_INET, "192.0.2.7", "198.51.100.1", 4321, 25, NULL },
	{ "v2 local unspec", V2, B(SIG "\x20\x00\x00\x00" "EHLO"),
	  DONE, 16, PROXY_CMD_LOCAL, AF_UNSPEC, NULL, NULL, 0, 0, NULL },
	{ "v2 local with an address block, skipped", V2, B(SIG "\x20\x11\x00\x0C" V4ADDRS),
	  DONE, 28, PROXY_CMD_LOCAL, AF_UNSPEC, NULL, NULL, 0, 0, NULL },
	/* ---- v2, invalid */
	{ "v2 bad signature", V2, B("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0B\x21\x11\x00\x0C" V4ADDRS),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "signature" },
	{ "v2 bad signature in any mode", ANY, B("\x0D\x0A\x0D\x0A\x01"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "signature" },
	{ "v2 version 1", V2, B(SIG "\x11\x11\x00\x0C" V4ADDRS), BAD, 0, 0, 0, NULL, NULL, 0, 0, "version" },
	{ "v2 version 3", V2, B(SIG "\x31\x11\x00\x0C" V4ADDRS), BAD, 0, 0, 0, NULL, NULL, 0, 0, "version" },
	{ "v2 command 2", V2, B(SIG "\x22\x11\x00\x0C" V4ADDRS), BAD, 0, 0, 0, NULL, NULL, 0, 0, "command" },
	{ "v2 proxy unspec", V2, B(SIG "\x21\x00\x00\x00"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "family" },
	{ "v2 proxy inet dgram", V2, B(SIG "\x21\x12\x00\x0C" V4ADDRS), BAD, 0, 0, 0, NULL, NULL, 0, 0, "family" },
	{ "v2 proxy unix", V2, B(SIG "\x21\x31\x00\xD8"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "family" },
	{ "v2 inet block too short", V2, B(SIG "\x21\x11\x00\x08" "\xC0\x00\x02\x07\xC6\x33\x64\x01"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "too short" },
	{ "v2 inet6 block too short", V2, B(SIG "\x21\x21\x00\x0C" V4ADDRS),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "too short" },
	{ "v2 longer than 536", V2, B(SIG "\x21\x11\x02\x09"), BAD, 0, 0, 0, NULL, NULL, 0, 0, "536" },
	{ "v2 TLV overrun", V2, B(SIG "\x21\x11\x00\x11" V4ADDRS "\x01\x00\x03h2"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "TLV" },
	{ "v2 TLV header cut", V2, B(SIG "\x21\x11\x00\x0E" V4ADDRS "\x01\x00"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "TLV" },
	{ "v2 header on a v1 listener", V1, B(SIG "\x21\x11\x00\x0C" V4ADDRS),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "not a PROXY v1" },
	{ "proxy_protocol = no", PROXY_PROTO_NO, B("PROXY UNKNOWN\r\n"),
	  BAD, 0, 0, 0, NULL, NULL, 0, 0, "not enabled" },
};

static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len, unsigned *port_r)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in4->sin_addr, buf, (socklen_t)len);
		*port_r = ntohs(in4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
		*port_r = ntohs(in6->sin6_port);
	} else {
		snprintf(buf, len, "family %d", ss->ss_family);
		*port_r = 0;
	}
}

static const char *const status_names[] = { "NEED_MORE", "INVALID", "DONE" };

START_TEST(test_whole)
{
	const struct pcase *c = &cases[_i];
	struct proxy_proto_result r;
	int got = proxy_proto_parse(c->mode, c->in, c->inlen, &r);
	char text[INET6_ADDRSTRLEN + 16];
	unsigned port;

	ck_assert_msg(got == c->want, "%s: got %s (%s), want %s", c->what, status_names[got],
	              r.reason ? r.reason : "", status_names[c->want]);
	if (c->want == BAD) {
		ck_assert_msg(r.reason != NULL && strstr(r.reason, c->reason) != NULL,
		              "%s: got reason \"%s\", want one with \"%s\"", c->what,
		              r.reason ? r.reason : "(null)", c->reason);
		return;
	}
	ck_assert_msg(r.len == c->len, "%s: got len %zu, want %zu", c->what, r.len, c->len);
	ck_assert_msg((int)r.command == c->cmd, "%s: got command %d, want %d", c->what,
	              r.command, c->cmd);
	ck_assert_msg(r.family == c->family, "%s: got family %d, want %d", c->what, r.family,
	              c->family);
	if (c->family == AF_UNSPEC)
		return;
	addr_text(&r.src, text, sizeof(text), &port);
	ck_assert_msg(strcmp(text, c->src) == 0 && port == c->sport, "%s: got source %s port %u, "
	              "want %s port %u", c->what, text, port, c->src, c->sport);
	addr_text(&r.dst, text, sizeof(text), &port);
	ck_assert_msg(strcmp(text, c->dst) == 0 && port == c->dport, "%s: got destination %s "
	              "port %u, want %s port %u", c->what, text, port, c->dst, c->dport);
}
END_TEST

/* Every prefix: a valid header needs more until its last octet and is done from
 * there on (the bytes after it are not taken); an invalid one needs more until it
 * is invalid, then stays invalid. Each prefix is a fresh copy, so ASan sees any
 * read past the bytes received. */
START_TEST(test_every_split)
{
	const struct pcase *c = &cases[_i];
	int bad_at = -1;

	for (size_t k = 0; k <= c->inlen; k++) {
		struct proxy_proto_result r;
		char *copy = malloc(k ? k : 1);
		int got;

		memcpy(copy, c->in, k);
		got = proxy_proto_parse(c->mode, copy, k, &r);
		free(copy);
		if (c->want == DONE) {
			int want = k < c->len ? MORE : DONE;
			ck_assert_msg(got == want, "%s: prefix %zu: got %s (%s), want %s", c->what, k,
			              status_names[got], r.reason ? r.reason : "", status_names[want]);
			if (got == DONE)
				ck_assert_msg(r.len == c->len, "%s: prefix %zu: got len %zu, want %zu",
				              c->what, k, r.len, c->len);
			continue;
		}
		if (c->mode == PROXY_PROTO_NO) {
			ck_assert_msg(got == BAD, "%s: prefix %zu: got %s, want INVALID", c->what, k,
			              status_names[got]);
			continue;
		}
		ck_assert_msg(got != DONE, "%s: prefix %zu: got DONE, want not", c->what, k);
		if (bad_at >= 0)
			ck_assert_msg(got == BAD, "%s: prefix %zu: got %s after INVALID at %d",
			              c->what, k, status_names[got], bad_at);
		else if (got == BAD)
			bad_at = (int)k;
	}
	if (c->want == BAD && c->mode != PROXY_PROTO_NO)
		ck_assert_msg(bad_at >= 0, "%s: never INVALID", c->what);
}
END_TEST

/* Truncated headers wait for more (the session's deadline ends them). */
static const struct { const char *what; int mode; const char *in; size_t len; } truncated[] = {
	{ "v1 half", V1, B("PROXY TCP4 192.0.2.7 198.") },
	{ "v1 without CRLF", V1, B("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25") },
	{ "v1 without LF", V1, B("PROXY TCP6 2001:db8::7 2001:db8::1 4321 25\r") },
	{ "v1 any, one octet", ANY, B("P") },
	{ "v2 signature only", V2, B(SIG) },
	{ "v2 header without addresses", V2, B(SIG "\x21\x11\x00\x0C") },
	{ "v2 half the addresses", ANY, B(SIG "\x21\x21\x00\x24" "\x20\x01\x0d\xb8") },
	{ "v2 any, one octet", ANY, B("\x0D") },
	{ "nothing", ANY, "", 0 },
};

START_TEST(test_truncated)
{
	struct proxy_proto_result r;
	int got = proxy_proto_parse(truncated[_i].mode, truncated[_i].in, truncated[_i].len, &r);

	ck_assert_msg(got == MORE, "%s: got %s (%s), want NEED_MORE", truncated[_i].what,
	              status_names[got], r.reason ? r.reason : "");
}
END_TEST

/* The limits: a v2 header of exactly 536 octets (one big TLV) is taken; 537 is
 * not. A v1 line is never waited for beyond 107 octets. */
START_TEST(test_limits)
{
	unsigned char buf[PROXY_PROTO_V2_MAX + 8];
	struct proxy_proto_result r;
	size_t alen = PROXY_PROTO_V2_MAX - 16, tlv = alen - 12 - 3;
	int got;

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = (unsigned char)(alen >> 8);
	buf[15] = (unsigned char)alen;
	memcpy(buf + 16, V4ADDRS, 12);
	buf[28] = 0xEE;
	buf[29] = (unsigned char)(tlv >> 8);
	buf[30] = (unsigned char)tlv;
	got = proxy_proto_parse(PROXY_PROTO_V2, buf, PROXY_PROTO_V2_MAX, &r);
	ck_assert_msg(got == DONE && r.len == PROXY_PROTO_V2_MAX, "536 octets: got %s len %zu, "
	              "want DONE 536", status_names[got], r.len);
	got = proxy_proto_parse(PROXY_PROTO_V2, buf, PROXY_PROTO_V2_MAX - 1, &r);
	ck_assert_msg(got == MORE, "535 of 536 octets: got %s, want NEED_MORE", status_names[got]);
	alen++;
	buf[14] = (unsigned char)(alen >> 8);
	buf[15] = (unsigned char)alen;
	got = proxy_proto_parse(PROXY_PROTO_V2, buf, 16, &r);
	ck_assert_msg(got == BAD, "537 octets announced: got %s, want INVALID", status_names[got]);

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	got = proxy_proto_parse(PROXY_PROTO_V1, buf, PROXY_PROTO_V1_MAX - 1, &r);
	ck_assert_msg(got == MORE, "v1 106 octets: got %s, want NEED_MORE", status_names[got]);
	got = proxy_proto_parse(PROXY_PROTO_V1, buf, PROXY_PROTO_V1_MAX, &r);
	ck_assert_msg(got == BAD, "v1 107 octets without CRLF: got %s, want INVALID",
	              status_names[got]);
	got = proxy_proto_parse(PROXY_PROTO_ANY, buf, sizeof(buf), &r);
	ck_assert_msg(got == BAD, "v1 %zu octets: got %s, want INVALID", sizeof(buf),
	              status_names[got]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proxy_proto");
	TCase *tc = tcase_create("core");
	SRunner *sr;

	tcase_add_loop_test(tc, test_whole, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, test_every_split, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, test_truncated, 0, sizeof(truncated) / sizeof(truncated[0]));
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
