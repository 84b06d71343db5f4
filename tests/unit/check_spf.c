/* check_spf.c - the spf filter's pure parts: policy keys, skip lists, domain
 * checks, result mapping, answers as libspf2 records, Received-SPF,
 * Authentication-Results and replies. Whole evaluations: check_spf_eval.c. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spf_check.h"
#include "spf_dns.h"
#include "spf_policy.h"
#include "spf_text.h"

Suite *spf_eval_suite(void);      /* check_spf_eval.c */

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- policy keys */

static const struct {
	const char *text;
	int ok;
	enum spf_act act;
	double points;
} action_cases[] = {
	{ "reject", 1, SPF_ACT_REJECT, 0 },
	{ "TempFail", 1, SPF_ACT_TEMPFAIL, 0 },
	{ "none", 1, SPF_ACT_NONE, 0 },
	{ "score:2", 1, SPF_ACT_SCORE, 2 },
	{ "score:0.5", 1, SPF_ACT_SCORE, 0.5 },
	{ "score:-1.25", 1, SPF_ACT_SCORE, -1.25 },
	{ "score:", 0, 0, 0 },
	{ "score:abc", 0, 0, 0 },
	{ "score:2x", 0, 0, 0 },
	{ "score:1e9", 0, 0, 0 },
	{ "score:nan", 0, 0, 0 },
	{ "score 2", 0, 0, 0 },
	{ "accept", 0, 0, 0 },
	{ "", 0, 0, 0 },
};

START_TEST(test_action_parse)
{
	struct spf_action a;
	char err[160] = "";
	int ret = spf_action_parse(action_cases[_i].text, &a, err, sizeof(err));

	if (!action_cases[_i].ok) {
		ck_assert_msg(ret < 0, "\"%s\": got success, want an error", action_cases[_i].text);
		ck_assert_msg(strstr(err, action_cases[_i].text) != NULL,
		              "\"%s\": the message \"%s\" does not quote the value",
		              action_cases[_i].text, err);
		return;
	}
	ck_assert_msg(ret == 0, "\"%s\": got error \"%s\"", action_cases[_i].text, err);
	ck_assert_msg(a.act == action_cases[_i].act, "\"%s\": got action %s, want %s",
	              action_cases[_i].text, spf_act_name(a.act), spf_act_name(action_cases[_i].act));
	ck_assert_msg(a.points == action_cases[_i].points, "\"%s\": got %g points, want %g",
	              action_cases[_i].text, a.points, action_cases[_i].points);
}
END_TEST

START_TEST(test_policy_defaults)
{
	static const struct { enum spf_res res; enum spf_act act; double points; } want[] = {
		{ SPF_RES_PASS, SPF_ACT_NONE, 0 },
		{ SPF_RES_FAIL, SPF_ACT_REJECT, 0 },
		{ SPF_RES_SOFTFAIL, SPF_ACT_SCORE, 2.0 },
		{ SPF_RES_NEUTRAL, SPF_ACT_SCORE, 0.5 },
		{ SPF_RES_NONE, SPF_ACT_NONE, 0 },
		{ SPF_RES_TEMPERROR, SPF_ACT_TEMPFAIL, 0 },
		{ SPF_RES_PERMERROR, SPF_ACT_NONE, 0 },
	};
	struct spf_policy p;

	spf_policy_defaults(&p);
	for (size_t i = 0; i < N(want); i++) {
		ck_assert_msg(p.on[want[i].res].act == want[i].act, "%s: got %s, want %s",
		              spf_res_name(want[i].res), spf_act_name(p.on[want[i].res].act),
		              spf_act_name(want[i].act));
		ck_assert_msg(p.on[want[i].res].points == want[i].points, "%s: got %g points, want %g",
		              spf_res_name(want[i].res), p.on[want[i].res].points, want[i].points);
	}
	ck_assert_int_eq(p.helo_fail_reject, 0);
	ck_assert_int_eq(p.check_authenticated, 0);
	ck_assert_uint_eq(p.nskip, 0);
}
END_TEST

START_TEST(test_res_names)
{
	static const char *const words[] = { "none", "neutral", "pass", "fail", "softfail",
	                                     "temperror", "permerror" };

	for (int i = 0; i < SPF_RES_COUNT; i++) {
		ck_assert_str_eq(spf_res_name((enum spf_res)i), words[i]);
		ck_assert_int_eq(spf_res_parse(words[i]), i);
	}
	ck_assert_int_eq(spf_res_parse("invalid"), -1);
	ck_assert_str_eq(spf_res_name((enum spf_res)99), "none");
}
END_TEST

