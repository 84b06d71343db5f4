/* dkim_core.h - the dkim filter's pure parts on the way in: the sign table,
 * splitting a message stream into header fields and body, the From domain,
 * small parsers. No I/O, no host calls: what check_dkim tests. */
#ifndef DKIM_CORE_H
#define DKIM_CORE_H

#include <stddef.h>

/* ---------------------------------------------------------------- sign table */

struct dkf_table_entry {
	char *domain;             /* lower case, no trailing dot */
	char *selector;
	char *keyfile;            /* as written, or joined to the table's directory */
	int line;
};

struct dkf_table {
	struct dkf_table_entry *v;
	size_t n;
};

/* Parses the text of a sign table: one "DOMAIN SELECTOR KEYFILE" per line,
 * blanks between, '#' starts a comment, blank lines skipped. A relative
 * KEYFILE is taken relative to basedir (NULL: left as is). Returns the table,
 * or NULL with "line N: why" in err (also for an empty table and for a
 * domain listed twice). Free with dkf_table_free. */
struct dkf_table *dkf_table_parse(const char *text, const char *basedir, char *err, size_t errlen);
/* The entry for domain (compared case-insensitively, trailing dot ignored), or NULL. */
const struct dkf_table_entry *dkf_table_find(const struct dkf_table *t, const char *domain);
void dkf_table_free(struct dkf_table **t);

/* ---------------------------------------------------------------- message splitting */

/* Splits a message given as CRLF text in chunks of any size into its header
 * fields (each "Name: value" with its inner folding CRLFs, without the final
 * CRLF), the end of the header section, and the body (passed through as it
 * comes). A callback returning non-zero stops the split (feed then returns 1). */
struct dkf_split_cb {
	int (*field)(void *arg, const char *field, size_t len);
	int (*eoh)(void *arg);
	int (*body)(void *arg, const unsigned char *data, size_t len);
	void *arg;
};

#define DKF_FIELD_MAX (64 * 1024)     /* one header field, folded lines included */

struct dkf_split {
	struct dkf_split_cb cb;
	int state;                /* see dkim_core.c */
	int stopped;
	char *field;              /* the field being gathered */
	size_t len, cap;
};

void dkf_split_init(struct dkf_split *s, const struct dkf_split_cb *cb);
/* 0: go on; 1: a callback stopped it; -1: a header field over DKF_FIELD_MAX, or
 * a line in the header section that is no field (no colon; the header section
 * then ends there, RFC 5322 has no such thing). */
int dkf_split_feed(struct dkf_split *s, const unsigned char *data, size_t len);
/* End of the stream: flushes a pending field and ends the header section if
 * the message had no empty line. Same returns as feed. */
int dkf_split_end(struct dkf_split *s);
void dkf_split_free(struct dkf_split *s);

/* The domain of the first mailbox of a From field value (RFC 5322 address
 * syntax: display names, comments, quoted local parts, folding), lower case,
 * without a trailing dot, into out. 0, or -1 when there is none (or a domain
 * literal, or it does not fit). */
int dkf_from_domain(const char *value, char *out, size_t outlen);

/* ---------------------------------------------------------------- small helpers */

/* Turns libopendkim's "\r\n\t" folding into the "\n\t" header values take,
 * in place; drops any other CR. */
void dkf_fold_lf(char *s);

/* 1 when word is one of the blank- or comma-separated words of list. */
int dkf_word_in_list(const char *list, const char *word);

enum dkf_action_kind { DKF_ACT_NONE = 0, DKF_ACT_REJECT, DKF_ACT_TEMPFAIL, DKF_ACT_SCORE };

struct dkf_action {
	enum dkf_action_kind kind;
	double points;
};

/* "none", "reject", "tempfail" or "score:N" (N a finite number, |N| <= 1000). */
int dkf_action_parse(const char *v, struct dkf_action *a);

#endif
