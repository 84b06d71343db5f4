/* check_dkim.c - the dkim filter's pure core: sign table parsing, splitting the
 * outgoing message into fields and body at any chunking, the From domain, the
 * RFC 8601 result of libopendkim's per-signature state, the
 * Authentication-Results clauses, and the relaxed canonicalization and
 * signature text of the Ed25519 signer (RFC 6376 3.4.5's example). */
#include <sys/types.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"

#include "dkim_canon.h"
#include "dkim_core.h"
#include "dkim_result.h"

/* ---------------------------------------------------------------- sign table */

static const struct {
	const char *text;
	const char *err;          /* NULL: parses; else a substring of the message */
} table_cases[] = {
	{ "example.org sel k.pem\n", NULL },
	{ "# comment\n\nExample.ORG. sel /abs/k.pem  # trailing\nexample.net s2 k2.pem", NULL },
	{ "a.example\tsel\tk.pem\r\n", NULL },
	{ "", "no entries" },
	{ "# nothing\n\n", "no entries" },
	{ "example.org sel\n", "line 1: want DOMAIN SELECTOR KEYFILE" },
	{ "\nexample.org sel k.pem extra\n", "line 2: want DOMAIN SELECTOR KEYFILE, got more" },
	{ "exa;mple.org sel k.pem\n", "line 1: bad domain \"exa;mple.org\"" },
	{ "example.org s\"el k.pem\n", "line 1: bad selector" },
	{ "example.org..x sel k.pem\n", "bad domain" },
	{ "example.org a k\nEXAMPLE.org b k\n",
	  "line 2: domain example.org listed twice (first on line 1)" },
};

START_TEST(test_table_parse)
{
	char err[256] = "";
	struct dkf_table *t = dkf_table_parse(table_cases[_i].text, "/etc/d", err, sizeof(err));

	if (table_cases[_i].err == NULL) {
		ck_assert_msg(t != NULL, "\"%s\": got error \"%s\", want success", table_cases[_i].text,
		              err);
	} else {
		ck_assert_msg(t == NULL, "\"%s\": parsed, want error \"%s\"", table_cases[_i].text,
		              table_cases[_i].err);
		ck_assert_msg(strstr(err, table_cases[_i].err) != NULL, "\"%s\": got \"%s\", want \"%s\"",
		              table_cases[_i].text, err, table_cases[_i].err);
	}
	dkf_table_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_table_fields)
{
	char err[256] = "";
	const char *text = "Example.ORG. sel /abs/k.pem\nexample.net s2 rel/k2.pem\n";
	struct dkf_table *t = dkf_table_parse(text, "/etc/d", err, sizeof(err));
	const struct dkf_table_entry *e;

	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_uint_eq(t->n, 2);
	e = dkf_table_find(t, "EXAMPLE.org");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->domain, "example.org");
	ck_assert_str_eq(e->selector, "sel");
	ck_assert_str_eq(e->keyfile, "/abs/k.pem");
	e = dkf_table_find(t, "example.net.");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->keyfile, "/etc/d/rel/k2.pem");
	ck_assert_int_eq(e->line, 2);
	ck_assert_ptr_null(dkf_table_find(t, "sub.example.org"));
	ck_assert_ptr_null(dkf_table_find(t, "example"));
	dkf_table_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- splitting */

struct collect {
	char out[4096];           /* "F[field]" per field, "E" at eoh, body appended after */
	size_t len;
	int stop_at_eoh;
};

static void
collect_put(struct collect *c, const char *s, size_t n)
{
	ck_assert_uint_lt(c->len + n, sizeof(c->out));
	memcpy(c->out + c->len, s, n);
	c->len += n;
	c->out[c->len] = '\0';
}

static int
c_field(void *arg, const char *f, size_t n)
{
	collect_put(arg, "F[", 2);
	collect_put(arg, f, n);
	collect_put(arg, "]", 1);
	return 0;
}

