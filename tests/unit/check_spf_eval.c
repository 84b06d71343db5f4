/* check_spf_eval.c - whole SPF evaluations (libspf2 over our DNS layer) against
 * a DNS table: every result, include and redirect, macros, the lookup limits.
 * Expected results and names come from RFC 7208 (sections cited per test). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_check.h"
#include "spf_dns.h"

Suite *spf_eval_suite(void);

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- the DNS table */

#define ZONE_MAX 200
#define LOG_MAX 300

struct zrec {
	char *name;
	enum sluice_dns_type type;
	enum sluice_async_status status;
	char *recs[16];
	size_t n;
};

static struct zrec zone[ZONE_MAX];
static size_t nzone;
static char qlog[LOG_MAX][300];          /* "TYPE name" of every query, in order */
static size_t nq;
static struct spf_checker *checker;

static const char *
type_name(enum sluice_dns_type t)
{
	switch (t) {
	case SLUICE_DNS_A: return "A";
	case SLUICE_DNS_AAAA: return "AAAA";
	case SLUICE_DNS_MX: return "MX";
	case SLUICE_DNS_PTR: return "PTR";
	case SLUICE_DNS_TXT: return "TXT";
	default: return "?";
	}
}

/* Records of name and type: the NULL-terminated strings after type. */
static void
z(const char *name, enum sluice_dns_type type, ...)
{
	struct zrec *r = &zone[nzone++];
	const char *s;
	va_list ap;

	ck_assert_uint_le(nzone, ZONE_MAX);
	r->name = strdup(name);
	r->type = type;
	r->status = SLUICE_ASYNC_OK;
	va_start(ap, type);
	while ((s = va_arg(ap, const char *)) != NULL)
		r->recs[r->n++] = strdup(s);
	va_end(ap);
}

/* A lookup of name and type that fails with status. */
static void
zfail(const char *name, enum sluice_dns_type type, enum sluice_async_status status)
{
	z(name, type, (const char *)NULL);
	zone[nzone - 1].status = status;
}

static struct sluice_dns_answer *
answer_new(enum sluice_async_status st, const struct zrec *r)
{
	struct sluice_dns_answer *a = calloc(1, sizeof(*a));
	const char **recs = calloc(17, sizeof(char *));

	a->status = st;
	a->ttl = 300;
	for (size_t i = 0; r != NULL && i < r->n; i++)
		recs[i] = strdup(r->recs[i]);
	a->count = r != NULL ? r->n : 0;
	a->records = recs;
	return a;
}

static void
answer_free(struct sluice_dns_answer *a)
{
	for (size_t i = 0; i < a->count; i++)
		free((char *)a->records[i]);
	free((void *)a->records);
	free(a);
}

/* Like a resolver: the records, NODATA when the name has others, else NXDOMAIN. */
static struct sluice_dns_answer *
fake_query(const char *name, enum sluice_dns_type type)
{
	int name_exists = 0;

	if (nq < LOG_MAX)
		snprintf(qlog[nq++], sizeof(qlog[0]), "%s %s", type_name(type), name);
	for (size_t i = 0; i < nzone; i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		name_exists = 1;
		if (zone[i].type != type)
			continue;
		if (zone[i].status != SLUICE_ASYNC_OK)
			return answer_new(zone[i].status, NULL);
		return answer_new(SLUICE_ASYNC_OK, &zone[i]);
	}
	return answer_new(name_exists ? SLUICE_ASYNC_NODATA : SLUICE_ASYNC_NXDOMAIN, NULL);
}

static const struct spf_resolver fake = { fake_query, answer_free };

static void
setup(void)
{
	nzone = nq = 0;
	checker = spf_checker_new("mx.example.net");
	ck_assert_ptr_nonnull(checker);
}

static void
teardown(void)
{
	for (size_t i = 0; i < nzone; i++) {
		free(zone[i].name);
		for (size_t j = 0; j < zone[i].n; j++)
			free(zone[i].recs[j]);
	}
	memset(zone, 0, sizeof(zone));
	nzone = 0;
	spf_checker_free(&checker);
}

static enum spf_res
check_full(const char *ip, const char *helo, const char *sender, enum spf_scope scope,
           struct spf_outcome *o)
{
	struct spf_identity id = { ip, helo, sender, scope };

