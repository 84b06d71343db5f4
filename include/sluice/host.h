/* sluice/host.h - the services sluice lends a filter: one table of functions,
 * handed to init() and valid until fini(). A filter never sees sluice's own
 * structures; everything goes through these calls. */
#ifndef SLUICE_HOST_H
#define SLUICE_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SLUICE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SLUICE_PRINTF(f, a)
#endif

typedef void sluice_dns_cb(struct sluice_ctx *ctx, void *arg, const struct sluice_dns_answer *answer);
/* Runs in a worker thread: may block; must not touch the ctx nor call any host
 * function except log_global and counter_add (with a NULL ctx). Its return value
 * is handed to the done callback, also when the request was cancelled (status
 * SLUICE_ASYNC_CANCELLED, ctx NULL), so it can be freed. */
typedef void *sluice_work_fn(void *arg);
typedef void sluice_work_done_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status,
                                 void *result);
typedef void sluice_timer_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status);
/* value: the stored value (NULL when absent) or the new counter value as text. */
typedef void sluice_store_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status,
                             const char *value);

/*
 * Unless said otherwise: call on the loop thread, from a hook or from a callback
 * the host made; functions returning int answer 0 on success and -1 on refusal
 * (bad arguments, wrong phase, ended scope), which is also logged. init and fini
 * run on the main thread before and after the loops; only log_global and the
 * config functions are usable there. Hooks do not receive the host table: keep
 * the pointer init receives (valid until fini).
 */
struct sluice_host {
	uint32_t abi_version;     /* SLUICE_FILTER_ABI_VERSION */
	uint32_t struct_size;     /* sizeof(struct sluice_host) as sluice was built */

	/* ---- configuration (init only) */
	/* The value of key in the filter's section, or NULL. Marks the key as known. */
	const char *(*config_get)(struct sluice_filter_config *cfg, const char *key);
	/* Report a problem with key (NULL: the section); printed as file:line. */
	void (*config_error)(struct sluice_filter_config *cfg, const char *key, const char *fmt, ...)
		SLUICE_PRINTF(3, 4);
	/* The file:line of key, for messages of your own ("" when unknown). */
	const char *(*config_where)(struct sluice_filter_config *cfg, const char *key);

	/* ---- logging: one line, with the session id and the filter name */
	void (*log)(struct sluice_ctx *ctx, enum sluice_log_level level, const char *fmt, ...)
		SLUICE_PRINTF(3, 4);
	/* Outside any session (init, fini, worker threads too). */
	void (*log_global)(enum sluice_log_level level, const char *fmt, ...) SLUICE_PRINTF(2, 3);

	/* ---- who and what (strings valid until the scope they describe ends) */
	const char *(*session_id)(struct sluice_ctx *ctx);
	const char *(*tx_id)(struct sluice_ctx *ctx);          /* NULL outside a transaction */
	const char *(*client_addr)(struct sluice_ctx *ctx);    /* "192.0.2.1", "2001:db8::1" */
	unsigned (*client_port)(struct sluice_ctx *ctx);
	const char *(*client_name)(struct sluice_ctx *ctx);    /* verified name or "unknown" */
	const char *(*helo)(struct sluice_ctx *ctx);           /* NULL before HELO/EHLO */
	const char *(*login)(struct sluice_ctx *ctx);          /* NULL unless authenticated */
	const char *(*listener)(struct sluice_ctx *ctx);       /* listener name */
	const char *(*sender)(struct sluice_ctx *ctx);         /* NULL outside a transaction */
	size_t (*rcpt_count)(struct sluice_ctx *ctx);          /* accepted recipients so far */
	const char *(*rcpt)(struct sluice_ctx *ctx, size_t i);

	/* ---- the reply for REJECT/TEMPFAIL: code 4xx or 5xx matching the verdict you
	 * return, enhanced code "X.Y.Z" with the same class, text without CR, LF or
	 * NUL, under 400 octets. Refused otherwise (and the default reply is used). */
	int (*set_reply)(struct sluice_ctx *ctx, const char *code, const char *ecode, const char *text);