static int
c_eoh(void *arg)
{
	struct collect *c = arg;

	collect_put(c, "E", 1);
	return c->stop_at_eoh;
}

static int
c_body(void *arg, const unsigned char *d, size_t n)
{
	collect_put(arg, (const char *)d, n);
	return 0;
}

static int
split_in_chunks(const char *msg, size_t chunk, struct collect *c)
{
	struct dkf_split_cb cb = { c_field, c_eoh, c_body, c };
	struct dkf_split s;
	size_t len = strlen(msg);
	int r = 0;

	dkf_split_init(&s, &cb);
	for (size_t pos = 0; pos < len && r == 0; pos += chunk)
		r = dkf_split_feed(&s, (const unsigned char *)msg + pos,
		                   len - pos < chunk ? len - pos : chunk);
	if (r == 0)
		r = dkf_split_end(&s);
	dkf_split_free(&s);
	return r;
}

static const struct {
	const char *msg;
	int ret;
	const char *want;
} split_cases[] = {
	{ "From: a@b\r\nSubject: x\r\n\r\nbody\r\n.\r\n", 0,
	  "F[From: a@b]F[Subject: x]Ebody\r\n.\r\n" },
	{ "Subject: one\r\n two\r\n\tthree\r\nTo: c\r\n\r\n", 0,
	  "F[Subject: one\r\n two\r\n\tthree]F[To: c]E" },
	{ "X: 1\r\n\r\n\r\n\r\nbody with\r\n\r\nblank lines\r\n", 0,
	  "F[X: 1]E\r\n\r\nbody with\r\n\r\nblank lines\r\n" },
	{ "X: no empty line\r\nY: 2\r\n", 0, "F[X: no empty line]F[Y: 2]E" },
	{ "X: no final CRLF", 0, "F[X: no final CRLF]E" },
	{ "X:\r\n\r\n", 0, "F[X:]E" },
	{ "X: a\rb\r\n\r\n", 0, "F[X: a\rb]E" },
	{ "\r\nonly body\r\n", 0, "Eonly body\r\n" },
	{ " starts folded\r\n\r\n", -1, "" },
	{ "no colon here\r\n\r\n", -1, "" },
	{ ": no name\r\n\r\n", -1, "" },
	{ "X: 1\r\nbroken\r\n\r\n", -1, "F[X: 1]" },
};

START_TEST(test_split_any_chunking)
{
	size_t len = strlen(split_cases[_i].msg);

	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		struct collect c = { .len = 0 };
		int r = split_in_chunks(split_cases[_i].msg, chunk, &c);

		ck_assert_msg(r == split_cases[_i].ret, "case %d chunk %zu: got %d, want %d", _i, chunk,
		              r, split_cases[_i].ret);
		if (split_cases[_i].ret == 0)
			ck_assert_msg(strcmp(c.out, split_cases[_i].want) == 0,
			              "case %d chunk %zu: got \"%s\", want \"%s\"", _i, chunk, c.out,
			              split_cases[_i].want);
	}
}
END_TEST

START_TEST(test_split_stop)
{
	struct collect c = { .stop_at_eoh = 1 };

	ck_assert_int_eq(split_in_chunks("A: 1\r\n\r\nbody\r\n", 3, &c), 1);
	ck_assert_str_eq(c.out, "F[A: 1]E");
}
END_TEST

START_TEST(test_split_field_limit)
{
	size_t n = DKF_FIELD_MAX + 100;
	char *msg = malloc(n + 8);
	struct collect c = { .len = 0 };

	ck_assert_ptr_nonnull(msg);
	memcpy(msg, "X: ", 3);
	memset(msg + 3, 'a', n - 3);
	memcpy(msg + n, "\r\n\r\n", 5);
	ck_assert_int_eq(split_in_chunks(msg, 4096, &c), -1);
	free(msg);
}
END_TEST

/* ---------------------------------------------------------------- From domain */