	nq = 0;
	spf_check(checker, &fake, &id, o);
	return o->result;
}

/* MAIL FROM alice@example.org from ip, HELO client.test. */
static enum spf_res
check_ip(const char *ip)
{
	struct spf_outcome o;

	return check_full(ip, "client.test", "alice@example.org", SPF_SCOPE_MFROM, &o);
}

#define ASSERT_RES(got, want) \
	ck_assert_msg((got) == (want), "got %s, want %s", spf_res_name(got), spf_res_name(want))

static int
queried(const char *what)
{
	for (size_t i = 0; i < nq; i++)
		if (strcasecmp(qlog[i], what) == 0)
			return 1;
	return 0;
}

static void
qlog_dump(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nq && n + 2 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", qlog[i]);
}

/* ---------------------------------------------------------------- the seven results */

START_TEST(test_pass_fail)
{
	struct spf_outcome o;

	z("example.org", SLUICE_DNS_TXT, "v=spf1 ip4:192.0.2.0/24 -all", NULL);
	ASSERT_RES(check_full("192.0.2.10", "client.test", "alice@example.org", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PASS);
	ck_assert_str_eq(o.domain, "example.org");
	ck_assert_int_eq(o.scope, SPF_SCOPE_MFROM);
	ck_assert_str_eq(o.problem, "");
	ASSERT_RES(check_ip("198.51.100.1"), SPF_RES_FAIL);
	ASSERT_RES(check_ip("192.0.3.1"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_softfail_neutral)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 ip4:192.0.2.0/24 ~all", NULL);
	z("neutral.example", SLUICE_DNS_TXT, "v=spf1 ?all", NULL);
	z("noall.example", SLUICE_DNS_TXT, "v=spf1 ip4:192.0.2.0/24", NULL);
	ASSERT_RES(check_ip("198.51.100.1"), SPF_RES_SOFTFAIL);
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_PASS);
	{
		struct spf_outcome o;
		ASSERT_RES(check_full("198.51.100.1", "c.test", "a@neutral.example", SPF_SCOPE_MFROM,
		                      &o), SPF_RES_NEUTRAL);
		/* RFC 7208 4.7: no mechanism matches and no redirect: neutral. */
		ASSERT_RES(check_full("198.51.100.1", "c.test", "a@noall.example", SPF_SCOPE_MFROM,
		                      &o), SPF_RES_NEUTRAL);
	}
}
END_TEST

START_TEST(test_none)
{
	struct spf_outcome o;

	/* RFC 7208 4.3: no such domain; 4.5: no SPF record among the TXT ones. */
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_NONE);
	z("other.example", SLUICE_DNS_TXT, "google-site-verification=abc", "v=spf10 +all", NULL);
	z("nodata.example", SLUICE_DNS_MX, "10 mx.nodata.example", NULL);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@other.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_NONE);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@nodata.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_NONE);
	ck_assert_str_eq(o.problem, "");
}
END_TEST

START_TEST(test_temperror)
{
	struct spf_outcome o;

	/* RFC 7208 4.4: a failed lookup of the record is temperror (libspf2 says
	 * "invalid" there). */
	zfail("example.org", SLUICE_DNS_TXT, SLUICE_ASYNC_TEMPFAIL);
	zfail("timeout.example", SLUICE_DNS_TXT, SLUICE_ASYNC_TIMEOUT);
	z("inc.example", SLUICE_DNS_TXT, "v=spf1 include:broken.example -all", NULL);
	zfail("broken.example", SLUICE_DNS_TXT, SLUICE_ASYNC_TEMPFAIL);
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_TEMPERROR);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@timeout.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_TEMPERROR);
	ck_assert_str_ne(o.problem, "");
	/* 5.2: an include whose check_host returns temperror. */
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@inc.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_TEMPERROR);
}
END_TEST

