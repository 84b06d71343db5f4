/* check_rules.c - the rules filter's pure core: rule syntax, CIDR matching,
 * replies, files with line numbers, and the in-order decision walk. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ruleset.h"

/* ---------------------------------------------------------------- parsing */

static const struct {
	const char *text;
	const char *err;          /* NULL: parses; else a substring of the message */
} parse_cases[] = {
	{ "client 192.0.2.0/24 reject \"550 5.7.1 Go away\"", NULL },
	{ "client 2001:db8::/32 tempfail", NULL },
	{ "client ::1 accept", NULL },
	{ "client_name \\.dynamic\\. reject", NULL },
	{ "helo ^localhost$ reject \"550 5.7.1 Bogus HELO\"", NULL },
	{ "sender @spam\\.example$ discard", NULL },
	{ "rcpt ^postmaster@ accept", NULL },
	{ "login . accept", NULL },
	{ "header Subject \"buy now\" score 2.5 \"pushy subject\"", NULL },
	{ "header X-Mailer ^Foo add_header \"X-Rules: foo mailer\"", NULL },
	{ "any tempfail \"451 4.7.1 Try later\"", NULL },
	{ "  # only a comment", NULL },
	{ "", NULL },
	{ "sender x reject # trailing comment", NULL },
	{ "any score -1", NULL },
	/* errors */
	{ "frobnicate x accept", "unknown match \"frobnicate\"" },
	{ "sender x explode", "unknown action \"explode\"" },
	{ "sender x", "sender wants a regular expression and then an action" },
	{ "header Subject accept", "wants a field name and a regular expression" },
	{ "header Sub:ject x accept", "bad header field name" },
	{ "sender \"(unclosed\" reject", "bad regular expression \"(unclosed\"" },
	{ "sender \"x reject", "missing closing quote" },
	{ "sender \"x\"y reject", "a blank must follow a closing quote" },
	{ "client 192.0.2.1/24 reject", "bits set after the /24 prefix" },
	{ "client 192.0.2.0/33 reject", "too long" },
	{ "client 2001:db8::/129 reject", "too long" },
	{ "client 192.0.2.0/ reject", "bad prefix length" },
	{ "client 192.0.2.0/024 reject", "bad prefix length" },
	{ "client 192.0.2.0/-1 reject", "bad prefix length" },
	{ "client 192.0.2 reject", "bad address" },
	{ "client example.org reject", "bad address" },
	{ "any accept now", "unexpected \"now\" after accept" },
	{ "any discard \"550 5.7.1 x\"", "unexpected" },
	{ "any reject \"450 4.7.1 wrong class\"", "does not suit reject" },
	{ "any tempfail \"550 5.7.1 wrong class\"", "does not suit tempfail" },
	{ "any reject \"550 4.7.1 mixed\"", "does not match reply code" },
	{ "any reject \"550 5.7 short\"", "bad enhanced status code" },
	{ "any reject \"550 5.7.1234 long\"", "bad enhanced status code" },
	{ "any reject \"550 5.7.1\"", "bad enhanced status code" },
	{ "any reject \"550 5.7.1 \"", "has no text" },
	{ "any reject \"55 5.7.1 x\"", "bad reply" },
	{ "any reject \"560 5.7.1 x\"", "does not suit reject" },
	{ "any reject \"550 5.7.1 caf\xc3\xa9\"", "printable ASCII" },
	{ "any add_header NoColon", "add_header wants \"Name: value\"" },
	{ "any add_header \"Bad Name: v\"", "add_header wants" },
	{ "any add_header", "add_header wants" },
	{ "any score", "score wants a number" },
	{ "any score lots", "bad score \"lots\"" },
	{ "any score inf", "bad score" },
	{ "any score 1e9", "bad score" },
	{ "any score 1 \"caf\xc3\xa9\"", "score reason must be printable ASCII" },
	{ "a b c d e f g h i", "too many words" },
};