static const struct {
	const char *value;
	const char *want;         /* NULL: none */
} from_cases[] = {
	{ " alice@example.org", "example.org" },
	{ " Alice <alice@Example.ORG>", "example.org" },
	{ " \"Smith, Alice\" <alice@example.org>", "example.org" },
	{ " \"a@evil.example\" <alice@example.org>", "example.org" },
	{ " alice@example.org (Alice at evil@evil.example)", "example.org" },
	{ " (comment (nested @x.example)) alice@example.org", "example.org" },
	{ " Alice\r\n <alice@example.org.>", "example.org" },
	{ " \"quoted@local\"@example.net", "example.net" },
	{ " alice@example.org, bob@example.net", "example.org" },
	{ " Friends: alice@example.org, bob@example.net;", "example.org" },
	{ " Undisclosed recipients:;", NULL },
	{ " <@route.example:alice@example.org>", "example.org" },
	{ " alice@[192.0.2.1]", NULL },
	{ " no address", NULL },
	{ " alice@", NULL },
	{ " alice@exa;mple.org", NULL },
	{ " alice @ example.org", "example.org" },
};

START_TEST(test_from_domain)
{
	char out[256];
	int r = dkf_from_domain(from_cases[_i].value, out, sizeof(out));

	if (from_cases[_i].want == NULL) {
		ck_assert_msg(r < 0, "\"%s\": got \"%s\", want none", from_cases[_i].value, out);
	} else {
		ck_assert_msg(r == 0, "\"%s\": got none, want \"%s\"", from_cases[_i].value,
		              from_cases[_i].want);
		ck_assert_msg(strcmp(out, from_cases[_i].want) == 0, "\"%s\": got \"%s\", want \"%s\"",
		              from_cases[_i].value, out, from_cases[_i].want);
	}
}
END_TEST

/* ---------------------------------------------------------------- results */

#define PASSED (DKIM_SIGFLAG_PROCESSED | DKIM_SIGFLAG_PASSED)
#define RSA DKIM_SIGN_RSASHA256

static const struct {
	struct dkf_sigfacts f;
	enum dkf_result want;
	const char *reason;       /* NULL: none */
} classify_cases[] = {
	{ { PASSED, DKIM_SIGBH_MATCH, DKIM_SIGERROR_OK, RSA, DKF_KEY_ANSWERED }, DKF_PASS, NULL },
	{ { PASSED, DKIM_SIGBH_MATCH, DKIM_SIGERROR_OK, DKIM_SIGN_ED25519SHA256, DKF_KEY_ANSWERED },
	  DKF_PASS, NULL },
	{ { PASSED, DKIM_SIGBH_MATCH, DKIM_SIGERROR_OK, DKIM_SIGN_RSASHA1, DKF_KEY_ANSWERED },
	  DKF_POLICY, "rsa-sha1 not accepted" },
	{ { PASSED, DKIM_SIGBH_MISMATCH, DKIM_SIGERROR_BADSIG, RSA, DKF_KEY_ANSWERED }, DKF_FAIL,
	  "body hash mismatch" },
	{ { DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_BADSIG, RSA,
	    DKF_KEY_ANSWERED }, DKF_FAIL, "signature mismatch" },
	{ { DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_MATCH, DKIM_SIGERROR_OK, RSA, DKF_KEY_ANSWERED },
	  DKF_FAIL, "signature mismatch" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_NOKEY, RSA, DKF_KEY_NONE }, DKF_PERMERROR,
	  "no key" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_NOKEY, RSA, DKF_KEY_TEMP }, DKF_TEMPERROR,
	  "key lookup failed" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_KEYFAIL, RSA, DKF_KEY_ANSWERED }, DKF_TEMPERROR,
	  "key lookup failed" },
	{ { DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_KEYREVOKED, RSA,
	    DKF_KEY_ANSWERED }, DKF_FAIL, "key revoked" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_KEYDECODE, RSA, DKF_KEY_ANSWERED },
	  DKF_PERMERROR, "bad key record" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_KEYTOOSMALL, RSA, DKF_KEY_ANSWERED }, DKF_POLICY,
	  "key too small" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_MISSING_BH, RSA, DKF_KEY_TEMP }, DKF_PERMERROR,
	  "signature syntax error" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_INVALID_H, RSA, DKF_KEY_ANSWERED }, DKF_PERMERROR,
	  "From not signed" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_EXPIRED, RSA, DKF_KEY_ANSWERED }, DKF_PERMERROR,
	  "signature expired" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_NOKEY, RSA, DKF_KEY_SKIPPED }, DKF_POLICY,
	  "too many signatures" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_NOKEY, RSA, DKF_KEY_BAD_NAME }, DKF_PERMERROR,
	  "d= or s= is no DNS name" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_UNKNOWN, RSA, DKF_KEY_ANSWERED }, DKF_NEUTRAL,
	  "not verified" },
	{ { 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_NOKEY, RSA, DKF_KEY_BAD }, DKF_PERMERROR,
	  "bad key record" },
};