/* ---------------------------------------------------------------- skip lists */

static const struct {
	const char *cidr;
	const char *addr;
	int match;                  /* -1: the CIDR does not parse */
} cidr_cases[] = {
	{ "192.0.2.0/24", "192.0.2.77", 1 },
	{ "192.0.2.0/24", "192.0.3.1", 0 },
	{ "192.0.2.0/24", "::ffff:192.0.2.5", 1 },
	{ "198.51.100.7", "198.51.100.7", 1 },
	{ "198.51.100.7", "198.51.100.8", 0 },
	{ "198.51.100.0/25", "198.51.100.127", 1 },
	{ "198.51.100.0/25", "198.51.100.128", 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },
	{ "0.0.0.0/0", "2001:db8::1", 0 },
	{ "2001:db8::/32", "2001:db8:1::1", 1 },
	{ "2001:db8::/32", "2001:db9::1", 0 },
	{ "2001:db8::/32", "192.0.2.1", 0 },
	{ "2001:db8::1/128", "2001:db8::1", 1 },
	{ "192.0.2.1/24", "192.0.2.1", -1 },
	{ "192.0.2.0/33", "192.0.2.1", -1 },
	{ "2001:db8::/129", "2001:db8::1", -1 },
	{ "192.0.2.0/", "192.0.2.1", -1 },
	{ "192.0.2.0/-1", "192.0.2.1", -1 },
	{ "/24", "192.0.2.1", -1 },
	{ "example.org", "192.0.2.1", -1 },
	{ "192.0.2", "192.0.2.1", -1 },
};

START_TEST(test_cidr)
{
	struct spf_cidr c;
	struct spf_addr a;
	int ret = spf_cidr_parse(cidr_cases[_i].cidr, &c);

	if (cidr_cases[_i].match < 0) {
		ck_assert_msg(ret < 0, "%s: got a CIDR, want an error", cidr_cases[_i].cidr);
		return;
	}
	ck_assert_msg(ret == 0, "%s: does not parse", cidr_cases[_i].cidr);
	ck_assert_int_eq(spf_addr_parse(cidr_cases[_i].addr, &a), 0);
	ck_assert_msg(spf_cidr_match(&c, &a) == cidr_cases[_i].match, "%s ~ %s: got %d, want %d",
	              cidr_cases[_i].cidr, cidr_cases[_i].addr, spf_cidr_match(&c, &a),
	              cidr_cases[_i].match);
}
END_TEST

START_TEST(test_skip_list)
{
	struct spf_policy p;
	struct spf_addr a;
	char err[160] = "";

	spf_policy_defaults(&p);
	ck_assert_int_eq(spf_policy_skip_parse(&p, " 192.0.2.0/24  2001:db8::/32,198.51.100.7 ",
	                                       err, sizeof(err)), 0);
	ck_assert_uint_eq(p.nskip, 3);
	spf_addr_parse("192.0.2.200", &a);
	ck_assert_int_eq(spf_policy_skips(&p, &a), 1);
	spf_addr_parse("2001:db8::25", &a);
	ck_assert_int_eq(spf_policy_skips(&p, &a), 1);
	spf_addr_parse("198.51.100.7", &a);
	ck_assert_int_eq(spf_policy_skips(&p, &a), 1);
	spf_addr_parse("203.0.113.1", &a);
	ck_assert_int_eq(spf_policy_skips(&p, &a), 0);
	ck_assert_int_eq(spf_policy_skip_parse(&p, "192.0.2.0/24 relay.example.org", err,
	                                       sizeof(err)), -1);
	ck_assert_msg(strstr(err, "relay.example.org") != NULL, "got \"%s\"", err);
	spf_policy_clear(&p);
	ck_assert_ptr_null(p.skip);
}
END_TEST

