/* backend.h - the backend MTAs: health (down/up with retry), their EHLO
 * capabilities, and the probe that learns them at start and refreshes them.
 * Shared by all worker threads; every function here is thread-safe. */
#ifndef SLUICE_BACKEND_H
#define SLUICE_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_parse.h"

struct config;
struct config_backend;
struct event_base;

struct backend {
	const struct config_backend *cfg;
	struct backend_pool *pool;
	unsigned retry_ms;
	pthread_mutex_t lock;
	uint64_t down_until_ms;   /* 0 = up; else skipped until this monotonic time */
	int caps_known;
	struct smtp_caps caps;
	int xclient_reuse_refused; /* refused XCLIENT on a reused connection: pool none */
	char why[128];            /* last failure, for logs */
};

struct backend_pool {
	struct backend *backends;
	size_t n;
	unsigned retry_ms;
	struct event *probe_timer;
	struct relay **probes;    /* one in-flight probe per backend, on the probe base */
	const struct config *cfg;
};

struct backend_pool *backend_pool_new(const struct config *cfg);
void backend_pool_free(struct backend_pool **pool);

/* Index of the first backend at or after start that is not marked down, or -1. */
int backend_pool_next(struct backend_pool *pool, size_t start);

/* Record a failure (logged at warning when the state changes) or a success. */
void backend_mark_down(struct backend *b, const char *why);
void backend_mark_up(struct backend *b);
void backend_set_caps(struct backend *b, const struct smtp_caps *caps);

/* Whether a connection to b may be kept idle for another client: b is not marked
 * down and, for a connection that carries an XCLIENT identity (xclient), b never
 * refused XCLIENT on a reused connection. */
int backend_reuse_ok(struct backend *b, int xclient);
/* b refused XCLIENT on a reused connection (why: its reply): its XCLIENT
 * connections are not pooled any more, until restart; logged once at warning. */
void backend_refuse_reuse(struct backend *b, const char *why);

/* This backend's capabilities when known (returns 1), else 0. */
int backend_get_caps(struct backend *b, struct smtp_caps *caps_r);

/* Capabilities of the first healthy backend whose capabilities are known; returns
 * 0 and leaves caps_r untouched when none is known. */
int backend_pool_caps(struct backend_pool *pool, struct smtp_caps *caps_r);

/* Probe every backend now and then every interval_ms, on base (the main thread's
 * loop): connect, EHLO, QUIT; logs plainly when a backend does not answer. */
void backend_probe_start(struct backend_pool *pool, struct event_base *base);
void backend_probe_stop(struct backend_pool *pool);

#endif
