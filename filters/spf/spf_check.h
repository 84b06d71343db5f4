/* spf_check.h - one SPF evaluation (RFC 7208 check_host) with libspf2 over a
 * resolver we hand it, and the result it ends in. No sessions, no host calls:
 * used by spf.c in a worker thread and by tests/unit/check_spf.c. */
#ifndef SLUICE_SPF_CHECK_H
#define SLUICE_SPF_CHECK_H

#include <stddef.h>

#include "spf_dns.h"

/* The seven results of RFC 7208 section 2.6, in the order of the notes' words. */
enum spf_res {
	SPF_RES_NONE = 0,
	SPF_RES_NEUTRAL,
	SPF_RES_PASS,
	SPF_RES_FAIL,
	SPF_RES_SOFTFAIL,
	SPF_RES_TEMPERROR,
	SPF_RES_PERMERROR,
	SPF_RES_COUNT
};

/* Which identity was checked (RFC 7208 section 2.3, 2.4). */
enum spf_scope {
	SPF_SCOPE_HELO = 0,
	SPF_SCOPE_MFROM,
};

struct spf_identity {
	const char *ip;             /* the client, printable IPv4 or IPv6 */
	const char *helo;           /* the HELO/EHLO name; "" or NULL when none */
	const char *sender;         /* MAIL FROM without <>; ignored for the helo scope */
	enum spf_scope scope;
};

struct spf_outcome {
	enum spf_res result;
	enum spf_scope scope;
	char domain[SPF_DOMAIN_MAX + 1];    /* the domain checked, lower case; "" when
	                                     * the identity has no usable domain */
	char problem[128];                  /* why, for temperror and permerror; else "" */
};

struct spf_checker;

/* A libspf2 server over our DNS layer, shared by every thread (libspf2 keeps
 * nothing per request in it). receiver: our host name, for %{r}. NULL when
 * out of memory. Main thread (init). */
struct spf_checker *spf_checker_new(const char *receiver);
void spf_checker_free(struct spf_checker **checker);

/* Evaluate one identity; blocks for as long as res->query does. Any thread.
 * Never fails: every problem ends in one of the seven results. */
void spf_check(struct spf_checker *checker, const struct spf_resolver *res,
               const struct spf_identity *id, struct spf_outcome *out);

/* ---- pieces, exported for the unit tests */

/* "pass", "fail", ...; "none" for anything out of range. */
const char *spf_res_name(enum spf_res res);
/* The result's index, or -1 for a word that is none of the seven. */
int spf_res_parse(const char *word);

/* RFC 7208 section 4.3: a domain check_host may look up: ASCII letters,
 * digits, '-' and '_', at least two labels of 1..63 octets, at most 253 octets
 * (one trailing dot allowed), a top label not all digits. 1 or 0. */
int spf_domain_valid(const char *domain);

/* The domain of the identity, lower case, without a trailing dot, into out
 * (SPF_DOMAIN_MAX + 1 octets): the HELO name, or the part of the sender after
 * its last '@' (the HELO name for the null sender). 0, or -1 when that is not a
 * valid domain (out is then "", and the result is none: RFC 7208 4.3). */
int spf_identity_domain(const struct spf_identity *id, char *out);

/* libspf2's answer (result, the error code it returned) and what our DNS layer
 * stopped, mapped to one of the seven (libspf2's "invalid" is temperror after
 * a DNS failure, permerror otherwise); problem gets a reason for the errors
 * ("" otherwise). */
enum spf_res spf_res_map(int spf_result, int spf_err, enum spf_limit limit, char *problem,
                         size_t len);

#endif
