/* chain.h - per-phase filter chains: dispatch in configuration order, verdict
 * merge, pending hooks and their resumption, per-filter timeout, on_error and
 * dry_run. The session calls chain_run() once per phase and continues in the
 * callback, which may run before chain_run() returns (every filter answered at
 * once) or later, from the loop (a hook was pending). */
#ifndef SLUICE_CHAIN_H
#define SLUICE_CHAIN_H

#include <stddef.h>

#include "sluice/types.h"

struct session;
struct filter_set;

enum chain_phase {
	CHAIN_CONNECT, CHAIN_HELO, CHAIN_STARTTLS, CHAIN_AUTH, CHAIN_MAIL, CHAIN_RCPT,
	CHAIN_DATA, CHAIN_HEADER, CHAIN_EOH, CHAIN_BODY, CHAIN_EOM,
	CHAIN_PHASE_COUNT
};

/* What the phase's hooks get. */
struct chain_args {
	const char *str;                 /* helo name, sender, recipient, login */
	const char *const *params;       /* ESMTP parameters (mail, rcpt), NULL-terminated */
	const char *name, *value;        /* header */
	const unsigned char *chunk;      /* body */
	size_t len;
};

/* The merged outcome: CONTINUE (go on; also after ACCEPT, QUARANTINE and DISCARD,
 * which the chain records for the transaction), or REJECT / TEMPFAIL with the full
 * reply line ("550 5.7.1 text", no CRLF). */
struct chain_result {
	enum sluice_verdict verdict;
	const char *reply;
};

typedef void chain_done_fn(struct session *s, const struct chain_result *result);

const char *chain_phase_name(enum chain_phase phase);

/* The loaded filters, shared read-only by every loop (set once at start). */
void chain_configure(const struct filter_set *set);
/* Does any filter have a hook for this phase (cheap; lets the session skip work). */
int chain_wants(enum chain_phase phase);

/* Session lifecycle: begin at accept; tx_end when a transaction ends (runs the
 * reset hooks, cancels the transaction's pending requests, drops its notes);
 * end at disconnect (reset if needed, then close hooks; cancels everything). */
void chain_session_begin(struct session *s);
void chain_tx_end(struct session *s);
void chain_session_end(struct session *s);

/* Run one phase. args may be NULL for phases without arguments. */
void chain_run(struct session *s, enum chain_phase phase, const struct chain_args *args,
               chain_done_fn *done);

/* Transaction marks left by the chain. */
int chain_tx_discard(const struct session *s);
const char *chain_tx_quarantine(const struct session *s);   /* reason or NULL */
double chain_tx_score(const struct session *s);
const char *chain_tx_score_reasons(const struct session *s); /* "a=1.00, b=2.00" or "" */
/* The values of the transaction notes whose key starts with prefix, in the order
 * the notes were first set; at most max, count returned. Valid until the notes
 * change. */
size_t chain_tx_notes(const struct session *s, const char *prefix, const char **values, size_t max);

#endif
