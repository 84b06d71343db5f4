/* fuzz_smtp_cmd.c - libFuzzer target: one SMTP command line (smtp_cmd_parse),
 * then what the session does with its argument: MAIL/RCPT paths and ESMTP
 * parameters, the HELO/EHLO domain, and an xtext round trip of the whole line. */
#include <string.h>

#include "fuzz.h"
#include "smtp_parse.h"
#include "smtp_path.h"

static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

static void
check_xtext(const char *s, size_t len)
{
	size_t need = len * 3 + 1, n, dn;
	char *enc = malloc(need), *dec = malloc(len + 1), small[17];

	CHECK(enc != NULL && dec != NULL);
	n = smtp_xtext_encode(enc, need, s, len);
	CHECK(n < need && strlen(enc) == n);
	CHECK(smtp_xtext_valid(enc, n));
	CHECK(fuzz_xtext_decode(enc, n, dec, &dn));
	CHECK(dn == len && memcmp(dec, s, len) == 0);
	/* Truncation never cuts an escape: the prefix written is valid xtext and
	 * a prefix of the full encoding. */
	for (size_t room = 0; room <= sizeof(small); room++) {
		size_t m = smtp_xtext_encode(small, room, s, len);
		CHECK(m == n);
		if (room > 0) {
			size_t w = strlen(small);
			CHECK(w < room && memcmp(small, enc, w) == 0);
			CHECK(smtp_xtext_valid(small, w));
		}
	}
	/* The validator agrees with the independent decoder. */
	CHECK(!!smtp_xtext_valid(s, len) == fuzz_xtext_decode(s, len, dec, &dn));
	free(enc);
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct smtp_cmd cmd;
	enum smtp_err e = smtp_cmd_parse(line, size, &cmd);

	CHECK(cmd.verb_text != NULL && cmd.arg != NULL);
	CHECK(smtp_err_text(e) != NULL && smtp_verb_name(cmd.verb) != NULL);
	if (e != SMTP_OK) {
		CHECK(cmd.verb == SMTP_VERB_UNKNOWN && cmd.verb_len == 0 && cmd.arg_len == 0);
		CHECK(e == SMTP_ERR_EMPTY || e == SMTP_ERR_BAD_CHAR || e == SMTP_ERR_SYNTAX);
	} else {
		CHECK(size > 0);
		for (size_t i = 0; i < size; i++)
			CHECK(!smtp_is_ctl(data[i]));
		CHECK(cmd.verb_text == line && cmd.verb_len > 0);
		CHECK(memchr(cmd.verb_text, ' ', cmd.verb_len) == NULL);
		CHECK(cmd.verb_len == size || line[cmd.verb_len] == ' ');
		CHECK(inside(cmd.arg, cmd.arg_len, line, size));
		CHECK(cmd.arg >= line + cmd.verb_len);
		if (cmd.arg_len > 0)
			CHECK(cmd.arg[0] != ' ' && cmd.arg[cmd.arg_len - 1] != ' ');
		if (cmd.verb != SMTP_VERB_UNKNOWN)
			CHECK(smtp_ascii_ieq(cmd.verb_text, cmd.verb_len, smtp_verb_name(cmd.verb)));
		if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
			struct smtp_path p;
			enum smtp_err pe = smtp_path_parse(cmd.verb == SMTP_VERB_MAIL ? SMTP_PATH_MAIL
			                                   : SMTP_PATH_RCPT, cmd.arg, cmd.arg_len, &p);
			CHECK(p.addr != NULL && p.nparams <= SMTP_PARAMS_MAX);
			if (pe == SMTP_OK)
				CHECK(inside(p.addr, p.addr_len, cmd.arg, cmd.arg_len));
		}
		if (cmd.verb == SMTP_VERB_HELO || cmd.verb == SMTP_VERB_EHLO) {
			if (smtp_helo_valid(cmd.arg, cmd.arg_len))
				CHECK(cmd.arg_len > 0 && cmd.arg_len <= SMTP_DOMAIN_MAX);
		}
	}
	if (size <= 4096)
		check_xtext(line, size);
	return 0;
}
