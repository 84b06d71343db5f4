/* dkim_filter.c - the dkim filter: its configuration, its libopendkim library
 * handle, and the hooks that hand each transaction to verifying or signing. */

/*
 *   [filter dkim]
 *   module = dkim
 *   verify = yes                          # verify inbound signatures (default)
 *   on_fail = none                        # none|reject|tempfail|score:N
 *   max_signatures = 10                   # looked up per message
 *   sign_table = /etc/sluice/dkim/signing # DOMAIN SELECTOR KEYFILE lines
 *   sign_listeners = submission           # also sign everything from these
 *
 * A transaction is signed when its session authenticated or came in on a
 * listener of sign_listeners (and a sign table is set); every other one is
 * verified. doc/filters/dkim.md says why and what the notes are.
 */

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_int.h"

/* RFC 6376 5.4 and 5.4.1: the fields to sign when present, plus
 * List-Unsubscribe-Post (RFC 8058 3.1: MUST be signed with List-Unsubscribe). */
const char *const dkf_sign_headers[] = {
	"from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
	"mime-version", "content-type", "content-transfer-encoding", "content-id",
	"content-description", "resent-date", "resent-from", "resent-sender", "resent-to",
	"resent-cc", "resent-message-id", "in-reply-to", "references", "list-id", "list-help",
	"list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-post", "list-owner",
	"list-archive", NULL,
};

/* Signed once more than present, so that no From can be added after signing
 * (RFC 6376 8.15). */
const char *const dkf_oversign_headers[] = { "from", NULL };

/* ---------------------------------------------------------------- transactions */

void
dkf_tx_unref(struct dkf_tx *tx)
{
	if (tx == NULL || --tx->refs > 0)
		return;
	dkf_verify_free(tx);
	free(tx->sigs);
	free(tx);
}

static int
sign_session(const struct dkf *self, struct sluice_ctx *ctx)
{
	const struct sluice_host *h = self->host;
	const char *listener = h->listener(ctx);

	if (self->table == NULL)
		return 0;
	if (h->login(ctx) != NULL)
		return 1;
	return listener != NULL && dkf_word_in_list(self->sign_listeners, listener);
}

/* The transaction's state, made on first use (the data hook, normally). */
static struct dkf_tx *
tx_get(struct dkf *self, struct sluice_ctx *ctx)
{
	const struct sluice_host *h = self->host;
	struct dkf_tx *tx = h->get_data(ctx, SLUICE_SCOPE_TX);
	const char *id;

	if (tx != NULL)
		return tx;
	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return NULL;
	tx->self = self;
	tx->refs = 1;
	id = h->tx_id(ctx);
	snprintf(tx->id, sizeof(tx->id), "%s", id != NULL ? id : "-");
	/* A session we sign for is outbound mail: its own signatures are the
	 * sender's business, and ours is added last. */
	if (sign_session(self, ctx))
		tx->mode = DKF_MODE_SIGN;
	else if (self->verify)
		tx->mode = DKF_MODE_VERIFY;
	h->set_data(ctx, SLUICE_SCOPE_TX, tx);
	if (tx->mode == DKF_MODE_VERIFY)
		dkf_verify_start(tx, ctx);
	return tx;
}

static enum sluice_verdict
dkf_data(struct sluice_ctx *ctx, void *self)
{
	return tx_get(self, ctx) != NULL ? SLUICE_CONTINUE : SLUICE_TEMPFAIL;
}

