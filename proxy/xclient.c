/* xclient.c - XCLIENT command lines for a client identity; pure. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "xclient.h"

#define XCLIENT_LINE_MAX (SMTP_COMMAND_MAX - 2)   /* room for CRLF */

/* The lines of verb (XCLIENT or XFORWARD) for the attributes in attrs. */
static size_t
identity_build(const char *verb, const struct client_identity *id, unsigned attrs,
               char lines[][SMTP_COMMAND_MAX], size_t max_lines)
{
	static const struct { unsigned bit; const char *key; } order[] = {
		{ SMTP_XCLIENT_NAME, "NAME" }, { SMTP_XCLIENT_ADDR, "ADDR" },
		{ SMTP_XCLIENT_PORT, "PORT" }, { SMTP_XCLIENT_PROTO, "PROTO" },
		{ SMTP_XCLIENT_HELO, "HELO" }, { SMTP_XCLIENT_LOGIN, "LOGIN" },
	};
	size_t n = 0, len = 0;

	for (size_t i = 0; i < ARRAY_LEN(order) && max_lines > 0; i++) {
		char raw[SMTP_COMMAND_MAX], val[SMTP_COMMAND_MAX], tok[SMTP_COMMAND_MAX];
		const char *v = NULL;

		if (!(attrs & order[i].bit))
			continue;
		switch (order[i].bit) {
		case SMTP_XCLIENT_NAME: v = id->name; break;
		case SMTP_XCLIENT_ADDR:
			if (id->addr != NULL && *id->addr != '\0') {
				xsnprintf(raw, sizeof(raw), "%s%s", id->ipv6 ? "IPV6:" : "", id->addr);
				v = raw;
			}
			break;
		case SMTP_XCLIENT_PORT:
			if (id->port != 0) {
				xsnprintf(raw, sizeof(raw), "%u", id->port);
				v = raw;
			}
			break;
		case SMTP_XCLIENT_PROTO: v = id->esmtp ? "ESMTP" : "SMTP"; break;
		case SMTP_XCLIENT_HELO: v = id->helo; break;
		case SMTP_XCLIENT_LOGIN: v = id->login; break;
		}
		if (v == NULL || *v == '\0')
			continue;
		if (smtp_xtext_encode(val, sizeof(val), v, strlen(v)) >= sizeof(val))
			continue;
		size_t tlen = xsnprintf(tok, sizeof(tok), "%s=%s", order[i].key, val);
		if (strlen(verb) + 1 + tlen > XCLIENT_LINE_MAX)
			continue;   /* cannot fit even alone */
		if (len > 0 && len + 1 + tlen > XCLIENT_LINE_MAX) {
			/* This line is full: start the next one, if there is room. */
			if (++n == max_lines)
				return n;
			len = 0;
		}
		if (len == 0)
			len = xsnprintf(lines[n], SMTP_COMMAND_MAX, "%s", verb);
		len += xsnprintf(lines[n] + len, SMTP_COMMAND_MAX - len, " %s", tok);
	}
	return len > 0 ? n + 1 : n;
}

size_t
xclient_build(const struct client_identity *id, unsigned attrs,
              char lines[][SMTP_COMMAND_MAX], size_t max_lines)
{
	return identity_build("XCLIENT", id, attrs, lines, max_lines);
}

size_t
xforward_build(const struct client_identity *id, unsigned attrs,
               char lines[][SMTP_COMMAND_MAX], size_t max_lines)
{
	attrs &= SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR | SMTP_XCLIENT_PORT | SMTP_XCLIENT_PROTO |
	         SMTP_XCLIENT_HELO;
	return identity_build("XFORWARD", id, attrs, lines, max_lines);
}

/* ------------------------------------------------------------ parsing */

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* xtext into dst (NUL-terminated); -1 when invalid, holding a NUL or a control
 * octet, or too long. */
static int
xtext_decode(const char *s, size_t len, char *dst, size_t size)
{
	size_t n = 0;

	if (!smtp_xtext_valid(s, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			c = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return -1;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return 0;
}

static int
name_valid(const char *v)
{
	if (*v == '\0')
		return 0;
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      *v == '-' || *v == '.' || *v == '_'))
			return 0;
	return 1;
}