START_TEST(test_permerror)
{
	static const char *const records[] = {
		"v=spf1 foo:bar -all",                  /* 4.6: unknown mechanism */
		"v=spf1 ip4:192.0.2.0/33 -all",         /* 4.6: bad CIDR */
		"v=spf1 include:nothing.example -all",  /* 5.2: include of "none" */
		"v=spf1 redirect=nothing.example",      /* 6.1: redirect to "none" */
	};
	struct spf_outcome o;

	for (size_t i = 0; i < N(records); i++) {
		teardown();
		setup();
		z("example.org", SLUICE_DNS_TXT, records[i], NULL);
		ASSERT_RES(check_full("192.0.2.1", "c.test", "a@example.org", SPF_SCOPE_MFROM, &o),
		           SPF_RES_PERMERROR);
		ck_assert_msg(o.problem[0] != '\0', "\"%s\": no problem text", records[i]);
	}
	/* 4.5: two SPF records. */
	z("two.example", SLUICE_DNS_TXT, "v=spf1 +all", "v=spf1 -all", NULL);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@two.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PERMERROR);
}
END_TEST

/* ---------------------------------------------------------------- include, redirect */

START_TEST(test_include)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 -all",
	  NULL);
	z("_spf.example.net", SLUICE_DNS_TXT, "v=spf1 ip4:203.0.113.0/24 -all", NULL);
	/* 5.2: the include matches when its check_host passes ... */
	ASSERT_RES(check_ip("203.0.113.5"), SPF_RES_PASS);
	ck_assert(queried("TXT _spf.example.net"));
	/* ... and its fail is no match: evaluation goes on. */
	ASSERT_RES(check_ip("192.0.2.5"), SPF_RES_PASS);
	ASSERT_RES(check_ip("198.51.100.1"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_include_softfail_is_no_match)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 -include:soft.example.net ~all", NULL);
	z("soft.example.net", SLUICE_DNS_TXT, "v=spf1 ip4:203.0.113.0/24 ~all", NULL);
	/* 5.2: softfail of the include: not a match, so its "-" prefix never applies. */
	ASSERT_RES(check_ip("198.51.100.1"), SPF_RES_SOFTFAIL);
	ASSERT_RES(check_ip("203.0.113.1"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_redirect)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 ip4:192.0.2.0/24 redirect=_spf.example.net", NULL);
	z("_spf.example.net", SLUICE_DNS_TXT, "v=spf1 ip4:203.0.113.0/24 ~all", NULL);
	z("all.example", SLUICE_DNS_TXT, "v=spf1 -all redirect=_spf.example.net", NULL);
	ASSERT_RES(check_ip("192.0.2.9"), SPF_RES_PASS);
	/* 6.1: the redirect target's result is the result. */
	ASSERT_RES(check_ip("203.0.113.9"), SPF_RES_PASS);
	ASSERT_RES(check_ip("198.51.100.1"), SPF_RES_SOFTFAIL);
	/* 6.1: with an "all" the redirect is never reached. */
	{
		struct spf_outcome o;
		ASSERT_RES(check_full("203.0.113.9", "c.test", "a@all.example", SPF_SCOPE_MFROM, &o),
		           SPF_RES_FAIL);
	}
}
END_TEST

/* ---------------------------------------------------------------- a, mx, ip6, ptr */

START_TEST(test_a_mx)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 a mx a:hosts.example.org/24 -all", NULL);
	z("example.org", SLUICE_DNS_A, "192.0.2.20", NULL);
	z("example.org", SLUICE_DNS_MX, "10 mail.example.org.", "20 mail2.example.org", NULL);
	z("mail.example.org", SLUICE_DNS_A, "192.0.2.25", NULL);
	z("mail2.example.org", SLUICE_DNS_A, "192.0.2.26", NULL);
	z("hosts.example.org", SLUICE_DNS_A, "198.51.100.1", NULL);
	ASSERT_RES(check_ip("192.0.2.20"), SPF_RES_PASS);
	ASSERT_RES(check_ip("192.0.2.25"), SPF_RES_PASS);
	ASSERT_RES(check_ip("192.0.2.26"), SPF_RES_PASS);
	ASSERT_RES(check_ip("198.51.100.77"), SPF_RES_PASS);     /* a:.../24 */
	ASSERT_RES(check_ip("192.0.2.27"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_ip6)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 ip6:2001:db8::/32 a:v6.example.org -all", NULL);
	z("v6.example.org", SLUICE_DNS_AAAA, "2001:db9::25", NULL);
	z("v6.example.org", SLUICE_DNS_A, "192.0.2.25", NULL);
	ASSERT_RES(check_ip("2001:db8::5"), SPF_RES_PASS);
	ASSERT_RES(check_ip("2001:db8:ffff::1"), SPF_RES_PASS);
	/* 5.3: an IPv6 client is compared with AAAA records only. */
	ASSERT_RES(check_ip("2001:db9::25"), SPF_RES_PASS);
	ck_assert(queried("AAAA v6.example.org"));
	ck_assert(!queried("A v6.example.org"));
	ASSERT_RES(check_ip("2001:db9::1"), SPF_RES_FAIL);
	/* An IPv4 client never matches ip6, and its a: looks at A records. */
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_FAIL);
	ASSERT_RES(check_ip("192.0.2.25"), SPF_RES_PASS);
}
END_TEST