START_TEST(test_addr_loopback_and_format)
{
	static const struct { const char *in, *out; int loop; } cases[] = {
		{ "127.0.0.1", "127.0.0.1", 1 },
		{ "127.5.6.7", "127.5.6.7", 1 },
		{ "::1", "::1", 1 },
		{ "::ffff:127.0.0.1", "127.0.0.1", 1 },
		{ "::ffff:192.0.2.1", "192.0.2.1", 0 },
		{ "192.0.2.1", "192.0.2.1", 0 },
		{ "2001:db8::1", "2001:db8::1", 0 },
	};
	struct spf_addr a;
	char buf[64];

	for (size_t i = 0; i < N(cases); i++) {
		ck_assert_int_eq(spf_addr_parse(cases[i].in, &a), 0);
		spf_addr_format(&a, buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, cases[i].out) == 0, "%s: got \"%s\", want \"%s\"",
		              cases[i].in, buf, cases[i].out);
		ck_assert_msg(spf_addr_is_loopback(&a) == cases[i].loop, "%s: loopback got %d",
		              cases[i].in, spf_addr_is_loopback(&a));
	}
	ck_assert_int_eq(spf_addr_parse("unix:/tmp/x", &a), -1);
}
END_TEST

/* ---------------------------------------------------------------- identities */

static char label63[64], name254[256];

static void
names_setup(void)
{
	memset(label63, 'a', 63);
	label63[63] = '\0';
	/* 3 * (63 + 1) + 58 + 4 = 254 octets: one too many. */
	snprintf(name254, sizeof(name254), "%s.%s.%s.%.58s.org", label63, label63, label63,
	         label63);
}

START_TEST(test_domain_valid)
{
	static const struct { const char *d; int ok; } cases[] = {
		{ "example.org", 1 },
		{ "Example.ORG.", 1 },
		{ "mail-1.example.org", 1 },
		{ "_spf.example.org", 1 },
		{ "xn--bcher-kva.example", 1 },
		{ "1.2.3.com", 1 },
		{ "org", 0 },                   /* one label: RFC 7208 4.3 */
		{ "", 0 },
		{ ".", 0 },
		{ "a..b", 0 },
		{ ".example.org", 0 },
		{ "192.0.2.1", 0 },
		{ "[192.0.2.1]", 0 },
		{ "exa mple.org", 0 },
		{ "b\xc3\xbc" "cher.example", 0 },
		{ "a@b.example", 0 },
	};
	char buf[300];

	for (size_t i = 0; i < N(cases); i++)
		ck_assert_msg(spf_domain_valid(cases[i].d) == cases[i].ok, "\"%s\": got %d, want %d",
		              cases[i].d, !cases[i].ok, cases[i].ok);
	names_setup();
	snprintf(buf, sizeof(buf), "%s.example", label63);
	ck_assert_int_eq(spf_domain_valid(buf), 1);
	snprintf(buf, sizeof(buf), "%sa.example", label63);
	ck_assert_msg(!spf_domain_valid(buf), "a 64-octet label passed");
	ck_assert_uint_eq(strlen(name254), 254);
	ck_assert_msg(!spf_domain_valid(name254), "a 254-octet name passed");
	ck_assert_msg(spf_domain_valid(name254 + 1), "a 253-octet name failed");
}
END_TEST

START_TEST(test_identity_domain)
{
	static const struct {
		const char *helo, *sender;
		enum spf_scope scope;
		const char *want;       /* NULL: -1 */
	} cases[] = {
		{ "client.test", "alice@Example.ORG", SPF_SCOPE_MFROM, "example.org" },
		{ "client.test", "\"a@b\"@example.org", SPF_SCOPE_MFROM, "example.org" },
		{ "client.test", "alice@example.org.", SPF_SCOPE_MFROM, "example.org" },
		{ "Mail.Example.ORG", "", SPF_SCOPE_MFROM, "mail.example.org" },
		{ "mail.example.org", "alice@example.net", SPF_SCOPE_HELO, "mail.example.org" },
		{ "client.test", "alice@[192.0.2.1]", SPF_SCOPE_MFROM, NULL },
		{ "client.test", "alice@localhost", SPF_SCOPE_MFROM, NULL },
		{ "client.test", "alice", SPF_SCOPE_MFROM, NULL },
		{ "[192.0.2.1]", "", SPF_SCOPE_MFROM, NULL },
		{ NULL, "", SPF_SCOPE_HELO, NULL },
	};
	char out[SPF_DOMAIN_MAX + 1];

	for (size_t i = 0; i < N(cases); i++) {
		struct spf_identity id = { "192.0.2.1", cases[i].helo, cases[i].sender, cases[i].scope };
		int ret = spf_identity_domain(&id, out);

		if (cases[i].want == NULL) {
			ck_assert_msg(ret < 0 && out[0] == '\0', "case %zu: got \"%s\", want none", i, out);
			continue;
		}
		ck_assert_msg(ret == 0 && strcmp(out, cases[i].want) == 0, "case %zu: got %d \"%s\", "
		              "want \"%s\"", i, ret, out, cases[i].want);
	}
}
END_TEST