/* One decoded value into its attribute; -1 with *why_r. */
static int
attr_set(struct xclient_attrs *a, unsigned bit, const char *v, const char **why_r)
{
	unsigned char buf[16];
	char *end;
	unsigned long port;

	if (strcmp(v, "[UNAVAILABLE]") == 0 || strcmp(v, "[TEMPUNAVAIL]") == 0) {
		a->set |= bit;
		a->unavailable |= bit;
		return 0;
	}
	switch (bit) {
	case SMTP_XCLIENT_NAME:
		if (!name_valid(v) || strlen(v) >= sizeof(a->name))
			return *why_r = "bad NAME", -1;
		strlcpy_s(a->name, v, sizeof(a->name));
		break;
	case SMTP_XCLIENT_ADDR:
		a->ipv6 = strncasecmp(v, "IPV6:", 5) == 0;
		if (a->ipv6)
			v += 5;
		if (strlen(v) >= sizeof(a->addr) ||
		    inet_pton(a->ipv6 ? AF_INET6 : AF_INET, v, buf) != 1)
			return *why_r = "bad ADDR", -1;
		strlcpy_s(a->addr, v, sizeof(a->addr));
		break;
	case SMTP_XCLIENT_PORT:
		port = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || port > 65535)
			return *why_r = "bad PORT", -1;
		a->port = (unsigned)port;
		break;
	case SMTP_XCLIENT_PROTO:
		if (strcasecmp(v, "SMTP") != 0 && strcasecmp(v, "ESMTP") != 0)
			return *why_r = "bad PROTO", -1;
		a->esmtp = strcasecmp(v, "ESMTP") == 0;
		break;
	case SMTP_XCLIENT_HELO:
		if (*v == '\0' || strlen(v) >= sizeof(a->helo) || strchr(v, ' ') != NULL)
			return *why_r = "bad HELO", -1;
		strlcpy_s(a->helo, v, sizeof(a->helo));
		break;
	case SMTP_XCLIENT_LOGIN:
		if (*v == '\0' || strlen(v) >= sizeof(a->login))
			return *why_r = "bad LOGIN", -1;
		strlcpy_s(a->login, v, sizeof(a->login));
		break;
	default:
		break;    /* checked, not used */
	}
	a->set |= bit;
	return 0;
}

int
xclient_parse(const char *args, size_t len, int xforward, struct xclient_attrs *a,
              const char **why_r)
{
	/* IDENT and SOURCE (XFORWARD) ride on the DEST* bits: checked, ignored. */
	static const struct { const char *key; unsigned bit; int xclient, xforward; } keys[] = {
		{ "NAME", SMTP_XCLIENT_NAME, 1, 1 }, { "ADDR", SMTP_XCLIENT_ADDR, 1, 1 },
		{ "PORT", SMTP_XCLIENT_PORT, 1, 1 }, { "PROTO", SMTP_XCLIENT_PROTO, 1, 1 },
		{ "HELO", SMTP_XCLIENT_HELO, 1, 1 }, { "LOGIN", SMTP_XCLIENT_LOGIN, 1, 0 },
		{ "DESTADDR", SMTP_XCLIENT_DESTADDR, 1, 0 }, { "DESTPORT", SMTP_XCLIENT_DESTPORT, 1, 0 },
		{ "IDENT", SMTP_XCLIENT_DESTADDR, 0, 1 }, { "SOURCE", SMTP_XCLIENT_DESTPORT, 0, 1 },
	};
	const char *p = args, *end = args + len;

	memset(a, 0, sizeof(*a));
	while (p < end) {
		const char *tok, *eq, *tend;
		char val[SMTP_COMMAND_MAX];
		size_t i;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		tok = p;
		while (p < end && *p != ' ')
			p++;
		tend = p;
		eq = memchr(tok, '=', (size_t)(tend - tok));
		if (eq == NULL || eq == tok)
			return *why_r = "want ATTRIBUTE=VALUE", -1;
		for (i = 0; i < ARRAY_LEN(keys); i++)
			if ((xforward ? keys[i].xforward : keys[i].xclient) &&
			    strlen(keys[i].key) == (size_t)(eq - tok) &&
			    strncasecmp(tok, keys[i].key, (size_t)(eq - tok)) == 0)
				break;
		if (i == ARRAY_LEN(keys))
			return *why_r = "unknown attribute", -1;
		if (xtext_decode(eq + 1, (size_t)(tend - eq - 1), val, sizeof(val)) < 0)
			return *why_r = "bad xtext value", -1;
		if (attr_set(a, keys[i].bit, val, why_r) < 0)
			return -1;
	}
	if (a->set == 0)
		return *why_r = "no attribute given", -1;
	return 0;
}
