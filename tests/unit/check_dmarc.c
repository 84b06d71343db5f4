/* check_dmarc.c - the dmarc filter's pure parts: the From domain,
 * Organizational Domains, records (through libopendmarc), alignment, the
 * result, the disposition, the Authentication-Results clause and the
 * configuration words. Expected values come from RFC 5322, RFC 7489 and the
 * publicsuffix.org algorithm. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmarc_eval.h"
#include "dmarc_from.h"
#include "dmarc_psl.h"
#include "dmarc_record.h"

#define SYSTEM_PSL "/usr/share/publicsuffix/public_suffix_list.dat"

/* A list with each kind of rule (publicsuffix.org's own test cases use these). */
static const char fixture[] =
	"// a comment\n"
	"com\n"
	"org\n"
	"uk\n"
	"co.uk\n"
	"jp\n"
	"*.kawasaki.jp\n"
	"!city.kawasaki.jp\n"
	"*.ck\n"
	"!www.ck\n"
	"io\n"
	"github.io   trailing words are ignored\n"
	"\n"
	"// ===BEGIN PRIVATE DOMAINS===\r\n"
	"Blogspot.COM\r\n";

static struct dmarc_psl *
fixture_psl(void)
{
	struct dmarc_psl *psl = dmarc_psl_parse(fixture, strlen(fixture));

	ck_assert_ptr_nonnull(psl);
	return psl;
}

/* ---------------------------------------------------------------- the From field
 * RFC 5322 3.4 and 4.4, RFC 7489 6.6.1. */

#define OK DMARC_FROM_OK
#define NOADDR DMARC_FROM_NO_ADDRESS
#define SEVERAL DMARC_FROM_SEVERAL
#define BAD DMARC_FROM_BAD

static const struct {
	const char *value;        /* as received: leading blank, folding CRLFs */
	enum dmarc_from_status want;
	const char *domain;       /* on OK */
} from_cases[] = {
	{ " alice@example.org", OK, "example.org" },
	{ " Alice <alice@example.org>", OK, "example.org" },
	{ " A@EXAMPLE.ORG", OK, "example.org" },                 /* domains are case-insensitive */
	{ " \"Smith, John\" <john@example.org>", OK, "example.org" },   /* comma in quotes */
	{ " \"john@evil.example\" <john@example.org>", OK, "example.org" },
	{ " \"john@evil.example\"@example.org", OK, "example.org" },    /* quoted local part */
	{ " john@example.org (John Smith)", OK, "example.org" },
	{ " (comment, with comma) <john@example.org>", OK, "example.org" },
	/* RFC 5322 A.5: comments everywhere, nested, with a quoted-pair */
	{ " Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", OK, "silly.test" },
	{ " Alice\r\n <alice@example.org>", OK, "example.org" },  /* folded */
	{ " \"Alice\r\n Smith\" <alice@example.org>", OK, "example.org" },
	{ " <@relay.example:alice@example.org>", OK, "example.org" },   /* obs-route, RFC 5322 4.4 */
	{ " Jos\xc3\xa9 <jose@example.org>", OK, "example.org" },  /* UTF-8 display name */
	{ " a@xn--bcher-kva.example", OK, "xn--bcher-kva.example" },
	{ " a@mail_relay.example.org", OK, "mail_relay.example.org" },
	{ " a@example.org, b@EXAMPLE.org", OK, "example.org" },   /* several, one domain */
	{ " Friends: a@example.org, b@example.org;", OK, "example.org" },
	/* RFC 7489 6.6.1: several Author Domains */
	{ " a@example.org, b@example.net", SEVERAL, NULL },
	{ " A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", SEVERAL, NULL },
	/* no address at all */
	{ "", NOADDR, NULL },
	{ "   ", NOADDR, NULL },
	{ " Undisclosed recipients:;", NOADDR, NULL },
	{ " , ,", NOADDR, NULL },
	/* unparsable */
	{ " Joe", BAD, NULL },
	{ " <>", BAD, NULL },
	{ " Joe <>", BAD, NULL },
	{ " a@", BAD, NULL },
	{ " @example.org", BAD, NULL },
	{ " a@[192.0.2.1]", BAD, NULL },                          /* domain literal */
	{ " <a@example.org", BAD, NULL },
	{ " a@example.org>", BAD, NULL },
	{ " <a@example.org> <b@example.org>", BAD, NULL },
	{ " <<a@example.org>>", BAD, NULL },
	{ " Name <a@example.org> trailing", BAD, NULL },
	{ " \"unterminated <a@example.org>", BAD, NULL },
	{ " (unclosed comment a@example.org", BAD, NULL },
	{ " <a@example.org;>", BAD, NULL },
	{ " <@relay.example alice@example.org>", BAD, NULL },     /* route without ':' */
	{ " a@exa mple.org", BAD, NULL },
	{ " a@example..org", BAD, NULL },
	{ " a@.example.org", BAD, NULL },
	{ " a@example.org.", BAD, NULL },
	{ " a@-example.org", BAD, NULL },
	{ " a@example-.org", BAD, NULL },
	{ " a@ex!ample.org", BAD, NULL },
	{ " a@b\xc3\xbc" "cher.example", BAD, NULL },             /* a U-label: not a host name */
	{ " a@example.org, Joe", BAD, NULL },                      /* one bad element spoils all */
	{ " G1: a@example.org; G2: b@example.org; G3: c:", BAD, NULL },  /* group in a group */
};