	/* ---- headers of the message (header, eoh, body, eom hooks). Reads see the
	 * message as received; edits apply to what goes to the backend, in call order.
	 * Names: printable ASCII without ':' or space; values: no CR, LF or NUL (long
	 * values may be folded by the caller with "\n\t", which becomes CRLF TAB);
	 * a header line over 998 octets is refused. */
	size_t (*header_count)(struct sluice_ctx *ctx, const char *name);
	/* The index-th (1-based) field called name, value as received, or NULL. */
	const char *(*header_get)(struct sluice_ctx *ctx, const char *name, size_t index);
	/* Added at the top, above sluice's own Received header (trace and result
	 * headers belong there, RFC 5321 4.4, RFC 8601). Written "Name: value": the
	 * host puts one space after the colon; readers (header hook, header_get) get
	 * values as received, leading space included. */
	int (*header_add)(struct sluice_ctx *ctx, const char *name, const char *value);
	/* Inserted before the position-th field of the received header (0 = top). */
	int (*header_insert)(struct sluice_ctx *ctx, size_t position, const char *name, const char *value);
	/* Change the index-th (1-based) field called name; value NULL deletes it. */
	int (*header_change)(struct sluice_ctx *ctx, const char *name, size_t index, const char *value);

	/* ---- envelope edits (eom hook) */
	int (*sender_change)(struct sluice_ctx *ctx, const char *sender, const char *params);
	int (*rcpt_add)(struct sluice_ctx *ctx, const char *rcpt, const char *params);
	int (*rcpt_delete)(struct sluice_ctx *ctx, const char *rcpt);

	/* ---- body replacement (eom hook): the first call drops the received body;
	 * calls append. Canonical CRLF text; bare CR or LF become CRLF. */
	int (*body_replace)(struct sluice_ctx *ctx, const void *data, size_t len);

	/* ---- notes: typed key/value pairs later filters read (an SPF result for
	 * DMARC). Keys: "filter.name" by convention. Strings are copied. */
	int (*note_set)(struct sluice_ctx *ctx, enum sluice_scope scope, const char *key, const char *value);
	int (*note_set_int)(struct sluice_ctx *ctx, enum sluice_scope scope, const char *key, int64_t value);
	/* The value, or NULL; the transaction scope is searched first. */
	const char *(*note_get)(struct sluice_ctx *ctx, const char *key);
	/* The value, or def when absent or not an integer. */
	int64_t (*note_get_int)(struct sluice_ctx *ctx, const char *key, int64_t def);

	/* ---- score: points with reasons, summed over the transaction; with
	 * score_header set in [sluice], written as a header at the end. reason:
	 * printable, at most 100 octets. */
	int (*score_add)(struct sluice_ctx *ctx, double points, const char *reason);
	double (*score)(struct sluice_ctx *ctx);

	/* ---- asynchronous verdicts */
	/* A token for the hook now running; return SLUICE_PENDING after taking it. */
	sluice_resume_t (*suspend)(struct sluice_ctx *ctx);
	/* Deliver the verdict of a pending hook (loop thread). 0 when it was taken,
	 * -1 when it was dropped (late, unknown, or PENDING again). */
	int (*resume)(sluice_resume_t token, enum sluice_verdict verdict);

	/* ---- asynchronous services: each callback runs exactly once (see
	 * enum sluice_async_status). Return -1 when the request could not be made
	 * (then the callback never runs). */
	int (*dns_query)(struct sluice_ctx *ctx, const char *name, enum sluice_dns_type type,
	                 sluice_dns_cb *cb, void *arg);
	int (*work)(struct sluice_ctx *ctx, sluice_work_fn *fn, sluice_work_done_cb *done, void *arg);
	int (*timer)(struct sluice_ctx *ctx, unsigned ms, sluice_timer_cb *cb, void *arg);