START_TEST(test_ptr_names_past_ten_ignored)
{
	char name[64];

	z("example.org", SLUICE_DNS_TXT, "v=spf1 ptr -all", NULL);
	z("3.2.0.192.in-addr.arpa", SLUICE_DNS_PTR, "h0.example.org", "h1.example.org",
	  "h2.example.org", "h3.example.org", "h4.example.org", "h5.example.org", "h6.example.org",
	  "h7.example.org", "h8.example.org", "h9.example.org", "h10.example.org",
	  "h11.example.org", NULL);
	z("4.2.0.192.in-addr.arpa", SLUICE_DNS_PTR, "h4.example.org", NULL);
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "h%d.example.org", i);
		z(name, SLUICE_DNS_A, i == 11 ? "192.0.2.3" : "192.0.2.4", NULL);
	}
	/* 4.6.4: only the first 10 PTR names are validated; h11 is not one. */
	ASSERT_RES(check_ip("192.0.2.3"), SPF_RES_FAIL);
	ck_assert(!queried("A h11.example.org"));
	ASSERT_RES(check_ip("192.0.2.4"), SPF_RES_PASS);
}
END_TEST

/* ---------------------------------------------------------------- macros */

/* RFC 7208 7.4's examples: sender strong-bad@email.example.com, client
 * 192.0.2.3 (or 2001:db8::cb01), each macro as the name of an exists:. */
