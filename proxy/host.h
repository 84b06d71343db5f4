/* host.h - sluice's implementation of the filter host table (sluice/host.h):
 * services lent to filters, bound to the per-(session, filter) contexts. */
#ifndef SLUICE_PROXY_HOST_H
#define SLUICE_PROXY_HOST_H

#include "sluice/host.h"

struct server;
struct sluice_ctx;

/* The table handed to every filter's init. */
const struct sluice_host *host_table(void);

/* Shared services (worker pool, store) for the host functions; set once by main
 * before threads start. */
void host_configure(struct server *srv);

/* The scope ended: cancel the context's pending requests of that scope; each
 * callback runs now with SLUICE_ASYNC_CANCELLED and a NULL ctx (work jobs: once
 * the function returned). */
void host_cancel_scope(struct sluice_ctx *ctx, enum sluice_scope scope);

#endif
