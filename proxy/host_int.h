/* host_int.h - what host.c and host_wait.c share: the context checks and the
 * services that live in host_wait.c. Private to those files. */
#ifndef SLUICE_HOST_INT_H
#define SLUICE_HOST_INT_H

#include <stddef.h>

#include "sluice/host.h"

struct message;
struct worker;

/* The ctx is usable (a hook, or a callback the host made); logs when not. */
int host_ctx_ok(struct sluice_ctx *ctx, const char *what);
/* Log that the filter's call was refused, and why. */
void host_ctx_refuse(struct sluice_ctx *ctx, const char *what, const char *why);
/* The parsed message of the content phases, or NULL (refused and logged). */
struct message *host_ctx_message(struct sluice_ctx *ctx, const char *what);

/* A filter's work function with the loop that asked for it: the pool thread runs
 * host_work_run(&call), which lets dns_query_wait find that loop's resolver. */
struct host_work_call {
	sluice_work_fn *fn;
	void *arg;
	struct worker *origin;
};
void *host_work_run(void *call);

/* The ABI's dns_query_wait, dns_answer_free and message_read. */
struct sluice_dns_answer *host_dns_query_wait(const char *name, enum sluice_dns_type type);
void host_dns_answer_free(struct sluice_dns_answer *answer);
int host_message_read(struct sluice_ctx *ctx, int (*cb)(void *arg, const unsigned char *data, size_t len),
                      void *arg);

#endif
