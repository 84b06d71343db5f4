/* dkim_verify.c - verifying every DKIM-Signature of an inbound message: headers
 * into libopendkim as they come, key lookups through sluice's resolver from the
 * end of the header section on, the results into notes at eom. */

/*
 * Why this shape: libopendkim's own resolver blocks and shares one res_state
 * per DKIM_LIB without a lock. So at eoh we ask dkim_getsiglist which keys the
 * message needs and look them up with host->dns_query while the body streams;
 * at eom dkim_eom finds them through dkf_verify_key_lookup, without DNS. The
 * crypto of dkim_eom (an RSA or Ed25519 verification per signature, tens of
 * microseconds; the body was hashed chunk by chunk already) runs on the loop
 * thread: a trip through the worker pool would cost more than it saves, and the
 * handle never changes threads.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_int.h"

#define DKF_AR_MAX 4000         /* under the host's 4096-octet note limit */
#define DKF_LOG_MAX 900

/* The argument of one lookup. */
struct dkf_query {
	struct dkf_tx *tx;
	size_t idx;
};

void
dkf_verify_start(struct dkf_tx *tx, struct sluice_ctx *ctx)
{
	DKIM_STAT st;

	tx->dkim = dkim_verify(tx->self->lib, (const u_char *)tx->id, NULL, &st);
	if (tx->dkim == NULL) {
		tx->self->host->log(ctx, SLUICE_LOG_WARNING, "dkim_verify: %s",
		                    dkim_getresultstr(st));
		return;
	}
	dkim_set_user_context(tx->dkim, tx);
}

void
dkf_verify_header(struct dkf_tx *tx, struct sluice_ctx *ctx, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	char *field;

	if (tx->dkim == NULL || tx->eoh_done)
		return;
	if (strcasecmp(name, DKIM_SIGNHEADER) == 0)
		tx->sig_headers++;
	/* "Name:" and the value exactly as sent: what both canonicalizations need. */
	if ((field = malloc(nlen + vlen + 2)) == NULL)
		return;
	memcpy(field, name, nlen);
	field[nlen] = ':';
	memcpy(field + nlen + 1, value, vlen + 1);
	if (dkim_header(tx->dkim, (u_char *)field, nlen + vlen + 1) != DKIM_STAT_OK)
		tx->self->host->log(ctx, SLUICE_LOG_DEBUG, "dkim_header %s: %s", name,
		                    dkim_geterror(tx->dkim) ? dkim_geterror(tx->dkim) : "refused");
	free(field);
}

/* The first TXT record that looks like a key (RFC 6376 3.6.2.2 leaves several
 * records to the verifier; a p= tag is what a key record cannot lack). */
static const char *
pick_record(const struct sluice_dns_answer *a)
{
	for (size_t i = 0; i < a->count; i++)
		if (strstr(a->records[i], "p=") != NULL)
			return a->records[i];
	return a->count > 0 ? a->records[0] : NULL;
}

static enum sluice_verdict verify_finish(struct dkf_tx *tx, struct sluice_ctx *ctx);

static void
key_answer(struct sluice_ctx *ctx, void *arg, const struct sluice_dns_answer *answer)
{
	struct dkf_query *q = arg;
	struct dkf_tx *tx = q->tx;
	struct dkf_vsig *v;
	const char *rec;

	if (answer->status == SLUICE_ASYNC_CANCELLED || tx->ended) {
		free(q);
		dkf_tx_unref(tx);
		return;
	}
	v = &tx->sigs[q->idx];
	v->pending = 0;
	tx->pending--;
	tx->self->host->log(ctx, SLUICE_LOG_DEBUG, "key lookup %zu: status %d, %zu record%s",
	                    q->idx + 1, (int)answer->status, answer->count,
	                    answer->count == 1 ? "" : "s");
	switch (answer->status) {
	case SLUICE_ASYNC_OK:
		rec = pick_record(answer);
		if (rec == NULL || (v->record = strdup(rec)) == NULL)
			v->key = rec == NULL ? DKF_KEY_NONE : DKF_KEY_TEMP;
		else
			v->key = DKF_KEY_ANSWERED;
		break;
	case SLUICE_ASYNC_NXDOMAIN:
	case SLUICE_ASYNC_NODATA:
		v->key = DKF_KEY_NONE;
		break;
	default:
		v->key = DKF_KEY_TEMP;
		break;
	}
	if (tx->pending == 0 && tx->token != 0) {
		sluice_resume_t token = tx->token;
		enum sluice_verdict verdict;

		tx->token = 0;
		verdict = verify_finish(tx, ctx);
		tx->self->host->resume(token, verdict);
	}
	free(q);
	dkf_tx_unref(tx);
}

