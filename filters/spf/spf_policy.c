/* spf_policy.c - the spf filter's actions per result and its skip list. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_policy.h"

void
spf_policy_defaults(struct spf_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->on[SPF_RES_FAIL].act = SPF_ACT_REJECT;
	p->on[SPF_RES_TEMPERROR].act = SPF_ACT_TEMPFAIL;
	p->on[SPF_RES_SOFTFAIL] = (struct spf_action){ SPF_ACT_SCORE, 2.0 };
	p->on[SPF_RES_NEUTRAL] = (struct spf_action){ SPF_ACT_SCORE, 0.5 };
	/* permerror: recorded only. A broken record is the sender domain's bug,
	 * common (too many lookups) and no sign of forgery; DMARC, if configured,
	 * still sees it as no SPF pass. */
}

void
spf_policy_clear(struct spf_policy *p)
{
	free(p->skip);
	p->skip = NULL;
	p->nskip = 0;
}

static const char *const act_names[] = {
	[SPF_ACT_NONE] = "none",
	[SPF_ACT_REJECT] = "reject",
	[SPF_ACT_TEMPFAIL] = "tempfail",
	[SPF_ACT_SCORE] = "score",
};

const char *
spf_act_name(enum spf_act act)
{
	return (unsigned)act < sizeof(act_names) / sizeof(act_names[0]) ? act_names[act] : "none";
}

int
spf_action_parse(const char *text, struct spf_action *out, char *err, size_t errlen)
{
	char *end;
	double n;

	memset(out, 0, sizeof(*out));
	for (int a = SPF_ACT_NONE; a <= SPF_ACT_TEMPFAIL; a++)
		if (strcasecmp(text, act_names[a]) == 0) {
			out->act = (enum spf_act)a;
			return 0;
		}
	if (strncasecmp(text, "score:", 6) == 0) {
		errno = 0;
		n = strtod(text + 6, &end);
		/* The range test is false for NaN too. */
		if (errno == 0 && end != text + 6 && *end == '\0' && n >= -1000 && n <= 1000) {
			out->act = SPF_ACT_SCORE;
			out->points = n;
			return 0;
		}
		snprintf(err, errlen, "want score:N with N a number from -1000 to 1000, got \"%s\"",
		         text);
		return -1;
	}
	snprintf(err, errlen, "want reject, tempfail, score:N or none, got \"%s\"", text);
	return -1;
}

/* ---------------------------------------------------------------- addresses */

int
spf_addr_parse(const char *text, struct spf_addr *out)
{
	struct in_addr a4;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &a4) == 1) {
		out->b[10] = out->b[11] = 0xff;
		memcpy(out->b + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, text, out->b) == 1 ? 0 : -1;
}

static int
addr_is_v4(const struct spf_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a->b, mapped, sizeof(mapped)) == 0;
}

int
spf_cidr_parse(const char *text, struct spf_cidr *out)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	unsigned long bits;
	char *end;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (spf_addr_parse(buf, &out->net) < 0)
		return -1;
	out->bits = 128;
	if (slash == NULL)
		return 0;
	errno = 0;
	bits = strtoul(slash + 1, &end, 10);
	if (errno != 0 || end == slash + 1 || *end != '\0' || slash[1] == '-')
		return -1;
	/* An IPv4 prefix counts the 96 bits of ::ffff: too. */
	if (addr_is_v4(&out->net) && strchr(buf, ':') == NULL) {
		if (bits > 32)
			return -1;
		bits += 96;
	} else if (bits > 128) {
		return -1;
	}
	out->bits = (unsigned)bits;
	/* Bits set after the prefix are a typo ("192.0.2.1/24"): say so. */
	for (unsigned i = out->bits; i < 128; i++)
		if (out->net.b[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

int
spf_cidr_match(const struct spf_cidr *cidr, const struct spf_addr *addr)
{
	unsigned full = cidr->bits / 8, rest = cidr->bits % 8;

	if (memcmp(cidr->net.b, addr->b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((cidr->net.b[full] ^ addr->b[full]) & (0xff00 >> rest)) == 0;
}

int
spf_addr_is_loopback(const struct spf_addr *a)
{
	static const struct spf_addr one = { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } };

	return (addr_is_v4(a) && a->b[12] == 127) || memcmp(a->b, one.b, 16) == 0;
}

void
spf_addr_format(const struct spf_addr *addr, char *out, size_t len)
{
	if (addr_is_v4(addr))
		inet_ntop(AF_INET, addr->b + 12, out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr->b, out, (socklen_t)len);
}

/* One item of a skip list: len octets at s. */
static int
skip_item(const char *s, size_t len, struct spf_cidr *c)
{
	char item[64];

	if (len >= sizeof(item))
		return -1;
	memcpy(item, s, len);
	item[len] = '\0';
	return spf_cidr_parse(item, c);
}

int
spf_policy_skip_parse(struct spf_policy *p, const char *text, char *err, size_t errlen)
{
	const char *s = text;

	while (*s != '\0') {
		size_t len = strcspn(s, " \t,");
		struct spf_cidr c, *grown;

		if (len == 0) {
			s++;
			continue;
		}
		if (skip_item(s, len, &c) < 0) {
			snprintf(err, errlen, "\"%.*s\" is no address or CIDR", (int)(len > 64 ? 64 : len), s);
			return -1;
		}
		grown = realloc(p->skip, (p->nskip + 1) * sizeof(*p->skip));
		if (grown == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p->skip = grown;
		p->skip[p->nskip++] = c;
		s += len;
	}
	return 0;
}

int
spf_policy_skips(const struct spf_policy *p, const struct spf_addr *client)
{
	for (size_t i = 0; i < p->nskip; i++)
		if (spf_cidr_match(&p->skip[i], client))
			return 1;
	return 0;
}
