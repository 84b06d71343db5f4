/* dmarc_eval.h - DMARC evaluation: identifier alignment, the result, the
 * disposition and its Authentication-Results clause (RFC 7489 3.1, 6.6.2,
 * 6.6.4, 11.2); no I/O. */
#ifndef DMARC_EVAL_H
#define DMARC_EVAL_H

#include <stddef.h>

#include "dmarc_psl.h"
#include "dmarc_record.h"

enum dmarc_result {
	DMARC_RESULT_NONE = 0,
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

/* "none", "pass", "fail", "temperror", "permerror". */
const char *dmarc_result_name(enum dmarc_result r);

/* RFC 7489 3.1: 1 when domain is aligned with the From domain: the same name
 * (strict), or the same Organizational Domain (relaxed). Both lower case. */
int dmarc_aligned(const struct dmarc_psl *psl, const char *from, const char *domain, int strict);

/* The authenticated identifiers, gathered one by one. */
struct dmarc_eval {
	const struct dmarc_psl *psl;
	const char *from;             /* the Author Domain */
	const struct dmarc_record *record;
	int spf_pass;                 /* an aligned SPF pass */
	int dkim_pass;                /* an aligned DKIM pass */
	int temperror;                /* an aligned identifier that could not be checked */
	char dkim_domain[DMARC_DOMAIN_MAX + 1];   /* the d= of the aligned DKIM pass */
};

void dmarc_eval_init(struct dmarc_eval *e, const struct dmarc_psl *psl, const char *from,
                     const struct dmarc_record *record);
/* spf.result and spf.domain as the SPF filter noted them (NULL: no result).
 * Only a pass counts; temperror counts as a temporary error when the domain
 * is aligned. */
void dmarc_eval_spf(struct dmarc_eval *e, const char *result, const char *domain);
/* One signature: dkim.N.result and dkim.N.domain (d=). */
void dmarc_eval_dkim(struct dmarc_eval *e, const char *result, const char *domain);
/* pass (an aligned pass), temperror (none, but an aligned identifier had a
 * temporary error: a fail cannot be concluded), or fail. */
enum dmarc_result dmarc_eval_result(const struct dmarc_eval *e);

/* What the administrator maps each policy to (keys reject_action,
 * quarantine_action). */
struct dmarc_actions {
	enum dmarc_p on_reject;       /* reject, quarantine or none */
	enum dmarc_p on_quarantine;   /* quarantine or none */
};

/* The disposition of a failing message: requested (the record's policy for
 * it), sampled by pct (6.6.4: a message left out of the sample gets the next
 * policy down, reject -> quarantine -> none) with draw uniform in 0..99, then
 * none when the domain is overridden, then mapped through actions. */
enum dmarc_p dmarc_disposition(enum dmarc_p requested, int pct, unsigned draw, int overridden,
                               const struct dmarc_actions *actions);

/* The resinfo clause of auth-results.dmarc (RFC 8601 2.2, RFC 7489 11.2):
 *   dmarc=fail (p=reject dis=quarantine) header.from=example.org
 * record NULL: no "(p= dis=)" comment; reason (NULL: none) is a comment of
 * its own; from NULL: no header.from. Returns 0, or -1 when it does not fit. */
int dmarc_ar_clause(char *buf, size_t size, enum dmarc_result result,
                    const struct dmarc_record *record, enum dmarc_p dis, const char *reason,
                    const char *from);

/* A configuration word: "none", "quarantine", "reject"; allowed is a bit mask
 * of (1 << DMARC_P_...). Returns 0 and sets *p, or -1. */
int dmarc_p_parse(const char *word, unsigned allowed, enum dmarc_p *p);

/* The override list: domains, blank- or comma-separated. */
struct dmarc_domains {
	char **name;
	size_t n;
};
/* Parses text into list (lower case). Returns 0, or -1 with the offending
 * word copied into bad (a domain that is no host name, or no memory). */
int dmarc_domains_parse(struct dmarc_domains *list, const char *text, char *bad, size_t badlen);
/* 1 when domain (lower case) is in the list or a subdomain of a listed one. */
int dmarc_domains_match(const struct dmarc_domains *list, const char *domain);
void dmarc_domains_free(struct dmarc_domains *list);

#endif