static int
key_name(DKIM_SIGINFO *sig, char *name, size_t len)
{
	const char *d = (const char *)dkim_sig_getdomain(sig);
	const char *s = (const char *)dkim_sig_getselector(sig);
	size_t n;

	if (d == NULL || s == NULL || *d == '\0' || *s == '\0')
		return -1;
	if ((size_t)snprintf(name, len, "%s._domainkey.%s", s, d) >= len)
		return -1;
	/* Only DNS name characters (also keeps a hostile d= out of the query). */
	n = strlen(name);
	if (n > 253 || strstr(name, "..") != NULL || name[n - 1] == '.' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n)
		return -1;
	return 0;
}

static void
start_lookups(struct dkf_tx *tx, struct sluice_ctx *ctx)
{
	const struct sluice_host *h = tx->self->host;
	DKIM_SIGINFO **list;
	int n;

	if (dkim_getsiglist(tx->dkim, &list, &n) != DKIM_STAT_OK || n <= 0)
		return;
	if ((tx->sigs = calloc((size_t)n, sizeof(*tx->sigs))) == NULL)
		return;
	tx->nsigs = (size_t)n;
	for (size_t i = 0; i < tx->nsigs; i++) {
		struct dkf_vsig *v = &tx->sigs[i];
		struct dkf_query *q;
		char name[300];

		v->sig = list[i];
		if (i >= tx->self->max_sigs) {
			v->key = DKF_KEY_SKIPPED;
			continue;
		}
		if ((dkim_sig_getflags(list[i]) & DKIM_SIGFLAG_IGNORE) != 0 ||
		    key_name(list[i], name, sizeof(name)) < 0) {
			v->key = DKF_KEY_BAD_NAME;
			continue;
		}
		if ((q = malloc(sizeof(*q))) == NULL) {
			v->key = DKF_KEY_TEMP;
			continue;
		}
		q->tx = tx;
		q->idx = i;
		v->pending = 1;
		tx->pending++;
		tx->refs++;
		if (h->dns_query(ctx, name, SLUICE_DNS_TXT, key_answer, q) < 0) {
			v->pending = 0;
			v->key = DKF_KEY_TEMP;
			tx->pending--;
			tx->refs--;
			free(q);
			continue;
		}
		h->log(ctx, SLUICE_LOG_DEBUG, "looking up %s", name);
	}
}

void
dkf_verify_eoh(struct dkf_tx *tx, struct sluice_ctx *ctx)
{
	DKIM_STAT st;

	if (tx->dkim == NULL || tx->eoh_done)
		return;
	tx->eoh_done = 1;
	st = dkim_eoh(tx->dkim);
	if (st == DKIM_STAT_NOSIG && tx->sig_headers == 0) {
		tx->unsigned_msg = 1;
		return;
	}
	start_lookups(tx, ctx);
}

void
dkf_verify_body(struct dkf_tx *tx, const unsigned char *chunk, size_t len)
{
	if (tx->dkim == NULL || tx->unsigned_msg || len == 0)
		return;
	(void)dkim_body(tx->dkim, (u_char *)chunk, len);
}

