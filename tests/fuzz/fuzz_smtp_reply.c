/* fuzz_smtp_reply.c - libFuzzer target: a backend's reply, line by line
 * (smtp_reply_line_parse, smtp_enhanced_code_len) and, taken as an EHLO reply,
 * its capability lines (smtp_caps_add_line). Lines split at LF, one CR before it
 * dropped, as the relay does. */
#include <string.h>

#include "fuzz.h"
#include "smtp_parse.h"

static void
check_caps(const struct smtp_caps *c)
{
	size_t n = strnlen(c->auth, sizeof(c->auth));

	CHECK(n < sizeof(c->auth));
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)c->auth[i] >= 0x20 && (unsigned char)c->auth[i] <= 0x7e);
	CHECK(n == 0 || (c->auth[0] != ' ' && c->auth[n - 1] != ' '));
	CHECK(strstr(c->auth, "  ") == NULL);
	if (n > 0)
		CHECK(c->caps & SMTP_CAP_AUTH);
	if (c->size != 0)
		CHECK(c->caps & SMTP_CAP_SIZE);
	if (c->xclient_attrs != 0)
		CHECK(c->caps & SMTP_CAP_XCLIENT);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct smtp_caps raw, parsed;
	size_t lineno = 0;
	int done = 0, code = 0;

	smtp_caps_init(&raw);
	smtp_caps_init(&parsed);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		struct smtp_reply_line r;
		enum smtp_err e;
		size_t ec;

		if (len > 0 && p[len - 1] == '\r' && nl != NULL)
			len--;
		e = smtp_reply_line_parse(p, len, &r);
		CHECK(r.text != NULL);
		if (e == SMTP_OK) {
			CHECK(len >= 3 && len <= SMTP_REPLY_LINE_MAX - 2);
			CHECK(r.code >= 200 && r.code <= 559 && r.code % 100 / 10 <= 5);
			CHECK(r.code == (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
			CHECK(r.last == (len == 3 || p[3] == ' '));
			CHECK(r.text >= p + 3 && r.text + r.text_len == p + len);
			for (size_t i = 0; i < len; i++)
				CHECK((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f);
			ec = smtp_enhanced_code_len(r.text, r.text_len);
			CHECK(ec <= r.text_len);
			if (ec > 0) {
				CHECK(ec >= 5 && ec <= 9);
				CHECK(r.text[0] == '2' || r.text[0] == '4' || r.text[0] == '5');
				CHECK(ec == r.text_len || r.text[ec] == ' ');
				for (size_t i = 0; i < ec; i++)
					CHECK((r.text[i] >= '0' && r.text[i] <= '9') || r.text[i] == '.');
			}
			/* An EHLO reply: lines after the first are keywords, until the last. */
			if (!done) {
				if (lineno > 0 && r.code == code)
					smtp_caps_add_line(&parsed, r.text, r.text_len);
				code = r.code;
				done = r.last;
			}
			lineno++;
		} else {
			CHECK(e == SMTP_ERR_EMPTY || e == SMTP_ERR_BAD_CHAR || e == SMTP_ERR_SYNTAX);
			CHECK(r.code == 0);
		}
		/* The caps parser alone, on any text (it must not trust the reply parser). */
		smtp_caps_add_line(&raw, p, len);
		ec = smtp_enhanced_code_len(p, len);
		CHECK(ec <= len);
		p = nl != NULL ? nl + 1 : end;
	}
	check_caps(&raw);
	check_caps(&parsed);
	return 0;
}