START_TEST(test_parse)
{
	struct ruleset *rs = ruleset_new();
	char err[512] = "";
	int ret = ruleset_add(rs, parse_cases[_i].text, "rule1", err, sizeof(err));

	if (parse_cases[_i].err == NULL)
		ck_assert_msg(ret == 0, "\"%s\": got error \"%s\", want success", parse_cases[_i].text,
		              err);
	else
		ck_assert_msg(ret < 0 && strstr(err, parse_cases[_i].err) != NULL,
		              "\"%s\": got %d \"%s\", want an error containing \"%s\"",
		              parse_cases[_i].text, ret, err, parse_cases[_i].err);
	ruleset_unref(&rs);
	ck_assert_ptr_null(rs);
}
END_TEST

START_TEST(test_parse_fields)
{
	struct ruleset *rs = ruleset_new();
	char err[512] = "";
	const struct rule *r;

	ck_assert_int_eq(ruleset_add(rs, "helo x reject \"554 5.7.1 No \\\"thanks\\\"\"", "rule7",
	                             err, sizeof(err)), 0);
	ck_assert_int_eq(ruleset_add(rs, "header  X-Spam  \"^yes\"  add_header  \"X-Tag:   spam\"",
	                             "f:2", err, sizeof(err)), 0);
	ck_assert_int_eq(ruleset_add(rs, "rcpt \"a\\.b\" score -2.5", "f:3", err, sizeof(err)), 0);
	ck_assert_int_eq(ruleset_add(rs, "any tempfail", "f:4", err, sizeof(err)), 0);
	ck_assert_uint_eq(rs->n, 4);

	r = &rs->rules[0];
	ck_assert_str_eq(r->where, "rule7");
	ck_assert_int_eq(r->match, RULE_HELO);
	ck_assert_int_eq(r->action, RULE_REJECT);
	ck_assert_str_eq(r->code, "554");
	ck_assert_str_eq(r->ecode, "5.7.1");
	ck_assert_str_eq(r->text, "No \"thanks\"");

	r = &rs->rules[1];
	ck_assert_str_eq(r->header, "X-Spam");
	ck_assert_int_eq(r->action, RULE_ADD_HEADER);
	ck_assert_str_eq(r->field, "X-Tag");
	ck_assert_str_eq(r->text, "spam");

	r = &rs->rules[2];
	ck_assert_int_eq(r->action, RULE_SCORE);
	ck_assert(r->points == -2.5);
	ck_assert_ptr_null(r->text);

	r = &rs->rules[3];
	ck_assert_str_eq(r->code, "");          /* the host's default reply */
	ruleset_unref(&rs);
}
END_TEST

/* ---------------------------------------------------------------- replies */

static const struct {
	const char *text;
	enum rule_action action;
	int ok;
	const char *ecode;
} reply_cases[] = {
	{ "550 5.7.1 Go away", RULE_REJECT, 1, "5.7.1" },
	{ "554 5.7.0 x", RULE_REJECT, 1, "5.7.0" },
	{ "421 4.7.0 closing", RULE_TEMPFAIL, 1, "4.7.0" },
	{ "451 4.123.456 detail", RULE_TEMPFAIL, 1, "4.123.456" },
	{ "550 5.1234.1 x", RULE_REJECT, 0, NULL },
	{ "550 5..1 x", RULE_REJECT, 0, NULL },
	{ "550 5.7.1x y", RULE_REJECT, 0, NULL },
	{ "5500 5.7.1 x", RULE_REJECT, 0, NULL },
	{ "250 2.0.0 ok", RULE_REJECT, 0, NULL },
	{ "250 2.0.0 ok", RULE_TEMPFAIL, 0, NULL },
	{ "450 5.7.1 x", RULE_TEMPFAIL, 0, NULL },
	{ "550 5.7.1 tab\there", RULE_REJECT, 0, NULL },
};

START_TEST(test_reply)
{
	struct rule r = { 0 };
	char err[256] = "";
	int ret = rule_reply_parse(reply_cases[_i].text, reply_cases[_i].action, &r, err,
	                           sizeof(err));

	ck_assert_msg((ret == 0) == reply_cases[_i].ok, "\"%s\" as %s: got %d (%s), want %s",
	              reply_cases[_i].text, rule_action_name(reply_cases[_i].action), ret, err,
	              reply_cases[_i].ok ? "success" : "an error");
	if (reply_cases[_i].ok)
		ck_assert_str_eq(r.ecode, reply_cases[_i].ecode);
	free(r.text);
}
END_TEST