static enum sluice_verdict
dkf_header(struct sluice_ctx *ctx, void *self, const char *name, const char *value)
{
	struct dkf_tx *tx = tx_get(self, ctx);

	if (tx == NULL)
		return SLUICE_TEMPFAIL;
	if (tx->mode == DKF_MODE_VERIFY)
		dkf_verify_header(tx, ctx, name, value);
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
dkf_eoh(struct sluice_ctx *ctx, void *self)
{
	struct dkf_tx *tx = tx_get(self, ctx);

	if (tx == NULL)
		return SLUICE_TEMPFAIL;
	if (tx->mode == DKF_MODE_VERIFY)
		dkf_verify_eoh(tx, ctx);
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
dkf_body(struct sluice_ctx *ctx, void *self, const unsigned char *chunk, size_t len)
{
	struct dkf_tx *tx = tx_get(self, ctx);

	if (tx == NULL)
		return SLUICE_TEMPFAIL;
	if (tx->mode == DKF_MODE_VERIFY)
		dkf_verify_body(tx, chunk, len);
	return SLUICE_CONTINUE;
}

static enum sluice_verdict
dkf_eom(struct sluice_ctx *ctx, void *self)
{
	struct dkf_tx *tx = tx_get(self, ctx);

	if (tx == NULL)
		return SLUICE_TEMPFAIL;
	switch (tx->mode) {
	case DKF_MODE_VERIFY:
		return dkf_verify_eom(tx, ctx);
	case DKF_MODE_SIGN:
		return dkf_sign_eom(self, tx, ctx);
	default:
		return SLUICE_CONTINUE;
	}
}

static void
dkf_reset(struct sluice_ctx *ctx, void *self_)
{
	struct dkf *self = self_;
	struct dkf_tx *tx = self->host->get_data(ctx, SLUICE_SCOPE_TX);

	if (tx == NULL)
		return;
	self->host->set_data(ctx, SLUICE_SCOPE_TX, NULL);
	tx->ended = 1;
	tx->token = 0;
	dkf_verify_free(tx);          /* lookups still out only drop their reference */
	dkf_tx_unref(tx);
}

/* ---------------------------------------------------------------- configuration */

static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
load_sign_table(struct dkf *self, struct sluice_filter_config *cfg, const char *path)
{
	const struct sluice_host *h = self->host;
	char *text, *dir, err[512];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		h->config_error(cfg, "sign_table", "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((text = malloc(1024 * 1024 + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(text, 1, 1024 * 1024 + 1, f);
	fclose(f);
	if (n > 1024 * 1024) {
		h->config_error(cfg, "sign_table", "%s: larger than 1 MiB", path);
		free(text);
		return -1;
	}
	text[n] = '\0';
	if ((dir = strdup(path)) == NULL) {
		free(text);
		return -1;
	}
	self->table = dkf_table_parse(text, dirname(dir), err, sizeof(err));
	free(dir);
	free(text);
	if (self->table == NULL) {
		h->config_error(cfg, "sign_table", "%s: %s", path, err);
		return -1;
	}
	return dkf_sign_load_keys(self, cfg);
}

static int
set_lib_options(struct dkf *self)
{
	u_int flags = 0;

	/* Without DELAYSIGPROC libopendkim fetches the keys inside dkim_eoh, before
	 * our lookups even started; with it, in dkim_eom. */
	if (dkim_options(self->lib, DKIM_OP_GETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
	    DKIM_STAT_OK)
		return -1;
	flags |= DKIM_LIBFLAGS_DELAYSIGPROC;
	if (dkim_options(self->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
	    DKIM_STAT_OK)
		return -1;
	/* libopendkim takes these lists as u_char ** and copies them. */
	if (dkim_options(self->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *)dkf_sign_headers,
	                 sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_options(self->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
	                 (void *)dkf_oversign_headers, sizeof(char **)) != DKIM_STAT_OK)
		return -1;
	return dkim_set_key_lookup(self->lib, dkf_verify_key_lookup) == DKIM_STAT_OK ? 0 : -1;
}

static void
dkf_free(struct dkf *self)
{
	dkf_sign_free_keys(self);
	dkf_table_free(&self->table);
	free(self->sign_listeners);
	if (self->lib != NULL)
		dkim_close(self->lib);
	free(self);
}

static int
read_keys(struct dkf *self, struct sluice_filter_config *cfg)
{
	const struct sluice_host *h = self->host;
	const char *v;
	int errors = 0;

	if ((v = h->config_get(cfg, "verify")) != NULL && parse_bool(v, &self->verify) < 0) {
		h->config_error(cfg, "verify", "want yes or no, got \"%s\"", v);
		errors++;
	}
	if ((v = h->config_get(cfg, "on_fail")) != NULL &&
	    dkf_action_parse(v, &self->on_fail) < 0) {
		h->config_error(cfg, "on_fail", "want none, reject, tempfail or score:N, "
		                "got \"%s\"", v);
		errors++;
	}
	if ((v = h->config_get(cfg, "max_signatures")) != NULL) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 1 || n > DKF_MAX_SIGS_LIMIT) {
			h->config_error(cfg, "max_signatures", "want 1 to %d, got \"%s\"",
			                DKF_MAX_SIGS_LIMIT, v);
			errors++;
		} else {
			self->max_sigs = (unsigned)n;
		}
	}
	if ((v = h->config_get(cfg, "sign_listeners")) != NULL && *v != '\0' &&
	    (self->sign_listeners = strdup(v)) == NULL)
		errors++;
	if ((v = h->config_get(cfg, "sign_table")) != NULL && *v != '\0' &&
	    load_sign_table(self, cfg, v) < 0)
		errors++;
	if (errors == 0 && self->sign_listeners != NULL && self->table == NULL) {
		h->config_error(cfg, "sign_listeners", "needs sign_table: nothing to sign with");
		errors++;
	}
	if (errors == 0 && !self->verify && self->table == NULL) {
		h->config_error(cfg, NULL, "verify = no and no sign_table: nothing to do");
		errors++;
	}
	return errors > 0 ? -1 : 0;
}

static int
dkf_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct dkf *self = calloc(1, sizeof(*self));

	if (self == NULL)
		return -1;
	self->host = host;
	self->verify = 1;
	self->max_sigs = DKF_MAX_SIGS_DEFAULT;
	if (read_keys(self, cfg) < 0) {
		dkf_free(self);
		return -1;
	}
	if ((self->lib = dkim_init(NULL, NULL)) == NULL || set_lib_options(self) < 0) {
		host->config_error(cfg, NULL, "libopendkim could not be set up");
		dkf_free(self);
		return -1;
	}
	host->log_global(SLUICE_LOG_DEBUG, "dkim: verify %s, %zu signing domain%s",
	                 self->verify ? "on" : "off", self->table ? self->table->n : 0,
	                 self->table && self->table->n == 1 ? "" : "s");
	*self_r = self;
	return 0;
}

static void
dkf_fini(void *self)
{
	dkf_free(self);
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "dkim",
	.description = "DKIM: verifies inbound signatures; signs authenticated sessions' mail",
	.init = dkf_init,
	.fini = dkf_fini,
	.data = dkf_data,
	.header = dkf_header,
	.eoh = dkf_eoh,
	.body = dkf_body,
	.eom = dkf_eom,
	.reset = dkf_reset,
};
