/* ruleset.h - the rules filter's pure core: rule parsing, address and regex
 * matching, and the in-order decision walk. No host calls, no sessions; the
 * only I/O is reading a rules file. Used by rules.c and tests/unit/check_rules.c. */
#ifndef SLUICE_RULES_RULESET_H
#define SLUICE_RULES_RULESET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* What a rule looks at. The order is the order a session learns them. */
enum rule_match {
	RULE_ANY = 0,        /* always matches */
	RULE_CLIENT,         /* client address in a CIDR */
	RULE_CLIENT_NAME,    /* verified client name, or "unknown" */
	RULE_HELO,
	RULE_LOGIN,          /* the authenticated user; never matches when there is none */
	RULE_SENDER,         /* reverse-path without <>, "" for the null sender */
	RULE_RCPT,           /* one recipient at rcpt; any accepted recipient at eom */
	RULE_HEADER,         /* any field of that name, value unfolded */
	RULE_MATCH_COUNT
};

enum rule_action {
	RULE_ACCEPT = 0, RULE_REJECT, RULE_TEMPFAIL, RULE_DISCARD,   /* terminal */
	RULE_ADD_HEADER, RULE_SCORE,                                 /* at eom, go on */
};

#define RULE_KNOWN(m) (1u << (m))

/* An IPv4 address is kept as ::ffff:a.b.c.d, so one comparison serves both
 * families and a client seen as an IPv4-mapped IPv6 address matches IPv4 rules. */
struct rule_addr {
	uint8_t b[16];
};

struct rule_cidr {
	struct rule_addr net;
	unsigned bits;       /* of the 128 */
};

struct rule {
	char *where;         /* "rule7" or "/etc/sluice/rules:12", for logs */
	enum rule_match match;
	struct rule_cidr cidr;                  /* RULE_CLIENT */
	char *header;                           /* RULE_HEADER: field name */
	pcre2_code *re;                         /* the regex kinds */
	enum rule_action action;
	char code[4], ecode[12];                /* reject/tempfail; "" = default reply */
	char *text;                             /* reply text, or add_header value, or score reason */
	char *field;                            /* add_header: field name */
	double points;                          /* score */
};

/* Immutable once built; shared by sessions through the reference count. */
struct ruleset {
	atomic_uint refs;
	size_t n, cap;
	struct rule *rules;
	pcre2_match_context *mctx;              /* bounds backtracking on client data */
};

/* Problems found while parsing: where ("rule3", "FILE:LINE") and what. */
typedef void ruleset_error_fn(void *arg, const char *where, const char *msg);

/* A new empty set with one reference; NULL when out of memory. */
struct ruleset *ruleset_new(void);
struct ruleset *ruleset_ref(struct ruleset *rs);
/* Drop a reference; the last one frees. NULLs *rs. */
void ruleset_unref(struct ruleset **rs);

/* Parse one rule (blank or comment-only text adds nothing) and append it.
 * Returns 0, or -1 with a message in err. */
int ruleset_add(struct ruleset *rs, const char *text, const char *where, char *err, size_t errlen);

/* Append the rules of a file, one per line ('#' starts a comment). Every bad
 * line is reported through report; returns the number of problems (0 = good).
 * When st_r is given it receives the file's stat as read. */
int ruleset_add_file(struct ruleset *rs, const char *path, struct stat *st_r,
                     ruleset_error_fn *report, void *arg);

/* Pieces, exported for the unit tests. */
int rule_addr_parse(const char *text, struct rule_addr *addr_r);
int rule_cidr_parse(const char *text, struct rule_cidr *cidr_r, char *err, size_t errlen);
int rule_cidr_match(const struct rule_cidr *cidr, const struct rule_addr *addr);
/* "CODE X.Y.Z text" for a reject (5) or tempfail (4) action. */
int rule_reply_parse(const char *text, enum rule_action action, struct rule *r, char *err,
                     size_t errlen);
const char *rule_action_name(enum rule_action action);
const char *rule_match_name(enum rule_match match);

/* What is known when the walk runs. known: RULE_KNOWN() bits of the kinds whose
 * subject is available; a rule of a kind not known stops the walk when it is
 * terminal (an earlier rule might still match later) and is skipped otherwise. */
struct rule_facts {
	unsigned known;
	const struct rule_addr *client;         /* NULL: unparseable (matches no CIDR) */
	const char *client_name, *helo, *login, *sender;
	size_t rcpt_count;
	const char *(*rcpt)(void *arg, size_t i);
	/* index is 1-based; NULL past the last field of that name */
	const char *(*header)(void *arg, const char *name, size_t index);
	void *arg;
};

enum ruleset_outcome {
	RULESET_UNDECIDED = 0,  /* an earlier rule waits for a later phase */
	RULESET_NOMATCH,        /* no terminal rule matches, none ever will */
	RULESET_DECIDED,        /* *rule_r is the first terminal rule that matches */
};

/* Called for each matching add_header/score rule above the deciding rule. */
typedef void ruleset_apply_fn(void *arg, const struct rule *r);

/* Walk the rules in order. apply may be NULL (then non-terminal rules are
 * ignored; pass it at eom only, when everything is known). */
enum ruleset_outcome ruleset_walk(const struct ruleset *rs, const struct rule_facts *facts,
                                  ruleset_apply_fn *apply, void *arg, const struct rule **rule_r);

#endif
