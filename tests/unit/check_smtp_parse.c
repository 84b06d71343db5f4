/* check_smtp_parse.c - unit tests for proxy/smtp_parse.c (RFC 5321, 1870, 3461, 3463, 6531). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"
#include "smtp_path.h"
#include "util.h"

/* A length of 0 in the tables below means "use strlen"; cases with embedded NUL
 * give it explicitly. */
static size_t
len_of(const char *s, size_t len)
{
	return len ? len : strlen(s);
}

static int
bytes_eq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/* ---- names ---- */

START_TEST(test_verb_name)
{
	static const struct { enum smtp_verb v; const char *want; } t[] = {
		{ SMTP_VERB_HELO, "HELO" }, { SMTP_VERB_EHLO, "EHLO" },
		{ SMTP_VERB_MAIL, "MAIL" }, { SMTP_VERB_RCPT, "RCPT" },
		{ SMTP_VERB_DATA, "DATA" }, { SMTP_VERB_BDAT, "BDAT" },
		{ SMTP_VERB_RSET, "RSET" }, { SMTP_VERB_NOOP, "NOOP" },
		{ SMTP_VERB_QUIT, "QUIT" }, { SMTP_VERB_VRFY, "VRFY" },
		{ SMTP_VERB_EXPN, "EXPN" }, { SMTP_VERB_HELP, "HELP" },
		{ SMTP_VERB_STARTTLS, "STARTTLS" }, { SMTP_VERB_AUTH, "AUTH" },
		{ SMTP_VERB_XCLIENT, "XCLIENT" }, { SMTP_VERB_XFORWARD, "XFORWARD" },
		{ SMTP_VERB_ETRN, "ETRN" }, { SMTP_VERB_TURN, "TURN" },
		{ SMTP_VERB_PROXY, "PROXY" }, { SMTP_VERB_UNKNOWN, "?" },
		{ SMTP_VERB_COUNT, "?" }, { (enum smtp_verb)1000, "?" },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		const char *got = smtp_verb_name(t[i].v);

		ck_assert_msg(got != NULL && strcmp(got, t[i].want) == 0,
		              "smtp_verb_name(%d): got \"%s\", want \"%s\"", (int)t[i].v,
		              got ? got : "(null)", t[i].want);
	}
}
END_TEST

START_TEST(test_err_text)
{
	/* Every code has its own non-empty text. */
	static const enum smtp_err all[] = {
		SMTP_OK, SMTP_ERR_EMPTY, SMTP_ERR_BAD_CHAR, SMTP_ERR_SYNTAX,
		SMTP_ERR_PATH_TOO_LONG, SMTP_ERR_BAD_ADDRESS, SMTP_ERR_TOO_MANY_PARAMS,
		SMTP_ERR_DUP_PARAM, SMTP_ERR_UNKNOWN_PARAM, SMTP_ERR_BAD_PARAM_VALUE,
	};

	for (size_t i = 0; i < ARRAY_LEN(all); i++) {
		const char *a = smtp_err_text(all[i]);

		ck_assert_msg(a != NULL && a[0] != '\0', "smtp_err_text(%d): got empty, want text",
		              (int)all[i]);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(a, smtp_err_text(all[j])) != 0,
			              "smtp_err_text(%d) == smtp_err_text(%d): got \"%s\" twice",
			              (int)all[i], (int)all[j], a);
	}
	ck_assert_msg(smtp_err_text((enum smtp_err)999) != NULL,
	              "smtp_err_text(999): got NULL, want a text");
}
END_TEST

/* ---- commands ---- */