/* ---------------------------------------------------------------- result mapping */

START_TEST(test_res_map)
{
	static const struct {
		int result, err;
		enum spf_limit limit;
		enum spf_res want;
		int problem;
	} cases[] = {
		{ SPF_RESULT_PASS, SPF_E_SUCCESS, SPF_LIMIT_NONE, SPF_RES_PASS, 0 },
		{ SPF_RESULT_FAIL, SPF_E_SUCCESS, SPF_LIMIT_NONE, SPF_RES_FAIL, 0 },
		{ SPF_RESULT_SOFTFAIL, SPF_E_SUCCESS, SPF_LIMIT_NONE, SPF_RES_SOFTFAIL, 0 },
		{ SPF_RESULT_NEUTRAL, SPF_E_SUCCESS, SPF_LIMIT_NONE, SPF_RES_NEUTRAL, 0 },
		{ SPF_RESULT_NONE, SPF_E_NOT_SPF, SPF_LIMIT_NONE, SPF_RES_NONE, 0 },
		{ SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR, SPF_LIMIT_NONE, SPF_RES_TEMPERROR, 1 },
		{ SPF_RESULT_PERMERROR, SPF_E_MULTIPLE_RECORDS, SPF_LIMIT_NONE, SPF_RES_PERMERROR, 1 },
		/* libspf2's "invalid": a failed lookup of the record, or a record it
		 * cannot compile (README pitfall 4 of libraries.md). */
		{ SPF_RESULT_INVALID, SPF_E_DNS_ERROR, SPF_LIMIT_NONE, SPF_RES_TEMPERROR, 1 },
		{ SPF_RESULT_INVALID, SPF_E_NOT_SPF, SPF_LIMIT_NONE, SPF_RES_PERMERROR, 1 },
		{ SPF_RESULT_INVALID, SPF_E_SUCCESS, SPF_LIMIT_NONE, SPF_RES_PERMERROR, 1 },
		/* A limit wins over whatever libspf2 made of the cut-short lookups. */
		{ SPF_RESULT_PASS, SPF_E_SUCCESS, SPF_LIMIT_TERMS, SPF_RES_PERMERROR, 1 },
		{ SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR, SPF_LIMIT_VOIDS, SPF_RES_PERMERROR, 1 },
		{ SPF_RESULT_INVALID, SPF_E_DNS_ERROR, SPF_LIMIT_RECORD, SPF_RES_PERMERROR, 1 },
	};
	char problem[128];

	for (size_t i = 0; i < N(cases); i++) {
		enum spf_res got = spf_res_map(cases[i].result, cases[i].err, cases[i].limit, problem,
		                               sizeof(problem));
		ck_assert_msg(got == cases[i].want, "case %zu: got %s, want %s", i, spf_res_name(got),
		              spf_res_name(cases[i].want));
		ck_assert_msg((problem[0] != '\0') == cases[i].problem, "case %zu: problem \"%s\"", i,
		              problem);
	}
}
END_TEST

/* ---------------------------------------------------------------- answers -> libspf2 */

static SPF_dns_rr_t *
build(ns_type type, enum sluice_async_status status, size_t n, const char *const *recs)
{
	struct sluice_dns_answer a = { status, n, recs, 300 };
	SPF_dns_rr_t *rr = spf_dns_rr_build(NULL, "example.org", type, &a);

	ck_assert_ptr_nonnull(rr);
	return rr;
}

START_TEST(test_rr_status)
{
	static const struct { enum sluice_async_status st; int herrno; } cases[] = {
		{ SLUICE_ASYNC_NXDOMAIN, HOST_NOT_FOUND },
		{ SLUICE_ASYNC_NODATA, NO_DATA },
		{ SLUICE_ASYNC_TEMPFAIL, TRY_AGAIN },
		{ SLUICE_ASYNC_TIMEOUT, TRY_AGAIN },
		{ SLUICE_ASYNC_CANCELLED, TRY_AGAIN },
		{ SLUICE_ASYNC_OK, NO_DATA },           /* success without records */
	};

	for (size_t i = 0; i < N(cases); i++) {
		SPF_dns_rr_t *rr = build(ns_t_a, cases[i].st, 0, NULL);
		ck_assert_msg(rr->herrno == cases[i].herrno, "status %d: got herrno %d, want %d",
		              cases[i].st, rr->herrno, cases[i].herrno);
		ck_assert_int_eq(rr->num_rr, 0);
		SPF_dns_rr_free(rr);
	}
}
END_TEST