START_TEST(test_classify)
{
	const char *reason = "unset";
	enum dkf_result r = dkf_classify(&classify_cases[_i].f, &reason);

	ck_assert_msg(r == classify_cases[_i].want, "case %d: got %s, want %s", _i,
	              dkf_result_name(r), dkf_result_name(classify_cases[_i].want));
	if (classify_cases[_i].reason == NULL)
		ck_assert_msg(reason == NULL, "case %d: got reason \"%s\", want none", _i, reason);
	else
		ck_assert_msg(reason != NULL && strcmp(reason, classify_cases[_i].reason) == 0,
		              "case %d: got reason \"%s\", want \"%s\"", _i, reason ? reason : "(null)",
		              classify_cases[_i].reason);
}
END_TEST

START_TEST(test_result_names)
{
	ck_assert_str_eq(dkf_result_name(DKF_NONE), "none");
	ck_assert_str_eq(dkf_result_name(DKF_PASS), "pass");
	ck_assert_str_eq(dkf_result_name(DKF_FAIL), "fail");
	ck_assert_str_eq(dkf_result_name(DKF_NEUTRAL), "neutral");
	ck_assert_str_eq(dkf_result_name(DKF_TEMPERROR), "temperror");
	ck_assert_str_eq(dkf_result_name(DKF_PERMERROR), "permerror");
	ck_assert_str_eq(dkf_result_name(DKF_POLICY), "policy");
}
END_TEST

/* ---------------------------------------------------------------- Authentication-Results */

START_TEST(test_ar_none)
{
	char out[64];

	ck_assert_uint_eq(dkf_ar_build(NULL, 0, out, sizeof(out)), 9);
	ck_assert_str_eq(out, "dkim=none");
}
END_TEST

START_TEST(test_ar_two)
{
	struct dkf_sigres res[] = {
		{ DKF_PASS, NULL, "example.org", "sel", "abcdEFGH12345" },
		{ DKF_FAIL, "body hash mismatch", "example.net", "s2", " ZZ/+ab\r\n\tcd=" },
	};
	char out[512];

	dkf_ar_build(res, 2, out, sizeof(out));
	ck_assert_str_eq(out, "dkim=pass header.d=example.org header.s=sel header.b=abcdEFGH; "
	                 "dkim=fail (body hash mismatch) header.d=example.net header.s=s2 "
	                 "header.b=\"ZZ/+abcd\"");
}
END_TEST

