/* check_authres.c - unit tests for authres.c. Expected values come from RFC 8601
 * (2.2 syntax: authserv-id is a value, a token or quoted-string, after CFWS;
 * resinfo clauses are separated by ";"; section 5: fields naming our id are
 * ours to remove) and RFC 5322 (2.1.1 line limit, 2.2.3 folding). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "util.h"

static const struct {
	const char *value, *id;
	int want;
} id_cases[] = {
	{ " mx.example.org; spf=pass", "mx.example.org", 1 },
	{ " MX.Example.ORG; none", "mx.example.org", 1 },
	{ "mx.example.org;none", "mx.example.org", 1 },
	{ " mx.example.org 1; none", "mx.example.org", 1 },            /* authres-version */
	{ " (comment (nested)) mx.example.org; none", "mx.example.org", 1 },
	{ "\r\n\tmx.example.org;\r\n\tdkim=pass", "mx.example.org", 1 },  /* folded */
	{ " \"mx.example.org\"; none", "mx.example.org", 1 },         /* quoted-string */
	{ " \"mx.ex\\ample.org\"; none", "mx.example.org", 1 },       /* quoted-pair */
	{ " mx.example.org.evil.example; none", "mx.example.org", 0 },
	{ " evil.mx.example.org; none", "mx.example.org", 0 },
	{ " mx.example.or; none", "mx.example.org", 0 },
	{ " (mx.example.org) other.example; none", "mx.example.org", 0 },
	{ " ; none", "mx.example.org", 0 },
	{ "", "mx.example.org", 0 },
	{ " \"mx.example.org; none", "mx.example.org", 0 },           /* unterminated */
	{ " mx.example.org; none", "", 0 },
};

START_TEST(test_names_id)
{
	ck_assert_msg(authres_names_id(id_cases[_i].value, id_cases[_i].id) == id_cases[_i].want,
	              "case %d: %s against %s: want %d", _i, id_cases[_i].value, id_cases[_i].id,
	              id_cases[_i].want);
}
END_TEST

START_TEST(test_build)
{
	const char *results[] = {
		"spf=pass smtp.mailfrom=example.org",
		"dkim=pass header.d=example.org header.b=abcd; dkim=fail (body hash; mismatch) header.d=x.example",
		"",
		"dmarc=pass header.from=example.org",
	};
	char buf[1024];
	size_t n = authres_build(buf, sizeof(buf), "mx.example.org", results, 4);

	ck_assert_str_eq(buf, "mx.example.org;\n"
	                 "\tspf=pass smtp.mailfrom=example.org;\n"
	                 "\tdkim=pass header.d=example.org header.b=abcd;\n"
	                 "\tdkim=fail (body hash; mismatch) header.d=x.example;\n"
	                 "\tdmarc=pass header.from=example.org");
	ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

START_TEST(test_build_limits)
{
	const char *empty[] = { "", " ; " };
	const char *one[] = { "spf=none" };
	char big[1100], buf[4096], small[16];

	ck_assert_uint_eq(authres_build(buf, sizeof(buf), "id", one, 0), 0);
	ck_assert_uint_eq(authres_build(buf, sizeof(buf), "id", empty, 2), 0);
	ck_assert_uint_eq(authres_build(small, sizeof(small), "mx.example.org", one, 1), 0);
	/* one clause longer than a line may be (998 octets with its tab) */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "spf=", 4);
	const char *toolong[] = { big };
	ck_assert_uint_eq(authres_build(buf, sizeof(buf), "id", toolong, 1), 0);
	big[997 - 1] = '\0';          /* tab + 996 octets + ';' fits in 998 */
	ck_assert_uint_gt(authres_build(buf, sizeof(buf), "id", toolong, 1), 0);
}
END_TEST

static Suite *
authres_suite(void)
{
	Suite *s = suite_create("authres");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_names_id, 0, ARRAY_LEN(id_cases));
	tcase_add_test(tc, test_build);
	tcase_add_test(tc, test_build_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(authres_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
