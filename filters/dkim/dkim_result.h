/* dkim_result.h - RFC 8601 results from libopendkim's per-signature state, and
 * the Authentication-Results clauses and note values built from them. Pure:
 * check_dkim tests it. */
#ifndef DKIM_RESULT_H
#define DKIM_RESULT_H

#include <stddef.h>

enum dkf_result {
	DKF_NONE = 0,
	DKF_PASS,
	DKF_FAIL,
	DKF_NEUTRAL,
	DKF_TEMPERROR,
	DKF_PERMERROR,
	DKF_POLICY,
};

const char *dkf_result_name(enum dkf_result r);

/* What became of the key lookup we made for a signature. */
enum dkf_key_state {
	DKF_KEY_ANSWERED = 0,     /* a record was handed to libopendkim */
	DKF_KEY_NONE,             /* NXDOMAIN / NODATA: no key */
	DKF_KEY_TEMP,             /* SERVFAIL, timeout, query not made */
	DKF_KEY_SKIPPED,          /* not looked up: over the signature limit */
	DKF_KEY_BAD_NAME,         /* d= or s= cannot form a DNS name */
	DKF_KEY_BAD,              /* a record libopendkim cannot take (too long) */
};

/* What libopendkim said about one signature after dkim_eom. */
struct dkf_sigfacts {
	unsigned flags;           /* dkim_sig_getflags */
	int bh;                   /* dkim_sig_getbh */
	int error;                /* dkim_sig_geterror */
	int alg;                  /* dkim_sig_getsignalg, DKIM_SIGN_* (-2 unknown) */
	enum dkf_key_state key;
};

/* The RFC 8601 result of one signature and, unless it passed, a short reason
 * for the comment ("body hash mismatch"). */
enum dkf_result dkf_classify(const struct dkf_sigfacts *f, const char **reason_r);

/* ---------------------------------------------------------------- Authentication-Results */

struct dkf_sigres {
	enum dkf_result result;
	const char *reason;       /* NULL: no comment */
	const char *domain;       /* d= as given, may be NULL */
	const char *selector;     /* s= as given, may be NULL */
	const char *b;            /* b= as given (folding whitespace allowed), may be NULL */
};

/* The resinfo clauses for n signatures joined with "; "
 * ("dkim=pass header.d=example.org header.s=sel header.b=ABCDEFGH"), or
 * "dkim=none" when n is 0. header.b carries the first 8 characters of b=, more
 * when two signatures share them (RFC 6008). Values that are no RFC 2045
 * token are quoted; characters outside printable ASCII become '?'. Clauses
 * that do not fit are left out, whole. Returns the length written. */
size_t dkf_ar_build(const struct dkf_sigres *res, size_t n, char *out, size_t outlen);

/* A value made safe for a note or a log line: printable ASCII, lower case when
 * lower is set, truncated to fit. */
void dkf_sanitize(const char *in, int lower, char *out, size_t outlen);

#endif
