/* dkim_result.c - what a signature's verification comes to: libopendkim's
 * per-signature state as an RFC 8601 result, and the Authentication-Results
 * clauses and note values made of the results; no I/O. */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dkim.h"            /* libopendkim: only its DKIM_SIG* constants are used here */

#include "dkim_result.h"

static const char *const result_names[] = {
	[DKF_NONE] = "none", [DKF_PASS] = "pass", [DKF_FAIL] = "fail", [DKF_NEUTRAL] = "neutral",
	[DKF_TEMPERROR] = "temperror", [DKF_PERMERROR] = "permerror", [DKF_POLICY] = "policy",
};

const char *
dkf_result_name(enum dkf_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r]
	                                                                    : "neutral";
}

/* Errors libopendkim finds in the signature itself, before any key: they hold
 * whatever became of the key lookup. */
static enum dkf_result
classify_signature_error(int error, const char **reason_r)
{
	switch (error) {
	case DKIM_SIGERROR_VERSION:
	case DKIM_SIGERROR_INVALID_HC:
	case DKIM_SIGERROR_INVALID_BC:
	case DKIM_SIGERROR_MISSING_A:
	case DKIM_SIGERROR_INVALID_A:
	case DKIM_SIGERROR_MISSING_H:
	case DKIM_SIGERROR_INVALID_L:
	case DKIM_SIGERROR_INVALID_Q:
	case DKIM_SIGERROR_INVALID_QO:
	case DKIM_SIGERROR_MISSING_D:
	case DKIM_SIGERROR_EMPTY_D:
	case DKIM_SIGERROR_MISSING_S:
	case DKIM_SIGERROR_EMPTY_S:
	case DKIM_SIGERROR_MISSING_B:
	case DKIM_SIGERROR_EMPTY_B:
	case DKIM_SIGERROR_CORRUPT_B:
	case DKIM_SIGERROR_MISSING_BH:
	case DKIM_SIGERROR_EMPTY_BH:
	case DKIM_SIGERROR_CORRUPT_BH:
	case DKIM_SIGERROR_EMPTY_H:
	case DKIM_SIGERROR_MISSING_V:
	case DKIM_SIGERROR_EMPTY_V:
	case DKIM_SIGERROR_TIMESTAMPS:
		*reason_r = "signature syntax error";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_INVALID_H:
		*reason_r = "From not signed";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_DOMAIN:
		*reason_r = "i= not within d=";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_EXPIRED:
		*reason_r = "signature expired";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_FUTURE:
		*reason_r = "signature in the future";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_TOOLARGE_L:
		*reason_r = "l= exceeds the body";
		return DKF_PERMERROR;
	default:
		return DKF_NONE;
	}
}

enum dkf_result
dkf_classify(const struct dkf_sigfacts *f, const char **reason_r)
{
	enum dkf_result r;

	*reason_r = NULL;
	if ((f->flags & DKIM_SIGFLAG_PASSED) != 0 && f->bh == DKIM_SIGBH_MATCH) {
		/* RFC 8301 3.1: verifiers MUST NOT consider rsa-sha1 signatures valid. */
		if (f->alg == DKIM_SIGN_RSASHA1) {
			*reason_r = "rsa-sha1 not accepted";
			return DKF_POLICY;
		}
		return DKF_PASS;
	}
	if ((f->flags & DKIM_SIGFLAG_PASSED) != 0 && f->bh == DKIM_SIGBH_MISMATCH) {
		*reason_r = "body hash mismatch";
		return DKF_FAIL;
	}
	if ((r = classify_signature_error(f->error, reason_r)) != DKF_NONE)
		return r;
	switch (f->key) {
	case DKF_KEY_SKIPPED:
		*reason_r = "too many signatures";
		return DKF_POLICY;
	case DKF_KEY_BAD_NAME:
		*reason_r = "d= or s= is no DNS name";
		return DKF_PERMERROR;
	case DKF_KEY_TEMP:
		*reason_r = "key lookup failed";
		return DKF_TEMPERROR;
	case DKF_KEY_NONE:
		*reason_r = "no key";
		return DKF_PERMERROR;
	case DKF_KEY_BAD:
		*reason_r = "bad key record";
		return DKF_PERMERROR;
	case DKF_KEY_ANSWERED:
		break;
	}
	switch (f->error) {
	case DKIM_SIGERROR_NOKEY:
		*reason_r = "no key";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_KEYFAIL:
		*reason_r = "key lookup failed";
		return DKF_TEMPERROR;
	/* RFC 6376 6.1.2: an empty p= "MUST [be treated] as a failed signature
	 * check": a fail, unlike a missing key (no signature check at all). */
	case DKIM_SIGERROR_KEYREVOKED:
		*reason_r = "key revoked";
		return DKF_FAIL;
	case DKIM_SIGERROR_BADSIG:
		*reason_r = "signature mismatch";
		return DKF_FAIL;
	case DKIM_SIGERROR_KEYTOOSMALL:
		*reason_r = "key too small";
		return DKF_POLICY;
	case DKIM_SIGERROR_MBSFAILED:
		*reason_r = "required header not signed";
		return DKF_POLICY;
	case DKIM_SIGERROR_SUBDOMAIN:
		*reason_r = "key does not allow subdomains";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_MULTIREPLY:
		*reason_r = "several key records";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
		*reason_r = "key does not allow the hash";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYDECODE:
		*reason_r = "bad key record";
		return DKF_PERMERROR;
	case DKIM_SIGERROR_OK:
		if ((f->flags & DKIM_SIGFLAG_PROCESSED) != 0) {
			*reason_r = "signature mismatch";
			return DKF_FAIL;
		}
		*reason_r = "not verified";
		return DKF_NEUTRAL;
	default:
		*reason_r = "not verified";
		return DKF_NEUTRAL;
	}
}

