/* xclient.c - XCLIENT command lines for a client identity; pure. */
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "xclient.h"

#define XCLIENT_VERB "XCLIENT"
#define XCLIENT_LINE_MAX (SMTP_COMMAND_MAX - 2)   /* room for CRLF */

size_t
xclient_build(const struct client_identity *id, unsigned attrs,
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
		if (strlen(XCLIENT_VERB) + 1 + tlen > XCLIENT_LINE_MAX)
			continue;   /* cannot fit even alone */
		if (len > 0 && len + 1 + tlen > XCLIENT_LINE_MAX) {
			/* This line is full: start the next one, if there is room. */
			if (++n == max_lines)
				return n;
			len = 0;
		}
		if (len == 0)
			len = xsnprintf(lines[n], SMTP_COMMAND_MAX, XCLIENT_VERB);
		len += xsnprintf(lines[n] + len, SMTP_COMMAND_MAX - len, " %s", tok);
	}
	return len > 0 ? n + 1 : n;
}