static const struct {
	const char *ip;
	const char *macro;
	const char *name;
} macro_cases[] = {
	{ "192.0.2.3", "%{s}", "strong-bad@email.example.com" },
	{ "192.0.2.3", "%{o}", "email.example.com" },
	{ "192.0.2.3", "%{d}", "email.example.com" },
	{ "192.0.2.3", "%{d4}", "email.example.com" },
	{ "192.0.2.3", "%{d3}", "email.example.com" },
	{ "192.0.2.3", "%{d2}", "example.com" },
	{ "192.0.2.3", "%{d1}", "com" },
	{ "192.0.2.3", "%{dr}", "com.example.email" },
	{ "192.0.2.3", "%{d2r}", "example.email" },
	{ "192.0.2.3", "%{l}", "strong-bad" },
	{ "192.0.2.3", "%{l-}", "strong.bad" },
	{ "192.0.2.3", "%{lr}", "strong-bad" },
	{ "192.0.2.3", "%{lr-}", "bad.strong" },
	{ "192.0.2.3", "%{l1r-}", "strong" },
	{ "192.0.2.3", "%{i}.x.example.net", "192.0.2.3.x.example.net" },
	{ "192.0.2.3", "%{h}.x.example.net", "helo.example.org.x.example.net" },
	{ "192.0.2.3", "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
	{ "192.0.2.3", "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
	{ "192.0.2.3", "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "192.0.2.3", "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "192.0.2.3", "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net" },
	{ "2001:db8::cb01", "%{ir}.%{v}._spf.%{d2}",
	  "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com" },
};

START_TEST(test_macros)
{
	char rec[200], want[300], got[4000];
	struct spf_outcome o;

	snprintf(rec, sizeof(rec), "v=spf1 exists:%s -all", macro_cases[_i].macro);
	z("email.example.com", SLUICE_DNS_TXT, rec, NULL);
	z(macro_cases[_i].name, SLUICE_DNS_A, "127.0.0.2", NULL);
	snprintf(want, sizeof(want), "A %s", macro_cases[_i].name);
	/* exists: matches when the expanded name has an A record: pass. */
	check_full(macro_cases[_i].ip, "helo.example.org", "strong-bad@email.example.com",
	           SPF_SCOPE_MFROM, &o);
	qlog_dump(got, sizeof(got));
	ck_assert_msg(o.result == SPF_RES_PASS, "%s: got %s, want pass; lookups: %s",
	              macro_cases[_i].macro, spf_res_name(o.result), got);
	ck_assert_msg(queried(want), "%s: want the lookup \"%s\", got: %s", macro_cases[_i].macro,
	              want, got);
}
END_TEST

START_TEST(test_macro_p)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 exists:%{p}.p.example.net -all", NULL);
	z("3.2.0.192.in-addr.arpa", SLUICE_DNS_PTR, "host.example.org", NULL);
	z("host.example.org", SLUICE_DNS_A, "192.0.2.3", NULL);
	z("host.example.org.p.example.net", SLUICE_DNS_A, "127.0.0.2", NULL);
	/* 7.3: %{p} is the validated name of the client. */
	ASSERT_RES(check_ip("192.0.2.3"), SPF_RES_PASS);
	/* Not validated (no A record back to the client): "unknown". */
	ASSERT_RES(check_ip("192.0.2.4"), SPF_RES_FAIL);
	ck_assert(queried("A unknown.p.example.net"));
}
END_TEST

/* ---------------------------------------------------------------- the limits */

/* example.org's record: n "a:aK.example.org" terms (none matching) then tail. */
static void
many_a(const char *domain, int from, int n, const char *tail)
{
	char rec[1500], name[64];
	size_t len = (size_t)snprintf(rec, sizeof(rec), "v=spf1");

	for (int i = from; i < from + n; i++) {
		snprintf(name, sizeof(name), "a%d.example.org", i);
		len += (size_t)snprintf(rec + len, sizeof(rec) - len, " a:%s", name);
		z(name, SLUICE_DNS_A, "198.51.100.200", NULL);
	}
	snprintf(rec + len, sizeof(rec) - len, " %s", tail);
	z(domain, SLUICE_DNS_TXT, rec, NULL);
}

START_TEST(test_ten_terms)
{
	/* 4.6.4: ten DNS-querying terms are allowed ... */
	many_a("example.org", 1, 10, "-all");
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_eleven_terms)
{
	struct spf_outcome o;

	/* ... an eleventh is permerror, even one that would match. */
	many_a("example.org", 1, 10, "a:hit.example.org -all");
	z("hit.example.org", SLUICE_DNS_A, "192.0.2.1", NULL);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@example.org", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PERMERROR);
	ck_assert_str_eq(o.problem, "more than 10 DNS-querying terms");
	ck_assert(!queried("A hit.example.org"));
}
END_TEST

START_TEST(test_terms_counted_across_includes)
{
	/* The limit is per evaluation: 3 includes of 3 a: terms each = 12 terms. */
	z("example.org", SLUICE_DNS_TXT, "v=spf1 include:i1.example.org include:i2.example.org "
	  "include:i3.example.org ip4:192.0.2.0/24 -all", NULL);
	many_a("i1.example.org", 1, 3, "-all");
	many_a("i2.example.org", 4, 3, "-all");
	many_a("i3.example.org", 7, 3, "-all");
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_PERMERROR);
}
END_TEST

START_TEST(test_ten_terms_across_includes_and_redirect)
{
	/* 2 includes + 6 a: + redirect + 1 a: in its target = 10 terms: fine. */
	z("example.org", SLUICE_DNS_TXT, "v=spf1 include:i1.example.org include:i2.example.org "
	  "redirect=r.example.org", NULL);
	many_a("i1.example.org", 1, 3, "-all");
	many_a("i2.example.org", 4, 3, "-all");
	many_a("r.example.org", 7, 1, "ip4:192.0.2.0/24 -all");
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_PASS);
}
END_TEST

