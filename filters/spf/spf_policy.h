/* spf_policy.h - what the spf filter does with each result, and whom it does
 * not check: parsing of its keys and matching of client addresses. Pure. */
#ifndef SLUICE_SPF_POLICY_H
#define SLUICE_SPF_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "spf_check.h"

enum spf_act {
	SPF_ACT_NONE = 0,           /* record the result, nothing more */
	SPF_ACT_REJECT,             /* refuse MAIL with 5xx */
	SPF_ACT_TEMPFAIL,           /* refuse MAIL with 4xx */
	SPF_ACT_SCORE,              /* add points to the transaction's score */
};

struct spf_action {
	enum spf_act act;
	double points;              /* SPF_ACT_SCORE */
};

/* An address as 16 octets; IPv4 as ::ffff:a.b.c.d so one compare serves both. */
struct spf_addr {
	uint8_t b[16];
};

struct spf_cidr {
	struct spf_addr net;
	unsigned bits;              /* of the 128 */
};

struct spf_policy {
	struct spf_action on[SPF_RES_COUNT];
	int helo_fail_reject;       /* a failing HELO name refuses MAIL too */
	int check_authenticated;    /* also check sessions that authenticated */
	struct spf_cidr *skip;      /* clients never checked */
	size_t nskip;
};

/* fail reject, temperror tempfail, softfail score 2.0, neutral score 0.5, the
 * rest nothing; HELO fail recorded only; authenticated sessions skipped. */
void spf_policy_defaults(struct spf_policy *p);
void spf_policy_clear(struct spf_policy *p);

/* "reject", "tempfail", "none", "score:N" (N a number, may be negative).
 * 0, or -1 with a message in err. */
int spf_action_parse(const char *text, struct spf_action *out, char *err, size_t errlen);
const char *spf_act_name(enum spf_act act);

/* Blank-separated addresses and CIDRs ("192.0.2.0/24 2001:db8::/32 10.1.2.3"),
 * appended to p->skip. 0, or -1 with the bad item named in err. */
int spf_policy_skip_parse(struct spf_policy *p, const char *text, char *err, size_t errlen);

/* "192.0.2.1", "2001:db8::1" or "::ffff:192.0.2.1". 0 or -1. */
int spf_addr_parse(const char *text, struct spf_addr *out);
int spf_cidr_parse(const char *text, struct spf_cidr *out);
int spf_cidr_match(const struct spf_cidr *cidr, const struct spf_addr *addr);
/* Loopback (127/8, ::1): libspf2 would call it "pass" without asking anyone. */
int spf_addr_is_loopback(const struct spf_addr *addr);
/* The address as SPF sees it, printable: an IPv4-mapped address as IPv4. */
void spf_addr_format(const struct spf_addr *addr, char *out, size_t len);
int spf_policy_skips(const struct spf_policy *p, const struct spf_addr *client);

#endif