START_TEST(test_rr_addresses)
{
	static const char *const a[] = { "192.0.2.1", "not an address", "192.0.2.2" };
	static const char *const aaaa[] = { "2001:db8::1", "192.0.2.1" };
	struct in_addr want4;
	struct in6_addr want6;
	SPF_dns_rr_t *rr = build(ns_t_a, SLUICE_ASYNC_OK, N(a), a);

	ck_assert_int_eq(rr->herrno, NETDB_SUCCESS);
	ck_assert_int_eq(rr->num_rr, 2);
	inet_pton(AF_INET, "192.0.2.2", &want4);
	ck_assert_int_eq(rr->rr[1]->a.s_addr, want4.s_addr);
	SPF_dns_rr_free(rr);
	rr = build(ns_t_aaaa, SLUICE_ASYNC_OK, N(aaaa), aaaa);
	ck_assert_int_eq(rr->num_rr, 1);
	inet_pton(AF_INET6, "2001:db8::1", &want6);
	ck_assert_int_eq(memcmp(&rr->rr[0]->aaaa, &want6, sizeof(want6)), 0);
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_rr_names)
{
	static const char *const mx[] = { "10 mx1.example.org.", "20 mx2.example.org", "0 ." };
	static const char *const nullmx[] = { "0 ." };
	const char *ptr[12];
	char names[12][32];
	SPF_dns_rr_t *rr = build(ns_t_mx, SLUICE_ASYNC_OK, N(mx), mx);

	ck_assert_int_eq(rr->num_rr, 2);
	ck_assert_str_eq(rr->rr[0]->mx, "mx1.example.org");
	ck_assert_str_eq(rr->rr[1]->mx, "mx2.example.org");
	SPF_dns_rr_free(rr);
	rr = build(ns_t_mx, SLUICE_ASYNC_OK, 1, nullmx);      /* RFC 7505 null MX */
	ck_assert_int_eq(rr->herrno, NO_DATA);
	SPF_dns_rr_free(rr);
	/* RFC 7208 4.6.4: PTR names past the tenth are ignored. */
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d.example.org", i);
		ptr[i] = names[i];
	}
	rr = build(ns_t_ptr, SLUICE_ASYNC_OK, 12, ptr);
	ck_assert_int_eq(rr->num_rr, SPF_MAX_NAMES);
	ck_assert_str_eq(rr->rr[9]->ptr, "h9.example.org");
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_rr_txt)
{
	static const char *const txt[] = { "google-site-verification=abc", "v=spf1 -all",
	                                   "v=spf10 +all" };
	static const char *const other[] = { "hello", "v=DKIM1; p=abc" };
	SPF_dns_rr_t *rr = build(ns_t_txt, SLUICE_ASYNC_OK, N(txt), txt);

	ck_assert_int_eq(rr->num_rr, 1);
	ck_assert_str_eq(rr->rr[0]->txt, "v=spf1 -all");
	SPF_dns_rr_free(rr);
	/* Only other TXT records: "no data" for SPF (else libspf2 says "invalid"). */
	rr = build(ns_t_txt, SLUICE_ASYNC_OK, N(other), other);
	ck_assert_int_eq(rr->herrno, NO_DATA);
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_txt_checks)
{
	char rec[SPF_RECORD_MAX + 2], term[SPF_TERM_MAX + 20];

	ck_assert_int_eq(spf_dns_txt_is_spf("v=spf1"), 1);
	ck_assert_int_eq(spf_dns_txt_is_spf("V=SPF1 -all"), 1);
	ck_assert_int_eq(spf_dns_txt_is_spf("v=spf1-all"), 0);
	ck_assert_int_eq(spf_dns_txt_is_spf("v=spf10 -all"), 0);
	ck_assert_int_eq(spf_dns_txt_is_spf(" v=spf1"), 0);
	ck_assert_int_eq(spf_dns_txt_is_spf(""), 0);
	/* SPF_RECORD_MAX octets fit, one more does not. */
	memset(rec, 'a', sizeof(rec));
	memcpy(rec, "v=spf1", 6);
	for (size_t i = 6; i < SPF_RECORD_MAX; i += 50)
		rec[i] = ' ';
	rec[SPF_RECORD_MAX] = '\0';
	ck_assert_int_eq(spf_dns_txt_fits(rec), 1);
	rec[SPF_RECORD_MAX] = 'a';
	rec[SPF_RECORD_MAX + 1] = '\0';
	ck_assert_int_eq(spf_dns_txt_fits(rec), 0);
	/* One term of SPF_TERM_MAX octets fits, one more does not. */
	memset(term, 'a', sizeof(term));
	memcpy(term, "v=spf1 ", 7);
	term[7 + SPF_TERM_MAX] = '\0';
	ck_assert_int_eq(spf_dns_txt_fits(term), 1);
	term[7 + SPF_TERM_MAX] = 'a';
	term[8 + SPF_TERM_MAX] = '\0';
	ck_assert_int_eq(spf_dns_txt_fits(term), 0);
}
END_TEST