START_TEST(test_reply_length)
{
	char text[600];
	struct rule r = { 0 };
	char err[256];

	memset(text, 'a', sizeof(text));
	memcpy(text, "550 5.7.1 ", 10);
	text[10 + 399] = '\0';                   /* 399 octets of text: fine */
	ck_assert_int_eq(rule_reply_parse(text, RULE_REJECT, &r, err, sizeof(err)), 0);
	free(r.text);
	r.text = NULL;
	text[10 + 399] = 'a';
	text[10 + 400] = '\0';                   /* 400: refused, as host->set_reply would */
	ck_assert_int_eq(rule_reply_parse(text, RULE_REJECT, &r, err, sizeof(err)), -1);
	free(r.text);
}
END_TEST

/* ---------------------------------------------------------------- CIDR */

static const struct {
	const char *cidr, *addr;
	int match;
} cidr_cases[] = {
	{ "192.0.2.0/24", "192.0.2.0", 1 },
	{ "192.0.2.0/24", "192.0.2.255", 1 },
	{ "192.0.2.0/24", "192.0.3.0", 0 },
	{ "192.0.2.0/24", "192.0.1.255", 0 },
	{ "192.0.2.128/25", "192.0.2.127", 0 },
	{ "192.0.2.128/25", "192.0.2.128", 1 },
	{ "192.0.2.7", "192.0.2.7", 1 },                 /* a host is /32 */
	{ "192.0.2.7", "192.0.2.6", 0 },
	{ "192.0.2.7/32", "192.0.2.7", 1 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },               /* every IPv4 client */
	{ "0.0.0.0/0", "2001:db8::1", 0 },               /* but no IPv6 one */
	{ "10.0.0.0/7", "11.255.255.255", 1 },           /* odd prefix length */
	{ "10.0.0.0/7", "12.0.0.0", 0 },
	{ "192.0.2.0/24", "::ffff:192.0.2.9", 1 },       /* mapped client, IPv4 rule */
	{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
	{ "2001:db8::/32", "2001:db9::1", 0 },
	{ "2001:db8::/127", "2001:db8::1", 1 },
	{ "2001:db8::/127", "2001:db8::2", 0 },
	{ "2001:db8::1", "2001:db8::1", 1 },              /* a host is /128 */
	{ "2001:db8::1", "2001:db8::", 0 },
	{ "::/0", "2001:db8::1", 1 },
	{ "::/0", "192.0.2.1", 1 },                      /* ::/0 covers mapped IPv4 too */
	{ "::1", "127.0.0.1", 0 },
	{ "2001:db8::80/121", "2001:db8::ff", 1 },
	{ "2001:db8::80/121", "2001:db8::7f", 0 },
};

START_TEST(test_cidr)
{
	struct rule_cidr c;
	struct rule_addr a;
	char err[256] = "";

	ck_assert_msg(rule_cidr_parse(cidr_cases[_i].cidr, &c, err, sizeof(err)) == 0,
	              "%s: %s", cidr_cases[_i].cidr, err);
	ck_assert_int_eq(rule_addr_parse(cidr_cases[_i].addr, &a), 0);
	ck_assert_msg(rule_cidr_match(&c, &a) == cidr_cases[_i].match, "%s in %s: got %d, want %d",
	              cidr_cases[_i].addr, cidr_cases[_i].cidr, !cidr_cases[_i].match,
	              cidr_cases[_i].match);
}
END_TEST

START_TEST(test_addr_bad)
{
	struct rule_addr a;

	ck_assert_int_eq(rule_addr_parse("unknown", &a), -1);
	ck_assert_int_eq(rule_addr_parse("", &a), -1);
	ck_assert_int_eq(rule_addr_parse("192.0.2.256", &a), -1);
	ck_assert_int_eq(rule_addr_parse("[192.0.2.1]", &a), -1);
}
END_TEST

/* ---------------------------------------------------------------- files */

struct collected {
	int n;
	char text[4][600];
};

static void
collect(void *arg, const char *where, const char *msg)
{
	struct collected *c = arg;

	if (c->n < 4)
		snprintf(c->text[c->n], sizeof(c->text[0]), "%s: %s", where, msg);
	c->n++;
}

static char *
write_temp(const char *content)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_rules.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

START_TEST(test_file_line_numbers)
{
	static const char content[] = "# access rules\n"
	                              "\n"
	                              "client 192.0.2.0/24 reject\n"
	                              "sender (( reject\n"
	                              "rcpt ^x@ accept\r\n"
	                              "bogus rule\n"
	                              "any tempfail";      /* no final newline */
	char *path = write_temp(content);
	struct ruleset *rs = ruleset_new();
	struct collected c = { 0 };
	char want[200];
	struct stat st;

	ck_assert_int_eq(ruleset_add_file(rs, path, &st, collect, &c), 2);
	ck_assert_int_eq(c.n, 2);
	snprintf(want, sizeof(want), "%s:4: bad regular expression", path);
	ck_assert_msg(strncmp(c.text[0], want, strlen(want)) == 0, "got \"%s\", want \"%s...\"",
	              c.text[0], want);
	snprintf(want, sizeof(want), "%s:6: unknown match \"bogus\"", path);
	ck_assert_msg(strncmp(c.text[1], want, strlen(want)) == 0, "got \"%s\", want \"%s...\"",
	              c.text[1], want);
	ck_assert_uint_eq(rs->n, 3);
	snprintf(want, sizeof(want), "%s:7", path);
	ck_assert_str_eq(rs->rules[2].where, want);
	ck_assert_int_eq(st.st_size, (off_t)strlen(content));
	unlink(path);
	ruleset_unref(&rs);
}
END_TEST

START_TEST(test_file_missing)
{
	struct ruleset *rs = ruleset_new();
	struct collected c = { 0 };

	ck_assert_int_eq(ruleset_add_file(rs, "/nonexistent/rules", NULL, collect, &c), 1);
	ck_assert_msg(strstr(c.text[0], "/nonexistent/rules: cannot open") != NULL, "got \"%s\"",
	              c.text[0]);
	ruleset_unref(&rs);
}
END_TEST

/* ---------------------------------------------------------------- the walk */

struct world {
	const char *rcpts[4];
	size_t nrcpt;
	const char *headers[4][2];      /* name, value */
};

static const char *
world_rcpt(void *arg, size_t i)
{
	struct world *w = arg;

	return i < w->nrcpt ? w->rcpts[i] : NULL;
}

static const char *
world_header(void *arg, const char *name, size_t index)
{
	struct world *w = arg;

	for (size_t i = 0; i < 4 && w->headers[i][0] != NULL; i++)
		if (strcasecmp(w->headers[i][0], name) == 0 && --index == 0)
			return w->headers[i][1];
	return NULL;
}

#define KC (RULE_KNOWN(RULE_CLIENT) | RULE_KNOWN(RULE_CLIENT_NAME))
#define KH (KC | RULE_KNOWN(RULE_HELO))
#define KM (KH | RULE_KNOWN(RULE_LOGIN) | RULE_KNOWN(RULE_SENDER))
#define KR (KM | RULE_KNOWN(RULE_RCPT))
#define KA (KR | RULE_KNOWN(RULE_HEADER))

static struct ruleset *
build(const char *const *lines)
{
	struct ruleset *rs = ruleset_new();
	char err[512], where[16];

	for (int i = 0; lines[i] != NULL; i++) {
		snprintf(where, sizeof(where), "rule%d", i + 1);
		ck_assert_msg(ruleset_add(rs, lines[i], where, err, sizeof(err)) == 0, "%s: %s",
		              lines[i], err);
	}
	return rs;
}

static const char *
walk(const struct ruleset *rs, unsigned known, const char *client, const char *sender,
     struct world *w, ruleset_apply_fn *apply, void *arg)
{
	static char out[64];
	struct rule_addr a;
	struct rule_facts f = { 0 };
	const struct rule *r;
	enum ruleset_outcome o;

	ck_assert_int_eq(rule_addr_parse(client, &a), 0);
	f.known = known;
	f.client = &a;
	f.client_name = "unknown";
	f.helo = "client.test";
	f.sender = sender;
	f.rcpt_count = w->nrcpt;
	f.rcpt = world_rcpt;
	f.header = world_header;
	f.arg = w;
	o = ruleset_walk(rs, &f, apply, arg, &r);
	if (o == RULESET_UNDECIDED)
		return "undecided";
	if (o == RULESET_NOMATCH)
		return "nomatch";
	snprintf(out, sizeof(out), "%s %s", r->where, rule_action_name(r->action));
	return out;
}

START_TEST(test_walk_order)
{
	static const char *const lines[] = {
		"rcpt ^postmaster@ accept",
		"client 192.0.2.0/24 reject \"550 5.7.1 Go away\"",
		"sender @spam\\.example$ reject",
		"header Subject ^\\[SPAM\\] discard",
		NULL,
	};
	struct ruleset *rs = build(lines);
	struct world post = { { "postmaster@example.com" }, 1, { { NULL } } };
	struct world bob = { { "bob@example.com" }, 1, { { "Subject", " [spam] hi" } } };
	struct world none = { { NULL }, 0, { { NULL } } };

	/* The client rule waits for the recipient rule above it. */
	ck_assert_str_eq(walk(rs, KC, "192.0.2.1", NULL, &none, NULL, NULL), "undecided");
	ck_assert_str_eq(walk(rs, KM, "192.0.2.1", "a@b.test", &none, NULL, NULL), "undecided");
	ck_assert_str_eq(walk(rs, KR, "192.0.2.1", "a@b.test", &post, NULL, NULL), "rule1 accept");
	ck_assert_str_eq(walk(rs, KR, "192.0.2.1", "a@b.test", &bob, NULL, NULL), "rule2 reject");
	ck_assert_str_eq(walk(rs, KR, "198.51.100.1", "x@SPAM.example", &bob, NULL, NULL),
	                 "rule3 reject");
	/* Header rules wait for the end of the message; matching is caseless and sees
	 * the value without its leading blank. */
	ck_assert_str_eq(walk(rs, KR, "198.51.100.1", "x@ok.example", &bob, NULL, NULL),
	                 "undecided");
	ck_assert_str_eq(walk(rs, KA, "198.51.100.1", "x@ok.example", &bob, NULL, NULL),
	                 "rule4 discard");
	bob.headers[0][1] = " fine";
	ck_assert_str_eq(walk(rs, KA, "198.51.100.1", "x@ok.example", &bob, NULL, NULL), "nomatch");
	ruleset_unref(&rs);
}
END_TEST

START_TEST(test_walk_decides_early)
{
	static const char *const lines[] = {
		"client 192.0.2.0/24 reject",
		"helo ^bad$ tempfail",
		"header Subject x accept",
		NULL,
	};
	struct ruleset *rs = build(lines);
	struct world none = { { NULL }, 0, { { NULL } } };

	ck_assert_str_eq(walk(rs, KC, "192.0.2.1", NULL, &none, NULL, NULL), "rule1 reject");
	ck_assert_str_eq(walk(rs, KC, "198.51.100.1", NULL, &none, NULL, NULL), "undecided");
	ruleset_unref(&rs);
}
END_TEST

struct applied {
	int n;
	char what[4][64];
};

static void
record(void *arg, const struct rule *r)
{
	struct applied *a = arg;

	if (a->n < 4)
		snprintf(a->what[a->n++], sizeof(a->what[0]), "%s %s", r->where,
		         rule_action_name(r->action));
}

START_TEST(test_walk_eom_applies)
{
	static const char *const lines[] = {
		"any add_header \"X-Checked: yes\"",
		"header X-Mailer ^bulk score 3 \"bulk mailer\"",
		"rcpt ^sales@ score 1",
		"sender ^$ reject",
		"any add_header \"X-Never: after the decision\"",
		NULL,
	};
	struct ruleset *rs = build(lines);
	struct world w = { { "bob@example.com", "SALES@example.com" }, 2,
	                   { { "Subject", " hi" }, { "X-Mailer", " Bulk\r\n\tMailer 2" } } };
	struct applied a = { 0 };

	/* Before eom, non-terminal rules are not looked at. */
	ck_assert_str_eq(walk(rs, KR, "192.0.2.1", "a@b.test", &w, NULL, NULL), "nomatch");
	ck_assert_str_eq(walk(rs, KA, "192.0.2.1", "a@b.test", &w, record, &a), "nomatch");
	ck_assert_int_eq(a.n, 4);
	ck_assert_str_eq(a.what[0], "rule1 add_header");
	ck_assert_str_eq(a.what[1], "rule2 score");
	ck_assert_str_eq(a.what[2], "rule3 score");     /* any recipient */
	ck_assert_str_eq(a.what[3], "rule5 add_header");
	a.n = 0;
	ck_assert_str_eq(walk(rs, KA, "192.0.2.1", "", &w, record, &a), "rule4 reject");
	ck_assert_int_eq(a.n, 3);
	ruleset_unref(&rs);
}
END_TEST

START_TEST(test_walk_null_sender_and_login)
{
	static const char *const lines[] = {
		"login . accept",
		"sender ^$ tempfail",
		NULL,
	};
	struct ruleset *rs = build(lines);
	struct world none = { { NULL }, 0, { { NULL } } };
	struct rule_addr a;
	struct rule_facts f = { 0 };
	const struct rule *r;

	/* No login: the login rule does not match, the null sender does. */
	ck_assert_str_eq(walk(rs, KM, "192.0.2.1", "", &none, NULL, NULL), "rule2 tempfail");
	ck_assert_int_eq(rule_addr_parse("192.0.2.1", &a), 0);
	f.known = KM;
	f.client = &a;
	f.login = "alice";
	f.sender = "";
	ck_assert_int_eq(ruleset_walk(rs, &f, NULL, NULL, &r), RULESET_DECIDED);
	ck_assert_str_eq(r->where, "rule1");
	ruleset_unref(&rs);
}
END_TEST

/* A hostile header must not make the walk run away: the match limit stops it. */
START_TEST(test_walk_backtracking_bounded)
{
	static const char *const lines[] = { "header Subject \"^(a+)+$\" reject", NULL };
	struct ruleset *rs = build(lines);
	char value[4096];
	struct world w = { { NULL }, 0, { { "Subject", value } } };

	memset(value, 'a', sizeof(value) - 2);
	value[sizeof(value) - 2] = '!';
	value[sizeof(value) - 1] = '\0';
	ck_assert_str_eq(walk(rs, KA, "192.0.2.1", "", &w, NULL, NULL), "nomatch");
	ruleset_unref(&rs);
}
END_TEST

START_TEST(test_refcount)
{
	struct ruleset *rs = ruleset_new(), *held;

	held = ruleset_ref(rs);
	ruleset_unref(&rs);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(atomic_load(&held->refs), 1);   /* still alive for its holder */
	ruleset_unref(&held);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int nf;

	tcase_add_loop_test(tc, test_parse, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_parse_fields);
	tcase_add_loop_test(tc, test_reply, 0, sizeof(reply_cases) / sizeof(reply_cases[0]));
	tcase_add_test(tc, test_reply_length);
	tcase_add_loop_test(tc, test_cidr, 0, sizeof(cidr_cases) / sizeof(cidr_cases[0]));
	tcase_add_test(tc, test_addr_bad);
	tcase_add_test(tc, test_file_line_numbers);
	tcase_add_test(tc, test_file_missing);
	tcase_add_test(tc, test_walk_order);
	tcase_add_test(tc, test_walk_decides_early);
	tcase_add_test(tc, test_walk_eom_applies);
	tcase_add_test(tc, test_walk_null_sender_and_login);
	tcase_add_test(tc, test_walk_backtracking_bounded);
	tcase_add_test(tc, test_refcount);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
