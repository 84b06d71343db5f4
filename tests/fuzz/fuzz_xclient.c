/* fuzz_xclient.c - libFuzzer target: XCLIENT lines for a client identity.
 * Every line is "XCLIENT" followed by " KEY=xtext" tokens, under 512 octets
 * with its CRLF; the attributes come in order, each once, and decode (with the
 * small xtext decoder of fuzz.h) back to exactly the identity's values.
 *
 * Input: octet 0 attrs, octet 1 flags (bit 0 ipv6, bit 1 esmtp, bits 2-3
 * max_lines - 1), octets 2-3 port; then NUL-separated name, addr, helo, login. */
#include <string.h>

#include "fuzz.h"
#include "xclient.h"

static const struct {
	unsigned bit;
	const char *key;
} order[] = {
	{ SMTP_XCLIENT_NAME, "NAME" }, { SMTP_XCLIENT_ADDR, "ADDR" },
	{ SMTP_XCLIENT_PORT, "PORT" }, { SMTP_XCLIENT_PROTO, "PROTO" },
	{ SMTP_XCLIENT_HELO, "HELO" }, { SMTP_XCLIENT_LOGIN, "LOGIN" },
};
#define NATTR (sizeof(order) / sizeof(order[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *strs[4] = { NULL, NULL, NULL, NULL };
	char expect[NATTR][1100];
	int want[NATTR];
	struct client_identity id;
	char lines[XCLIENT_LINES_MAX][SMTP_COMMAND_MAX];
	size_t max_lines, n, pos = 4, seen = 0;
	unsigned attrs;

	if (size < 4)
		return 0;
	attrs = data[0];
	max_lines = (size_t)((data[1] >> 2) & 3) + 1;
	memset(&id, 0, sizeof(id));
	id.ipv6 = data[1] & 1;
	id.esmtp = (data[1] >> 1) & 1;
	id.port = (unsigned)data[2] << 8 | data[3];
	for (size_t k = 0; k < 4; k++) {
		const uint8_t *z = pos < size ? memchr(data + pos, 0, size - pos) : NULL;
		size_t l = z != NULL ? (size_t)(z - (data + pos)) : pos < size ? size - pos : 0;

		if (l > 1000)
			l = 1000;
		strs[k] = malloc(l + 1);
		CHECK(strs[k] != NULL);
		memcpy(strs[k], data + (pos < size ? pos : 0), l);
		strs[k][l] = '\0';
		pos = z != NULL ? (size_t)(z - data) + 1 : size;
	}
	/* Empty strings are "unknown"; exercise NULL too. */
	id.name = strs[0][0] != '\0' ? strs[0] : NULL;
	id.addr = strs[1];
	id.helo = strs[2];
	id.login = strs[3][0] != '\0' ? strs[3] : NULL;

	/* Which attributes must be present (if there is room), and their values. */
	for (size_t i = 0; i < NATTR; i++) {
		const char *v = NULL;

		expect[i][0] = '\0';
		switch (order[i].bit) {
		case SMTP_XCLIENT_NAME: v = id.name; break;
		case SMTP_XCLIENT_ADDR:
			if (id.addr[0] != '\0') {
				snprintf(expect[i], sizeof(expect[i]), "%s%s", id.ipv6 ? "IPV6:" : "", id.addr);
				v = expect[i];
			}
			break;
		case SMTP_XCLIENT_PORT:
			if (id.port != 0) {
				snprintf(expect[i], sizeof(expect[i]), "%u", id.port);
				v = expect[i];
			}
			break;
		case SMTP_XCLIENT_PROTO: v = id.esmtp ? "ESMTP" : "SMTP"; break;
		case SMTP_XCLIENT_HELO: v = id.helo; break;
		case SMTP_XCLIENT_LOGIN: v = id.login; break;
		}
		want[i] = (attrs & order[i].bit) && v != NULL && v[0] != '\0';
		if (want[i] && v != expect[i])
			snprintf(expect[i], sizeof(expect[i]), "%s", v);
		if (want[i]) {
			/* Fits alone: "XCLIENT KEY=xtext" within 510 octets. */
			size_t enc = smtp_xtext_encode(NULL, 0, expect[i], strlen(expect[i]));
			want[i] = 8 + strlen(order[i].key) + 1 + enc <= SMTP_COMMAND_MAX - 2;
		}
	}

	memset(lines, 0x5a, sizeof(lines));
	n = xclient_build(&id, attrs, lines, max_lines);
	CHECK(n <= max_lines);
	/* Lines past n are untouched. */
	for (size_t l = n; l < XCLIENT_LINES_MAX; l++)
		for (size_t k = 0; k < SMTP_COMMAND_MAX; k++)
			CHECK(lines[l][k] == 0x5a);

	size_t prev_len = 0;
	for (size_t l = 0; l < n; l++) {
		char *line = lines[l];
		size_t len = strnlen(line, SMTP_COMMAND_MAX), ntok = 0;

		CHECK(len + 2 < SMTP_COMMAND_MAX + 1 && len <= SMTP_COMMAND_MAX - 2);
		CHECK(strncmp(line, "XCLIENT ", 8) == 0);
		for (size_t k = 0; k < len; k++)
			CHECK((unsigned char)line[k] >= 0x20 && (unsigned char)line[k] <= 0x7e);
		for (char *tok = line + 8; tok < line + len; ntok++) {
			char *sp = memchr(tok, ' ', (size_t)(line + len - tok));
			size_t tl = sp != NULL ? (size_t)(sp - tok) : (size_t)(line + len - tok);
			char *eq = memchr(tok, '=', tl);
			char dec[SMTP_COMMAND_MAX];
			size_t dn, i;

			CHECK(tl > 0 && eq != NULL);
			/* The next attribute wanted after those already seen. */
			for (i = seen; i < NATTR && !want[i]; i++)
				;
			CHECK(i < NATTR);
			CHECK((size_t)(eq - tok) == strlen(order[i].key));
			CHECK(memcmp(tok, order[i].key, (size_t)(eq - tok)) == 0);
			CHECK(fuzz_xtext_decode(eq + 1, (size_t)(tl - (size_t)(eq - tok) - 1), dec, &dn));
			CHECK(dn == strlen(expect[i]) && memcmp(dec, expect[i], dn) == 0);
			/* Greedy packing: the first token of a line did not fit on the
			 * previous one. */
			if (ntok == 0 && l > 0)
				CHECK(prev_len + 1 + tl > SMTP_COMMAND_MAX - 2);
			seen = i + 1;
			tok += tl + (sp != NULL);
			CHECK(sp == NULL || sp[1] != ' ');
		}
		CHECK(ntok > 0);
		prev_len = len;
	}
	/* Nothing wanted is missing, unless the lines ran out. */
	if (n < max_lines)
		for (size_t i = seen; i < NATTR; i++)
			CHECK(!want[i]);
	for (size_t k = 0; k < 4; k++)
		free(strs[k]);
	return 0;
}