	/* ---- shared store (in memory today; Redis behind the same calls later):
	 * counters and values with a time to live, shared by every session. */
	int (*store_incr)(struct sluice_ctx *ctx, const char *key, int64_t delta, unsigned ttl_ms,
	                  sluice_store_cb *cb, void *arg);
	int (*store_get)(struct sluice_ctx *ctx, const char *key, sluice_store_cb *cb, void *arg);
	int (*store_set)(struct sluice_ctx *ctx, const char *key, const char *value, unsigned ttl_ms,
	                 sluice_store_cb *cb, void *arg);

	/* ---- metrics: a counter "sluice_filter_<filter>_<name>" (any thread; from a
	 * work function pass a NULL ctx and get "sluice_filter_<name>"). */
	void (*counter_add)(struct sluice_ctx *ctx, const char *name, uint64_t delta);

	/* ---- the filter's own per-session and per-transaction pointers (you free
	 * what they point to, in close and reset). */
	void (*set_data)(struct sluice_ctx *ctx, enum sluice_scope scope, void *data);
	void *(*get_data)(struct sluice_ctx *ctx, enum sluice_scope scope);

	/* ---- added in ABI version 2 */

	/* From a work function only (a worker thread, inside fn): look name up
	 * through the resolver dns_query uses (the same servers, dns_local_data and
	 * caches) and wait for the answer, at most dns_timeout plus a second. For
	 * libraries whose DNS layer is synchronous (libspf2). Returns an answer
	 * (status tells the outcome; SLUICE_ASYNC_TIMEOUT when the wait ran out)
	 * that the caller frees with dns_answer_free, or NULL when the lookup could
	 * not be made (not on a worker thread, bad name or type, shutting down). */
	struct sluice_dns_answer *(*dns_query_wait)(const char *name, enum sluice_dns_type type);
	void (*dns_answer_free)(struct sluice_dns_answer *answer);

	/* The message as it will go to the backend, with every edit made so far
	 * (filters earlier in the chain, and your own): header fields, the empty
	 * line, the body; canonical CRLF, not dot-stuffed; without the trace and
	 * result headers sluice adds itself at the very end (its Received and
	 * Authentication-Results). eom hook only (or while eom is pending). cb is
	 * called with consecutive chunks of any size until the end, or until it
	 * returns non-zero, before message_read returns. Returns 0, or -1 (wrong
	 * phase, the spool could not be read). For a signer placed last in the
	 * chain (DKIM). */
	int (*message_read)(struct sluice_ctx *ctx,
	                    int (*cb)(void *arg, const unsigned char *data, size_t len), void *arg);
};

/*
 * Authentication-Results (RFC 8601): sluice writes one header itself, at the end
 * of the message, when some filter left a result and `authserv_id` is not
 * "none". A filter contributes its method's results with a transaction note
 * whose key starts with "auth-results." (the rest is free, e.g.
 * "auth-results.spf"), whose value is one or more resinfo clauses joined with
 * "; " (e.g. "spf=pass smtp.mailfrom=example.org"). Clauses appear in the order
 * the notes were first set. Authentication-Results fields that arrive with the
 * message and name our authserv-id are removed before any filter sees the
 * message (RFC 8601 section 5).
 *
 * Notes the sender-authentication filters leave for each other (transaction
 * scope, values lower case):
 *   spf.result      pass|fail|softfail|neutral|none|temperror|permerror
 *                   (for the MAIL FROM identity; for a null sender the HELO one)
 *   spf.domain      the domain checked
 *   spf.scope       "mfrom" or "helo"
 *   spf.helo_result the HELO identity's result (session scope)
 *   dkim.count      signatures evaluated (integer)
 *   dkim.N.result   pass|fail|neutral|temperror|permerror|policy, N = 1..count
 *   dkim.N.domain   its d=
 *   dkim.N.selector its s=
 *   dmarc.result    pass|fail|none|temperror|permerror
 *   dmarc.policy    none|quarantine|reject (the policy applied)
 */

#ifdef __cplusplus
}
#endif

#endif
