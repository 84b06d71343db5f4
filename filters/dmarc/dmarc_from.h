/* dmarc_from.h - the Author Domain of an RFC5322.From field (RFC 7489 3.1,
 * 6.6.1); no I/O. */
#ifndef DMARC_FROM_H
#define DMARC_FROM_H

#include <stddef.h>

enum dmarc_from_status {
	DMARC_FROM_OK = 0,        /* one domain (one address, or several of one domain) */
	DMARC_FROM_NO_ADDRESS,    /* an empty field or an empty group */
	DMARC_FROM_SEVERAL,       /* addresses of different domains */
	DMARC_FROM_BAD,           /* not an address list, or a domain that is no host name */
};

/* value: the field's value as received (after the colon, folding CRLFs kept).
 * On DMARC_FROM_OK the domain, in lower case, is written to domain (size at
 * least DMARC_DOMAIN_MAX + 1 to hold any). Display names, comments, quoted
 * local parts, groups and obsolete routes are understood; a domain literal
 * ("[192.0.2.1]") or a domain that is not a host name of letters, digits, '-'
 * and '_' labels is DMARC_FROM_BAD. */
enum dmarc_from_status dmarc_from_domain(const char *value, char *domain, size_t size);

/* A word for logs and Authentication-Results comments ("unparsable From field"). */
const char *dmarc_from_status_text(enum dmarc_from_status st);

/* 1 when name is a host name as above (no trailing dot, at most 253 octets). */
int dmarc_domain_valid(const char *name);

#endif