START_TEST(test_from_domain)
{
	char domain[DMARC_DOMAIN_MAX + 1] = "";
	enum dmarc_from_status got = dmarc_from_domain(from_cases[_i].value, domain, sizeof(domain));

	ck_assert_msg(got == from_cases[_i].want, "From:%s: got %s, want %s", from_cases[_i].value,
	              dmarc_from_status_text(got), dmarc_from_status_text(from_cases[_i].want));
	if (from_cases[_i].domain != NULL)
		ck_assert_msg(strcmp(domain, from_cases[_i].domain) == 0, "From:%s: got \"%s\", want \"%s\"",
		              from_cases[_i].value, domain, from_cases[_i].domain);
}
END_TEST

START_TEST(test_from_label_lengths)
{
	char value[400], domain[DMARC_DOMAIN_MAX + 1];
	char label63[64], label64[65];

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(value, sizeof(value), " x@%s.example", label63);
	ck_assert_int_eq(dmarc_from_domain(value, domain, sizeof(domain)), OK);
	snprintf(value, sizeof(value), " x@%s.example", label64);
	ck_assert_msg(dmarc_from_domain(value, domain, sizeof(domain)) == BAD,
	              "a 64-octet label (RFC 1035 2.3.4: 63 at most) was accepted");
	/* 4 labels of 63 and one of 1: 4 * 64 + 1 = 257 octets, over 253 */
	snprintf(value, sizeof(value), " x@%s.%s.%s.%s.a", label63, label63, label63, label63);
	ck_assert_msg(dmarc_from_domain(value, domain, sizeof(domain)) == BAD,
	              "a 257-octet domain was accepted");
	/* the caller's buffer is too small: never written past */
	ck_assert_int_eq(dmarc_from_domain(" x@example.org", domain, 5), BAD);
}
END_TEST

/* ---------------------------------------------------------------- public suffixes */

