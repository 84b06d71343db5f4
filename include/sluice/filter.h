/* sluice/filter.h - the filter plugin ABI: the descriptor a filter exports, its
 * hooks, the verdict rules and the asynchronous contract. Together with host.h and
 * types.h it is all a filter includes. */
#ifndef SLUICE_FILTER_H
#define SLUICE_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever struct sluice_filter or struct sluice_host change in a way an
 * already built filter would misread. The loader accepts only an exact match. */
#define SLUICE_FILTER_ABI_VERSION 2

struct sluice_host;

/*
 * Every hook runs on the event-loop thread that owns the session, and must not
 * block: no blocking DNS, no sleeping, no synchronous network or disk I/O of any
 * length. Use host->dns_query(), host->work() (runs a function in the worker pool)
 * and host->timer() instead.
 *
 * Return values (see enum sluice_verdict in types.h):
 *   SLUICE_CONTINUE     go on
 *   SLUICE_ACCEPT / SLUICE_REJECT / SLUICE_TEMPFAIL / SLUICE_DISCARD
 *                       decide; the rest of the chain does not run for this phase
 *   SLUICE_QUARANTINE   mark the transaction, go on
 *   SLUICE_PENDING      the verdict comes later. Before returning PENDING, take a
 *                       token with host->suspend(ctx); later, on the loop thread,
 *                       call host->resume(token, verdict) exactly once. Until then
 *                       the session waits (other sessions do not). A filter that
 *                       does not resume within its `timeout` gets its `on_error`
 *                       verdict. A resume after RSET, after the end of the
 *                       transaction or after disconnect is dropped and logged;
 *                       it is never an error to try.
 *   anything else       treated as a filter failure: on_error applies.
 *
 * Merge rule: filters run in configuration order. The first filter that answers
 * ACCEPT, REJECT, TEMPFAIL or DISCARD decides the phase; the filters after it do
 * not run for that phase. QUARANTINE sticks to the transaction and lets the chain
 * go on; a later REJECT, TEMPFAIL or DISCARD still wins over it. After ACCEPT no
 * filter runs again for the transaction (for the session, after ACCEPT at connect
 * or helo). DISCARD answers 250 at the end of the message and delivers nothing.
 *
 * Replies: a REJECT or TEMPFAIL without a reply set through host->set_reply() gets
 * the default ("550 5.7.1 ..." / "451 4.7.1 ..."). set_reply may be called inside
 * the hook, or while it is pending (from a callback, before resume). A REJECT at
 * rcpt refuses that recipient only; the others go on. At connect, REJECT and
 * TEMPFAIL close the connection with the reply; DISCARD and QUARANTINE at connect
 * or helo apply to every transaction of the session.
 *
 * Scopes: hooks up to helo, and close, belong to the session; mail to eom, and
 * reset, to the transaction. Pending requests (DNS, timers, work, store) made in a
 * transaction hook are cancelled when the transaction ends.
 */
struct sluice_filter {
	uint32_t abi_version;     /* SLUICE_FILTER_ABI_VERSION */
	uint32_t struct_size;     /* sizeof(struct sluice_filter) */
	const char *name;         /* required, [a-z0-9_-]: identifies the code. One .so may
	                           * serve several [filter NAME] sections (each its own
	                           * init and self); two different files with the same
	                           * name are refused. */
	const char *description;  /* one line, for logs */

	/* Once, at configuration load (sluiced -t too), before any session. Read your
	 * keys with host->config_get(); report bad values with host->config_error().
	 * Keys you never read are reported as unknown. Return 0 and set *self_r (your
	 * data, passed to every hook), or -1 to refuse the configuration. */
	int (*init)(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r);
	/* Once, at shutdown, after every session ended and the worker pool drained
	 * (no work function of yours is running or queued). */
	void (*fini)(void *self);

	/* Hooks: all optional (NULL = not interested; the chain for that phase skips
	 * this filter). Strings are valid during the call only. */
	enum sluice_verdict (*connect)(struct sluice_ctx *ctx, void *self);
	enum sluice_verdict (*helo)(struct sluice_ctx *ctx, void *self, const char *helo);
	enum sluice_verdict (*starttls)(struct sluice_ctx *ctx, void *self);
	enum sluice_verdict (*auth)(struct sluice_ctx *ctx, void *self, const char *login);
	/* sender: the reverse-path without <> ("" for the null sender); params: the
	 * ESMTP parameters as sent ("SIZE=1000"), NULL-terminated. */
	enum sluice_verdict (*mail)(struct sluice_ctx *ctx, void *self, const char *sender,
	                            const char *const *params);
	enum sluice_verdict (*rcpt)(struct sluice_ctx *ctx, void *self, const char *rcpt,
	                            const char *const *params);
	/* The DATA or first BDAT command, before any content. */
	enum sluice_verdict (*data)(struct sluice_ctx *ctx, void *self);
	/* One header field as received: name, and the value after the colon exactly as
	 * sent (leading space and folding CRLFs kept, final CRLF removed). */
	enum sluice_verdict (*header)(struct sluice_ctx *ctx, void *self, const char *name,
	                              const char *value);
	enum sluice_verdict (*eoh)(struct sluice_ctx *ctx, void *self);
	/* The body after the header section, canonical CRLF, not dot-stuffed, in
	 * chunks; the last call is followed by eom. */
	enum sluice_verdict (*body)(struct sluice_ctx *ctx, void *self, const unsigned char *chunk,
	                            size_t len);
	/* End of message: the last chance for a verdict and for edits. */
	enum sluice_verdict (*eom)(struct sluice_ctx *ctx, void *self);
	/* The transaction ended (RSET, end of message, HELO, disconnect): free what
	 * you kept for it. Observers: no verdict. */
	void (*reset)(struct sluice_ctx *ctx, void *self);
	/* The session ended. */
	void (*close)(struct sluice_ctx *ctx, void *self);
};

/* Fill the version fields: const struct sluice_filter sluice_filter = {
 *     SLUICE_FILTER_HEADER, .name = "example", ... }; */
#define SLUICE_FILTER_HEADER \
	.abi_version = SLUICE_FILTER_ABI_VERSION, .struct_size = sizeof(struct sluice_filter)

/* The one symbol a filter .so exports. */
#define SLUICE_FILTER_SYMBOL "sluice_filter"
extern const struct sluice_filter sluice_filter;

#ifdef __cplusplus
}
#endif

#endif