START_TEST(test_mx_names_are_not_terms)
{
	/* mx + 9 a: = 10 terms; the addresses of its 5 MX names count for none. */
	many_a("example.org", 1, 9, "mx -all");
	z("example.org", SLUICE_DNS_MX, "10 m1.example.org", "10 m2.example.org",
	  "10 m3.example.org", "10 m4.example.org", "10 m5.example.org", NULL);
	z("m1.example.org", SLUICE_DNS_A, "198.51.100.1", NULL);
	z("m2.example.org", SLUICE_DNS_A, "198.51.100.2", NULL);
	z("m3.example.org", SLUICE_DNS_A, "198.51.100.3", NULL);
	z("m4.example.org", SLUICE_DNS_A, "198.51.100.4", NULL);
	z("m5.example.org", SLUICE_DNS_A, "192.0.2.5", NULL);
	ASSERT_RES(check_ip("192.0.2.5"), SPF_RES_PASS);
	ASSERT_RES(check_ip("192.0.2.6"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_void_lookups)
{
	struct spf_outcome o;

	/* 4.6.4: two void lookups are allowed (NXDOMAIN, or no records) ... */
	z("example.org", SLUICE_DNS_TXT, "v=spf1 a:nx1.example.org a:nodata.example.org "
	  "ip4:192.0.2.0/24 -all", NULL);
	z("nodata.example.org", SLUICE_DNS_MX, "10 mx.example.org", NULL);
	/* ... a third is permerror, whatever would have matched after it. */
	z("three.example", SLUICE_DNS_TXT, "v=spf1 a:nx1.example.org a:nodata.example.org "
	  "mx:nx2.example.org ip4:192.0.2.0/24 -all", NULL);
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_PASS);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@three.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PERMERROR);
	ck_assert_str_eq(o.problem, "more than 2 void DNS lookups");
}
END_TEST

START_TEST(test_void_mx_names_not_counted)
{
	/* An IPv6 client and MX names with A records only: each AAAA lookup is
	 * empty, but they belong to one mx term, which found its MX records. */
	z("example.org", SLUICE_DNS_TXT, "v=spf1 mx -all", NULL);
	z("example.org", SLUICE_DNS_MX, "10 m1.example.org", "20 m2.example.org",
	  "30 m3.example.org", NULL);
	z("m1.example.org", SLUICE_DNS_A, "192.0.2.1", NULL);
	z("m2.example.org", SLUICE_DNS_A, "192.0.2.2", NULL);
	z("m3.example.org", SLUICE_DNS_A, "192.0.2.3", NULL);
	ASSERT_RES(check_ip("2001:db8::1"), SPF_RES_FAIL);
}
END_TEST

START_TEST(test_record_too_long)
{
	char rec[SPF_RECORD_MAX + 100], term[SPF_TERM_MAX + 40], big[3000];
	struct spf_outcome o;
	size_t len = (size_t)snprintf(rec, sizeof(rec), "v=spf1");

	while (len + 20 < sizeof(rec) - 10)
		len += (size_t)snprintf(rec + len, sizeof(rec) - len, " ip4:198.51.100.1");
	snprintf(rec + len, sizeof(rec) - len, " -all");
	z("example.org", SLUICE_DNS_TXT, rec, NULL);
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_PERMERROR);
	/* One over-long term (CVE-2023-42118 territory). */
	memset(term, 'a', sizeof(term));
	memcpy(term, "v=spf1 exists:", 14);
	memcpy(term + SPF_TERM_MAX + 20, ".x -all", 8);
	z("term.example", SLUICE_DNS_TXT, term, NULL);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@term.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PERMERROR);
	ck_assert_str_eq(o.problem, "SPF record too long");
	/* A long TXT record that is no SPF record is not ours to judge. */
	memset(big, 'v', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	z("big.example", SLUICE_DNS_TXT, big, "v=spf1 ip4:192.0.2.0/24 -all", NULL);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "a@big.example", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PASS);
}
END_TEST

START_TEST(test_failure_stops_lookups)
{
	char got[2000];

	z("example.org", SLUICE_DNS_TXT, "v=spf1 a:slow.example.org a:x.example.org "
	  "ip4:192.0.2.0/24 -all", NULL);
	zfail("slow.example.org", SLUICE_DNS_A, SLUICE_ASYNC_TIMEOUT);
	z("x.example.org", SLUICE_DNS_A, "198.51.100.1", NULL);
	/* 4.4/5: a failed lookup in a term is temperror, and nothing after it runs. */
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_TEMPERROR);
	qlog_dump(got, sizeof(got));
	ck_assert_msg(nq == 2, "want 2 lookups, got: %s", got);
}
END_TEST