START_TEST(test_ar_b_unique)
{
	/* RFC 6008: two signatures sharing the first 8 characters get more. */
	struct dkf_sigres res[] = {
		{ DKF_PASS, NULL, "a.example", "s", "ABCDEFGHIJ1" },
		{ DKF_PASS, NULL, "b.example", "s", "ABCDEFGHIK2" },
		{ DKF_PASS, NULL, "c.example", "s", "short" },
	};
	char out[512];

	dkf_ar_build(res, 3, out, sizeof(out));
	ck_assert_str_eq(out, "dkim=pass header.d=a.example header.s=s header.b=ABCDEFGHIJ; "
	                 "dkim=pass header.d=b.example header.s=s header.b=ABCDEFGHIK; "
	                 "dkim=pass header.d=c.example header.s=s header.b=short");
}
END_TEST

START_TEST(test_ar_hostile_values)
{
	/* A d= that would end the clause and start another is quoted; controls
	 * and 8-bit become '?'. */
	struct dkf_sigres res[] = {
		{ DKF_PERMERROR, "no key", "evil.example; dkim=pass", "s\"x", NULL },
		{ DKF_NEUTRAL, "odd (reason)", "caf\xc3\xa9.example", NULL, NULL },
	};
	char out[512];

	dkf_ar_build(res, 2, out, sizeof(out));
	ck_assert_str_eq(out, "dkim=permerror (no key) header.d=\"evil.example;?dkim=pass\" "
	                 "header.s=\"s\\\"x\"; dkim=neutral (odd ?reason?) "
	                 "header.d=\"caf??.example\"");
}
END_TEST

