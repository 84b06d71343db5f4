/* backend.c - backend MTA health, capabilities, and the capability probe. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "relay.h"
#include "util.h"

struct backend_pool *
backend_pool_new(const struct config *cfg)
{
	struct backend_pool *pool = xcalloc(1, sizeof(*pool));

	pool->cfg = cfg;
	pool->n = cfg->nbackends;
	pool->retry_ms = cfg->backend_retry;
	pool->backends = xcalloc(pool->n, sizeof(*pool->backends));
	pool->probes = xcalloc(pool->n, sizeof(*pool->probes));
	for (size_t i = 0; i < pool->n; i++) {
		pool->backends[i].cfg = &cfg->backends[i];
		pool->backends[i].retry_ms = cfg->backend_retry;
		pool->backends[i].pool = pool;
		pthread_mutex_init(&pool->backends[i].lock, NULL);
	}
	return pool;
}

void
backend_pool_free(struct backend_pool **pp)
{
	struct backend_pool *pool = *pp;

	if (pool == NULL)
		return;
	*pp = NULL;
	backend_probe_stop(pool);
	for (size_t i = 0; i < pool->n; i++)
		pthread_mutex_destroy(&pool->backends[i].lock);
	free(pool->probes);
	free(pool->backends);
	free(pool);
}

int
backend_pool_next(struct backend_pool *pool, size_t start)
{
	uint64_t now = now_ms();

	for (size_t i = start; i < pool->n; i++) {
		struct backend *b = &pool->backends[i];
		pthread_mutex_lock(&b->lock);
		int up = b->down_until_ms == 0 || b->down_until_ms <= now;
		pthread_mutex_unlock(&b->lock);
		if (up)
			return (int)i;
	}
	return -1;
}

void
backend_mark_down(struct backend *b, const char *why)
{
	int was_up;

	pthread_mutex_lock(&b->lock);
	was_up = b->down_until_ms == 0;
	b->down_until_ms = now_ms() + b->retry_ms;
	strlcpy_s(b->why, why, sizeof(b->why));
	pthread_mutex_unlock(&b->lock);
	if (was_up)
		log_warning(NULL, "backend %s failed: %s; skipping it for %u ms",
		            b->cfg->addr.text, why, b->retry_ms);
}

void
backend_mark_up(struct backend *b)
{
	int was_down;

	pthread_mutex_lock(&b->lock);
	was_down = b->down_until_ms != 0;
	b->down_until_ms = 0;
	b->why[0] = '\0';
	pthread_mutex_unlock(&b->lock);
	if (was_down)
		log_info(NULL, "backend %s is answering again", b->cfg->addr.text);
}

void
backend_set_caps(struct backend *b, const struct smtp_caps *caps)
{
	pthread_mutex_lock(&b->lock);
	b->caps = *caps;
	b->caps_known = 1;
	pthread_mutex_unlock(&b->lock);
}

int
backend_reuse_ok(struct backend *b, int xclient)
{
	uint64_t now = now_ms();
	int ok;

	pthread_mutex_lock(&b->lock);
	ok = (b->down_until_ms == 0 || b->down_until_ms <= now) && !(xclient && b->xclient_reuse_refused);
	pthread_mutex_unlock(&b->lock);
	return ok;
}

void
backend_refuse_reuse(struct backend *b, const char *why)
{
	int first;

	pthread_mutex_lock(&b->lock);
	first = !b->xclient_reuse_refused;
	b->xclient_reuse_refused = 1;
	pthread_mutex_unlock(&b->lock);
	if (first)
		log_warning(NULL, "backend %s %s; its connections are no longer kept for reuse "
		            "(Postfix: the clients must match smtpd_authorized_xclient_hosts; "
		            "see backend_pool in doc/operations.md)", b->cfg->addr.text, why);
}

int
backend_get_caps(struct backend *b, struct smtp_caps *caps_r)
{
	int known;

	pthread_mutex_lock(&b->lock);
	known = b->caps_known;
	if (known)
		*caps_r = b->caps;
	pthread_mutex_unlock(&b->lock);
	return known;
}

int
backend_pool_caps(struct backend_pool *pool, struct smtp_caps *caps_r)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < pool->n; i++) {
		struct backend *b = &pool->backends[i];
		int found = 0;
		pthread_mutex_lock(&b->lock);
		if (b->caps_known && (b->down_until_ms == 0 || b->down_until_ms <= now)) {
			*caps_r = b->caps;
			found = 1;
		}
		pthread_mutex_unlock(&b->lock);
		if (found)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ probe */

static void
probe_done(void *arg, const struct relay_reply *reply)
{
	struct backend *b = arg;
	struct backend_pool *pool = b->pool;
	size_t idx = (size_t)(b - pool->backends);

	if (reply->code / 100 != 2)
		log_warning(NULL, "backend %s is not answering (%s); mail is tempfailed while no backend answers",
		            b->cfg->addr.text, b->why);
	else
		log_debug(NULL, "backend %s probed", b->cfg->addr.text);
	relay_free(&pool->probes[idx]);
}

static void
probe_all(evutil_socket_t fd, short what, void *arg)
{
	struct backend_pool *pool = arg;
	struct event_base *base = event_get_base(pool->probe_timer);

	(void)fd;
	(void)what;
	for (size_t i = 0; i < pool->n; i++) {
		if (pool->probes[i] != NULL)
			continue;   /* still running */
		pool->probes[i] = relay_new(base, pool, pool->cfg, "probe");
		relay_probe(pool->probes[i], i, probe_done, &pool->backends[i]);
	}
}

void
backend_probe_start(struct backend_pool *pool, struct event_base *base)
{
	struct timeval tv = { pool->cfg->backend_probe_interval / 1000,
	                      (pool->cfg->backend_probe_interval % 1000) * 1000 };

	pool->probe_timer = event_new(base, -1, EV_PERSIST, probe_all, pool);
	event_add(pool->probe_timer, &tv);
	probe_all(-1, 0, pool);
}

void
backend_probe_stop(struct backend_pool *pool)
{
	if (pool->probe_timer == NULL)
		return;
	event_free(pool->probe_timer);
	pool->probe_timer = NULL;
	for (size_t i = 0; i < pool->n; i++)
		relay_free(&pool->probes[i]);
}