START_TEST(test_name_clean)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "example.org.", "example.org" },
		{ "example.org", "example.org" },
		{ "x", "x" },
		{ "", NULL },
		{ ".", NULL },
		{ "a..b", NULL },
		{ "a b.example", NULL },
		{ "a\tb.example", NULL },
	};
	char out[SPF_DNS_NAME_BUF], in[400];

	for (size_t i = 0; i < N(cases); i++) {
		int ret = spf_dns_name_clean(cases[i].in, out);
		if (cases[i].want == NULL)
			ck_assert_msg(ret < 0, "\"%s\": got \"%s\", want an error", cases[i].in, out);
		else
			ck_assert_msg(ret == 0 && strcmp(out, cases[i].want) == 0, "\"%s\": got \"%s\"",
			              cases[i].in, ret == 0 ? out : "(error)");
	}
	/* RFC 7208 4.8: a name over 253 octets loses labels from the left. */
	names_setup();
	snprintf(in, sizeof(in), "extra.%s", name254);
	ck_assert_int_eq(spf_dns_name_clean(in, out), 0);
	ck_assert_str_eq(out, strchr(name254, '.') + 1);
	snprintf(in, sizeof(in), "%sa.example", label63);
	ck_assert_int_eq(spf_dns_name_clean(in, out), -1);
}
END_TEST

START_TEST(test_macro_fix)
{
	/* RFC 7208 7.3: a count of labels at least the value's own keeps it whole;
	 * libspf2 1.2.10 drops its first octet then, so the count goes. */
	static const struct spf_macro_vals v = {
		"strong-bad@email.example.com", "strong-bad", "email.example.com", "helo.example.org",
		"192.0.2.3", "in-addr", "mx.example.net",
	};
	static const struct { const char *in, *want; int n; } cases[] = {
		{ "v=spf1 exists:%{d4}.x -all", "v=spf1 exists:%{d}.x -all", 1 },
		{ "exists:%{d3}", "exists:%{d}", 1 },
		{ "exists:%{D3}", "exists:%{D}", 1 },
		{ "exists:%{d2}", "exists:%{d2}", 0 },
		{ "exists:%{d2r}", "exists:%{d2r}", 0 },
		{ "exists:%{d3r}.%{o9}", "exists:%{dr}.%{o}", 2 },
		{ "exists:%{l2-}", "exists:%{l-}", 1 },
		{ "exists:%{l1-}", "exists:%{l1-}", 0 },
		{ "exists:%{l1}", "exists:%{l}", 1 },           /* no '.' in strong-bad */
		{ "exists:%{i4}.%{i3}", "exists:%{i}.%{i3}", 1 },
		{ "exists:%{p9}", "exists:%{p9}", 0 },           /* unknown until expanded */
		{ "exists:%%{d4}", "exists:%%{d4}", 0 },         /* "%%" is a literal */
		{ "exists:%{d4", "exists:%{d4", 0 },
		{ "exists:%{d}", "exists:%{d}", 0 },
		{ "x%", "x%", 0 },
	};
	char buf[200];

	for (size_t i = 0; i < N(cases); i++) {
		int n;

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		n = spf_dns_macro_fix(buf, &v, "email.example.com");
		ck_assert_msg(strcmp(buf, cases[i].want) == 0 && n == cases[i].n,
		              "\"%s\": got \"%s\" (%d), want \"%s\" (%d)", cases[i].in, buf, n,
		              cases[i].want, cases[i].n);
	}
}
END_TEST