START_TEST(test_ar_overflow_drops_whole_clauses)
{
	struct dkf_sigres res[] = {
		{ DKF_PASS, NULL, "example.org", "sel", "ABCDEFGH" },
		{ DKF_PASS, NULL, "example.net", "sel", "IJKLMNOP" },
	};
	char out[80];
	size_t n = dkf_ar_build(res, 2, out, sizeof(out));

	ck_assert_str_eq(out, "dkim=pass header.d=example.org header.s=sel header.b=ABCDEFGH");
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

/* ---------------------------------------------------------------- helpers */

START_TEST(test_fold_lf)
{
	char s[] = "v=1; a=rsa-sha256;\r\n\th=From:To;\r\n\tb=abc\r\n\t def";

	dkf_fold_lf(s);
	ck_assert_str_eq(s, "v=1; a=rsa-sha256;\n\th=From:To;\n\tb=abc\n\t def");
}
END_TEST

START_TEST(test_word_in_list)
{
	ck_assert_int_eq(dkf_word_in_list("submission, submissions  local", "submissions"), 1);
	ck_assert_int_eq(dkf_word_in_list("submission,submissions", "submission"), 1);
	ck_assert_int_eq(dkf_word_in_list("submissions", "submission"), 0);
	ck_assert_int_eq(dkf_word_in_list("listen:1", "listen:1"), 1);
	ck_assert_int_eq(dkf_word_in_list(NULL, "x"), 0);
	ck_assert_int_eq(dkf_word_in_list("x", ""), 0);
}
END_TEST

START_TEST(test_action_parse)
{
	struct dkf_action a;

	ck_assert_int_eq(dkf_action_parse("none", &a), 0);
	ck_assert_int_eq(a.kind, DKF_ACT_NONE);
	ck_assert_int_eq(dkf_action_parse("reject", &a), 0);
	ck_assert_int_eq(a.kind, DKF_ACT_REJECT);
	ck_assert_int_eq(dkf_action_parse("tempfail", &a), 0);
	ck_assert_int_eq(a.kind, DKF_ACT_TEMPFAIL);
	ck_assert_int_eq(dkf_action_parse("score:2.5", &a), 0);
	ck_assert_int_eq(a.kind, DKF_ACT_SCORE);
	ck_assert(a.points == 2.5);
	ck_assert_int_eq(dkf_action_parse("score:-1", &a), 0);
	ck_assert(a.points == -1);
	ck_assert_int_eq(dkf_action_parse("score:", &a), -1);
	ck_assert_int_eq(dkf_action_parse("score:x", &a), -1);
	ck_assert_int_eq(dkf_action_parse("score:inf", &a), -1);
	ck_assert_int_eq(dkf_action_parse("score:1e9", &a), -1);
	ck_assert_int_eq(dkf_action_parse("Reject", &a), -1);
	ck_assert_int_eq(dkf_action_parse("", &a), -1);
}
END_TEST


/* ---------------------------------------------------------------- relaxed canonicalization */

static const struct {
	const char *field;
	const char *want;
} canon_header_cases[] = {
	/* RFC 6376 3.4.5 */
	{ "A: X", "a:X" },
	{ "B : Y\t\r\n\tZ  ", "b:Y Z" },
	{ "Subject:", "subject:" },
	{ "X-Mixed-Case:  a \t b\n\tc ", "x-mixed-case:a b c" },
	{ "DKIM-Signature: v=1; h=from:\n\tto; b=", "dkim-signature:v=1; h=from: to; b=" },
};

START_TEST(test_canon_header)
{
	char out[256];
	const char *field = canon_header_cases[_i].field;
	size_t n = dkf_canon_header(field, strlen(field), out);

	ck_assert_msg(n == strlen(out) && strcmp(out, canon_header_cases[_i].want) == 0,
	              "\"%s\": got \"%s\", want \"%s\"", canon_header_cases[_i].field, out,
	              canon_header_cases[_i].want);
}
END_TEST

struct sink {
	char s[1024];
	size_t n;
};

static void
sink_out(void *arg, const void *data, size_t len)
{
	struct sink *k = arg;

	ck_assert_uint_lt(k->n + len, sizeof(k->s));
	memcpy(k->s + k->n, data, len);
	k->n += len;
	k->s[k->n] = '\0';
}

static const struct {
	const char *body;
	const char *want;
} canon_body_cases[] = {
	{ " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n" },        /* RFC 6376 3.4.5 */
	{ "", "" },
	{ "\r\n\r\n", "" },
	{ "x", "x\r\n" },
	{ "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "  \t\r\nx\r\n", "\r\nx\r\n" },
	{ "a\rb\r\n", "a\rb\r\n" },
	{ "end \t", "end\r\n" },
};

START_TEST(test_canon_body_any_chunking)
{
	const char *body = canon_body_cases[_i].body;
	size_t len = strlen(body);

	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		struct sink k = { .n = 0 };
		struct dkf_canon_body c;

		k.s[0] = '\0';
		dkf_canon_body_init(&c, sink_out, &k);
		for (size_t pos = 0; pos < len; pos += chunk)
			dkf_canon_body_feed(&c, (const unsigned char *)body + pos,
			                    len - pos < chunk ? len - pos : chunk);
		dkf_canon_body_end(&c);
		ck_assert_msg(strcmp(k.s, canon_body_cases[_i].want) == 0,
		              "case %d chunk %zu: got \"%s\", want \"%s\"", _i, chunk, k.s,
		              canon_body_cases[_i].want);
		ck_assert_uint_eq(c.length, strlen(canon_body_cases[_i].want));
	}
}
END_TEST

START_TEST(test_canon_select)
{
	/* RFC 6376 5.4.2: each h= name takes the lowest instance not yet taken; an
	 * oversigned name with none left contributes nothing. */
	char *fields[] = { "From: a", "To: b", "Received: x", "Subject:  s ", "TO: c" };
	const char *sign[] = { "from", "to", "subject", NULL };
	const char *over[] = { "from", NULL };
	char *hlist, *block;

	ck_assert_int_eq(dkf_canon_select(fields, 5, sign, over, &hlist, &block), 0);
	ck_assert_str_eq(hlist, "from:to:subject:to:from");
	ck_assert_str_eq(block, "from:a\r\nto:c\r\nsubject:s\r\nto:b\r\n");
	free(hlist);
	free(block);
}
END_TEST

static void
check_lines(const char *text, size_t first_prefix)
{
	size_t col = first_prefix;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n') {
			ck_assert_msg(p[1] == '\t', "a fold without TAB in \"%s\"", text);
			col = 0;
			continue;
		}
		col++;
		ck_assert_msg(col <= 78, "line over 78 octets in \"%s\"", text);
	}
}