START_TEST(test_exp_not_fetched)
{
	z("example.org", SLUICE_DNS_TXT, "v=spf1 -all exp=explain.example.org", NULL);
	z("explain.example.org", SLUICE_DNS_TXT, "Not from %{i}", NULL);
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_FAIL);
	ck_assert(!queried("TXT explain.example.org"));
}
END_TEST

/* ---------------------------------------------------------------- identities */

START_TEST(test_helo_identity)
{
	struct spf_outcome o;

	/* 2.3/2.4: the HELO check is check_host(ip, helo, postmaster@helo). */
	z("mail.example.org", SLUICE_DNS_TXT, "v=spf1 exists:%{l}.%{o}.l.example.net -all", NULL);
	z("postmaster.mail.example.org.l.example.net", SLUICE_DNS_A, "127.0.0.2", NULL);
	ASSERT_RES(check_full("192.0.2.1", "Mail.Example.ORG", "alice@example.net", SPF_SCOPE_HELO,
	                      &o), SPF_RES_PASS);
	ck_assert_int_eq(o.scope, SPF_SCOPE_HELO);
	ck_assert_str_eq(o.domain, "mail.example.org");
	ck_assert(queried("TXT mail.example.org"));
	/* The null sender's MAIL FROM identity is postmaster@helo too. */
	ASSERT_RES(check_full("192.0.2.1", "mail.example.org", "", SPF_SCOPE_MFROM, &o),
	           SPF_RES_PASS);
	ck_assert_str_eq(o.domain, "mail.example.org");
}
END_TEST

START_TEST(test_no_valid_domain_no_lookup)
{
	struct spf_outcome o;

	/* 4.3: a malformed or single-label domain: none, without asking DNS. */
	ASSERT_RES(check_full("192.0.2.1", "[192.0.2.1]", "", SPF_SCOPE_HELO, &o), SPF_RES_NONE);
	ck_assert_uint_eq(nq, 0);
	ASSERT_RES(check_full("192.0.2.1", "c.test", "alice@localhost", SPF_SCOPE_MFROM, &o),
	           SPF_RES_NONE);
	ck_assert_uint_eq(nq, 0);
	ck_assert_str_eq(o.domain, "");
}
END_TEST

START_TEST(test_case_insensitive)
{
	/* 4.6.1: mechanism names and the version are case-insensitive. */
	z("example.org", SLUICE_DNS_TXT, "V=SPF1 IP4:192.0.2.0/24 -ALL", NULL);
	ASSERT_RES(check_ip("192.0.2.1"), SPF_RES_PASS);
	ASSERT_RES(check_ip("198.51.100.1"), SPF_RES_FAIL);
}
END_TEST

Suite *
spf_eval_suite(void)
{
	Suite *s = suite_create("spf_eval");
	TCase *tc = tcase_create("eval");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pass_fail);
	tcase_add_test(tc, test_softfail_neutral);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_temperror);
	tcase_add_test(tc, test_permerror);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_include_softfail_is_no_match);
	tcase_add_test(tc, test_redirect);
	tcase_add_test(tc, test_a_mx);
	tcase_add_test(tc, test_ip6);
	tcase_add_test(tc, test_ptr_names_past_ten_ignored);
	tcase_add_loop_test(tc, test_macros, 0, N(macro_cases));
	tcase_add_test(tc, test_macro_p);
	tcase_add_test(tc, test_ten_terms);
	tcase_add_test(tc, test_eleven_terms);
	tcase_add_test(tc, test_terms_counted_across_includes);
	tcase_add_test(tc, test_ten_terms_across_includes_and_redirect);
	tcase_add_test(tc, test_mx_names_are_not_terms);
	tcase_add_test(tc, test_void_lookups);
	tcase_add_test(tc, test_void_mx_names_not_counted);
	tcase_add_test(tc, test_record_too_long);
	tcase_add_test(tc, test_failure_stops_lookups);
	tcase_add_test(tc, test_exp_not_fetched);
	tcase_add_test(tc, test_helo_identity);
	tcase_add_test(tc, test_no_valid_domain_no_lookup);
	tcase_add_test(tc, test_case_insensitive);
	suite_add_tcase(s, tc);
	return s;
}
