/* spf_dns.h - the DNS layer libspf2 looks names up through: our resolver
 * (sluice's, or a test table), RFC 7208's lookup limits, and the guards that
 * keep hostile records away from libspf2's parser. No host calls. */
#ifndef SLUICE_SPF_DNS_H
#define SLUICE_SPF_DNS_H

/* spf2/spf.h needs these first and includes none of them. */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "sluice/types.h"

/* RFC 7208 section 4.6.4. */
#define SPF_MAX_TERMS 10            /* terms that query DNS, per evaluation */
#define SPF_MAX_VOIDS 2             /* of them answered NXDOMAIN or no records */
#define SPF_MAX_NAMES 10            /* MX or PTR names whose addresses are looked up */
#define SPF_DOMAIN_MAX 253          /* a domain name without its trailing dot (RFC 1035) */
#define SPF_DNS_NAME_BUF 256        /* room for one and its NUL */

/* What we hand libspf2 of a TXT answer. CVE-2023-42118 (libspf2 1.2.10, not
 * fixed in Debian 12) is an underflow when one term compiles to about 500
 * octets; a term is at most 2.4 times longer compiled than written, so no term
 * longer than SPF_TERM_MAX reaches the compiler. No real record comes near
 * either limit: a domain name is at most 253 octets. */
#define SPF_RECORD_MAX 2048
#define SPF_TERM_MAX 200

/* Where lookups go: sluice's dns_query_wait in the filter, a table in tests.
 * query returns NULL when it cannot ask (treated like a failed lookup). */
struct spf_resolver {
	struct sluice_dns_answer *(*query)(const char *name, enum sluice_dns_type type);
	void (*answer_free)(struct sluice_dns_answer *answer);
};

/* Why an evaluation was cut short: each makes the result permerror. */
enum spf_limit {
	SPF_LIMIT_NONE = 0,
	SPF_LIMIT_TERMS,            /* an 11th DNS-querying term */
	SPF_LIMIT_VOIDS,            /* a 3rd void lookup */
	SPF_LIMIT_RECORD,           /* a record or term over SPF_RECORD_MAX/SPF_TERM_MAX */
};

/* What the macros of a record expand to (RFC 7208 7.2), known before any
 * record arrives; %{d} is the name the record was found at. NULL: unknown. */
struct spf_macro_vals {
	const char *s, *l, *o, *h, *i, *v, *r;
};

/* The bookkeeping of one evaluation. libspf2 evaluates synchronously on the
 * calling thread, so the layer finds it through a thread-local pointer set by
 * spf_dns_eval_begin. */
struct spf_dns_eval {
	const struct spf_resolver *res;
	const struct spf_macro_vals *macros;    /* NULL: records are left alone */
	unsigned queries;           /* asked of res */
	unsigned terms;             /* DNS-querying terms seen */
	unsigned voids;             /* of those, answered void */
	int top_seen;               /* the checked domain's own record was asked for */
	int dns_failed;             /* a lookup failed: the rest are not asked */
	enum spf_limit limit;
	/* MX or PTR names whose address lookups libspf2 makes next, in order: those
	 * belong to the term that returned them and count as no term of their own. */
	char names[SPF_MAX_NAMES][SPF_DNS_NAME_BUF];
	unsigned nnames, next_name;
};

/* A layer for SPF_server_new_dns; freed with spf_dns_layer_free (libspf2's
 * SPF_dns_free leaves it alone: it has no destroy). NULL when out of memory. */
SPF_dns_server_t *spf_dns_layer_new(void);
void spf_dns_layer_free(SPF_dns_server_t **layer);

/* Start and end one evaluation on this thread. */
void spf_dns_eval_begin(struct spf_dns_eval *ev, const struct spf_resolver *res,
                        const struct spf_macro_vals *macros);
void spf_dns_eval_end(const struct spf_dns_eval *ev);

/* ---- pieces, exported for the unit tests */

/* Our answer as libspf2's record set: NXDOMAIN -> HOST_NOT_FOUND, NODATA (or no
 * usable record) -> NO_DATA, TEMPFAIL/TIMEOUT/CANCELLED -> TRY_AGAIN. Only SPF
 * records of a TXT answer are kept; at most SPF_MAX_NAMES PTR names (RFC 7208
 * 4.6.4: the others are ignored). NULL when out of memory. */
SPF_dns_rr_t *spf_dns_rr_build(SPF_dns_server_t *layer, const char *name, ns_type type,
                               const struct sluice_dns_answer *answer);
/* libspf2 1.2.10 drops the first octet of a macro's value when its
 * transformer asks for as many labels as the value has, or more ("%{d4}" of
 * email.example.com gives mail.example.com; RFC 7208 7.3 wants all of it).
 * Rewrites such macros of rec in place without the count, where v (and d, the
 * record's own domain) tell the value. Returns how many it rewrote. */
int spf_dns_macro_fix(char *rec, const struct spf_macro_vals *v, const char *d);
/* 1 when txt is an SPF record ("v=spf1" alone or followed by a space). */
int spf_dns_txt_is_spf(const char *txt);
/* 1 when an SPF record is within SPF_RECORD_MAX and each term within SPF_TERM_MAX. */
int spf_dns_txt_fits(const char *txt);
/* name without its trailing dot, the leftmost labels dropped until it fits 253
 * octets (RFC 7208 4.8), into out (SPF_DNS_NAME_BUF). 0, or -1 when what is
 * left is no domain name (an empty label, a label over 63 octets). */
int spf_dns_name_clean(const char *name, char *out);

#endif
