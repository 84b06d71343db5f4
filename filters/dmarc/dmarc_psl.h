/* dmarc_psl.h - the public suffix list and Organizational Domains (RFC 7489
 * section 3.2); no I/O but reading the list once. */
#ifndef DMARC_PSL_H
#define DMARC_PSL_H

#include <stddef.h>

/* Longest domain name we handle, without the trailing dot (RFC 1035: 253). */
#define DMARC_DOMAIN_MAX 253

struct dmarc_psl;

/* Parses a list in publicsuffix.org format (one rule a line, read up to the
 * first blank; "//" comments; "*." wildcards; "!" exceptions). Rules are
 * matched in lower case; rules in UTF-8 are kept but only ever match UTF-8
 * names, so IDN rules do not apply to A-labels ("xn--..."). Returns NULL when
 * memory runs out. Read-only afterwards: any thread may use it. */
struct dmarc_psl *dmarc_psl_parse(const char *text, size_t len);

/* Reads and parses the file at path. NULL on failure, with the reason in err. */
struct dmarc_psl *dmarc_psl_load(const char *path, char *err, size_t errlen);

void dmarc_psl_free(struct dmarc_psl **psl);

/* The number of rules, for logs. */
size_t dmarc_psl_count(const struct dmarc_psl *psl);

/* The Organizational Domain of domain (lower case, no trailing dot): its public
 * suffix plus one label, by the publicsuffix.org algorithm (the rule "*" when
 * none matches). A domain that is itself a public suffix is its own
 * Organizational Domain. Writes it to out and returns 0; -1 when domain is
 * empty, too long or has an empty label, or out is too small. */
int dmarc_psl_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t outlen);

#endif
