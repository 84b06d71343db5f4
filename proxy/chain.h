/* chain.h - where the session hands each SMTP phase to the filter chain.
 *
 * The filter plugin system (loader, per-phase chains, verdict merge) is the next
 * step of the project; today every phase answers CHAIN_CONTINUE. The session calls
 * chain_run() exactly once per phase and continues in the callback, which may run
 * before chain_run() returns (synchronous verdict) or later (asynchronous). */
#ifndef SLUICE_CHAIN_H
#define SLUICE_CHAIN_H

struct session;

enum chain_phase {
	CHAIN_CONNECT, CHAIN_HELO, CHAIN_MAIL, CHAIN_RCPT, CHAIN_DATA, CHAIN_EOM,
	CHAIN_RESET, CHAIN_CLOSE,
	CHAIN_PHASE_COUNT
};

/* Milter's SMFIS_* values, one-to-one. */
enum chain_verdict {
	CHAIN_CONTINUE = 0, CHAIN_ACCEPT, CHAIN_REJECT, CHAIN_TEMPFAIL, CHAIN_DISCARD,
};

struct chain_result {
	enum chain_verdict verdict;
	const char *reply;        /* full reply line without CRLF for REJECT/TEMPFAIL, or NULL */
};

typedef void chain_done_fn(struct session *s, const struct chain_result *result);

const char *chain_phase_name(enum chain_phase phase);

/* Run the filters of one phase for session s, then call done(s, result). */
void chain_run(struct session *s, enum chain_phase phase, chain_done_fn *done);

#endif