/* ---------------------------------------------------------------- Authentication-Results */

void
dkf_sanitize(const char *in, int lower, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	for (; in != NULL && *in != '\0' && n + 1 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x21 || c > 0x7e)
			c = '?';
		out[n++] = (char)(lower ? tolower(c) : c);
	}
	out[n] = '\0';
}

/* RFC 2045 token: printable ASCII but no tspecials. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e ||
		    strchr("()<>@,;:\\\"/[]?=", *s) != NULL)
			return false;
	return true;
}

/* Appends to out[*pos] without overflowing; marks *over when it did not fit. */
static void
put(char *out, size_t outlen, size_t *pos, bool *over, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *pos, outlen - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen - *pos)
		*over = true;
	else
		*pos += (size_t)n;
}

/* " ptype.prop=value", the value quoted unless it is a token. */
static void
put_prop(char *out, size_t outlen, size_t *pos, bool *over, const char *prop, const char *value)
{
	char safe[300], quoted[620];
	size_t q = 0;

	dkf_sanitize(value, 0, safe, sizeof(safe));
	if (safe[0] == '\0')
		return;
	if (is_token(safe)) {
		put(out, outlen, pos, over, " %s=%s", prop, safe);
		return;
	}
	quoted[q++] = '"';
	for (const char *p = safe; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			quoted[q++] = '\\';
		quoted[q++] = *p;
	}
	quoted[q++] = '"';
	quoted[q] = '\0';
	put(out, outlen, pos, over, " %s=%s", prop, quoted);
}

/* b= without folding whitespace. */
static void
b_strip(const char *b, char *out, size_t outlen)
{
	size_t n = 0;

	for (; b != NULL && *b != '\0' && n + 1 < outlen; b++)
		if (!isspace((unsigned char)*b))
			out[n++] = *b;
	out[n] = '\0';
}

/* RFC 6008 2: at least 8 characters, more when another signature shares them. */
static size_t
b_prefix_len(const struct dkf_sigres *res, size_t n, size_t i)
{
	char mine[1024], other[1024];
	size_t want = 8, mlen;

	b_strip(res[i].b, mine, sizeof(mine));
	mlen = strlen(mine);
	for (size_t j = 0; j < n; j++) {
		size_t k = 0;

		if (j == i)
			continue;
		b_strip(res[j].b, other, sizeof(other));
		if (strcmp(mine, other) == 0)
			continue;           /* identical: no prefix tells them apart */
		while (mine[k] != '\0' && mine[k] == other[k])
			k++;
		if (k + 1 > want)
			want = k + 1;
	}
	return want < mlen ? want : mlen;
}

size_t
dkf_ar_build(const struct dkf_sigres *res, size_t n, char *out, size_t outlen)
{
	size_t pos = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	if (n == 0) {
		snprintf(out, outlen, "dkim=none");
		return strlen(out);
	}
	for (size_t i = 0; i < n; i++) {
		size_t start = pos;
		bool over = false;
		char b[1024], reason[120];

		put(out, outlen, &pos, &over, "%sdkim=%s", i > 0 ? "; " : "",
		    dkf_result_name(res[i].result));
		if (res[i].reason != NULL) {
			/* A comment: printable, no parentheses or backslashes inside. */
			size_t k = 0;

			for (const char *p = res[i].reason; *p && k + 1 < sizeof(reason); p++)
				reason[k++] = (*p < 0x20 || *p > 0x7e || *p == '(' || *p == ')' ||
				               *p == '\\') ? '?' : *p;
			reason[k] = '\0';
			put(out, outlen, &pos, &over, " (%s)", reason);
		}
		put_prop(out, outlen, &pos, &over, "header.d", res[i].domain);
		put_prop(out, outlen, &pos, &over, "header.s", res[i].selector);
		b_strip(res[i].b, b, sizeof(b));
		b[b_prefix_len(res, n, i)] = '\0';
		put_prop(out, outlen, &pos, &over, "header.b", b);
		if (over) {
			pos = start;        /* leave the clause out, whole */
			out[pos] = '\0';
			break;
		}
	}
	return pos;
}
