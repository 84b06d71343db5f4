/* example.c - the template filter: every hook, each feature behind one key. */

/*
 * Copy this file to start a filter of your own (doc/filter-api.md walks through
 * it). It includes only the three public headers, keeps its configuration in
 * one struct handed back by init, and answers every hook.
 *
 * With no keys in its section it does nothing but answer SLUICE_CONTINUE at
 * every phase: loaded several times, it measures what the chain itself costs.
 *
 *   [filter example]
 *   module = example
 *   add_header = yes          # add "X-Example: seen" at the end of the message
 *   reject_rcpt = a@b.test    # refuse that one recipient, with our own reply
 *   delay_ms = 200            # wait that long at MAIL, without blocking anyone
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/filter.h"
#include "sluice/host.h"
#include "sluice/types.h"

/* What init read. Hooks only read it, so sessions on every loop thread may share
 * it without locks. */
struct example {
	const struct sluice_host *host;   /* hooks get no host argument: keep it */
	int add_header;
	char *reject_rcpt;                /* NULL: reject nobody */
	unsigned delay_ms;                /* 0: answer at once */
};

static int
example_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct example *ex = calloc(1, sizeof(*ex));
	const char *v;
	int errors = 0;

	if (ex == NULL)
		return -1;
	ex->host = host;

	/* Read every key you know, even the ones you end up not using: a key that
	 * nobody reads is reported to the administrator as unknown (a typo). */
	v = host->config_get(cfg, "add_header");
	if (v != NULL) {
		if (strcasecmp(v, "yes") == 0)
			ex->add_header = 1;
		else if (strcasecmp(v, "no") != 0) {
			host->config_error(cfg, "add_header", "want yes or no, got \"%s\"", v);
			errors++;
		}
	}
	v = host->config_get(cfg, "reject_rcpt");
	if (v != NULL && *v != '\0') {
		ex->reject_rcpt = strdup(v);    /* cfg and its strings end with init */
		if (ex->reject_rcpt == NULL)
			errors++;
	}
	v = host->config_get(cfg, "delay_ms");
	if (v != NULL) {
		char *end;
		unsigned long ms;

		errno = 0;
		ms = strtoul(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || *v == '-' || ms > 60000) {
			host->config_error(cfg, "delay_ms", "want milliseconds 0..60000, got \"%s\"", v);
			errors++;
		}
		ex->delay_ms = (unsigned)ms;
	}
	if (errors > 0) {
		free(ex->reject_rcpt);
		free(ex);
		return -1;              /* sluiced -t prints the errors and exits 1 */
	}
	*self_r = ex;
	return 0;
}

static void
example_fini(void *self)
{
	struct example *ex = self;

	free(ex->reject_rcpt);
	free(ex);
}

/* ---- the hooks, in the order a session meets them */

static enum sluice_verdict
example_connect(struct sluice_ctx *ctx, void *self)
{
	(void)ctx;
	(void)self;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_helo(struct sluice_ctx *ctx, void *self, const char *helo)
{
	(void)ctx;
	(void)self;
	(void)helo;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_starttls(struct sluice_ctx *ctx, void *self)
{
	(void)ctx;
	(void)self;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_auth(struct sluice_ctx *ctx, void *self, const char *login)
{
	(void)ctx;
	(void)self;
	(void)login;
	return SLUICE_CONTINUE;
}

/* The async pattern. The hook takes a token, starts a timer and returns
 * PENDING; the session waits (no other session does). The timer callback, on
 * the same loop thread, answers through the token. If the transaction ends first
 * (the client said RSET or went away), the callback runs with
 * SLUICE_ASYNC_CANCELLED: then the ctx is gone and there is nothing to resume. */
struct example_wait {
	const struct sluice_host *host;
	sluice_resume_t token;
};

static void
example_delay_done(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status)
{
	struct example_wait *w = arg;

	if (status == SLUICE_ASYNC_OK) {
		w->host->log(ctx, SLUICE_LOG_DEBUG, "delay over");
		w->host->resume(w->token, SLUICE_CONTINUE);
	}
	free(w);                /* ours, whatever the status */
}

static enum sluice_verdict
example_mail(struct sluice_ctx *ctx, void *self, const char *sender, const char *const *params)
{
	struct example *ex = self;
	struct example_wait *w;

	(void)sender;
	(void)params;
	if (ex->delay_ms == 0)
		return SLUICE_CONTINUE;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return SLUICE_TEMPFAIL;
	w->host = ex->host;
	w->token = ex->host->suspend(ctx);
	if (w->token == 0 || ex->host->timer(ctx, ex->delay_ms, example_delay_done, w) < 0) {
		/* The request was not made, so no callback will come: answer now. */
		free(w);
		return SLUICE_TEMPFAIL;
	}
	return SLUICE_PENDING;
}

static enum sluice_verdict
example_rcpt(struct sluice_ctx *ctx, void *self, const char *rcpt, const char *const *params)
{
	struct example *ex = self;

	(void)params;
	if (ex->reject_rcpt == NULL || strcasecmp(rcpt, ex->reject_rcpt) != 0)
		return SLUICE_CONTINUE;
	/* Only this recipient is refused; the transaction goes on with the others.
	 * The code's class (5) must match the verdict (REJECT), or the host refuses
	 * the reply and uses its default. */
	ex->host->set_reply(ctx, "550", "5.7.1", "Example filter says no to this recipient");
	ex->host->log(ctx, SLUICE_LOG_INFO, "rejected recipient <%s>", rcpt);
	return SLUICE_REJECT;
}

static enum sluice_verdict
example_data(struct sluice_ctx *ctx, void *self)
{
	(void)ctx;
	(void)self;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_header(struct sluice_ctx *ctx, void *self, const char *name, const char *value)
{
	(void)ctx;
	(void)self;
	(void)name;
	(void)value;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_eoh(struct sluice_ctx *ctx, void *self)
{
	(void)ctx;
	(void)self;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_body(struct sluice_ctx *ctx, void *self, const unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)self;
	(void)chunk;
	(void)len;
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
example_eom(struct sluice_ctx *ctx, void *self)
{
	struct example *ex = self;

	/* Edits are made at eom: the whole message is known, nothing has gone to
	 * the backend yet. header_add puts the field at the very top. */
	if (ex->add_header && ex->host->header_add(ctx, "X-Example", "seen") < 0)
		return SLUICE_TEMPFAIL;
	return SLUICE_CONTINUE;
}

static void
example_reset(struct sluice_ctx *ctx, void *self)
{
	/* Free here what you stored with set_data(ctx, SLUICE_SCOPE_TX, ...). */
	(void)ctx;
	(void)self;
}

static void
example_close(struct sluice_ctx *ctx, void *self)
{
	/* Free here what you stored with set_data(ctx, SLUICE_SCOPE_SESSION, ...). */
	(void)ctx;
	(void)self;
}

/* The one symbol sluice looks for. A hook left NULL costs nothing: the chain of
 * that phase skips the filter. */
const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "example",
	.description = "template filter: continues everywhere unless told otherwise",
	.init = example_init,
	.fini = example_fini,
	.connect = example_connect,
	.helo = example_helo,
	.starttls = example_starttls,
	.auth = example_auth,
	.mail = example_mail,
	.rcpt = example_rcpt,
	.data = example_data,
	.header = example_header,
	.eoh = example_eoh,
	.body = example_body,
	.eom = example_eom,
	.reset = example_reset,
	.close = example_close,
};
