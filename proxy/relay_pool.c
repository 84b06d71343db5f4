/* relay_pool.c - each loop's idle backend connections: the test that lets one in,
 * keeping and taking, the watch while idle, and closing them all at shutdown. */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "relay_int.h"
#include "relay_pool.h"
#include "util.h"

struct relay_pool {
	struct event_base *base;
	const struct config *cfg;
	TAILQ_HEAD(, relay) idle;     /* the most recently kept first */
	size_t n;
	int closed;                   /* shutting down: keep nothing more */
};

/* The pool of the loop running on this thread (relay_pool_bind). */
static __thread struct relay_pool *thread_pool;

struct relay_pool *
relay_pool_new(struct event_base *base, const struct config *cfg)
{
	struct relay_pool *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->cfg = cfg;
	TAILQ_INIT(&p->idle);
	return p;
}

void
relay_pool_bind(struct relay_pool *p)
{
	thread_pool = p;
}

struct relay_pool *
relay_pool_current(struct event_base *base)
{
	return thread_pool != NULL && thread_pool->base == base ? thread_pool : NULL;
}

static void
pool_remove(struct relay_pool *p, struct relay *r)
{
	TAILQ_REMOVE(&p->idle, r, idle_link);
	p->n--;
}

/* Out of the pool with QUIT (our choice) or without (the backend's). */
static void
pool_discard(struct relay_pool *p, struct relay *r, int quit, const char *why)
{
	pool_remove(p, r);
	log_debug(r->sid, "pool: %s the idle connection to %s: %s (%zu idle)",
	          quit ? "closing" : "dropped", r->name, why, p->n);
	metrics_counter_add(quit ? "sluice_backend_pool_closed_total" : "sluice_backend_pool_dropped_total", 1);
	if (!quit)
		relay_close(r);
	relay_free(&r);   /* QUIT when still open and idle */
}

/* Nothing may come from an idle backend: a byte is its own timeout's 421, or worse. */
static void
pool_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char why[160], said[100];
	ev_ssize_t got = evbuffer_copyout(in, said, sizeof(said));
	size_t len = 0;

	while (got > 0 && len < (size_t)got && said[len] != '\r' && said[len] != '\n')
		len++;
	xsnprintf(why, sizeof(why), "the backend said \"%.*s\"", (int)len, said);
	pool_discard(r->idle_pool, r, 0, why);
}

static void
pool_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;
	char why[128];

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		xsnprintf(why, sizeof(why), "unused for %u ms", r->cfg->backend_idle_timeout);
		pool_discard(r->idle_pool, r, 1, why);
		return;
	}
	if (what & BEV_EVENT_EOF)
		xsnprintf(why, sizeof(why), "closed by the backend");
	else
		xsnprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	pool_discard(r->idle_pool, r, 0, why);
}

/* Why r's connection may not serve another client, or NULL when it may (the
 * rules are at relay_release in relay.h). */
static const char *
pool_unfit(const struct relay_pool *p, const struct relay *r, char *buf, size_t size)
{
	if (p->closed)
		return "shutting down";
	if (p->cfg->backend_pool == 0)
		return "backend_pool = 0";
	if (r->state != R_READY)
		return "not idle";
	if (r->tx_open)
		return "transaction open";
	if (r->no_reuse)
		return "marked not reusable";
	if (r->tls != 0)   /* relay_open.c marks these no_reuse too; adoption knows no TLS */
		return "TLS on the backend leg";
	if (r->errors > 0)
		return "the backend answered 4xx/5xx on it";
	if (r->nrset > 0)
		return "RSET was sent on it";
	if (r->uses >= RELAY_REUSE_MAX) {
		xsnprintf(buf, size, "served %u sessions", r->uses);
		return buf;
	}
	if (evbuffer_get_length(bufferevent_get_input(r->bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(r->bev)) > 0)
		return "unread or unsent octets";
	if (!backend_reuse_ok(&r->pool->backends[r->bidx], r->xclient_used))
		return "backend marked down or refuses reuse";
	if (p->n >= p->cfg->backend_pool) {
		xsnprintf(buf, size, "pool full (%zu idle)", p->n);
		return buf;
	}
	return NULL;
}

int
relay_pool_put(struct relay_pool *p, struct relay *r)
{
	char buf[64];
	const char *why = pool_unfit(p, r, buf, sizeof(buf));
	struct timeval tv = { p->cfg->backend_idle_timeout / 1000,
	                      (p->cfg->backend_idle_timeout % 1000) * 1000 };

	if (why != NULL) {
		log_debug(r->sid, "pool: not keeping the connection to %s: %s", r->name, why);
		return 0;
	}
	/* A result its owner will never take (the client left meanwhile). */
	event_del(r->done_ev);
	r->cb = NULL;
	relay_id_clear(r);
	TAILQ_INSERT_HEAD(&p->idle, r, idle_link);
	p->n++;
	bufferevent_setcb(r->bev, pool_read_cb, NULL, pool_event_cb, r);
	bufferevent_set_timeouts(r->bev, &tv, NULL);
	bufferevent_enable(r->bev, EV_READ);
	log_debug(r->sid, "pool: keeping the connection to %s (%u session%s on it, %zu idle)",
	          r->name, r->uses, r->uses == 1 ? "" : "s", p->n);
	metrics_counter_add("sluice_backend_pool_kept_total", 1);
	return 1;
}

struct relay *
relay_pool_take(struct relay_pool *p, int bidx)
{
	struct relay *r, *next;

	for (r = TAILQ_FIRST(&p->idle); r != NULL; r = next) {
		next = TAILQ_NEXT(r, idle_link);
		if (!backend_reuse_ok(&r->pool->backends[r->bidx], r->xclient_used)) {
			pool_discard(p, r, 1, "backend marked down");
			continue;
		}
		if (r->bidx == bidx) {
			pool_remove(p, r);
			return r;
		}
	}
	return NULL;
}

void
relay_pool_close(struct relay_pool *p)
{
	struct relay *r;

	p->closed = 1;
	while ((r = TAILQ_FIRST(&p->idle)) != NULL)
		pool_discard(p, r, 1, "shutting down");
}

void
relay_pool_free(struct relay_pool **pp)
{
	struct relay_pool *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	relay_pool_close(p);
	if (thread_pool == p)
		thread_pool = NULL;
	free(p);
}