DKIM_CBSTAT
dkf_verify_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct dkf_tx *tx = dkim_get_user_context(dkim);
	size_t len;

	for (size_t i = 0; tx != NULL && i < tx->nsigs; i++) {
		struct dkf_vsig *v = &tx->sigs[i];

		if (v->sig != sig)
			continue;
		if (v->key != DKF_KEY_ANSWERED || v->record == NULL)
			break;
		if ((len = strlen(v->record)) >= buflen) {
			/* Over libopendkim's 1 KiB: far beyond a 4096-bit RSA key's record,
			 * the largest RFC 8301 asks verifiers to take. */
			v->key = DKF_KEY_BAD;
			break;
		}
		memcpy(buf, v->record, len + 1);
		return DKIM_CBSTAT_CONTINUE;
	}
	/* No key for libopendkim (it goes on with the other signatures). Why not
	 * is our own state, which dkf_classify reads before libopendkim's error:
	 * TRYAGAIN and ERROR would only leave that error unknown. */
	return DKIM_CBSTAT_NOTFOUND;
}

static enum dkf_key_state
key_state_of(const struct dkf_tx *tx, DKIM_SIGINFO *sig, size_t i)
{
	for (size_t k = 0; k < tx->nsigs; k++)
		if (tx->sigs[k].sig == sig)
			return tx->sigs[k].key;
	return i < tx->nsigs ? tx->sigs[i].key : DKF_KEY_NONE;
}

/* The notes, the log line and on_fail, from the per-signature results. */
static enum sluice_verdict
verify_report(struct dkf_tx *tx, struct sluice_ctx *ctx, const struct dkf_sigres *res, size_t n)
{
	const struct sluice_host *h = tx->self->host;
	char ar[DKF_AR_MAX], logline[DKF_LOG_MAX], key[48], val[256];
	size_t pos = 0;
	int passed = 0, failed = 0;

	h->note_set_int(ctx, SLUICE_SCOPE_TX, "dkim.count", (int64_t)n);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "dkim.%zu.result", i + 1);
		h->note_set(ctx, SLUICE_SCOPE_TX, key, dkf_result_name(res[i].result));
		snprintf(key, sizeof(key), "dkim.%zu.domain", i + 1);
		dkf_sanitize(res[i].domain, 1, val, sizeof(val));
		h->note_set(ctx, SLUICE_SCOPE_TX, key, val);
		snprintf(key, sizeof(key), "dkim.%zu.selector", i + 1);
		dkf_sanitize(res[i].selector, 0, val, sizeof(val));
		h->note_set(ctx, SLUICE_SCOPE_TX, key, val);
		passed += res[i].result == DKF_PASS;
		failed += res[i].result == DKF_FAIL;
	}
	dkf_ar_build(res, n, ar, sizeof(ar));
	h->note_set(ctx, SLUICE_SCOPE_TX, "auth-results.dkim", ar);

	logline[0] = '\0';
	for (size_t i = 0; i < n && pos + 1 < sizeof(logline); i++) {
		char d[128], s[64];
		int w;

		dkf_sanitize(res[i].domain, 1, d, sizeof(d));
		dkf_sanitize(res[i].selector, 0, s, sizeof(s));
		w = snprintf(logline + pos, sizeof(logline) - pos, "%s%s%s%s%s d=%s s=%s",
		             i > 0 ? "; " : "", dkf_result_name(res[i].result),
		             res[i].reason ? " (" : "", res[i].reason ? res[i].reason : "",
		             res[i].reason ? ")" : "", d, s);
		if (w < 0 || (size_t)w >= sizeof(logline) - pos)
			break;
		pos += (size_t)w;
	}
	if (n == 0)
		h->log(ctx, SLUICE_LOG_INFO, "verify: none (unsigned)");
	else
		h->log(ctx, SLUICE_LOG_INFO, "verify: %zu signature%s: %s", n, n == 1 ? "" : "s",
		       logline);
	h->counter_add(ctx, n == 0 ? "none" : passed > 0 ? "pass" : failed > 0 ? "fail" : "other",
	               1);

	/* on_fail: only when nothing passed and something failed outright. */
	if (passed > 0 || failed == 0)
		return SLUICE_CONTINUE;
	switch (tx->self->on_fail.kind) {
	case DKF_ACT_REJECT:
		h->set_reply(ctx, "550", "5.7.20", "No passing DKIM signature found");
		return SLUICE_REJECT;
	case DKF_ACT_TEMPFAIL:
		h->set_reply(ctx, "451", "4.7.20", "No passing DKIM signature found");
		return SLUICE_TEMPFAIL;
	case DKF_ACT_SCORE:
		h->score_add(ctx, tx->self->on_fail.points, "dkim fail");
		return SLUICE_CONTINUE;
	default:
		return SLUICE_CONTINUE;
	}
}

