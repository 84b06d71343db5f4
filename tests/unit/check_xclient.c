/* check_xclient.c - XCLIENT line building (Postfix XCLIENT_README, RFC 3461 xtext). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xclient.h"

#define ALL (SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR | SMTP_XCLIENT_PORT | SMTP_XCLIENT_PROTO | \
             SMTP_XCLIENT_HELO | SMTP_XCLIENT_LOGIN)

static const struct {
	const char *what;
	struct client_identity id;
	unsigned attrs;
	const char *want;         /* the single expected line; NULL = no line */
} cases[] = {
	/* The README's own example line. */
	{ "readme example", { "spike.porcupine.org", "168.100.189.2", 0, 0, 1, NULL, NULL },
	  SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR,
	  "XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2" },
	{ "all attributes in order", { "mail.example.org", "192.0.2.7", 0, 40000, 1, "helo.example", "alice" },
	  ALL, "XCLIENT NAME=mail.example.org ADDR=192.0.2.7 PORT=40000 PROTO=ESMTP HELO=helo.example LOGIN=alice" },
	{ "only announced attributes", { "mail.example.org", "192.0.2.7", 0, 40000, 1, "helo.example", NULL },
	  SMTP_XCLIENT_HELO | SMTP_XCLIENT_ADDR, "XCLIENT ADDR=192.0.2.7 HELO=helo.example" },
	{ "IPv6 gets the IPV6: prefix", { "[UNAVAILABLE]", "2001:db8::1", 1, 25, 0, "h", NULL },
	  ALL, "XCLIENT NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::1 PORT=25 PROTO=SMTP HELO=h" },
	{ "xtext for + and = (RFC 3461)", { NULL, "192.0.2.1", 0, 0, 1, "a+b=c", NULL },
	  SMTP_XCLIENT_HELO | SMTP_XCLIENT_ADDR, "XCLIENT ADDR=192.0.2.1 HELO=a+2Bb+3Dc" },
	{ "xtext for space and 8-bit", { NULL, NULL, 0, 0, 1, "a b\xc3\xa9", NULL },
	  SMTP_XCLIENT_HELO, "XCLIENT HELO=a+20b+C3+A9" },
	{ "unknown values left out", { "", NULL, 0, 0, 1, NULL, NULL },
	  SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR | SMTP_XCLIENT_HELO | SMTP_XCLIENT_LOGIN, NULL },
	{ "no attributes announced", { "n", "192.0.2.1", 0, 1, 1, "h", "u" }, 0, NULL },
};

START_TEST(test_lines)
{
	char lines[XCLIENT_LINES_MAX][SMTP_COMMAND_MAX];
	size_t n = xclient_build(&cases[_i].id, cases[_i].attrs, lines, XCLIENT_LINES_MAX);

	if (cases[_i].want == NULL) {
		ck_assert_msg(n == 0, "%s: got %zu lines, want none", cases[_i].what, n);
		return;
	}
	ck_assert_msg(n == 1, "%s: got %zu lines, want 1", cases[_i].what, n);
	ck_assert_msg(strcmp(lines[0], cases[_i].want) == 0, "%s: got \"%s\", want \"%s\"",
	              cases[_i].what, lines[0], cases[_i].want);
}
END_TEST

/* Long values: every line (with CRLF) stays within 512 octets (XCLIENT_README:
 * "the command line length must not exceed 512"), no attribute is split, and all
 * attributes survive, in order. */
START_TEST(test_long_values_split)
{
	char name[256], helo[256], lines[XCLIENT_LINES_MAX][SMTP_COMMAND_MAX], joined[4096] = "";
	struct client_identity id = { name, "192.0.2.9", 0, 2525, 1, helo, NULL };
	size_t n;

	memset(name, 'n', 250);
	name[250] = '\0';
	memset(helo, 'h', 250);
	helo[250] = '\0';
	n = xclient_build(&id, ALL, lines, XCLIENT_LINES_MAX);
	ck_assert_msg(n == 2, "got %zu lines, want 2", n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strlen(lines[i]) + 2 <= 512, "line %zu is %zu octets", i, strlen(lines[i]) + 2);
		ck_assert_msg(strncmp(lines[i], "XCLIENT ", 8) == 0, "line %zu: %s", i, lines[i]);
		strncat(joined, lines[i] + 7, sizeof(joined) - strlen(joined) - 1);
	}
	char want[4096];
	snprintf(want, sizeof(want), " NAME=%s ADDR=192.0.2.9 PORT=2525 PROTO=ESMTP HELO=%s", name, helo);
	ck_assert_msg(strcmp(joined, want) == 0, "got \"%s\", want \"%s\"", joined, want);
}
END_TEST

/* A value that cannot fit in one line even alone is left out, not cut. */
START_TEST(test_value_too_long_left_out)
{
	char helo[600], lines[XCLIENT_LINES_MAX][SMTP_COMMAND_MAX];
	struct client_identity id = { NULL, "192.0.2.9", 0, 0, 1, helo, NULL };
	size_t n;

	memset(helo, 'h', 520);
	helo[520] = '\0';
	n = xclient_build(&id, SMTP_XCLIENT_ADDR | SMTP_XCLIENT_HELO, lines, XCLIENT_LINES_MAX);
	ck_assert_msg(n == 1, "got %zu lines, want 1", n);
	ck_assert_msg(strcmp(lines[0], "XCLIENT ADDR=192.0.2.9") == 0, "got \"%s\"", lines[0]);
}
END_TEST