/* ---------------------------------------------------------------- texts */

static void
unfold(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in != '\0' && n + 1 < len; in++) {
		if (in[0] == '\n' && in[1] == '\t') {
			out[n++] = ' ';
			in++;
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
}

/* Every physical line of "Received-SPF: value" within 78 octets. */
static void
assert_folded(const char *value)
{
	size_t line = strlen("Received-SPF: ");

	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\n') {
			ck_assert_msg(p[1] == '\t', "a line break without a tab in \"%s\"", value);
			line = 0;
			continue;
		}
		ck_assert_msg(*p != '\r', "CR in \"%s\"", value);
		line++;
		ck_assert_msg(line <= 78, "a line over 78 octets in \"%s\"", value);
	}
}

static const struct {
	struct spf_outcome o;
	struct spf_identity id;
	const char *receiver;
	const char *want;           /* unfolded */
} received_cases[] = {
	/* RFC 7208 9.1's first example, with our comment words. */
	{ { SPF_RES_PASS, SPF_SCOPE_MFROM, "example.com", "" },
	  { "192.0.2.1", "foo.example.com", "myname@example.com", SPF_SCOPE_MFROM },
	  "mybox.example.org",
	  "pass (mybox.example.org: domain of example.com designates 192.0.2.1 as permitted "
	  "sender) receiver=mybox.example.org; client-ip=192.0.2.1; "
	  "envelope-from=\"myname@example.com\"; helo=foo.example.com; identity=mailfrom;" },
	{ { SPF_RES_FAIL, SPF_SCOPE_MFROM, "example.com", "" },
	  { "2001:db8::1", "[192.0.2.9]", "a\"b\\c\x01@example.com", SPF_SCOPE_MFROM },
	  NULL,
	  "fail (domain of example.com does not designate 2001:db8::1 as permitted sender) "
	  "client-ip=\"2001:db8::1\"; envelope-from=\"a\\\"b\\\\c?@example.com\"; "
	  "helo=\"[192.0.2.9]\"; identity=mailfrom;" },
	{ { SPF_RES_SOFTFAIL, SPF_SCOPE_HELO, "mail.example.org", "" },
	  { "192.0.2.1", "mail.example.org", "", SPF_SCOPE_HELO },
	  "mx.example.net",
	  "softfail (mx.example.net: domain of transitioning mail.example.org does not designate "
	  "192.0.2.1 as permitted sender) receiver=mx.example.net; client-ip=192.0.2.1; "
	  "helo=mail.example.org; identity=helo;" },
	{ { SPF_RES_PERMERROR, SPF_SCOPE_MFROM, "example.org", "more than 10 DNS-querying terms" },
	  { "192.0.2.1", "client.test", "alice@example.org", SPF_SCOPE_MFROM },
	  "mx.example.net",
	  "permerror (mx.example.net: permanent error in processing domain of example.org) "
	  "receiver=mx.example.net; client-ip=192.0.2.1; envelope-from=\"alice@example.org\"; "
	  "helo=client.test; problem=\"more than 10 DNS-querying terms\"; identity=mailfrom;" },
	{ { SPF_RES_NONE, SPF_SCOPE_MFROM, "", "" },
	  { "192.0.2.1", "client.test", "alice@[192.0.2.1]", SPF_SCOPE_MFROM },
	  "mx.example.net",
	  "none (mx.example.net: no valid domain to check) receiver=mx.example.net; "
	  "client-ip=192.0.2.1; envelope-from=\"alice@[192.0.2.1]\"; helo=client.test; "
	  "identity=mailfrom;" },
};

START_TEST(test_received)
{
	char buf[SPF_TEXT_MAX], flat[SPF_TEXT_MAX];
	int n = spf_received_build(buf, sizeof(buf), &received_cases[_i].o, &received_cases[_i].id,
	                           received_cases[_i].receiver);

	ck_assert_msg(n > 0, "case %d: does not fit", _i);
	ck_assert_int_eq((size_t)n, strlen(buf));
	assert_folded(buf);
	unfold(buf, flat, sizeof(flat));
	ck_assert_msg(strcmp(flat, received_cases[_i].want) == 0, "case %d:\ngot  %s\nwant %s", _i,
	              flat, received_cases[_i].want);
}
END_TEST

