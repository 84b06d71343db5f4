/* chain_state.h - what chain.c and host.c share about one session's filters:
 * the per-filter contexts handed to hooks, the phase being run, notes, score.
 * Private to those two files. */
#ifndef SLUICE_CHAIN_STATE_H
#define SLUICE_CHAIN_STATE_H

#include <stdint.h>

#include "chain.h"
#include "sluice/types.h"

struct event;
struct filter_instance;
struct host_req;
struct session;

/* A filter's view of one session (the opaque struct of the ABI). */
struct sluice_ctx {
	struct session *s;
	const struct filter_instance *f;
	void *data[2];                   /* indexed by enum sluice_scope */
	struct host_req *reqs;           /* pending asynchronous requests */
	int in_hook;                     /* a hook of this filter is running now */
	sluice_resume_t token;           /* of the pending hook, 0 when none */
	int early;                       /* resumed from inside the hook itself */
	enum sluice_verdict early_verdict;
};

struct chain_note {
	struct chain_note *next;
	enum sluice_scope scope;
	char *key;
	char *value;
};

struct chain_session {
	struct sluice_ctx *ctx;          /* one per loaded filter, in chain order */
	size_t nctx;
	uint64_t call_seq;               /* bumped per hook call; in resume tokens */

	/* the phase being run */
	int running;
	enum chain_phase phase;
	size_t pos;                      /* index into the phase's filter list */
	struct chain_args args;
	chain_done_fn *done;
	struct event *timer;             /* the pending hook's timeout */
	size_t pending;                  /* filter index of the pending hook */

	/* the current hook's reply (host->set_reply) and the result handed back */
	char reply[512];
	int reply_set;
	char result_reply[512];

	/* marks */
	int tx_active;
	int accept_session, accept_tx, discard_session, discard_tx;
	char quarantine[256];            /* "" when none */
	double score;
	char score_reasons[512];
	struct chain_note *notes;
};

/* The context of filter index i in session s, for host.c. */
struct chain_session *chain_of(const struct session *s);

/* host.c: make the token of the hook now running, and resume one. */
sluice_resume_t chain_suspend(struct sluice_ctx *ctx);
int chain_resume(struct session *s, sluice_resume_t token, enum sluice_verdict verdict);

#endif