static enum sluice_verdict
verify_finish(struct dkf_tx *tx, struct sluice_ctx *ctx)
{
	DKIM_SIGINFO **list = NULL;
	struct dkf_sigres *res;
	enum sluice_verdict v;
	DKIM_STAT st;
	int n = 0;

	if (tx->dkim == NULL) {
		tx->self->host->log(ctx, SLUICE_LOG_WARNING,
		                    "verify: not done (no libopendkim handle)");
		return SLUICE_CONTINUE;
	}
	if (tx->unsigned_msg)
		return verify_report(tx, ctx, NULL, 0);
	for (size_t i = 0; i < tx->nsigs; i++)
		if (tx->sigs[i].pending)
			tx->sigs[i].key = DKF_KEY_TEMP;     /* eom could not wait for it */
	/* Its own status only summarises; every signature is read below. */
	st = dkim_eom(tx->dkim, NULL);
	if (st != DKIM_STAT_OK)
		tx->self->host->log(ctx, SLUICE_LOG_DEBUG, "dkim_eom: %s%s%s",
		                    dkim_getresultstr(st), dkim_geterror(tx->dkim) ? ": " : "",
		                    dkim_geterror(tx->dkim) ? dkim_geterror(tx->dkim) : "");
	if (dkim_getsiglist(tx->dkim, &list, &n) != DKIM_STAT_OK || n < 0)
		n = 0;
	if (n == 0 && tx->sig_headers > 0) {
		/* DKIM-Signature fields libopendkim could not even list. */
		struct dkf_sigres bad = { DKF_PERMERROR, "signature syntax error", NULL, NULL,
		                          NULL };

		return verify_report(tx, ctx, &bad, 1);
	}
	if ((res = calloc((size_t)n + 1, sizeof(*res))) == NULL)
		return SLUICE_TEMPFAIL;
	for (int i = 0; i < n; i++) {
		struct dkf_sigfacts f;
		dkim_alg_t alg = DKIM_SIGN_UNKNOWN;

		(void)dkim_sig_getsignalg(list[i], &alg);
		f.flags = dkim_sig_getflags(list[i]);
		f.bh = dkim_sig_getbh(list[i]);
		f.error = dkim_sig_geterror(list[i]);
		f.alg = (int)alg;
		f.key = key_state_of(tx, list[i], (size_t)i);
		res[i].result = dkf_classify(&f, &res[i].reason);
		res[i].domain = (const char *)dkim_sig_getdomain(list[i]);
		res[i].selector = (const char *)dkim_sig_getselector(list[i]);
		res[i].b = (const char *)dkim_sig_gettagvalue(list[i], 0, (u_char *)"b");
		tx->self->host->log(ctx, SLUICE_LOG_DEBUG,
		                    "signature %d: flags %#x bh %d error %d key %d", i + 1, f.flags,
		                    f.bh, f.error, (int)f.key);
	}
	v = verify_report(tx, ctx, res, (size_t)n);
	free(res);
	return v;
}

enum sluice_verdict
dkf_verify_eom(struct dkf_tx *tx, struct sluice_ctx *ctx)
{
	dkf_verify_eoh(tx, ctx);       /* a message without an empty line */
	if (tx->pending > 0) {
		tx->token = tx->self->host->suspend(ctx);
		if (tx->token != 0) {
			tx->self->host->log(ctx, SLUICE_LOG_DEBUG, "eom waits for %u key lookup%s",
			                    tx->pending, tx->pending == 1 ? "" : "s");
			return SLUICE_PENDING;
		}
	}
	return verify_finish(tx, ctx);
}

void
dkf_verify_free(struct dkf_tx *tx)
{
	if (tx->dkim != NULL) {
		dkim_free(tx->dkim);
		tx->dkim = NULL;
	}
	for (size_t i = 0; i < tx->nsigs; i++) {
		free(tx->sigs[i].record);
		tx->sigs[i].record = NULL;
	}
}
