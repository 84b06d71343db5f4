/* dmarc_eval.c - DMARC evaluation: alignment, result, disposition and the
 * Authentication-Results clause; no I/O. */

/*
 * Alignment is ours, not libopendmarc's: in 1.4.2 its check lets a subdomain
 * through in strict mode (aspf=s with SPF for mail.example.org aligns with
 * example.org; adkim=s likewise) and lets a public suffix align with every
 * domain under it (d=org with example.org). RFC 7489 3.1 is short enough to
 * follow directly, with the public suffix list of dmarc_psl.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmarc_eval.h"
#include "dmarc_from.h"

const char *
dmarc_result_name(enum dmarc_result r)
{
	static const char *const names[] = { "none", "pass", "fail", "temperror", "permerror" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

int
dmarc_aligned(const struct dmarc_psl *psl, const char *from, const char *domain, int strict)
{
	char org_from[DMARC_DOMAIN_MAX + 1], org_domain[DMARC_DOMAIN_MAX + 1];

	if (from == NULL || domain == NULL || *from == '\0')
		return 0;
	if (strcasecmp(from, domain) == 0)
		return 1;
	if (strict)
		return 0;
	if (dmarc_psl_org_domain(psl, from, org_from, sizeof(org_from)) < 0 ||
	    dmarc_psl_org_domain(psl, domain, org_domain, sizeof(org_domain)) < 0)
		return 0;
	return strcasecmp(org_from, org_domain) == 0;
}

void
dmarc_eval_init(struct dmarc_eval *e, const struct dmarc_psl *psl, const char *from,
                const struct dmarc_record *record)
{
	memset(e, 0, sizeof(*e));
	e->psl = psl;
	e->from = from;
	e->record = record;
}

/* Identifiers from notes: lower case by contract, but a trailing dot or upper
 * case costs nothing to forgive. */
static int
identifier(const char *in, char *out, size_t outlen)
{
	size_t n;

	if (in == NULL)
		return -1;
	n = strlen(in);
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
	out[n] = '\0';
	return dmarc_domain_valid(out) ? 0 : -1;
}

void
dmarc_eval_spf(struct dmarc_eval *e, const char *result, const char *domain)
{
	char d[DMARC_DOMAIN_MAX + 1];

	if (result == NULL || identifier(domain, d, sizeof(d)) < 0 ||
	    !dmarc_aligned(e->psl, e->from, d, e->record->aspf_strict))
		return;
	if (strcmp(result, "pass") == 0)
		e->spf_pass = 1;
	else if (strcmp(result, "temperror") == 0)
		e->temperror = 1;
}

void
dmarc_eval_dkim(struct dmarc_eval *e, const char *result, const char *domain)
{
	char d[DMARC_DOMAIN_MAX + 1];

	if (result == NULL || identifier(domain, d, sizeof(d)) < 0 ||
	    !dmarc_aligned(e->psl, e->from, d, e->record->adkim_strict))
		return;
	if (strcmp(result, "pass") == 0) {
		if (!e->dkim_pass)
			memcpy(e->dkim_domain, d, strlen(d) + 1);
		e->dkim_pass = 1;
	} else if (strcmp(result, "temperror") == 0) {
		e->temperror = 1;
	}
}

enum dmarc_result
dmarc_eval_result(const struct dmarc_eval *e)
{
	if (e->spf_pass || e->dkim_pass)
		return DMARC_RESULT_PASS;
	return e->temperror ? DMARC_RESULT_TEMPERROR : DMARC_RESULT_FAIL;
}

enum dmarc_p
dmarc_disposition(enum dmarc_p requested, int pct, unsigned draw, int overridden,
                  const struct dmarc_actions *actions)
{
	enum dmarc_p p = requested;

	if ((p == DMARC_P_REJECT || p == DMARC_P_QUARANTINE) && draw >= (unsigned)(pct < 0 ? 0 : pct))
		p = p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
	if (overridden)
		return DMARC_P_NONE;
	if (p == DMARC_P_REJECT)
		return actions->on_reject;
	if (p == DMARC_P_QUARANTINE)
		return actions->on_quarantine;
	return DMARC_P_NONE;
}

int
dmarc_ar_clause(char *buf, size_t size, enum dmarc_result result,
                const struct dmarc_record *record, enum dmarc_p dis, const char *reason,
                const char *from)
{
	char policy[80] = "", why[160] = "", hfrom[DMARC_DOMAIN_MAX + 16] = "";
	int n;

	if (record != NULL) {
		if (record->sp != DMARC_P_UNSET)
			snprintf(policy, sizeof(policy), " (p=%s sp=%s dis=%s)", dmarc_p_name(record->p),
			         dmarc_p_name(record->sp), dmarc_p_name(dis));
		else
			snprintf(policy, sizeof(policy), " (p=%s dis=%s)", dmarc_p_name(record->p),
			         dmarc_p_name(dis));
	}
	if (reason != NULL)
		snprintf(why, sizeof(why), " (%s)", reason);
	if (from != NULL)
		snprintf(hfrom, sizeof(hfrom), " header.from=%s", from);
	n = snprintf(buf, size, "dmarc=%s%s%s%s", dmarc_result_name(result), policy, why, hfrom);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
dmarc_p_parse(const char *word, unsigned allowed, enum dmarc_p *p)
{
	static const enum dmarc_p all[] = { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if ((allowed & (1u << all[i])) && strcasecmp(word, dmarc_p_name(all[i])) == 0) {
			*p = all[i];
			return 0;
		}
	return -1;
}

int
dmarc_domains_parse(struct dmarc_domains *list, const char *text, char *bad, size_t badlen)
{
	const char *p = text;

	memset(list, 0, sizeof(*list));
	while (*p != '\0') {
		size_t n = strcspn(p, " \t,");
		char word[DMARC_DOMAIN_MAX + 2], **more;

		if (n == 0) {
			p++;
			continue;
		}
		snprintf(bad, badlen, "%.*s", (int)n, p);
		if (n > DMARC_DOMAIN_MAX + 1 || identifier(bad, word, sizeof(word)) < 0)
			goto fail;
		more = realloc(list->name, (list->n + 1) * sizeof(*more));
		if (more == NULL)
			goto fail;
		list->name = more;
		if ((list->name[list->n] = strdup(word)) == NULL)
			goto fail;
		list->n++;
		p += n;
	}
	return 0;
fail:
	dmarc_domains_free(list);
	return -1;
}

int
dmarc_domains_match(const struct dmarc_domains *list, const char *domain)
{
	size_t dn = strlen(domain);

	for (size_t i = 0; i < list->n; i++) {
		size_t n = strlen(list->name[i]);
		if (dn == n && strcmp(domain, list->name[i]) == 0)
			return 1;
		if (dn > n && domain[dn - n - 1] == '.' && strcmp(domain + dn - n, list->name[i]) == 0)
			return 1;
	}
	return 0;
}

void
dmarc_domains_free(struct dmarc_domains *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->name[i]);
	free(list->name);
	list->name = NULL;
	list->n = 0;
}
