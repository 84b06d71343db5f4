/* fuzz_smtp_path.c - libFuzzer target: the argument of MAIL or RCPT
 * (smtp_path_parse). First octet: bit 0 picks RCPT; the rest is the argument. */
#include <string.h>

#include "fuzz.h"
#include "smtp_path.h"

static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum smtp_path_kind kind;
	const char *arg;
	size_t len;
	struct smtp_path p;
	enum smtp_err e;

	if (size < 1)
		return 0;
	kind = data[0] & 1 ? SMTP_PATH_RCPT : SMTP_PATH_MAIL;
	arg = (const char *)data + 1;
	len = size - 1;
	e = smtp_path_parse(kind, arg, len, &p);

	CHECK(p.addr != NULL && smtp_err_text(e) != NULL);
	CHECK(p.nparams <= SMTP_PARAMS_MAX);
	for (size_t i = 0; i < p.nparams; i++) {
		CHECK(inside(p.params[i].key, p.params[i].key_len, arg, len));
		CHECK(p.params[i].key_len > 0);
		if (p.params[i].value != NULL)
			CHECK(inside(p.params[i].value, p.params[i].value_len, arg, len));
	}
	if (e == SMTP_ERR_UNKNOWN_PARAM || e == SMTP_ERR_DUP_PARAM || e == SMTP_ERR_BAD_PARAM_VALUE)
		CHECK(p.nparams >= 1);
	if (e == SMTP_ERR_BAD_CHAR) {
		int ctl = 0;
		for (size_t i = 0; i < len; i++)
			ctl |= smtp_is_ctl((unsigned char)arg[i]);
		CHECK(ctl);
	}
	if (e != SMTP_OK)
		return 0;

	for (size_t i = 0; i < len; i++)
		CHECK(!smtp_is_ctl((unsigned char)arg[i]));
	CHECK(smtp_ascii_iprefix(arg, len, kind == SMTP_PATH_MAIL ? "FROM:" : "TO:"));
	CHECK(inside(p.addr, p.addr_len, arg, len));
	/* The mailbox fits the path limit: 256 with the angle brackets. */
	CHECK(p.addr_len + 2 <= SMTP_PATH_MAX);
	if (kind == SMTP_PATH_RCPT)
		CHECK(p.addr_len > 0);
	if (p.addr_len > 0) {
		int high = 0;
		/* '>' ends the path unless quoted ('<' is valid dcontent in a
		 * general address literal, RFC 5321 4.1.3). */
		CHECK(memchr(p.addr, '>', p.addr_len) == NULL || p.addr[0] == '"');
		for (size_t i = 0; i < p.addr_len; i++)
			high |= (unsigned char)p.addr[i] >= 0x80;
		CHECK(high == !!p.is_8bit);
	}
	if (p.is_postmaster)
		CHECK(kind == SMTP_PATH_RCPT && smtp_ascii_ieq(p.addr, p.addr_len, "postmaster"));
	/* Every accepted parameter is known for this verb, once. */
	for (size_t i = 0; i < p.nparams; i++) {
		CHECK(p.params[i].id != SMTP_PARAM_OTHER);
		for (size_t j = 0; j < i; j++)
			CHECK(p.params[j].id != p.params[i].id);
		if (p.params[i].id == SMTP_PARAM_ENVID) {
			char dec[128];
			size_t dn;
			CHECK(p.params[i].value_len <= 100);
			CHECK(fuzz_xtext_decode(p.params[i].value, p.params[i].value_len, dec, &dn));
		}
	}
	if (p.has_size || p.body_8bit || p.has_dsn)
		CHECK(p.nparams > 0);
	return 0;
}
