/* chain.c - per-phase filter dispatch; today an empty chain that continues. */
#include <stddef.h>

#include "chain.h"

static const char *const phase_names[CHAIN_PHASE_COUNT] = {
	"connect", "helo", "mail", "rcpt", "data", "eom", "reset", "close",
};

const char *
chain_phase_name(enum chain_phase phase)
{
	return phase < CHAIN_PHASE_COUNT ? phase_names[phase] : "?";
}

void
chain_run(struct session *s, enum chain_phase phase, chain_done_fn *done)
{
	static const struct chain_result cont = { CHAIN_CONTINUE, NULL };

	(void)phase;
	done(s, &cont);
}