START_TEST(test_cmd_parse)
{
	static const struct {
		const char *line;
		size_t len;
		enum smtp_err err;
		enum smtp_verb verb;
		const char *verb_text;
		const char *arg;
	} t[] = {
		{ "MAIL FROM:<a@b>", 0, SMTP_OK, SMTP_VERB_MAIL, "MAIL", "FROM:<a@b>" },
		{ "mail from:<a@b>", 0, SMTP_OK, SMTP_VERB_MAIL, "mail", "from:<a@b>" },
		{ "MaIl FROM:<a@b>  ", 0, SMTP_OK, SMTP_VERB_MAIL, "MaIl", "FROM:<a@b>" },
		{ "MAIL   FROM:<a@b>", 0, SMTP_OK, SMTP_VERB_MAIL, "MAIL", "FROM:<a@b>" },
		{ "RCPT TO:<x@y> NOTIFY=NEVER", 0, SMTP_OK, SMTP_VERB_RCPT, "RCPT",
		  "TO:<x@y> NOTIFY=NEVER" },
		{ "EHLO client.example", 0, SMTP_OK, SMTP_VERB_EHLO, "EHLO", "client.example" },
		{ "helo x", 0, SMTP_OK, SMTP_VERB_HELO, "helo", "x" },
		{ "DATA", 0, SMTP_OK, SMTP_VERB_DATA, "DATA", "" },
		{ "DATA ", 0, SMTP_OK, SMTP_VERB_DATA, "DATA", "" },
		{ "BDAT 100 LAST", 0, SMTP_OK, SMTP_VERB_BDAT, "BDAT", "100 LAST" },
		{ "RSET", 0, SMTP_OK, SMTP_VERB_RSET, "RSET", "" },
		{ "noop", 0, SMTP_OK, SMTP_VERB_NOOP, "noop", "" },
		{ "NOOP hello there", 0, SMTP_OK, SMTP_VERB_NOOP, "NOOP", "hello there" },
		{ "QUIT", 0, SMTP_OK, SMTP_VERB_QUIT, "QUIT", "" },
		{ "VRFY user", 0, SMTP_OK, SMTP_VERB_VRFY, "VRFY", "user" },
		{ "EXPN list", 0, SMTP_OK, SMTP_VERB_EXPN, "EXPN", "list" },
		{ "HELP", 0, SMTP_OK, SMTP_VERB_HELP, "HELP", "" },
		{ "StartTLS", 0, SMTP_OK, SMTP_VERB_STARTTLS, "StartTLS", "" },
		{ "AUTH PLAIN AGZvbwBiYXI=", 0, SMTP_OK, SMTP_VERB_AUTH, "AUTH",
		  "PLAIN AGZvbwBiYXI=" },
		{ "XCLIENT ADDR=127.0.0.1", 0, SMTP_OK, SMTP_VERB_XCLIENT, "XCLIENT",
		  "ADDR=127.0.0.1" },
		{ "XFORWARD NAME=x", 0, SMTP_OK, SMTP_VERB_XFORWARD, "XFORWARD", "NAME=x" },
		{ "ETRN example.org", 0, SMTP_OK, SMTP_VERB_ETRN, "ETRN", "example.org" },
		{ "TURN", 0, SMTP_OK, SMTP_VERB_TURN, "TURN", "" },
		{ "PROXY TCP4 192.0.2.1 192.0.2.2 1234 25", 0, SMTP_OK, SMTP_VERB_PROXY,
		  "PROXY", "TCP4 192.0.2.1 192.0.2.2 1234 25" },
		/* Unknown verbs parse, the session says 502. */
		{ "MAILX FROM:<a@b>", 0, SMTP_OK, SMTP_VERB_UNKNOWN, "MAILX", "FROM:<a@b>" },
		{ "MAIL:FROM:<a@b>", 0, SMTP_OK, SMTP_VERB_UNKNOWN, "MAIL:FROM:<a@b>", "" },
		{ "MAI", 0, SMTP_OK, SMTP_VERB_UNKNOWN, "MAI", "" },
		{ "GET / HTTP/1.0", 0, SMTP_OK, SMTP_VERB_UNKNOWN, "GET", "/ HTTP/1.0" },
		{ "\xc3\xa9HLO x", 0, SMTP_OK, SMTP_VERB_UNKNOWN, "\xc3\xa9HLO", "x" },
		/* 8-bit bytes are not control bytes. */
		{ "RCPT TO:<j\xc3\xb6rg@example.org>", 0, SMTP_OK, SMTP_VERB_RCPT, "RCPT",
		  "TO:<j\xc3\xb6rg@example.org>" },
		/* Empty. */
		{ "", 0, SMTP_ERR_EMPTY, SMTP_VERB_UNKNOWN, "", "" },
		{ "   ", 0, SMTP_ERR_EMPTY, SMTP_VERB_UNKNOWN, "", "" },
		{ " MAIL FROM:<a@b>", 0, SMTP_ERR_SYNTAX, SMTP_VERB_UNKNOWN, "", "" },
		/* Control bytes anywhere (RFC 5321 uses SP only: TAB is refused too). */
		{ "MAIL\tFROM:<a@b>", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "MAIL FROM:<a@b>\r", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "MAIL FROM:<a@b>\rRCPT TO:<c@d>", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "MAIL FROM:<a@b>\nRCPT TO:<c@d>", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "MAIL FROM:<a\0@b>", 16, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "\0", 1, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "QUIT\0", 5, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "NOOP \x7f", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "NOOP \x1b[0m", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
		{ "\x01", 0, SMTP_ERR_BAD_CHAR, SMTP_VERB_UNKNOWN, "", "" },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct smtp_cmd cmd;
		size_t len = len_of(t[i].line, t[i].len);
		enum smtp_err err = smtp_cmd_parse(t[i].line, len, &cmd);

		ck_assert_msg(err == t[i].err, "case %zu \"%s\": got err %s, want %s", i,
		              t[i].line, smtp_err_text(err), smtp_err_text(t[i].err));
		ck_assert_msg(cmd.arg != NULL, "case %zu: got arg NULL, want non-NULL", i);
		if (err != SMTP_OK)
			continue;
		ck_assert_msg(cmd.verb == t[i].verb, "case %zu \"%s\": got verb %s, want %s", i,
		              t[i].line, smtp_verb_name(cmd.verb), smtp_verb_name(t[i].verb));
		ck_assert_msg(bytes_eq(cmd.verb_text, cmd.verb_len, t[i].verb_text),
		              "case %zu: got verb_text \"%.*s\", want \"%s\"", i,
		              (int)cmd.verb_len, cmd.verb_text, t[i].verb_text);
		ck_assert_msg(bytes_eq(cmd.arg, cmd.arg_len, t[i].arg),
		              "case %zu: got arg \"%.*s\", want \"%s\"", i, (int)cmd.arg_len,
		              cmd.arg, t[i].arg);
	}
}
END_TEST

/* ---- paths ---- */

START_TEST(test_path_addresses)
{
	static const struct {
		enum smtp_path_kind kind;
		const char *arg;
		size_t len;
		enum smtp_err err;
		const char *addr;
		int is_8bit, is_postmaster;
	} t[] = {
		{ SMTP_PATH_MAIL, "FROM:<a@b>", 0, SMTP_OK, "a@b", 0, 0 },
		{ SMTP_PATH_MAIL, "from:<a@b>", 0, SMTP_OK, "a@b", 0, 0 },
		{ SMTP_PATH_MAIL, "From:<user@example.org>", 0, SMTP_OK, "user@example.org", 0, 0 },
		{ SMTP_PATH_MAIL, "FROM: <a@b>", 0, SMTP_OK, "a@b", 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:   <a@b>", 0, SMTP_OK, "a@b", 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b>  ", 0, SMTP_OK, "a@b", 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<>", 0, SMTP_OK, "", 0, 0 },
		{ SMTP_PATH_MAIL, "FROM: <>", 0, SMTP_OK, "", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<x@y.z>", 0, SMTP_OK, "x@y.z", 0, 0 },
		{ SMTP_PATH_RCPT, "to:<x@y.z>", 0, SMTP_OK, "x@y.z", 0, 0 },
		/* Dot-string atoms: all of RFC 5322 atext. */
		{ SMTP_PATH_RCPT, "TO:<first.last@example.org>", 0, SMTP_OK,
		  "first.last@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a+tag@example.org>", 0, SMTP_OK, "a+tag@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<!#$%&'*+-/=?^_`{|}~@example.org>", 0, SMTP_OK,
		  "!#$%&'*+-/=?^_`{|}~@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<.a@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a.@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a..b@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a b@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a(b)@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a,b@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a\\b@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b@c>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* Quoted-string local parts. */
		{ SMTP_PATH_RCPT, "TO:<\"john doe\"@example.org>", 0, SMTP_OK,
		  "\"john doe\"@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"a@b\"@example.org>", 0, SMTP_OK,
		  "\"a@b\"@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"a>b\"@example.org>", 0, SMTP_OK,
		  "\"a>b\"@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"a\\\"b\"@example.org>", 0, SMTP_OK,
		  "\"a\\\"b\"@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"a\\\\\"@example.org>", 0, SMTP_OK,
		  "\"a\\\\\"@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"\"@example.org>", 0, SMTP_OK, "\"\"@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"abc@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"a\"b@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a\"b\"@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"a\\\">", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* Domains: Let-dig [Ldh-str], no '_' (RFC 5321 4.1.2). */
		{ SMTP_PATH_RCPT, "TO:<a@mx-1.example.org>", 0, SMTP_OK, "a@mx-1.example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@3com.com>", 0, SMTP_OK, "a@3com.com", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@-x.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@x-.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@x..org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@.x.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@x.org.>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@x_y.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* Address literals. */
		{ SMTP_PATH_RCPT, "TO:<a@[192.0.2.1]>", 0, SMTP_OK, "a@[192.0.2.1]", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[255.255.255.255]>", 0, SMTP_OK,
		  "a@[255.255.255.255]", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[IPv6:2001:db8::1]>", 0, SMTP_OK,
		  "a@[IPv6:2001:db8::1]", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[ipv6:2001:db8::1]>", 0, SMTP_OK,
		  "a@[ipv6:2001:db8::1]", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[IPv6:::ffff:192.0.2.1]>", 0, SMTP_OK,
		  "a@[IPv6:::ffff:192.0.2.1]", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[x-tag:some.thing]>", 0, SMTP_OK,
		  "a@[x-tag:some.thing]", 0, 0 },
		/* Found by fuzz_smtp_path: inside a literal '"' is no quote and '>' does
		 * not end the path, so none of these may parse as a shorter path with the
		 * rest taken as parameters. Spaces are not dcontent (RFC 5321 4.1.3). */
		{ SMTP_PATH_RCPT, "TO:<a@[x:\"> NOTIFY=NEVER \"]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<_@[v::::1):<\"x|p>\"@]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[192.0.2.256]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[192.0.2]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[192.0.2.1.5]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[1922.0.2.1]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[IPv6:2001:db8::g]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, SMTP_ERR_BAD_ADDRESS,
		  NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[IPv6:]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[2001:db8::1]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[192.0.2.1>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[tag:]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@[tag:a[b]>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* Source routes are dropped (RFC 5321 4.1.2 A-d-l, C.). */
		{ SMTP_PATH_RCPT, "TO:<@relay.example:a@b.example>", 0, SMTP_OK, "a@b.example", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@r1.example,@r2.example:a@b.example>", 0, SMTP_OK,
		  "a@b.example", 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<@r1,@r2,@r3:u@d>", 0, SMTP_OK, "u@d", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@:a@b>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@r1,:a@b>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@r1,r2:a@b>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@r1 a@b>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<@r_1:a@b>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* Postmaster without a domain: RCPT only. */
		{ SMTP_PATH_RCPT, "TO:<Postmaster>", 0, SMTP_OK, "Postmaster", 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<postmaster>", 0, SMTP_OK, "postmaster", 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<POSTMASTER>", 0, SMTP_OK, "POSTMASTER", 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<postmaster@example.org>", 0, SMTP_OK,
		  "postmaster@example.org", 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<postmasters>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<Postmaster>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* The null path is MAIL only. */
		{ SMTP_PATH_RCPT, "TO:<>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* UTF-8 (RFC 6531): syntactically fine, flagged. */
		{ SMTP_PATH_RCPT, "TO:<j\xc3\xb6rg@example.org>", 0, SMTP_OK,
		  "j\xc3\xb6rg@example.org", 1, 0 },
		{ SMTP_PATH_RCPT, "TO:<user@b\xc3\xbc" "cher.example>", 0, SMTP_OK,
		  "user@b\xc3\xbc" "cher.example", 1, 0 },
		{ SMTP_PATH_RCPT, "TO:<\"\xe2\x82\xac x\"@example.org>", 0, SMTP_OK,
		  "\"\xe2\x82\xac x\"@example.org", 1, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xf0\x9f\x98\x80@example.org>", 0, SMTP_OK,
		  "\xf0\x9f\x98\x80@example.org", 1, 0 },
		{ SMTP_PATH_RCPT, "TO:<@r\xc3\xa9lais.example:a@b>", 0, SMTP_OK, "a@b", 0, 0 },
		/* Malformed UTF-8: lone continuation, Latin-1, overlong, surrogate, cut. */
		{ SMTP_PATH_RCPT, "TO:<\x80@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<j\xf6rg@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xc0\xaf@example.org>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xed\xa0\x80@example.org>", 0, SMTP_ERR_BAD_ADDRESS,
		  NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xe0\x80\xaf@example.org>", 0, SMTP_ERR_BAD_ADDRESS,
		  NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xf0\x80\x80\xaf@example.org>", 0, SMTP_ERR_BAD_ADDRESS,
		  NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xf4\x90\x80\x80@example.org>", 0, SMTP_ERR_BAD_ADDRESS,
		  NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xe2\x82\xac\xf4\x8f\xbf\xbf@example.org>", 0, SMTP_OK,
		  "\xe2\x82\xac\xf4\x8f\xbf\xbf@example.org", 1, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@\xe2\x82>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<\xf5\x80\x80\x80@x>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		/* FROM:/TO: keyword. */
		{ SMTP_PATH_MAIL, "TO:<a@b>", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_RCPT, "FROM:<a@b>", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM <a@b>", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM :<a@b>", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "<a@b>", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FRO", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		/* Brackets. */
		{ SMTP_PATH_MAIL, "FROM:", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:a@b", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<<a@b>>", 0, SMTP_ERR_BAD_ADDRESS, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b>>", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b>SIZE=1", 0, SMTP_ERR_SYNTAX, NULL, 0, 0 },
		/* Control bytes, including NUL given by length. */
		{ SMTP_PATH_MAIL, "FROM:<a\0@b>", 11, SMTP_ERR_BAD_CHAR, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b>\r", 0, SMTP_ERR_BAD_CHAR, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b>\tSIZE=1", 0, SMTP_ERR_BAD_CHAR, NULL, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<\"a\x01\"@b>", 0, SMTP_ERR_BAD_CHAR, NULL, 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct smtp_path p;
		enum smtp_err err = smtp_path_parse(t[i].kind, t[i].arg, len_of(t[i].arg, t[i].len), &p);

		ck_assert_msg(err == t[i].err, "case %zu \"%s\": got err %s, want %s", i, t[i].arg,
		              smtp_err_text(err), smtp_err_text(t[i].err));
		if (err != SMTP_OK)
			continue;
		ck_assert_msg(bytes_eq(p.addr, p.addr_len, t[i].addr),
		              "case %zu \"%s\": got addr \"%.*s\", want \"%s\"", i, t[i].arg,
		              (int)p.addr_len, p.addr, t[i].addr);
		ck_assert_msg(p.is_8bit == t[i].is_8bit, "case %zu \"%s\": got is_8bit %d, want %d",
		              i, t[i].arg, p.is_8bit, t[i].is_8bit);
		ck_assert_msg(p.is_postmaster == t[i].is_postmaster,
		              "case %zu \"%s\": got is_postmaster %d, want %d", i, t[i].arg,
		              p.is_postmaster, t[i].is_postmaster);
		ck_assert_msg(p.nparams == 0, "case %zu: got nparams %zu, want 0", i, p.nparams);
	}
}
END_TEST

/* Length limits of RFC 5321 4.5.3.1: local part 64, domain 255, path 256 with <>.
 * The path limit caps a domain at 256 - strlen("<a@>") = 252 inside a path. */
START_TEST(test_path_lengths)
{
	static const struct {
		size_t local, domain, route;  /* route: length of "@r...:" prefix, 0 = none */
		enum smtp_err err;
	} t[] = {
		{ 1, 1, 0, SMTP_OK },
		{ 64, 10, 0, SMTP_OK },
		{ 65, 10, 0, SMTP_ERR_PATH_TOO_LONG },
		{ 64, 189, 0, SMTP_OK },               /* path 1+64+1+189+1 = 256 */
		{ 64, 190, 0, SMTP_ERR_PATH_TOO_LONG }, /* path 257 */
		{ 1, 252, 0, SMTP_OK },                /* path 256 */
		{ 1, 253, 0, SMTP_ERR_PATH_TOO_LONG }, /* path 257 */
		{ 1, 255, 0, SMTP_ERR_PATH_TOO_LONG },
		{ 1, 256, 0, SMTP_ERR_PATH_TOO_LONG },
		{ 10, 200, 43, SMTP_OK },              /* path 1+43+10+1+200+1 = 256 */
		{ 10, 200, 44, SMTP_ERR_PATH_TOO_LONG },
		{ 100, 10, 0, SMTP_ERR_PATH_TOO_LONG },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char buf[600];
		size_t n = 0;
		struct smtp_path p;
		enum smtp_err err;

		memcpy(buf, "TO:<", 4);
		n = 4;
		if (t[i].route) {
			buf[n++] = '@';
			memset(buf + n, 'r', t[i].route - 2);
			n += t[i].route - 2;
			buf[n++] = ':';
		}
		memset(buf + n, 'l', t[i].local);
		n += t[i].local;
		buf[n++] = '@';
		/* labels of 9 letters and a dot, so it is a real multi-label domain */
		for (size_t k = 0; k < t[i].domain; k++)
			buf[n + k] = (k % 10 == 9 && k + 1 < t[i].domain) ? '.' : 'd';
		n += t[i].domain;
		buf[n++] = '>';
		err = smtp_path_parse(SMTP_PATH_RCPT, buf, n, &p);
		ck_assert_msg(err == t[i].err,
		              "case %zu local %zu domain %zu route %zu (path %zu): got %s, want %s",
		              i, t[i].local, t[i].domain, t[i].route, n - 3, smtp_err_text(err),
		              smtp_err_text(t[i].err));
		if (err == SMTP_OK)
			ck_assert_msg(p.addr_len == t[i].local + 1 + t[i].domain,
			              "case %zu: got addr_len %zu, want %zu", i, p.addr_len,
			              t[i].local + 1 + t[i].domain);
	}
}
END_TEST

START_TEST(test_path_params)
{
	static const struct {
		enum smtp_path_kind kind;
		const char *arg;
		enum smtp_err err;
		size_t nparams;
		const char *last_key;  /* key of params[nparams-1]; NULL: do not check */
		enum smtp_param_id last_id;
		int has_size;
		uint64_t size;
		int body_8bit, smtputf8, has_dsn;
	} t[] = {
		/* SIZE (RFC 1870): 1*20DIGIT */
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=1000", SMTP_OK, 1, "SIZE", SMTP_PARAM_SIZE,
		  1, 1000, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> size=0", SMTP_OK, 1, "size", SMTP_PARAM_SIZE,
		  1, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=00000000000000000042", SMTP_OK, 1, "SIZE",
		  SMTP_PARAM_SIZE, 1, 42, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=18446744073709551615", SMTP_OK, 1, "SIZE",
		  SMTP_PARAM_SIZE, 1, UINT64_MAX, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=18446744073709551616", SMTP_ERR_BAD_PARAM_VALUE,
		  1, "SIZE", SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=99999999999999999999", SMTP_ERR_BAD_PARAM_VALUE,
		  1, "SIZE", SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=000000000000000000001", SMTP_ERR_BAD_PARAM_VALUE,
		  1, "SIZE", SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=", SMTP_ERR_BAD_PARAM_VALUE, 1, "SIZE",
		  SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE", SMTP_ERR_BAD_PARAM_VALUE, 1, "SIZE",
		  SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=-1", SMTP_ERR_BAD_PARAM_VALUE, 1, "SIZE",
		  SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=1k", SMTP_ERR_BAD_PARAM_VALUE, 1, "SIZE",
		  SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=+5", SMTP_ERR_BAD_PARAM_VALUE, 1, "SIZE",
		  SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=1=2", SMTP_ERR_BAD_PARAM_VALUE, 1, "SIZE",
		  SMTP_PARAM_SIZE, 0, 0, 0, 0, 0 },
		/* BODY (RFC 6152); BINARYMIME (RFC 3030) is not offered. */
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY=8BITMIME", SMTP_OK, 1, "BODY", SMTP_PARAM_BODY,
		  0, 0, 1, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> body=8bitmime", SMTP_OK, 1, "body", SMTP_PARAM_BODY,
		  0, 0, 1, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY=7BIT", SMTP_OK, 1, "BODY", SMTP_PARAM_BODY,
		  0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> Body=7bit", SMTP_OK, 1, "Body", SMTP_PARAM_BODY,
		  0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY=BINARYMIME", SMTP_ERR_UNKNOWN_PARAM, 1, "BODY",
		  SMTP_PARAM_BODY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY=8BIT", SMTP_ERR_BAD_PARAM_VALUE, 1, "BODY",
		  SMTP_PARAM_BODY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY=", SMTP_ERR_BAD_PARAM_VALUE, 1, "BODY",
		  SMTP_PARAM_BODY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY", SMTP_ERR_BAD_PARAM_VALUE, 1, "BODY",
		  SMTP_PARAM_BODY, 0, 0, 0, 0, 0 },
		/* SMTPUTF8 (RFC 6531): no value. */
		{ SMTP_PATH_MAIL, "FROM:<a@b> SMTPUTF8", SMTP_OK, 1, "SMTPUTF8", SMTP_PARAM_SMTPUTF8,
		  0, 0, 0, 1, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> smtputf8", SMTP_OK, 1, "smtputf8", SMTP_PARAM_SMTPUTF8,
		  0, 0, 0, 1, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SMTPUTF8=yes", SMTP_ERR_BAD_PARAM_VALUE, 1, "SMTPUTF8",
		  SMTP_PARAM_SMTPUTF8, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SMTPUTF8=", SMTP_ERR_BAD_PARAM_VALUE, 1, "SMTPUTF8",
		  SMTP_PARAM_SMTPUTF8, 0, 0, 0, 0, 0 },
		/* RET (RFC 3461 4.3) */
		{ SMTP_PATH_MAIL, "FROM:<a@b> RET=FULL", SMTP_OK, 1, "RET", SMTP_PARAM_RET,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ret=hdrs", SMTP_OK, 1, "ret", SMTP_PARAM_RET,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> RET=BODY", SMTP_ERR_BAD_PARAM_VALUE, 1, "RET",
		  SMTP_PARAM_RET, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> RET", SMTP_ERR_BAD_PARAM_VALUE, 1, "RET",
		  SMTP_PARAM_RET, 0, 0, 0, 0, 0 },
		/* ENVID (RFC 3461 4.4): xtext, at most 100 */
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=QQ314159", SMTP_OK, 1, "ENVID", SMTP_PARAM_ENVID,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=a+2Bb+3Dc", SMTP_OK, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=a+2bb", SMTP_ERR_BAD_PARAM_VALUE, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=a+2", SMTP_ERR_BAD_PARAM_VALUE, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=a+", SMTP_ERR_BAD_PARAM_VALUE, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=\xc3\xa9", SMTP_ERR_BAD_PARAM_VALUE, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID=", SMTP_ERR_BAD_PARAM_VALUE, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ENVID", SMTP_ERR_BAD_PARAM_VALUE, 1, "ENVID",
		  SMTP_PARAM_ENVID, 0, 0, 0, 0, 0 },
		/* AUTH (RFC 4954 5): xtext or <> */
		{ SMTP_PATH_MAIL, "FROM:<a@b> AUTH=<>", SMTP_OK, 1, "AUTH", SMTP_PARAM_AUTH,
		  0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> AUTH=e+3Dmc2@example.com", SMTP_OK, 1, "AUTH",
		  SMTP_PARAM_AUTH, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> AUTH=a+0Ab", SMTP_OK, 1, "AUTH",
		  SMTP_PARAM_AUTH, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> AUTH=a+0ab", SMTP_ERR_BAD_PARAM_VALUE, 1, "AUTH",
		  SMTP_PARAM_AUTH, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> AUTH=a+", SMTP_ERR_BAD_PARAM_VALUE, 1, "AUTH",
		  SMTP_PARAM_AUTH, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> AUTH", SMTP_ERR_BAD_PARAM_VALUE, 1, "AUTH",
		  SMTP_PARAM_AUTH, 0, 0, 0, 0, 0 },
		/* NOTIFY (RFC 3461 4.1) */
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=NEVER", SMTP_OK, 1, "NOTIFY", SMTP_PARAM_NOTIFY,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> notify=never", SMTP_OK, 1, "notify", SMTP_PARAM_NOTIFY,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=SUCCESS", SMTP_OK, 1, "NOTIFY", SMTP_PARAM_NOTIFY,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", SMTP_OK, 1, "NOTIFY",
		  SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=delay,Failure", SMTP_OK, 1, "NOTIFY",
		  SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=NEVER,SUCCESS", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=SUCCESS,NEVER", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=SUCCESS,SUCCESS", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=SUCCESS,", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=,DELAY", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=SUCCESS,,DELAY", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=ALWAYS", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 0 },
		/* ORCPT (RFC 3461 4.2) */
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=rfc822;a@b", SMTP_OK, 1, "ORCPT", SMTP_PARAM_ORCPT,
		  0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=RFC822;Dana+2BX@example.org", SMTP_OK, 1,
		  "ORCPT", SMTP_PARAM_ORCPT, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=utf-8;a@b", SMTP_OK, 1, "ORCPT",
		  SMTP_PARAM_ORCPT, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=rfc822", SMTP_ERR_BAD_PARAM_VALUE, 1, "ORCPT",
		  SMTP_PARAM_ORCPT, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=;a@b", SMTP_ERR_BAD_PARAM_VALUE, 1, "ORCPT",
		  SMTP_PARAM_ORCPT, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=rfc822;", SMTP_ERR_BAD_PARAM_VALUE, 1, "ORCPT",
		  SMTP_PARAM_ORCPT, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=rfc(822);a@b", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "ORCPT", SMTP_PARAM_ORCPT, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=rfc822;a+zzb", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "ORCPT", SMTP_PARAM_ORCPT, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT", SMTP_ERR_BAD_PARAM_VALUE, 1,
		  "ORCPT", SMTP_PARAM_ORCPT, 0, 0, 0, 0, 0 },
		/* Several together; separators of more than one space. */
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS "
		                  "ENVID=x AUTH=<>", SMTP_OK, 6, "AUTH", SMTP_PARAM_AUTH,
		  1, 12345, 1, 1, 1 },
		{ SMTP_PATH_MAIL, "FROM:<>  SIZE=5   BODY=7BIT  ", SMTP_OK, 2, "BODY", SMTP_PARAM_BODY,
		  1, 5, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=FAILURE ORCPT=rfc822;a@b", SMTP_OK, 2, "ORCPT",
		  SMTP_PARAM_ORCPT, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<Postmaster> NOTIFY=NEVER", SMTP_OK, 1, "NOTIFY",
		  SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 1 },
		/* Unknown, or belonging to the other verb: named by the last entry. */
		{ SMTP_PATH_MAIL, "FROM:<a@b> XYZZY=1", SMTP_ERR_UNKNOWN_PARAM, 1, "XYZZY",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=1 X-FOO", SMTP_ERR_UNKNOWN_PARAM, 2, "X-FOO",
		  SMTP_PARAM_OTHER, 1, 1, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> NOTIFY=NEVER", SMTP_ERR_UNKNOWN_PARAM, 1, "NOTIFY",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> ORCPT=rfc822;a@b", SMTP_ERR_UNKNOWN_PARAM, 1, "ORCPT",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> SIZE=10", SMTP_ERR_UNKNOWN_PARAM, 1, "SIZE",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> BODY=8BITMIME", SMTP_ERR_UNKNOWN_PARAM, 1, "BODY",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_RCPT, "TO:<a@b> SMTPUTF8", SMTP_ERR_UNKNOWN_PARAM, 1, "SMTPUTF8",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZES=1", SMTP_ERR_UNKNOWN_PARAM, 1, "SIZES",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZ=1", SMTP_ERR_UNKNOWN_PARAM, 1, "SIZ",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> MT-PRIORITY=3", SMTP_ERR_UNKNOWN_PARAM, 1, "MT-PRIORITY",
		  SMTP_PARAM_OTHER, 0, 0, 0, 0, 0 },
		/* Duplicates, whatever the case. */
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=1 SIZE=2", SMTP_ERR_DUP_PARAM, 2, "SIZE",
		  SMTP_PARAM_SIZE, 1, 1, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> BODY=7BIT body=8BITMIME", SMTP_ERR_DUP_PARAM, 2, "body",
		  SMTP_PARAM_BODY, 0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SMTPUTF8 SMTPUTF8", SMTP_ERR_DUP_PARAM, 2, "SMTPUTF8",
		  SMTP_PARAM_SMTPUTF8, 0, 0, 0, 1, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> RET=FULL ENVID=x Ret=HDRS", SMTP_ERR_DUP_PARAM, 3, "Ret",
		  SMTP_PARAM_RET, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", SMTP_ERR_DUP_PARAM, 2,
		  "NOTIFY", SMTP_PARAM_NOTIFY, 0, 0, 0, 0, 1 },
		{ SMTP_PATH_RCPT, "TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;b", SMTP_ERR_DUP_PARAM, 2,
		  "ORCPT", SMTP_PARAM_ORCPT, 0, 0, 0, 0, 1 },
		/* Keyword syntax: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		{ SMTP_PATH_MAIL, "FROM:<a@b> =1", SMTP_ERR_SYNTAX, 0, NULL, SMTP_PARAM_OTHER,
		  0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> -X=1", SMTP_ERR_SYNTAX, 0, NULL, SMTP_PARAM_OTHER,
		  0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SI_ZE=1", SMTP_ERR_SYNTAX, 0, NULL, SMTP_PARAM_OTHER,
		  0, 0, 0, 0, 0 },
		{ SMTP_PATH_MAIL, "FROM:<a@b> SIZE=1 <c@d>", SMTP_ERR_SYNTAX, 1, NULL,
		  SMTP_PARAM_OTHER, 1, 1, 0, 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct smtp_path p;
		enum smtp_err err = smtp_path_parse(t[i].kind, t[i].arg, strlen(t[i].arg), &p);

		ck_assert_msg(err == t[i].err, "case %zu \"%s\": got err %s, want %s", i, t[i].arg,
		              smtp_err_text(err), smtp_err_text(t[i].err));
		ck_assert_msg(p.nparams == t[i].nparams, "case %zu \"%s\": got nparams %zu, want %zu",
		              i, t[i].arg, p.nparams, t[i].nparams);
		if (t[i].last_key != NULL) {
			const struct smtp_param *last = &p.params[p.nparams - 1];

			ck_assert_msg(bytes_eq(last->key, last->key_len, t[i].last_key),
			              "case %zu \"%s\": got last key \"%.*s\", want \"%s\"", i,
			              t[i].arg, (int)last->key_len, last->key, t[i].last_key);
			ck_assert_msg(last->id == t[i].last_id, "case %zu \"%s\": got id %d, want %d",
			              i, t[i].arg, (int)last->id, (int)t[i].last_id);
		}
		ck_assert_msg(p.has_size == t[i].has_size, "case %zu \"%s\": got has_size %d, want %d",
		              i, t[i].arg, p.has_size, t[i].has_size);
		if (t[i].has_size)
			ck_assert_msg(p.size == t[i].size, "case %zu \"%s\": got size %llu, want %llu",
			              i, t[i].arg, (unsigned long long)p.size,
			              (unsigned long long)t[i].size);
		ck_assert_msg(p.body_8bit == t[i].body_8bit,
		              "case %zu \"%s\": got body_8bit %d, want %d", i, t[i].arg, p.body_8bit,
		              t[i].body_8bit);
		ck_assert_msg(p.smtputf8 == t[i].smtputf8, "case %zu \"%s\": got smtputf8 %d, want %d",
		              i, t[i].arg, p.smtputf8, t[i].smtputf8);
		ck_assert_msg(p.has_dsn == t[i].has_dsn, "case %zu \"%s\": got has_dsn %d, want %d",
		              i, t[i].arg, p.has_dsn, t[i].has_dsn);
	}
}
END_TEST

START_TEST(test_path_param_values)
{
	/* Key and value point into the argument; no value is NULL. */
	static const char arg[] = "FROM:<a@b> SIZE=42 SMTPUTF8 ENVID=abc";
	struct smtp_path p;
	enum smtp_err err = smtp_path_parse(SMTP_PATH_MAIL, arg, strlen(arg), &p);

	ck_assert_msg(err == SMTP_OK, "got %s, want ok", smtp_err_text(err));
	ck_assert_msg(p.nparams == 3, "got nparams %zu, want 3", p.nparams);
	ck_assert_msg(p.params[0].id == SMTP_PARAM_SIZE && bytes_eq(p.params[0].value,
	              p.params[0].value_len, "42"), "param 0: got id %d value \"%.*s\", want SIZE 42",
	              (int)p.params[0].id, (int)p.params[0].value_len, p.params[0].value);
	ck_assert_msg(p.params[1].id == SMTP_PARAM_SMTPUTF8 && p.params[1].value == NULL,
	              "param 1: got id %d value %p, want SMTPUTF8 NULL", (int)p.params[1].id,
	              (const void *)p.params[1].value);
	ck_assert_msg(p.params[2].id == SMTP_PARAM_ENVID && bytes_eq(p.params[2].value,
	              p.params[2].value_len, "abc"), "param 2: got id %d value \"%.*s\", want ENVID abc",
	              (int)p.params[2].id, (int)p.params[2].value_len, p.params[2].value);
	ck_assert_msg(p.params[0].key == arg + 11, "param 0: got key at %td, want 11",
	              p.params[0].key - arg);
}
END_TEST

START_TEST(test_path_envid_length)
{
	static const struct { size_t n; enum smtp_err err; } t[] = {
		{ 1, SMTP_OK }, { 99, SMTP_OK }, { 100, SMTP_OK }, { 101, SMTP_ERR_BAD_PARAM_VALUE },
		{ 200, SMTP_ERR_BAD_PARAM_VALUE },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char buf[512];
		size_t n = 0;
		struct smtp_path p;
		enum smtp_err err;

		memcpy(buf, "FROM:<a@b> ENVID=", 17);
		n = 17;
		memset(buf + n, 'e', t[i].n);
		n += t[i].n;
		err = smtp_path_parse(SMTP_PATH_MAIL, buf, n, &p);
		ck_assert_msg(err == t[i].err, "ENVID of %zu: got %s, want %s", t[i].n,
		              smtp_err_text(err), smtp_err_text(t[i].err));
	}
}
END_TEST

START_TEST(test_path_param_count)
{
	/* 16 parameters are allowed to be counted; the 17th is too many, even
	 * though the list would fail for other reasons too. */
	static const struct { size_t n; enum smtp_err err; } t[] = {
		{ 16, SMTP_ERR_DUP_PARAM }, { 17, SMTP_ERR_TOO_MANY_PARAMS },
		{ 40, SMTP_ERR_TOO_MANY_PARAMS },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char buf[1024];
		size_t n = 0;
		struct smtp_path p;
		enum smtp_err err;

		memcpy(buf, "FROM:<a@b>", 10);
		n = 10;
		for (size_t k = 0; k < t[i].n; k++) {
			memcpy(buf + n, " SIZE=1", 7);
			n += 7;
		}
		err = smtp_path_parse(SMTP_PATH_MAIL, buf, n, &p);
		ck_assert_msg(err == t[i].err, "%zu parameters: got %s, want %s", t[i].n,
		              smtp_err_text(err), smtp_err_text(t[i].err));
		ck_assert_msg(p.nparams <= SMTP_PARAMS_MAX, "%zu parameters: got nparams %zu, want <= %d",
		              t[i].n, p.nparams, SMTP_PARAMS_MAX);
	}
}
END_TEST

/* ---- replies ---- */

START_TEST(test_reply_line)
{
	static const struct {
		const char *line;
		size_t len;
		enum smtp_err err;
		int code, last;
		const char *text;
	} t[] = {
		{ "250 ok", 0, SMTP_OK, 250, 1, "ok" },
		{ "250-SIZE 1000", 0, SMTP_OK, 250, 0, "SIZE 1000" },
		{ "250", 0, SMTP_OK, 250, 1, "" },
		{ "250-", 0, SMTP_OK, 250, 0, "" },
		{ "250 ", 0, SMTP_OK, 250, 1, "" },
		{ "200 x", 0, SMTP_OK, 200, 1, "x" },
		{ "559 x", 0, SMTP_OK, 559, 1, "x" },
		{ "354 End data with <CR><LF>.<CR><LF>", 0, SMTP_OK, 354, 1,
		  "End data with <CR><LF>.<CR><LF>" },
		{ "421 4.4.2 mx Error: timeout exceeded", 0, SMTP_OK, 421, 1,
		  "4.4.2 mx Error: timeout exceeded" },
		{ "550-5.7.1 first", 0, SMTP_OK, 550, 0, "5.7.1 first" },
		{ "250  two spaces", 0, SMTP_OK, 250, 1, " two spaces" },
		{ "", 0, SMTP_ERR_EMPTY, 0, 0, NULL },
		{ "2", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "25", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "2500 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "099 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "199 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "600 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "260 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },   /* RFC 5321 4.2: second digit 0-5 */
		{ "599 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "25a x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "a50 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "250_x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ " 250 x", 0, SMTP_ERR_SYNTAX, 0, 0, NULL },
		{ "250\x01", 0, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
		{ "250 a\tb", 0, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
		{ "250 ok\r", 0, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
		{ "250 ok\0x", 8, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
		{ "250 ok\x7f", 0, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
		{ "250 caf\xc3\xa9", 0, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
		{ "250 \xff", 0, SMTP_ERR_BAD_CHAR, 0, 0, NULL },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct smtp_reply_line r;
		enum smtp_err err = smtp_reply_line_parse(t[i].line, len_of(t[i].line, t[i].len), &r);

		ck_assert_msg(err == t[i].err, "case %zu \"%s\": got err %s, want %s", i, t[i].line,
		              smtp_err_text(err), smtp_err_text(t[i].err));
		if (err != SMTP_OK)
			continue;
		ck_assert_msg(r.code == t[i].code, "case %zu \"%s\": got code %d, want %d", i,
		              t[i].line, r.code, t[i].code);
		ck_assert_msg(r.last == t[i].last, "case %zu \"%s\": got last %d, want %d", i,
		              t[i].line, r.last, t[i].last);
		ck_assert_msg(bytes_eq(r.text, r.text_len, t[i].text),
		              "case %zu \"%s\": got text \"%.*s\", want \"%s\"", i, t[i].line,
		              (int)r.text_len, r.text, t[i].text);
	}
}
END_TEST

START_TEST(test_reply_line_length)
{
	/* RFC 5321 4.5.3.1.5: 512 octets with CRLF, so 510 without. */
	static const struct { size_t len; enum smtp_err err; } t[] = {
		{ 509, SMTP_OK }, { 510, SMTP_OK }, { 511, SMTP_ERR_SYNTAX }, { 600, SMTP_ERR_SYNTAX },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char buf[600];
		struct smtp_reply_line r;
		enum smtp_err err;

		memset(buf, 'x', sizeof(buf));
		memcpy(buf, "250 ", 4);
		err = smtp_reply_line_parse(buf, t[i].len, &r);
		ck_assert_msg(err == t[i].err, "length %zu: got %s, want %s", t[i].len,
		              smtp_err_text(err), smtp_err_text(t[i].err));
		if (err == SMTP_OK)
			ck_assert_msg(r.text_len == t[i].len - 4, "length %zu: got text_len %zu, want %zu",
			              t[i].len, r.text_len, t[i].len - 4);
	}
}
END_TEST

START_TEST(test_enhanced_code)
{
	static const struct { const char *text; size_t len; size_t want; } t[] = {
		{ "2.0.0 Ok", 0, 5 },
		{ "2.0.0", 0, 5 },
		{ "5.7.1 Rejected", 0, 5 },
		{ "4.4.2 timeout", 0, 5 },
		{ "5.1.10 Recipient address has null MX", 0, 6 },
		{ "4.123.456 x", 0, 9 },
		{ "5.999.999", 0, 9 },
		{ "2.0.0\0", 6, 0 },
		{ "3.0.0 x", 0, 0 },
		{ "1.0.0 x", 0, 0 },
		{ "6.0.0 x", 0, 0 },
		{ "2.0.0x", 0, 0 },
		{ "2.0.0.1 x", 0, 0 },
		{ "2.0 x", 0, 0 },
		{ "2..0 x", 0, 0 },
		{ "2.0. x", 0, 0 },
		{ "2.1234.0 x", 0, 0 },
		{ "2.0.1234 x", 0, 0 },
		{ "25.0.0 x", 0, 0 },
		{ "2,0,0 x", 0, 0 },
		{ " 2.0.0 x", 0, 0 },
		{ "Ok", 0, 0 },
		{ "", 0, 0 },
		{ "2.0.", 0, 0 },
		{ "2.0.0", 4, 0 },    /* cut short by the length */
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		size_t got = smtp_enhanced_code_len(t[i].text, t[i].len ? t[i].len : strlen(t[i].text));

		ck_assert_msg(got == t[i].want, "case %zu \"%s\": got %zu, want %zu", i, t[i].text,
		              got, t[i].want);
	}
}
END_TEST

/* ---- EHLO ---- */

static void
caps_feed(struct smtp_caps *caps, const char *const *lines, size_t n)
{
	smtp_caps_init(caps);
	for (size_t i = 1; i < n; i++) {  /* line 0 is the greeting domain */
		struct smtp_reply_line r;
		enum smtp_err err = smtp_reply_line_parse(lines[i], strlen(lines[i]), &r);

		ck_assert_msg(err == SMTP_OK, "line \"%s\": got %s, want ok", lines[i],
		              smtp_err_text(err));
		ck_assert_msg(r.last == (i + 1 == n), "line \"%s\": got last %d, want %d", lines[i],
		              r.last, i + 1 == n);
		smtp_caps_add_line(caps, r.text, r.text_len);
	}
}

START_TEST(test_caps_postfix)
{
	static const char *const ehlo[] = {
		"250-mx.example.org",
		"250-PIPELINING",
		"250-SIZE 10240000",
		"250-VRFY",
		"250-ETRN",
		"250-STARTTLS",
		"250-AUTH PLAIN LOGIN",
		"250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT",
		"250-ENHANCEDSTATUSCODES",
		"250-8BITMIME",
		"250-DSN",
		"250-SMTPUTF8",
		"250 CHUNKING",
	};
	const unsigned want_caps = SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_STARTTLS
	                           | SMTP_CAP_AUTH | SMTP_CAP_XCLIENT
	                           | SMTP_CAP_ENHANCEDSTATUSCODES | SMTP_CAP_8BITMIME
	                           | SMTP_CAP_DSN | SMTP_CAP_SMTPUTF8 | SMTP_CAP_CHUNKING;
	const unsigned want_x = SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR | SMTP_XCLIENT_PROTO
	                        | SMTP_XCLIENT_HELO | SMTP_XCLIENT_PORT | SMTP_XCLIENT_LOGIN
	                        | SMTP_XCLIENT_DESTADDR | SMTP_XCLIENT_DESTPORT;
	struct smtp_caps caps;

	caps_feed(&caps, ehlo, ARRAY_LEN(ehlo));
	ck_assert_msg(caps.caps == want_caps, "got caps %#x, want %#x", caps.caps, want_caps);
	ck_assert_msg(caps.size == 10240000, "got size %llu, want 10240000",
	              (unsigned long long)caps.size);
	ck_assert_msg(caps.xclient_attrs == want_x, "got xclient %#x, want %#x",
	              caps.xclient_attrs, want_x);
	ck_assert_msg(strcmp(caps.auth, "PLAIN LOGIN") == 0, "got auth \"%s\", want \"PLAIN LOGIN\"",
	              caps.auth);
}
END_TEST

START_TEST(test_caps_lines)
{
	static const struct {
		const char *const lines[4];
		unsigned caps;
		uint64_t size;
		unsigned xclient;
		const char *auth;
	} t[] = {
		{ { "pipelining", "size", "8bitmime" },
		  SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_8BITMIME, 0, 0, "" },
		{ { "SIZE 0" }, SMTP_CAP_SIZE, 0, 0, "" },
		{ { "SIZE 18446744073709551615" }, SMTP_CAP_SIZE, UINT64_MAX, 0, "" },
		{ { "SIZE 18446744073709551616" }, SMTP_CAP_SIZE, 0, 0, "" },
		{ { "SIZE junk" }, SMTP_CAP_SIZE, 0, 0, "" },
		{ { "SIZE  5000" }, SMTP_CAP_SIZE, 5000, 0, "" },
		{ { "AUTH=PLAIN LOGIN" }, SMTP_CAP_AUTH, 0, 0, "PLAIN LOGIN" },
		{ { "AUTH PLAIN", "AUTH=LOGIN" }, SMTP_CAP_AUTH, 0, 0, "PLAIN" },
		{ { "auth  cram-md5   plain" }, SMTP_CAP_AUTH, 0, 0, "cram-md5 plain" },
		{ { "AUTH" }, SMTP_CAP_AUTH, 0, 0, "" },
		{ { "AUTHX PLAIN" }, 0, 0, 0, "" },
		{ { "XCLIENT addr Name FOO" }, SMTP_CAP_XCLIENT, 0,
		  SMTP_XCLIENT_ADDR | SMTP_XCLIENT_NAME, "" },
		{ { "XCLIENT" }, SMTP_CAP_XCLIENT, 0, 0, "" },
		{ { "XFORWARD NAME ADDR PROTO HELO" }, SMTP_CAP_XFORWARD, 0, 0, "" },
		{ { "BINARYMIME", "CHUNKING" }, SMTP_CAP_BINARYMIME | SMTP_CAP_CHUNKING, 0, 0, "" },
		{ { "STARTTLS", "EnhancedStatusCodes", "dsn", "SmtpUtf8" },
		  SMTP_CAP_STARTTLS | SMTP_CAP_ENHANCEDSTATUSCODES | SMTP_CAP_DSN | SMTP_CAP_SMTPUTF8,
		  0, 0, "" },
		{ { "VRFY", "ETRN", "X-UNKNOWN foo", "" }, 0, 0, 0, "" },
		{ { "PIPELININGX", "8BITMIMEX", "DSN2" }, 0, 0, 0, "" },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct smtp_caps caps;

		smtp_caps_init(&caps);
		for (size_t k = 0; k < ARRAY_LEN(t[i].lines) && t[i].lines[k] != NULL; k++)
			smtp_caps_add_line(&caps, t[i].lines[k], strlen(t[i].lines[k]));
		ck_assert_msg(caps.caps == t[i].caps, "case %zu \"%s\": got caps %#x, want %#x", i,
		              t[i].lines[0], caps.caps, t[i].caps);
		ck_assert_msg(caps.size == t[i].size, "case %zu \"%s\": got size %llu, want %llu", i,
		              t[i].lines[0], (unsigned long long)caps.size,
		              (unsigned long long)t[i].size);
		ck_assert_msg(caps.xclient_attrs == t[i].xclient,
		              "case %zu \"%s\": got xclient %#x, want %#x", i, t[i].lines[0],
		              caps.xclient_attrs, t[i].xclient);
		ck_assert_msg(strcmp(caps.auth, t[i].auth) == 0,
		              "case %zu \"%s\": got auth \"%s\", want \"%s\"", i, t[i].lines[0],
		              caps.auth, t[i].auth);
	}
}
END_TEST

START_TEST(test_caps_auth_long)
{
	/* A list longer than the buffer keeps whole mechanisms only. */
	char line[400];
	size_t n = 0;
	struct smtp_caps caps;
	size_t alen;

	memcpy(line, "AUTH", 4);
	n = 4;
	for (int k = 0; k < 30; k++) {
		memcpy(line + n, " MECH-NUMBER", 12);
		n += 12;
	}
	smtp_caps_init(&caps);
	smtp_caps_add_line(&caps, line, n);
	alen = strlen(caps.auth);
	ck_assert_msg(alen < sizeof(caps.auth), "got auth length %zu, want < %zu", alen,
	              sizeof(caps.auth));
	/* 11 chars per name + 1 separator: 10 names are 119 octets, 11 would be 131. */
	ck_assert_msg(alen == 10 * 11 + 9, "got auth length %zu, want %d", alen, 10 * 11 + 9);
	ck_assert_msg(caps.auth[alen - 1] == 'R', "got last char '%c', want 'R'",
	              caps.auth[alen - 1]);
}
END_TEST

/* ---- xtext ---- */

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'A' + 10;
}

/* Reference decoder written from RFC 3461 4 for round trips. */
static size_t
xtext_decode(char *dst, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			dst[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	return o;
}

START_TEST(test_xtext_encode)
{
	static const struct { const char *src; size_t len; const char *want; } t[] = {
		{ "", 0, "" },
		{ "abc", 0, "abc" },
		{ "a+b", 0, "a+2Bb" },
		{ "a=b", 0, "a+3Db" },
		{ "a b", 0, "a+20b" },
		{ "<>", 0, "<>" },
		{ "!~", 0, "!~" },
		{ "\x7f", 0, "+7F" },
		{ "\r\n", 0, "+0D+0A" },
		{ "\0", 1, "+00" },
		{ "caf\xc3\xa9", 0, "caf+C3+A9" },
		{ "e=mc2@example.com", 0, "e+3Dmc2@example.com" },
		{ "EHLO a ADDR=127.0.0.1", 0, "EHLO+20a+20ADDR+3D127.0.0.1" },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char out[128], back[128];
		size_t srclen = t[i].len ? t[i].len : strlen(t[i].src);
		size_t got = smtp_xtext_encode(out, sizeof(out), t[i].src, srclen);
		size_t blen;

		ck_assert_msg(got == strlen(t[i].want) && strcmp(out, t[i].want) == 0,
		              "case %zu: got \"%s\" (%zu), want \"%s\"", i, out, got, t[i].want);
		ck_assert_msg(smtp_xtext_valid(out, got) == 1, "case %zu: got invalid \"%s\", want valid",
		              i, out);
		blen = xtext_decode(back, out, got);
		ck_assert_msg(blen == srclen && memcmp(back, t[i].src, srclen) == 0,
		              "case %zu: round trip got %zu bytes, want %zu", i, blen, srclen);
	}
}
END_TEST

START_TEST(test_xtext_roundtrip_all_bytes)
{
	char src[256], enc[256 * 3 + 1], back[256];
	size_t n, blen;

	for (int i = 0; i < 256; i++)
		src[i] = (char)i;
	n = smtp_xtext_encode(enc, sizeof(enc), src, sizeof(src));
	/* 94 printable octets minus '+' and '=' stay as is; 164 become "+XX". */
	ck_assert_msg(n == 92 + 164 * 3, "got encoded length %zu, want %d", n, 92 + 164 * 3);
	ck_assert_msg(strlen(enc) == n, "got strlen %zu, want %zu", strlen(enc), n);
	ck_assert_msg(smtp_xtext_valid(enc, n) == 1, "got invalid, want valid");
	blen = xtext_decode(back, enc, n);
	ck_assert_msg(blen == sizeof(src) && memcmp(back, src, sizeof(src)) == 0,
	              "round trip: got %zu bytes or a difference, want 256 equal", blen);
}
END_TEST

START_TEST(test_xtext_truncation)
{
	static const struct {
		const char *src;
		size_t dstlen;
		size_t ret;
		const char *want;
	} t[] = {
		{ "abcdef", 4, 6, "abc" },
		{ "abc", 4, 3, "abc" },
		{ "abc", 3, 3, "ab" },
		{ "ab=c", 5, 6, "ab" },   /* "+3D" does not fit whole: not cut in half */
		{ "ab=c", 6, 6, "ab+3D" },
		{ "ab=c", 7, 6, "ab+3Dc" },
		{ "=", 3, 3, "" },
		{ "=", 1, 3, "" },
		{ "abc", 1, 3, "" },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char out[16];
		size_t got;

		memset(out, '#', sizeof(out));
		got = smtp_xtext_encode(out, t[i].dstlen, t[i].src, strlen(t[i].src));
		ck_assert_msg(got == t[i].ret, "case %zu: got return %zu, want %zu", i, got, t[i].ret);
		ck_assert_msg(strcmp(out, t[i].want) == 0, "case %zu: got \"%s\", want \"%s\"", i, out,
		              t[i].want);
		ck_assert_msg(out[t[i].dstlen] == '#', "case %zu: wrote past dstlen %zu", i,
		              t[i].dstlen);
	}
	/* dstlen 0 writes nothing and still reports the length. */
	{
		char guard = '#';
		size_t got = smtp_xtext_encode(&guard, 0, "a=", 2);

		ck_assert_msg(got == 4 && guard == '#', "dstlen 0: got %zu '%c', want 4 '#'", got, guard);
	}
}
END_TEST

START_TEST(test_xtext_valid)
{
	static const struct { const char *s; size_t len; int want; } t[] = {
		{ "", 0, 1 },
		{ "abc", 0, 1 },
		{ "<>", 0, 1 },
		{ "a+2Bb", 0, 1 },
		{ "+00+FF", 0, 1 },
		{ "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~", 0, 1 },
		{ "a+2bb", 0, 0 },    /* lower-case hex is not hexchar */
		{ "a+", 0, 0 },
		{ "a+2", 0, 0 },
		{ "+G0", 0, 0 },
		{ "a=b", 0, 0 },
		{ "a b", 0, 0 },
		{ "a\x7f", 0, 0 },
		{ "\xc3\xa9", 0, 0 },
		{ "a\0b", 3, 0 },
		{ "a\r\n", 0, 0 },
		{ "+2", 0, 0 },
		{ "+0A", 2, 0 },      /* cut short by the length */
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].s);
		int got = smtp_xtext_valid(t[i].s, len);

		ck_assert_msg(got == t[i].want, "case %zu \"%s\": got %d, want %d", i, t[i].s, got,
		              t[i].want);
	}
}
END_TEST

/* ---- HELO ---- */

START_TEST(test_helo_valid)
{
	static const struct { const char *s; size_t len; int want; } t[] = {
		{ "mx.example.org", 0, 1 },
		{ "localhost", 0, 1 },
		{ "my_host.example", 0, 1 },
		{ "host-1", 0, 1 },
		{ "MX.EXAMPLE.ORG.", 0, 1 },
		{ "b\xc3\xbc" "cher.example", 0, 1 },
		{ "[192.0.2.1]", 0, 1 },
		{ "[IPv6:2001:db8::1]", 0, 1 },
		{ "", 0, 0 },
		{ "a b", 0, 0 },
		{ "a\tb", 0, 0 },
		{ "host\0", 5, 0 },
		{ "a/b", 0, 0 },
		{ "a@b", 0, 0 },
		{ "a=b", 0, 0 },
		{ "a ADDR=127.0.0.1", 0, 0 },
		{ "[]", 0, 0 },
		{ "[192.0.2.1", 0, 0 },
		{ "192.0.2.1]", 0, 0 },
		{ "[[192.0.2.1]]", 0, 0 },
		{ "[192.0.2.1] x", 0, 0 },
		{ "[192.0.2 .1]", 0, 0 },
		{ "[1\x01]", 0, 0 },
		{ "[a]b", 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].s);
		int got = smtp_helo_valid(t[i].s, len);

		ck_assert_msg(got == t[i].want, "case %zu \"%s\": got %d, want %d", i, t[i].s, got,
		              t[i].want);
	}
}
END_TEST

START_TEST(test_helo_length)
{
	static const struct { size_t len; int want; } t[] = {
		{ 1, 1 }, { 254, 1 }, { 255, 1 }, { 256, 0 }, { 400, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char buf[400];
		int got;

		memset(buf, 'h', sizeof(buf));
		got = smtp_helo_valid(buf, t[i].len);
		ck_assert_msg(got == t[i].want, "length %zu: got %d, want %d", t[i].len, got,
		              t[i].want);
	}
}
END_TEST

static Suite *
smtp_parse_suite(void)
{
	Suite *s = suite_create("smtp_parse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_verb_name);
	tcase_add_test(tc, test_err_text);
	tcase_add_test(tc, test_cmd_parse);
	tcase_add_test(tc, test_path_addresses);
	tcase_add_test(tc, test_path_lengths);
	tcase_add_test(tc, test_path_params);
	tcase_add_test(tc, test_path_param_values);
	tcase_add_test(tc, test_path_envid_length);
	tcase_add_test(tc, test_path_param_count);
	tcase_add_test(tc, test_reply_line);
	tcase_add_test(tc, test_reply_line_length);
	tcase_add_test(tc, test_enhanced_code);
	tcase_add_test(tc, test_caps_postfix);
	tcase_add_test(tc, test_caps_lines);
	tcase_add_test(tc, test_caps_auth_long);
	tcase_add_test(tc, test_xtext_encode);
	tcase_add_test(tc, test_xtext_roundtrip_all_bytes);
	tcase_add_test(tc, test_xtext_truncation);
	tcase_add_test(tc, test_xtext_valid);
	tcase_add_test(tc, test_helo_valid);
	tcase_add_test(tc, test_helo_length);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_parse_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