static const struct {
	const char *domain;
	const char *org;          /* NULL: refused */
} org_cases[] = {
	{ "com", "com" },                           /* a public suffix is its own */
	{ "example.com", "example.com" },
	{ "www.example.com", "example.com" },
	{ "a.b.c.example.com", "example.com" },
	{ "example.co.uk", "example.co.uk" },       /* the longest rule wins */
	{ "www.example.co.uk", "example.co.uk" },
	{ "co.uk", "co.uk" },
	{ "c.kawasaki.jp", "c.kawasaki.jp" },       /* *.kawasaki.jp: c.kawasaki.jp is a suffix */
	{ "b.c.kawasaki.jp", "b.c.kawasaki.jp" },
	{ "a.b.c.kawasaki.jp", "b.c.kawasaki.jp" },
	{ "city.kawasaki.jp", "city.kawasaki.jp" }, /* the exception */
	{ "www.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "test.ck", "test.ck" },
	{ "b.test.ck", "b.test.ck" },
	{ "www.ck", "www.ck" },
	{ "www.www.ck", "www.ck" },
	{ "foo.github.io", "foo.github.io" },       /* private section rules count too */
	{ "a.foo.github.io", "foo.github.io" },
	{ "x.blogspot.com", "x.blogspot.com" },     /* rules are read in lower case */
	{ "example.example", "example.example" },   /* no rule: "*" */
	{ "b.example.example", "example.example" },
	{ "localhost", "localhost" },
	{ "", NULL },
	{ ".example.com", NULL },
	{ "example..com", NULL },
	{ "example.com.", NULL },
};

START_TEST(test_org_domain)
{
	struct dmarc_psl *psl = fixture_psl();
	char org[DMARC_DOMAIN_MAX + 1] = "";
	int rc = dmarc_psl_org_domain(psl, org_cases[_i].domain, org, sizeof(org));

	if (org_cases[_i].org == NULL)
		ck_assert_msg(rc < 0, "\"%s\": got \"%s\", want a refusal", org_cases[_i].domain, org);
	else
		ck_assert_msg(rc == 0 && strcmp(org, org_cases[_i].org) == 0,
		              "\"%s\": got %d \"%s\", want \"%s\"", org_cases[_i].domain, rc, org,
		              org_cases[_i].org);
	dmarc_psl_free(&psl);
	ck_assert_ptr_null(psl);
}
END_TEST

START_TEST(test_org_domain_small_buffer)
{
	struct dmarc_psl *psl = fixture_psl();
	char org[8];

	ck_assert_int_eq(dmarc_psl_org_domain(psl, "www.example.com", org, sizeof(org)), -1);
	ck_assert_int_eq(dmarc_psl_org_domain(psl, "www.ab.com", org, sizeof(org)), 0);
	ck_assert_str_eq(org, "ab.com");
	dmarc_psl_free(&psl);
}
END_TEST

/* The list Debian installs (package publicsuffix, a build dependency). */
START_TEST(test_org_domain_system_list)
{
	static const char *const cases[][2] = {
		{ "mail.example.org", "example.org" },
		{ "a.b.example.co.uk", "example.co.uk" },
		{ "foo.bar.github.io", "bar.github.io" },
		{ "www.city.kawasaki.jp", "city.kawasaki.jp" },
		{ "sub.example.test", "example.test" },     /* .test is not listed */
	};
	char err[256] = "", org[DMARC_DOMAIN_MAX + 1];
	struct dmarc_psl *psl = dmarc_psl_load(SYSTEM_PSL, err, sizeof(err));

	ck_assert_msg(psl != NULL, "%s", err);
	ck_assert_msg(dmarc_psl_count(psl) > 5000, "only %zu rules", dmarc_psl_count(psl));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(dmarc_psl_org_domain(psl, cases[i][0], org, sizeof(org)), 0);
		ck_assert_msg(strcmp(org, cases[i][1]) == 0, "\"%s\": got \"%s\", want \"%s\"",
		              cases[i][0], org, cases[i][1]);
	}
	dmarc_psl_free(&psl);
}
END_TEST

START_TEST(test_psl_load_errors)
{
	char err[256] = "", path[] = "/tmp/check_dmarc_psl.XXXXXX";
	int fd;

	ck_assert_ptr_null(dmarc_psl_load("/nonexistent/psl.dat", err, sizeof(err)));
	ck_assert_msg(strstr(err, "/nonexistent/psl.dat") != NULL, "error \"%s\" names no file", err);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "// only comments\n", 17), 17);
	close(fd);
	ck_assert_ptr_null(dmarc_psl_load(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "no rules") != NULL, "got \"%s\"", err);
	unlink(path);
}
END_TEST

/* ---------------------------------------------------------------- records */

static const struct {
	const char *txt;
	int dmarc;
} version_cases[] = {
	{ "v=DMARC1; p=none", 1 },
	{ "v=DMARC1", 1 },
	{ "v=DMARC1;p=reject", 1 },
	{ "V = DMARC1 ; p=none", 1 },      /* "v" is an ABNF string: any case; WSP around "=" */
	{ "v=dmarc1; p=none", 0 },         /* %x44.4d.41.52.43.31: upper case only */
	{ "v=DMARC1x; p=none", 0 },
	{ "v=DMARC10", 0 },
	{ "p=reject; v=DMARC1", 0 },       /* the version tag comes first (6.6.3 step 3) */
	{ " v=DMARC1; p=none", 0 },
	{ "v=spf1 -all", 0 },
	{ "", 0 },
};

START_TEST(test_is_dmarc)
{
	ck_assert_msg(dmarc_record_is_dmarc(version_cases[_i].txt) == version_cases[_i].dmarc,
	              "\"%s\": got %d, want %d", version_cases[_i].txt,
	              !version_cases[_i].dmarc, version_cases[_i].dmarc);
}
END_TEST

