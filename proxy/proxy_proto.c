/* proxy_proto.c - PROXY protocol v1 and v2 headers (HAProxy's proxy-protocol.txt);
 * no I/O. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proxy_proto.h"

/* Field outcomes: the field is complete, the input ends inside it, or it is bad. */
enum { F_BAD = -1, F_MORE = 0, F_OK = 1 };

struct cursor {
	const char *p, *end;
};

/* The literal lit at the cursor; the cursor moves past it on F_OK. */
static int
lit(struct cursor *c, const char *s)
{
	size_t n = strlen(s), have = (size_t)(c->end - c->p);

	if (memcmp(c->p, s, have < n ? have : n) != 0)
		return F_BAD;
	if (have < n)
		return F_MORE;
	c->p += n;
	return F_OK;
}

/* A non-empty token of characters from set, at most max of them, followed by
 * stop (which stays at the cursor). On F_OK *tok and *n_r name it. */
static int
token(struct cursor *c, const char *set, size_t max, char stop, const char **tok, size_t *n_r)
{
	const char *q;

	for (q = c->p; q < c->end && *q != stop; q++)
		if (*q == '\0' || strchr(set, *q) == NULL || (size_t)(q - c->p) >= max)
			return F_BAD;
	if (q == c->end)
		return F_MORE;
	if (q == c->p)
		return F_BAD;
	*tok = c->p;
	*n_r = (size_t)(q - c->p);
	c->p = q;
	return F_OK;
}

/* A port: 0 to 65535 in decimal, without leading zeros (Postfix's haproxy tests
 * refuse "0123"), followed by stop. Bad as soon as the digits so far are. */
static int
port(struct cursor *c, char stop, unsigned *port_r)
{
	unsigned long v = 0;
	const char *q;

	for (q = c->p; q < c->end && *q != stop; q++) {
		if (*q < '0' || *q > '9' || (q > c->p && c->p[0] == '0'))
			return F_BAD;
		v = v * 10 + (unsigned long)(*q - '0');
		if (v > 65535)
			return F_BAD;
	}
	if (q == c->end)
		return F_MORE;
	if (q == c->p)
		return F_BAD;
	*port_r = (unsigned)v;
	c->p = q;
	return F_OK;
}

/* An address of family af (a token of its characters), followed by a space. */
static int
address(struct cursor *c, int af, unsigned char bin[16])
{
	char text[INET6_ADDRSTRLEN];
	const char *tok;
	size_t n;
	int rc = af == AF_INET ? token(c, "0123456789.", 15, ' ', &tok, &n)
	                       : token(c, "0123456789abcdefABCDEF:.", 45, ' ', &tok, &n);

	if (rc != F_OK)
		return rc;
	memcpy(text, tok, n);
	text[n] = '\0';
	return inet_pton(af, text, bin) == 1 ? F_OK : F_BAD;
}

static void
sockaddr_set(struct sockaddr_storage *ss, int af, const unsigned char *bin, unsigned port_host)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

		in4->sin_family = AF_INET;
		memcpy(&in4->sin_addr, bin, 4);
		in4->sin_port = htons((uint16_t)port_host);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, bin, 16);
		in6->sin6_port = htons((uint16_t)port_host);
	}
}

#define STEP(expr, why) do {                             \
		int rc_ = (expr);                         \
		if (rc_ == F_MORE)                        \
			goto more;                        \
		if (rc_ == F_BAD) {                       \
			r->reason = (why);                \
			return PROXY_PROTO_INVALID;       \
		}                                         \
	} while (0)

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN[ anything]\r\n",
 * single spaces, within 107 octets. */
static enum proxy_proto_status
parse_v1(const char *buf, size_t len, struct proxy_proto_result *r)
{
	struct cursor c = { buf, buf + (len > PROXY_PROTO_V1_MAX ? PROXY_PROTO_V1_MAX : len) };
	unsigned char src[16], dst[16];
	unsigned sport = 0, dport = 0;
	int af, t4, t6, tu;

	r->version = 1;
	STEP(lit(&c, "PROXY "), "not a PROXY v1 header");
	t4 = lit(&c, "TCP4 ");
	t6 = t4 == F_OK ? F_BAD : lit(&c, "TCP6 ");
	tu = t4 == F_OK || t6 == F_OK ? F_BAD : lit(&c, "UNKNOWN");
	if (t4 != F_OK && t6 != F_OK && tu != F_OK) {
		STEP(t4 == F_MORE || t6 == F_MORE || tu == F_MORE ? F_MORE : F_BAD,
		     "v1: protocol is not TCP4, TCP6 or UNKNOWN");
	}
	if (tu == F_OK) {
		/* The spec: ignore whatever follows UNKNOWN up to the CRLF. */
		if (c.p < c.end && *c.p == ' ')
			while (c.p < c.end && *c.p != '\r' && *c.p != '\n')
				c.p++;
		STEP(lit(&c, "\r\n"), "v1: bad end of line after UNKNOWN");
		r->command = PROXY_CMD_PROXY;
		r->family = AF_UNSPEC;
		r->len = (size_t)(c.p - buf);
		return PROXY_PROTO_DONE;
	}
	af = t4 == F_OK ? AF_INET : AF_INET6;
	STEP(address(&c, af, src), af == AF_INET ? "v1: bad IPv4 source address"
	                                         : "v1: bad IPv6 source address");
	STEP(lit(&c, " "), "v1: bad separator");
	STEP(address(&c, af, dst), af == AF_INET ? "v1: bad IPv4 destination address"
	                                         : "v1: bad IPv6 destination address");
	STEP(lit(&c, " "), "v1: bad separator");
	STEP(port(&c, ' ', &sport), "v1: bad source port");
	STEP(lit(&c, " "), "v1: bad separator");
	STEP(port(&c, '\r', &dport), "v1: bad destination port");
	STEP(lit(&c, "\r\n"), "v1: bad end of line");
	r->command = PROXY_CMD_PROXY;
	r->family = af;
	sockaddr_set(&r->src, af, src, sport);
	sockaddr_set(&r->dst, af, dst, dport);
	r->len = (size_t)(c.p - buf);
	return PROXY_PROTO_DONE;
more:
	if (len >= PROXY_PROTO_V1_MAX) {
		r->reason = "v1: no CRLF within 107 octets";
		return PROXY_PROTO_INVALID;
	}
	return PROXY_PROTO_NEED_MORE;
}

