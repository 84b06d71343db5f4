/* spf_check.c - one RFC 7208 evaluation with libspf2, and its result. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_check.h"

struct spf_checker {
	SPF_server_t *server;
	SPF_dns_server_t *layer;
};

static const char *const res_names[SPF_RES_COUNT] = {
	[SPF_RES_NONE] = "none",
	[SPF_RES_NEUTRAL] = "neutral",
	[SPF_RES_PASS] = "pass",
	[SPF_RES_FAIL] = "fail",
	[SPF_RES_SOFTFAIL] = "softfail",
	[SPF_RES_TEMPERROR] = "temperror",
	[SPF_RES_PERMERROR] = "permerror",
};

const char *
spf_res_name(enum spf_res res)
{
	return (unsigned)res < SPF_RES_COUNT ? res_names[res] : "none";
}

int
spf_res_parse(const char *word)
{
	for (int i = 0; i < SPF_RES_COUNT; i++)
		if (strcasecmp(word, res_names[i]) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- identities */

int
spf_domain_valid(const char *domain)
{
	size_t len = strlen(domain), label = 0, labels = 0;
	int digits_only = 1;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)domain[i] : '.';

		if (c == '.') {
			if (label == 0)
				return 0;
			labels++;
			if (i < len)
				digits_only = 1;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (!isdigit(c))
			digits_only = 0;
		if (++label > 63)
			return 0;
	}
	/* A dotted quad is an address, not a domain. */
	return labels >= 2 && !digits_only;
}

int
spf_identity_domain(const struct spf_identity *id, char *out)
{
	const char *d = id->helo != NULL ? id->helo : "";
	size_t len;

	out[0] = '\0';
	if (id->scope == SPF_SCOPE_MFROM && id->sender != NULL && id->sender[0] != '\0') {
		d = strrchr(id->sender, '@');
		if (d == NULL)
			return -1;
		d++;
	}
	if (!spf_domain_valid(d))
		return -1;
	len = strlen(d);
	if (d[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)d[i]);
	out[len] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- results */

static enum spf_res
res_problem(enum spf_res res, char *problem, size_t len, const char *why)
{
	snprintf(problem, len, "%s", why);
	return res;
}

enum spf_res
spf_res_map(int spf_result, int spf_err, enum spf_limit limit, char *problem, size_t len)
{
	problem[0] = '\0';
	switch (limit) {
	case SPF_LIMIT_TERMS:
		return res_problem(SPF_RES_PERMERROR, problem, len, "more than 10 DNS-querying terms");
	case SPF_LIMIT_VOIDS:
		return res_problem(SPF_RES_PERMERROR, problem, len, "more than 2 void DNS lookups");
	case SPF_LIMIT_RECORD:
		return res_problem(SPF_RES_PERMERROR, problem, len, "SPF record too long");
	case SPF_LIMIT_NONE:
		break;
	}
	switch (spf_result) {
	case SPF_RESULT_PASS:
		return SPF_RES_PASS;
	case SPF_RESULT_FAIL:
		return SPF_RES_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPF_RES_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return SPF_RES_NEUTRAL;
	case SPF_RESULT_NONE:
		return SPF_RES_NONE;
	case SPF_RESULT_TEMPERROR:
		return res_problem(SPF_RES_TEMPERROR, problem, len, "DNS lookup failed");
	case SPF_RESULT_PERMERROR:
		return res_problem(SPF_RES_PERMERROR, problem, len, SPF_strerror(spf_err));
	default:
		/* libspf2's "invalid": it gave up before evaluating (RFC 7208 has no
		 * such result). A failed lookup of the record is temporary; anything
		 * else (a record it cannot parse) is the domain's error. */
		if (spf_err == SPF_E_DNS_ERROR)
			return res_problem(SPF_RES_TEMPERROR, problem, len, "DNS lookup failed");
		return res_problem(SPF_RES_PERMERROR, problem, len,
		                   spf_err == SPF_E_SUCCESS ? "SPF record not usable" :
		                   SPF_strerror(spf_err));
	}
}

/* ---------------------------------------------------------------- the checker */

struct spf_checker *
spf_checker_new(const char *receiver)
{
	struct spf_checker *c = calloc(1, sizeof(*c));
	SPF_response_t *resp = NULL;

	if (c == NULL || (c->layer = spf_dns_layer_new()) == NULL ||
	    (c->server = SPF_server_new_dns(c->layer, 0)) == NULL) {
		spf_checker_free(&c);
		return NULL;
	}
	/* Keep control characters of records out of libspf2's texts. */
	SPF_server_set_sanitize(c->server, 1);
	if (receiver != NULL && *receiver != '\0' &&
	    SPF_server_set_rec_dom(c->server, receiver) != SPF_E_SUCCESS) {
		spf_checker_free(&c);
		return NULL;
	}
	/* The default explanation expands the sender (%{S}) at every fail; we
	 * never show it, so it may as well expand nothing. */
	if (SPF_server_set_explanation(c->server, "SPF%_check%_failed", &resp) != SPF_E_SUCCESS) {
		if (resp != NULL)
			SPF_response_free(resp);
		spf_checker_free(&c);
		return NULL;
	}
	if (resp != NULL)
		SPF_response_free(resp);
	return c;
}

void
spf_checker_free(struct spf_checker **checker)
{
	struct spf_checker *c = *checker;

	if (c == NULL)
		return;
	if (c->server != NULL)
		SPF_server_free(c->server);
	spf_dns_layer_free(&c->layer);
	free(c);
	*checker = NULL;
}

/* %{h} expands the HELO name into lookups: only a name libspf2 can take. */
static const char *
helo_for_macros(const char *helo)
{
	size_t len = helo != NULL ? strlen(helo) : 0;

	if (len == 0 || len > SPF_DOMAIN_MAX)
		return "unknown";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)helo[i] <= ' ' || (unsigned char)helo[i] >= 0x7f)
			return "unknown";
	return helo;
}

