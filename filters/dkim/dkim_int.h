/* dkim_int.h - what the dkim filter's files share: the instance (one [filter]
 * section), the transaction, and the entry points of verifying and signing. */
#ifndef DKIM_INT_H
#define DKIM_INT_H

#include <sys/types.h>       /* before dkim.h: it uses u_char and friends */

#include <stddef.h>

#include "dkim.h"

#include "sluice/filter.h"
#include "sluice/host.h"
#include "sluice/types.h"

#include "dkim_core.h"
#include "dkim_result.h"

#define DKF_MAX_SIGS_DEFAULT 10
#define DKF_MAX_SIGS_LIMIT 50

/* The fields signed when present (RFC 6376 5.4) and those signed once more
 * than present (From, RFC 6376 8.15); lower case, NULL-terminated. */
extern const char *const dkf_sign_headers[];
extern const char *const dkf_oversign_headers[];

/* A signing key from the sign table, read at init. */
struct dkf_key {
	char *pem;                /* the key file's text, handed to dkim_sign (RSA) */
	int alg;                  /* DKIM_SIGN_RSASHA256 or DKIM_SIGN_ED25519SHA256 */
	unsigned bits;
	unsigned char raw[32];    /* Ed25519: the private key, for our own signer */
};

/* One [filter] section. Read-only after init, so shared by every loop thread
 * without a lock; libopendkim's DKIM_LIB is thread-safe (the key lookups go
 * through our callback, never its own resolver). */
struct dkf {
	const struct sluice_host *host;
	DKIM_LIB *lib;
	int verify;               /* verify = yes|no */
	struct dkf_action on_fail;
	unsigned max_sigs;
	char *sign_listeners;     /* blank-separated listener names, or NULL */
	struct dkf_table *table;  /* NULL: no signing */
	struct dkf_key *keys;     /* one per table entry, same order */
};

enum dkf_mode { DKF_MODE_OFF = 0, DKF_MODE_VERIFY, DKF_MODE_SIGN };

/* One signature being verified, and what became of its key lookup. */
struct dkf_vsig {
	DKIM_SIGINFO *sig;
	enum dkf_key_state key;
	int pending;              /* the lookup has not answered yet */
	char *record;             /* the TXT record for libopendkim (key ANSWERED) */
};

/* One transaction. Reference counted: the transaction (until reset) holds one
 * reference and each outstanding key lookup one, because a lookup's callback
 * may run after reset (cancelled) and must find its memory still there. */
struct dkf_tx {
	struct dkf *self;
	enum dkf_mode mode;
	unsigned refs;
	int ended;                /* reset ran: callbacks only drop their reference */
	char id[64];              /* for libopendkim's messages */

	/* verifying */
	DKIM *dkim;
	int eoh_done;
	int unsigned_msg;         /* dkim_eoh said NOSIG */
	size_t sig_headers;       /* DKIM-Signature fields seen */
	struct dkf_vsig *sigs;
	size_t nsigs;
	unsigned pending;         /* outstanding lookups */
	sluice_resume_t token;    /* eom waiting for them; 0 = not waiting */
};

void dkf_tx_unref(struct dkf_tx *tx);

/* dkim_verify.c: the hooks of a verifying transaction. */
void dkf_verify_start(struct dkf_tx *tx, struct sluice_ctx *ctx);
void dkf_verify_header(struct dkf_tx *tx, struct sluice_ctx *ctx, const char *name,
                       const char *value);
void dkf_verify_eoh(struct dkf_tx *tx, struct sluice_ctx *ctx);
void dkf_verify_body(struct dkf_tx *tx, const unsigned char *chunk, size_t len);
enum sluice_verdict dkf_verify_eom(struct dkf_tx *tx, struct sluice_ctx *ctx);
/* Frees the libopendkim handle and the lookup answers (not the tx). */
void dkf_verify_free(struct dkf_tx *tx);
/* libopendkim's key lookup: hands over the answer the loop already has. */
DKIM_CBSTAT dkf_verify_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen);

/* dkim_sign.c */
/* Reads the sign table's key files (init, main thread); reports through cfg. */
int dkf_sign_load_keys(struct dkf *self, struct sluice_filter_config *cfg);
void dkf_sign_free_keys(struct dkf *self);
/* The eom of a signing transaction: reads the message as it will go out,
 * signs it in the worker pool and adds DKIM-Signature. */
enum sluice_verdict dkf_sign_eom(struct dkf *self, struct dkf_tx *tx, struct sluice_ctx *ctx);

#endif