static const unsigned char v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

static enum proxy_proto_status
invalid(struct proxy_proto_result *r, const char *why)
{
	r->reason = why;
	return PROXY_PROTO_INVALID;
}

/* The 16-octet v2 header, the address block its length announces, TLVs. */
static enum proxy_proto_status
parse_v2(const unsigned char *b, size_t len, struct proxy_proto_result *r)
{
	size_t alen, need, p, end;
	unsigned cmd;
	int fam;

	r->version = 2;
	if (memcmp(b, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) != 0)
		return invalid(r, "not a PROXY v2 header (signature)");
	if (len < 13)
		return PROXY_PROTO_NEED_MORE;
	if (b[12] >> 4 != 2)
		return invalid(r, "v2: unsupported version");
	cmd = b[12] & 0x0F;
	if (cmd > 1)
		return invalid(r, "v2: unknown command");
	if (len < 14)
		return PROXY_PROTO_NEED_MORE;
	/* LOCAL: the family must be skipped, whatever it says (the spec's MUST). */
	fam = cmd == 0 ? AF_UNSPEC : b[13] == 0x11 ? AF_INET : b[13] == 0x21 ? AF_INET6 : -1;
	if (fam < 0)
		return invalid(r, "v2: address family is not TCP over IPv4 or IPv6");
	if (len < 16)
		return PROXY_PROTO_NEED_MORE;
	alen = (size_t)b[14] << 8 | b[15];
	need = 16 + alen;
	if (need > PROXY_PROTO_V2_MAX)
		return invalid(r, "v2: header longer than 536 octets");
	if ((fam == AF_INET && alen < 12) || (fam == AF_INET6 && alen < 36))
		return invalid(r, "v2: address block too short for its family");
	if (len < need)
		return PROXY_PROTO_NEED_MORE;
	r->command = cmd == 0 ? PROXY_CMD_LOCAL : PROXY_CMD_PROXY;
	r->family = fam;
	r->len = need;
	if (fam == AF_UNSPEC)
		return PROXY_PROTO_DONE;
	if (fam == AF_INET) {
		sockaddr_set(&r->src, AF_INET, b + 16, (unsigned)b[24] << 8 | b[25]);
		sockaddr_set(&r->dst, AF_INET, b + 20, (unsigned)b[26] << 8 | b[27]);
		p = 28;
	} else {
		sockaddr_set(&r->src, AF_INET6, b + 16, (unsigned)b[48] << 8 | b[49]);
		sockaddr_set(&r->dst, AF_INET6, b + 32, (unsigned)b[50] << 8 | b[51]);
		p = 52;
	}
	/* TLVs are skipped, but they must tile the rest exactly. */
	for (end = need; p < end; ) {
		if (end - p < 3 || end - p - 3 < ((size_t)b[p + 1] << 8 | b[p + 2]))
			return invalid(r, "v2: TLV overruns the header");
		p += 3 + ((size_t)b[p + 1] << 8 | b[p + 2]);
	}
	return PROXY_PROTO_DONE;
}

enum proxy_proto_status
proxy_proto_parse(enum proxy_proto_mode mode, const void *buf, size_t len,
                  struct proxy_proto_result *r)
{
	const unsigned char *b = buf;

	memset(r, 0, sizeof(*r));
	r->family = AF_UNSPEC;
	if (mode == PROXY_PROTO_NO)
		return invalid(r, "PROXY protocol not enabled");
	if (len == 0)
		return PROXY_PROTO_NEED_MORE;
	if (mode == PROXY_PROTO_ANY) {
		if (b[0] == 'P')
			mode = PROXY_PROTO_V1;
		else if (b[0] == v2_sig[0])
			mode = PROXY_PROTO_V2;
		else
			return invalid(r, "not a PROXY protocol header");
	}
	if (mode == PROXY_PROTO_V1)
		return parse_v1(buf, len, r);
	return parse_v2(b, len, r);
}