START_TEST(test_received_too_long)
{
	struct spf_outcome o = { SPF_RES_PASS, SPF_SCOPE_MFROM, "example.org", "" };
	struct spf_identity id = { "192.0.2.1", "client.test", "alice@example.org", SPF_SCOPE_MFROM };
	char buf[40];

	ck_assert_int_eq(spf_received_build(buf, sizeof(buf), &o, &id, NULL), -1);
}
END_TEST

START_TEST(test_authres)
{
	struct spf_outcome mfrom = { SPF_RES_FAIL, SPF_SCOPE_MFROM, "example.org", "" };
	struct spf_outcome helo = { SPF_RES_PASS, SPF_SCOPE_HELO, "mail.example.org", "" };
	struct spf_outcome bad = { SPF_RES_NONE, SPF_SCOPE_MFROM, "", "" };
	char buf[200];

	/* RFC 8601 2.7.2: smtp.mailfrom, or smtp.helo for the HELO identity. */
	ck_assert_int_gt(spf_authres_build(buf, sizeof(buf), &mfrom), 0);
	ck_assert_str_eq(buf, "spf=fail smtp.mailfrom=example.org");
	ck_assert_int_gt(spf_authres_build(buf, sizeof(buf), &helo), 0);
	ck_assert_str_eq(buf, "spf=pass smtp.helo=mail.example.org");
	ck_assert_int_gt(spf_authres_build(buf, sizeof(buf), &bad), 0);
	ck_assert_str_eq(buf, "spf=none");
	ck_assert_int_eq(spf_authres_build(buf, 10, &mfrom), -1);
}
END_TEST

START_TEST(test_replies)
{
	/* RFC 7372: X.7.23 SPF validation failed, X.7.24 SPF validation error. */
	static const struct {
		enum spf_res res;
		enum spf_act act;
		const char *code, *ecode;
	} cases[] = {
		{ SPF_RES_FAIL, SPF_ACT_REJECT, "550", "5.7.23" },
		{ SPF_RES_FAIL, SPF_ACT_TEMPFAIL, "451", "4.7.23" },
		{ SPF_RES_SOFTFAIL, SPF_ACT_REJECT, "550", "5.7.23" },
		{ SPF_RES_TEMPERROR, SPF_ACT_TEMPFAIL, "451", "4.7.24" },
		{ SPF_RES_PERMERROR, SPF_ACT_REJECT, "550", "5.7.24" },
		{ SPF_RES_PERMERROR, SPF_ACT_TEMPFAIL, "451", "4.7.24" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct spf_outcome o = { cases[i].res, SPF_SCOPE_MFROM, "example.org", "x" };
		struct spf_reply r;

		spf_reply_build(&r, cases[i].act, &o, "192.0.2.1");
		ck_assert_msg(strcmp(r.code, cases[i].code) == 0 && strcmp(r.ecode, cases[i].ecode) == 0,
		              "%s/%s: got %s %s, want %s %s", spf_res_name(cases[i].res),
		              spf_act_name(cases[i].act), r.code, r.ecode, cases[i].code, cases[i].ecode);
		ck_assert_msg(strstr(r.text, "example.org") != NULL, "no domain in \"%s\"", r.text);
		ck_assert_msg(strlen(r.text) < 400, "reply too long");
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tcase_create("pure");
	SRunner *sr;
	int nf;

	tcase_add_loop_test(tc, test_action_parse, 0, N(action_cases));
	tcase_add_test(tc, test_policy_defaults);
	tcase_add_test(tc, test_res_names);
	tcase_add_loop_test(tc, test_cidr, 0, N(cidr_cases));
	tcase_add_test(tc, test_skip_list);
	tcase_add_test(tc, test_addr_loopback_and_format);
	tcase_add_test(tc, test_domain_valid);
	tcase_add_test(tc, test_identity_domain);
	tcase_add_test(tc, test_res_map);
	tcase_add_test(tc, test_rr_status);
	tcase_add_test(tc, test_rr_addresses);
	tcase_add_test(tc, test_rr_names);
	tcase_add_test(tc, test_rr_txt);
	tcase_add_test(tc, test_txt_checks);
	tcase_add_test(tc, test_name_clean);
	tcase_add_test(tc, test_macro_fix);
	tcase_add_loop_test(tc, test_received, 0, N(received_cases));
	tcase_add_test(tc, test_received_too_long);
	tcase_add_test(tc, test_authres);
	tcase_add_test(tc, test_replies);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_add_suite(sr, spf_eval_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