static int
request_setup(SPF_request_t *req, const struct spf_identity *id, const char *domain)
{
	SPF_errcode_t e;

	e = strchr(id->ip, ':') != NULL ? SPF_request_set_ipv6_str(req, id->ip)
	                                : SPF_request_set_ipv4_str(req, id->ip);
	if (e != SPF_E_SUCCESS)
		return -1;
	if (id->scope == SPF_SCOPE_HELO) {
		/* check_host(ip, helo, "postmaster@" helo), RFC 7208 2.3. */
		if (SPF_request_set_helo_dom(req, domain) != SPF_E_SUCCESS ||
		    SPF_request_set_env_from(req, "") != 0)
			return -1;
		req->use_helo = 1;
		return 0;
	}
	if (SPF_request_set_helo_dom(req, helo_for_macros(id->helo)) != SPF_E_SUCCESS)
		return -1;
	/* A NULL would reach libspf2's assertion (abort); it means the null sender. */
	return SPF_request_set_env_from(req, id->sender != NULL ? id->sender : "") == 0 ? 0 : -1;
}

/* The macro values of the request, as libspf2 will expand them (RFC 7208
 * 7.2); ibuf gets %{i}: dotted IPv4, or 32 dot-separated nibbles. */
static void
macro_vals(SPF_request_t *req, struct spf_macro_vals *m, char *ibuf, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	memset(m, 0, sizeof(*m));
	m->s = req->env_from;
	m->l = req->env_from_lp;
	m->o = req->env_from_dp;
	m->h = req->helo_dom;
	m->r = SPF_request_get_rec_dom(req);
	if (req->client_ver == AF_INET) {
		m->v = "in-addr";
		m->i = inet_ntop(AF_INET, &req->ipv4, ibuf, (socklen_t)len);
		return;
	}
	m->v = "ip6";
	if (len < 64)
		return;
	for (int i = 0; i < 16; i++) {
		ibuf[4 * i] = hex[req->ipv6.s6_addr[i] >> 4];
		ibuf[4 * i + 1] = '.';
		ibuf[4 * i + 2] = hex[req->ipv6.s6_addr[i] & 0xf];
		ibuf[4 * i + 3] = '.';
	}
	ibuf[63] = '\0';
	m->i = ibuf;
}

void
spf_check(struct spf_checker *checker, const struct spf_resolver *res,
          const struct spf_identity *id, struct spf_outcome *out)
{
	SPF_response_t *resp = NULL;
	SPF_request_t *req;
	struct spf_macro_vals macros;
	struct spf_dns_eval ev;
	char ibuf[72];
	SPF_errcode_t err;
	int result;

	memset(out, 0, sizeof(*out));
	out->scope = id->scope;
	out->result = SPF_RES_NONE;
	/* RFC 7208 4.3: no valid domain, no check: "none". */
	if (spf_identity_domain(id, out->domain) < 0)
		return;
	if ((req = SPF_request_new(checker->server)) == NULL) {
		out->result = res_problem(SPF_RES_TEMPERROR, out->problem, sizeof(out->problem),
		                          "out of memory");
		return;
	}
	if (request_setup(req, id, out->domain) < 0) {
		SPF_request_free(req);
		out->result = res_problem(SPF_RES_TEMPERROR, out->problem, sizeof(out->problem),
		                          "cannot set up the check");
		return;
	}
	macro_vals(req, &macros, ibuf, sizeof(ibuf));
	spf_dns_eval_begin(&ev, res, &macros);
	err = SPF_request_query_mailfrom(req, &resp);
	spf_dns_eval_end(&ev);
	result = resp != NULL ? (int)SPF_response_result(resp) : (int)SPF_RESULT_INVALID;
	out->result = spf_res_map(result, (int)err, ev.limit, out->problem, sizeof(out->problem));
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
}