START_TEST(test_sig_text)
{
	const char *bh = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
	const char *hlist = "list-id:from:reply-to:subject:date:message-id:to:cc:mime-version:"
	                    "content-type:content-transfer-encoding:in-reply-to:references:from";
	const char *b = "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9v"
	                "YmFyZm9vYmFyZm9vYmFy==";
	char *tmpl = dkf_sig_template("ed25519-sha256", "example.org", "sel", 1700000000, bh,
	                              hlist);
	char *full, canon[2048], field[2048], unfolded[2048];
	size_t n = 0;

	ck_assert_ptr_nonnull(tmpl);
	check_lines(tmpl, 16);
	ck_assert_msg(strlen(tmpl) > 2 && strcmp(tmpl + strlen(tmpl) - 2, "b=") == 0, "%s", tmpl);
	snprintf(field, sizeof(field), "DKIM-Signature: %s", tmpl);
	dkf_canon_header(field, strlen(field), canon);
	/* Folding only where FWS may be: unfolded, the tags read as written. */
	for (const char *p = tmpl; *p != '\0'; p++)
		if (*p != '\n' && *p != '\t')
			unfolded[n++] = *p;
	unfolded[n] = '\0';
	ck_assert_msg(strstr(canon, "dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; "
	                     "d=example.org; s=sel; t=1700000000;") == canon, "%s", canon);
	ck_assert_msg(strstr(unfolded, bh) != NULL, "bh= broken: %s", unfolded);
	ck_assert_msg(strstr(unfolded, hlist) != NULL, "h= broken: %s", unfolded);
	full = dkf_sig_finish(tmpl, b);
	ck_assert_ptr_nonnull(full);
	check_lines(full, 16);
	ck_assert_msg(strncmp(full, tmpl, strlen(tmpl)) == 0, "template changed");
	n = 0;
	for (const char *p = full + strlen(tmpl); *p != '\0'; p++)
		if (*p != '\n' && *p != '\t')
			unfolded[n++] = *p;
	unfolded[n] = '\0';
	ck_assert_str_eq(unfolded, b);
	free(tmpl);
	free(full);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dkim");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_table_parse, 0, sizeof(table_cases) / sizeof(table_cases[0]));
	tcase_add_test(tc, test_table_fields);
	tcase_add_loop_test(tc, test_split_any_chunking, 0,
	                    sizeof(split_cases) / sizeof(split_cases[0]));
	tcase_add_test(tc, test_split_stop);
	tcase_add_test(tc, test_split_field_limit);
	tcase_add_loop_test(tc, test_from_domain, 0, sizeof(from_cases) / sizeof(from_cases[0]));
	tcase_add_loop_test(tc, test_classify, 0,
	                    sizeof(classify_cases) / sizeof(classify_cases[0]));
	tcase_add_test(tc, test_result_names);
	tcase_add_test(tc, test_ar_none);
	tcase_add_test(tc, test_ar_two);
	tcase_add_test(tc, test_ar_b_unique);
	tcase_add_test(tc, test_ar_hostile_values);
	tcase_add_test(tc, test_ar_overflow_drops_whole_clauses);
	tcase_add_test(tc, test_fold_lf);
	tcase_add_test(tc, test_word_in_list);
	tcase_add_test(tc, test_action_parse);
	tcase_add_loop_test(tc, test_canon_header, 0,
	                    sizeof(canon_header_cases) / sizeof(canon_header_cases[0]));
	tcase_add_loop_test(tc, test_canon_body_any_chunking, 0,
	                    sizeof(canon_body_cases) / sizeof(canon_body_cases[0]));
	tcase_add_test(tc, test_canon_select);
	tcase_add_test(tc, test_sig_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