START_TEST(test_select)
{
	const char *one[] = { "v=spf1 -all", "v=DMARC1; p=none", "google-site-verification=x" };
	const char *none[] = { "v=spf1 -all" };
	const char *two[] = { "v=DMARC1; p=none", "v=spf1 -all", "v=DMARC1; p=reject" };

	ck_assert_int_eq(dmarc_record_select(one, 3), 1);
	ck_assert_int_eq(dmarc_record_select(none, 1), DMARC_RECORD_NONE);
	ck_assert_int_eq(dmarc_record_select(none, 0), DMARC_RECORD_NONE);
	ck_assert_int_eq(dmarc_record_select(two, 3), DMARC_RECORD_SEVERAL);   /* step 4 */
}
END_TEST

#define U DMARC_P_UNSET
#define N DMARC_P_NONE
#define Q DMARC_P_QUARANTINE
#define R DMARC_P_REJECT

static const struct {
	const char *txt;
	const char *org;          /* non-NULL: found at the Organizational Domain */
	int ok;
	enum dmarc_p p, sp, requested;
	int pct, adkim_strict, aspf_strict, by_rua;
} parse_cases[] = {
	/* defaults (6.3): adkim and aspf relaxed, pct 100 */
	{ "v=DMARC1; p=none", NULL, 1, N, U, N, 100, 0, 0, 0 },
	{ "v=DMARC1; p=quarantine; pct=0", NULL, 1, Q, U, Q, 0, 0, 0, 0 },
	{ "v=DMARC1; p=reject; adkim=s; aspf=s; pct=25", NULL, 1, R, U, R, 25, 1, 1, 0 },
	{ "v=DMARC1; p=reject; adkim=s", NULL, 1, R, U, R, 100, 1, 0, 0 },
	{ "v=DMARC1;p=reject;aspf=s", NULL, 1, R, U, R, 100, 0, 1, 0 },
	/* sp applies to a subdomain whose record is its Organizational Domain's */
	{ "v=DMARC1; p=reject; sp=quarantine", NULL, 1, R, Q, R, 100, 0, 0, 0 },
	{ "v=DMARC1; p=reject; sp=quarantine", "example.org", 1, R, Q, Q, 100, 0, 0, 0 },
	{ "v=DMARC1; p=none; sp=reject", "example.org", 1, N, R, R, 100, 0, 0, 0 },
	/* without sp, p applies to subdomains too (6.3 "sp") */
	{ "v=DMARC1; p=reject", "example.org", 1, R, U, R, 100, 0, 0, 0 },
	/* report addresses are read, never asked about (no DNS) */
	{ "v=DMARC1; p=quarantine; rua=mailto:a@report.example,mailto:b@example.org; "
	  "ruf=mailto:f@report.example", NULL, 1, Q, U, Q, 100, 0, 0, 0 },
	{ "v=DMARC1; p=reject; unknowntag=1", NULL, 1, R, U, R, 100, 0, 0, 0 },  /* ignored (6.3) */
	/* 6.6.3 step 5: no valid p: with a valid rua read as p=none, else unusable */
	{ "v=DMARC1; p=bogus", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1; p=bogus; rua=mailto:d@example.org", NULL, 1, N, U, N, 100, 0, 0, 1 },
	{ "v=DMARC1; rua=mailto:d@example.org", NULL, 1, N, U, N, 100, 0, 0, 1 },
	{ "v=DMARC1; p=bogus; rua=not a uri", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1; p=bogus; rua=", NULL, 0, U, U, U, 0, 0, 0, 0 },
	/* bad values */
	{ "v=DMARC1; p=reject; pct=150", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1; p=reject; pct=abc", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1; p=reject; pct=-5", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1; p=reject; adkim=x", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=DMARC1; p=reject; sp=bogus", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "p=reject; v=DMARC1", NULL, 0, U, U, U, 0, 0, 0, 0 },
	{ "v=spf1 -all", NULL, 0, U, U, U, 0, 0, 0, 0 },
};

START_TEST(test_record_parse)
{
	const char *from = parse_cases[_i].org ? "sub.example.org" : "example.org";
	struct dmarc_record r;
	const char *why = NULL;
	int rc = dmarc_record_parse(parse_cases[_i].txt, from, parse_cases[_i].org, &r, &why);

	if (!parse_cases[_i].ok) {
		ck_assert_msg(rc < 0, "\"%s\": parsed, want unusable", parse_cases[_i].txt);
		ck_assert_msg(why != NULL && *why != '\0', "\"%s\": no reason", parse_cases[_i].txt);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": unusable (%s), want parsed", parse_cases[_i].txt, why);
	ck_assert_msg(r.p == parse_cases[_i].p && r.sp == parse_cases[_i].sp &&
	              r.requested == parse_cases[_i].requested,
	              "\"%s\": got p=%s sp=%s requested=%s, want p=%s sp=%s requested=%s",
	              parse_cases[_i].txt, dmarc_p_name(r.p), dmarc_p_name(r.sp),
	              dmarc_p_name(r.requested), dmarc_p_name(parse_cases[_i].p),
	              dmarc_p_name(parse_cases[_i].sp), dmarc_p_name(parse_cases[_i].requested));
	ck_assert_msg(r.pct == parse_cases[_i].pct && r.adkim_strict == parse_cases[_i].adkim_strict &&
	              r.aspf_strict == parse_cases[_i].aspf_strict && r.p_none_by_rua == parse_cases[_i].by_rua,
	              "\"%s\": got pct=%d adkim_strict=%d aspf_strict=%d by_rua=%d, want %d %d %d %d",
	              parse_cases[_i].txt, r.pct, r.adkim_strict, r.aspf_strict, r.p_none_by_rua,
	              parse_cases[_i].pct, parse_cases[_i].adkim_strict, parse_cases[_i].aspf_strict,
	              parse_cases[_i].by_rua);
}
END_TEST

/* ---------------------------------------------------------------- alignment, result */

static const struct {
	const char *from, *domain;
	int strict, aligned;
} align_cases[] = {
	{ "example.org", "example.org", 1, 1 },
	{ "example.org", "example.org", 0, 1 },
	{ "example.org", "mail.example.org", 1, 0 },      /* strict: identical names only */
	{ "example.org", "mail.example.org", 0, 1 },      /* relaxed: same Organizational Domain */
	{ "mail.example.org", "example.org", 0, 1 },
	{ "mail.example.org", "example.org", 1, 0 },
	{ "a.example.org", "b.example.org", 0, 1 },
	{ "example.org", "badexample.org", 0, 0 },
	{ "example.org", "org", 0, 0 },                   /* a public suffix aligns with nothing */
	{ "example.co.uk", "other.co.uk", 0, 0 },
	{ "a.example.co.uk", "example.co.uk", 0, 1 },
	{ "foo.github.io", "bar.github.io", 0, 0 },
	{ "foo.github.io", "github.io", 0, 0 },
	{ "www.city.kawasaki.jp", "city.kawasaki.jp", 0, 1 },
	{ "example.org", "example.net", 0, 0 },
};

START_TEST(test_aligned)
{
	struct dmarc_psl *psl = fixture_psl();
	int got = dmarc_aligned(psl, align_cases[_i].from, align_cases[_i].domain, align_cases[_i].strict);

	ck_assert_msg(got == align_cases[_i].aligned, "%s vs %s (%s): got %d, want %d",
	              align_cases[_i].from, align_cases[_i].domain,
	              align_cases[_i].strict ? "strict" : "relaxed", got, align_cases[_i].aligned);
	dmarc_psl_free(&psl);
}
END_TEST

#define PASS DMARC_RESULT_PASS
#define FAIL DMARC_RESULT_FAIL
#define TEMP DMARC_RESULT_TEMPERROR

static const struct {
	const char *what;
	int adkim_strict, aspf_strict;
	const char *spf_result, *spf_domain;
	const char *dkim[3][2];   /* result, d= */
	enum dmarc_result want;
	const char *dkim_domain;  /* the aligned pass reported, when DKIM passes */
} eval_cases[] = {
	{ "SPF pass, aligned", 0, 0, "pass", "example.org", { { NULL } }, PASS, NULL },
	{ "SPF pass, relaxed subdomain", 0, 0, "pass", "bounce.example.org", { { NULL } }, PASS, NULL },
	{ "SPF pass, strict subdomain", 0, 1, "pass", "bounce.example.org", { { NULL } }, FAIL, NULL },
	{ "SPF pass, other domain", 0, 0, "pass", "example.net", { { NULL } }, FAIL, NULL },
	{ "SPF fail, aligned", 0, 0, "fail", "example.org", { { NULL } }, FAIL, NULL },
	{ "SPF softfail is no pass", 0, 0, "softfail", "example.org", { { NULL } }, FAIL, NULL },
	{ "SPF neutral is no pass", 0, 0, "neutral", "example.org", { { NULL } }, FAIL, NULL },
	{ "no SPF, no DKIM", 0, 0, NULL, NULL, { { NULL } }, FAIL, NULL },
	{ "DKIM pass, aligned", 0, 0, "fail", "example.net",
	  { { "pass", "example.org" } }, PASS, "example.org" },
	{ "DKIM pass, relaxed subdomain", 0, 0, NULL, NULL,
	  { { "pass", "mail.example.org" } }, PASS, "mail.example.org" },
	{ "DKIM pass, strict subdomain", 1, 0, NULL, NULL,
	  { { "pass", "mail.example.org" } }, FAIL, NULL },
	{ "DKIM strict, exact d=", 1, 1, NULL, NULL, { { "pass", "example.org" } }, PASS, "example.org" },
	{ "DKIM fail aligned, pass unaligned", 0, 0, NULL, NULL,
	  { { "fail", "example.org" }, { "pass", "example.net" } }, FAIL, NULL },
	{ "DKIM pass unaligned, pass aligned", 0, 0, NULL, NULL,
	  { { "pass", "example.net" }, { "pass", "example.org" } }, PASS, "example.org" },
	{ "DKIM policy/neutral/permerror are no pass", 0, 0, NULL, NULL,
	  { { "policy", "example.org" }, { "neutral", "example.org" }, { "permerror", "example.org" } },
	  FAIL, NULL },
	{ "d= written in capitals, with a dot", 0, 0, NULL, NULL,
	  { { "pass", "Mail.Example.ORG." } }, PASS, "mail.example.org" },
	{ "both pass, both aligned", 0, 0, "pass", "example.org",
	  { { "pass", "example.org" } }, PASS, "example.org" },
	/* a fail cannot be concluded while an aligned identifier had a temporary error */
	{ "SPF temperror aligned", 0, 0, "temperror", "example.org", { { NULL } }, TEMP, NULL },
	{ "SPF temperror unaligned", 0, 0, "temperror", "example.net", { { NULL } }, FAIL, NULL },
	{ "DKIM temperror aligned", 0, 0, "fail", "example.org",
	  { { "temperror", "example.org" } }, TEMP, NULL },
	{ "temperror, but DKIM passes", 0, 0, "temperror", "example.org",
	  { { "pass", "example.org" } }, PASS, "example.org" },
	{ "SPF pass, no domain", 0, 0, "pass", NULL, { { NULL } }, FAIL, NULL },
	{ "SPF pass, garbage domain", 0, 0, "pass", "exa mple.org", { { NULL } }, FAIL, NULL },
};

START_TEST(test_eval)
{
	struct dmarc_psl *psl = fixture_psl();
	struct dmarc_record rec = { .p = R, .requested = R, .pct = 100,
	                            .adkim_strict = eval_cases[_i].adkim_strict,
	                            .aspf_strict = eval_cases[_i].aspf_strict };
	struct dmarc_eval e;
	enum dmarc_result got;

	dmarc_eval_init(&e, psl, "example.org", &rec);
	dmarc_eval_spf(&e, eval_cases[_i].spf_result, eval_cases[_i].spf_domain);
	for (int i = 0; i < 3 && eval_cases[_i].dkim[i][0] != NULL; i++)
		dmarc_eval_dkim(&e, eval_cases[_i].dkim[i][0], eval_cases[_i].dkim[i][1]);
	got = dmarc_eval_result(&e);
	ck_assert_msg(got == eval_cases[_i].want, "%s: got dmarc=%s, want dmarc=%s", eval_cases[_i].what,
	              dmarc_result_name(got), dmarc_result_name(eval_cases[_i].want));
	if (eval_cases[_i].dkim_domain != NULL)
		ck_assert_msg(e.dkim_pass && strcmp(e.dkim_domain, eval_cases[_i].dkim_domain) == 0,
		              "%s: got aligned d=%s, want %s", eval_cases[_i].what, e.dkim_domain,
		              eval_cases[_i].dkim_domain);
	dmarc_psl_free(&psl);
}
END_TEST

/* ---------------------------------------------------------------- disposition */

static const struct {
	enum dmarc_p requested;
	int pct;
	unsigned draw;
	int overridden;
	enum dmarc_p on_reject, on_quarantine;
	enum dmarc_p want;
} dis_cases[] = {
	{ R, 100, 0, 0, R, Q, R },
	{ R, 100, 99, 0, R, Q, R },              /* pct=100: every message */
	{ Q, 100, 99, 0, R, Q, Q },
	{ N, 100, 0, 0, R, Q, N },
	/* 6.6.4: outside the sample, reject becomes quarantine, quarantine none */
	{ R, 0, 0, 0, R, Q, Q },                 /* pct=0: no message */
	{ Q, 0, 0, 0, R, Q, N },
	{ R, 50, 49, 0, R, Q, R },
	{ R, 50, 50, 0, R, Q, Q },
	{ Q, 1, 0, 0, R, Q, Q },
	{ Q, 1, 1, 0, R, Q, N },
	/* local policy */
	{ R, 100, 0, 1, R, Q, N },               /* override: recorded, not enforced */
	{ Q, 100, 0, 1, R, Q, N },
	{ R, 100, 0, 0, Q, Q, Q },               /* reject_action = quarantine */
	{ R, 100, 0, 0, N, Q, N },               /* reject_action = none */
	{ Q, 100, 0, 0, R, N, N },               /* quarantine_action = none */
	{ R, 0, 0, 0, R, N, N },                 /* sampled down to quarantine, which is none here */
};

START_TEST(test_disposition)
{
	struct dmarc_actions a = { dis_cases[_i].on_reject, dis_cases[_i].on_quarantine };
	enum dmarc_p got = dmarc_disposition(dis_cases[_i].requested, dis_cases[_i].pct,
	                                     dis_cases[_i].draw, dis_cases[_i].overridden, &a);

	ck_assert_msg(got == dis_cases[_i].want,
	              "p=%s pct=%d draw=%u override=%d actions=%s/%s: got %s, want %s",
	              dmarc_p_name(dis_cases[_i].requested), dis_cases[_i].pct, dis_cases[_i].draw,
	              dis_cases[_i].overridden, dmarc_p_name(a.on_reject), dmarc_p_name(a.on_quarantine),
	              dmarc_p_name(got), dmarc_p_name(dis_cases[_i].want));
}
END_TEST

/* Every draw of 0..99 against pct: exactly pct of them fall in the sample. */
START_TEST(test_disposition_sample_size)
{
	struct dmarc_actions a = { R, Q };

	for (int pct = 0; pct <= 100; pct += 10) {
		int enforced = 0;
		for (unsigned draw = 0; draw < 100; draw++)
			enforced += dmarc_disposition(R, pct, draw, 0, &a) == R;
		ck_assert_msg(enforced == pct, "pct=%d: %d of 100 draws enforced", pct, enforced);
	}
}
END_TEST

/* ---------------------------------------------------------------- Authentication-Results */

START_TEST(test_ar_clause)
{
	struct dmarc_record reject = { .p = R, .requested = R, .pct = 100 };
	struct dmarc_record sub = { .p = R, .sp = Q, .requested = Q, .pct = 100 };
	char buf[512], tiny[20];

	ck_assert_int_eq(dmarc_ar_clause(buf, sizeof(buf), PASS, &reject, N, NULL, "example.org"), 0);
	ck_assert_str_eq(buf, "dmarc=pass (p=reject dis=none) header.from=example.org");
	ck_assert_int_eq(dmarc_ar_clause(buf, sizeof(buf), FAIL, &reject, R, NULL, "example.org"), 0);
	ck_assert_str_eq(buf, "dmarc=fail (p=reject dis=reject) header.from=example.org");
	ck_assert_int_eq(dmarc_ar_clause(buf, sizeof(buf), FAIL, &sub, Q, NULL, "a.example.org"), 0);
	ck_assert_str_eq(buf, "dmarc=fail (p=reject sp=quarantine dis=quarantine) header.from=a.example.org");
	ck_assert_int_eq(dmarc_ar_clause(buf, sizeof(buf), DMARC_RESULT_NONE, NULL, N, NULL,
	                                 "example.org"), 0);
	ck_assert_str_eq(buf, "dmarc=none header.from=example.org");
	ck_assert_int_eq(dmarc_ar_clause(buf, sizeof(buf), TEMP, NULL, N, "policy lookup failed",
	                                 "example.org"), 0);
	ck_assert_str_eq(buf, "dmarc=temperror (policy lookup failed) header.from=example.org");
	ck_assert_int_eq(dmarc_ar_clause(buf, sizeof(buf), DMARC_RESULT_PERMERROR, NULL, N,
	                                 "several From fields", NULL), 0);
	ck_assert_str_eq(buf, "dmarc=permerror (several From fields)");
	ck_assert_int_eq(dmarc_ar_clause(tiny, sizeof(tiny), PASS, &reject, N, NULL, "example.org"), -1);
}
END_TEST

/* ---------------------------------------------------------------- configuration words */

START_TEST(test_p_parse)
{
	unsigned all = 1u << N | 1u << Q | 1u << R, no_reject = 1u << N | 1u << Q;
	enum dmarc_p p = U;

	ck_assert_int_eq(dmarc_p_parse("reject", all, &p), 0);
	ck_assert_int_eq(p, R);
	ck_assert_int_eq(dmarc_p_parse("Quarantine", all, &p), 0);
	ck_assert_int_eq(p, Q);
	ck_assert_int_eq(dmarc_p_parse("none", no_reject, &p), 0);
	ck_assert_int_eq(p, N);
	ck_assert_int_eq(dmarc_p_parse("reject", no_reject, &p), -1);   /* quarantine_action */
	ck_assert_int_eq(dmarc_p_parse("rej", all, &p), -1);
	ck_assert_int_eq(dmarc_p_parse("", all, &p), -1);
}
END_TEST

START_TEST(test_override_list)
{
	struct dmarc_domains list;
	char bad[300] = "";

	ck_assert_int_eq(dmarc_domains_parse(&list, " Lists.Example.org,example.net  other.test ", bad,
	                                     sizeof(bad)), 0);
	ck_assert_uint_eq(list.n, 3);
	ck_assert_int_eq(dmarc_domains_match(&list, "lists.example.org"), 1);
	ck_assert_int_eq(dmarc_domains_match(&list, "a.lists.example.org"), 1);    /* subdomains */
	ck_assert_int_eq(dmarc_domains_match(&list, "example.org"), 0);
	ck_assert_int_eq(dmarc_domains_match(&list, "xlists.example.org"), 0);
	ck_assert_int_eq(dmarc_domains_match(&list, "example.net"), 1);
	ck_assert_int_eq(dmarc_domains_match(&list, "net"), 0);
	ck_assert_int_eq(dmarc_domains_match(&list, ""), 0);
	dmarc_domains_free(&list);
	ck_assert_int_eq(dmarc_domains_parse(&list, "ok.example bad..example", bad, sizeof(bad)), -1);
	ck_assert_str_eq(bad, "bad..example");
	ck_assert_uint_eq(list.n, 0);
	ck_assert_int_eq(dmarc_domains_parse(&list, "", bad, sizeof(bad)), 0);
	ck_assert_int_eq(dmarc_domains_match(&list, "example.org"), 0);
	dmarc_domains_free(&list);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dmarc");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int nf;

	if (dmarc_record_library_init() < 0) {
		fprintf(stderr, "libopendmarc did not initialize\n");
		return EXIT_FAILURE;
	}
	tcase_add_loop_test(tc, test_from_domain, 0, sizeof(from_cases) / sizeof(from_cases[0]));
	tcase_add_test(tc, test_from_label_lengths);
	tcase_add_loop_test(tc, test_org_domain, 0, sizeof(org_cases) / sizeof(org_cases[0]));
	tcase_add_test(tc, test_org_domain_small_buffer);
	tcase_add_test(tc, test_org_domain_system_list);
	tcase_add_test(tc, test_psl_load_errors);
	tcase_add_loop_test(tc, test_is_dmarc, 0, sizeof(version_cases) / sizeof(version_cases[0]));
	tcase_add_test(tc, test_select);
	tcase_add_loop_test(tc, test_record_parse, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_loop_test(tc, test_aligned, 0, sizeof(align_cases) / sizeof(align_cases[0]));
	tcase_add_loop_test(tc, test_eval, 0, sizeof(eval_cases) / sizeof(eval_cases[0]));
	tcase_add_loop_test(tc, test_disposition, 0, sizeof(dis_cases) / sizeof(dis_cases[0]));
	tcase_add_test(tc, test_disposition_sample_size);
	tcase_add_test(tc, test_ar_clause);
	tcase_add_test(tc, test_p_parse);
	tcase_add_test(tc, test_override_list);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	dmarc_record_library_shutdown();
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