/* XFORWARD (Postfix XFORWARD_README): the same attributes in the same form, but
 * never LOGIN (not an XFORWARD attribute), and only those the backend lists. */
START_TEST(test_xforward_lines)
{
	char lines[XCLIENT_LINES_MAX][SMTP_COMMAND_MAX];
	struct client_identity id = { "mail.example.org", "2001:db8::7", 1, 2525, 1, "h.example.org",
	                              "alice" };
	size_t n = xforward_build(&id, SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR | SMTP_XCLIENT_PORT |
	                          SMTP_XCLIENT_PROTO | SMTP_XCLIENT_HELO | SMTP_XCLIENT_LOGIN,
	                          lines, XCLIENT_LINES_MAX);

	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(lines[0], "XFORWARD NAME=mail.example.org ADDR=IPV6:2001:db8::7 PORT=2525 "
	                 "PROTO=ESMTP HELO=h.example.org");
	n = xforward_build(&id, SMTP_XCLIENT_ADDR, lines, XCLIENT_LINES_MAX);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(lines[0], "XFORWARD ADDR=IPV6:2001:db8::7");
	ck_assert_uint_eq(xforward_build(&id, SMTP_XCLIENT_LOGIN, lines, XCLIENT_LINES_MAX), 0);
}
END_TEST

/* ---- a trusted client's own XCLIENT / XFORWARD (Postfix XCLIENT_README:
 * attribute=xtext, [UNAVAILABLE] and [TEMPUNAVAIL], IPV6: prefix). */
static const struct {
	const char *args;
	int xforward, ok;
	unsigned set, unavailable;
	const char *name, *addr, *helo, *login;
	int ipv6;
	unsigned port;
} parse_cases[] = {
	{ "ADDR=192.0.2.7 NAME=mail.example.org PORT=2525 PROTO=ESMTP HELO=mail.example.org", 0, 1,
	  SMTP_XCLIENT_ADDR | SMTP_XCLIENT_NAME | SMTP_XCLIENT_PORT | SMTP_XCLIENT_PROTO | SMTP_XCLIENT_HELO, 0,
	  "mail.example.org", "192.0.2.7", "mail.example.org", "", 0, 2525 },
	{ "addr=IPV6:2001:db8::7 login=alice+40example.org", 0, 1,
	  SMTP_XCLIENT_ADDR | SMTP_XCLIENT_LOGIN, 0, "", "2001:db8::7", "", "alice@example.org", 1, 0 },
	{ "NAME=[UNAVAILABLE] ADDR=198.51.100.1", 0, 1, SMTP_XCLIENT_NAME | SMTP_XCLIENT_ADDR,
	  SMTP_XCLIENT_NAME, "", "198.51.100.1", "", "", 0, 0 },
	{ "NAME=[TEMPUNAVAIL]", 0, 1, SMTP_XCLIENT_NAME, SMTP_XCLIENT_NAME, "", "", "", "", 0, 0 },
	{ "HELO=a+20b", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },          /* space in HELO */
	{ "ADDR=192.0.2.300", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "ADDR=IPV6:192.0.2.1", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "PORT=65536", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "PORT=-1", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "PROTO=LMTP", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "NAME=bad_name!", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "FOO=bar", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "ADDR", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "=x", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "LOGIN=a+0Ab", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },        /* LF by xtext */
	{ "LOGIN=a+zz", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },         /* bad xtext */
	{ "LOGIN=alice", 1, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },        /* not XFORWARD's */
	{ "IDENT=abc SOURCE=REMOTE ADDR=192.0.2.8", 1, 1, SMTP_XCLIENT_ADDR | SMTP_XCLIENT_DESTADDR |
	  SMTP_XCLIENT_DESTPORT, 0, "", "192.0.2.8", "", "", 0, 0 },
	{ "IDENT=abc", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0 },          /* not XCLIENT's */
};

START_TEST(test_parse)
{
	struct xclient_attrs a;
	const char *why = NULL;
	int rc = xclient_parse(parse_cases[_i].args, strlen(parse_cases[_i].args),
	                       parse_cases[_i].xforward, &a, &why);

	ck_assert_msg((rc == 0) == parse_cases[_i].ok, "case %d \"%s\": rc %d (%s)", _i,
	              parse_cases[_i].args, rc, why ? why : "");
	if (rc < 0) {
		ck_assert_ptr_nonnull(why);
		return;
	}
	ck_assert_uint_eq(a.set, parse_cases[_i].set);
	ck_assert_uint_eq(a.unavailable, parse_cases[_i].unavailable);
	ck_assert_str_eq(a.name, parse_cases[_i].name);
	ck_assert_str_eq(a.addr, parse_cases[_i].addr);
	ck_assert_str_eq(a.helo, parse_cases[_i].helo);
	ck_assert_str_eq(a.login, parse_cases[_i].login);
	ck_assert_int_eq(a.ipv6, parse_cases[_i].ipv6);
	ck_assert_uint_eq(a.port, parse_cases[_i].port);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("xclient");
	TCase *tc = tcase_create("core");
	SRunner *sr;

	tcase_add_loop_test(tc, test_lines, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_long_values_split);
	tcase_add_test(tc, test_value_too_long_left_out);
	tcase_add_loop_test(tc, test_parse, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_xforward_lines);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
