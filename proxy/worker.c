/* worker.c - event-loop threads: one loop, its listeners, DNS, sessions and idle
 * backend connections each. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "dns.h"
#include "listener.h"
#include "log.h"
#include "relay_pool.h"
#include "session.h"
#include "util.h"
#include "worker.h"

static atomic_uint_fast64_t session_counter;
static __thread struct worker *current_worker;

struct worker *
worker_current(void)
{
	return current_worker;
}

struct session *
worker_session_by_num(struct worker *w, uint64_t num40)
{
	struct session *s;

	/* Linear: resumes are rare next to everything else a session does. */
	TAILQ_FOREACH(s, &w->sessions, link)
		if ((s->num & 0xffffffffffull) == num40)
			return s;
	return NULL;
}

uint64_t
worker_session_id(struct worker *w, char *buf, size_t len)
{
	static atomic_int seeded;
	uint64_t n;

	(void)w;
	if (!atomic_exchange(&seeded, 1))
		atomic_store(&session_counter, ((uint64_t)time(NULL) & 0xffffffffu) << 16);
	n = atomic_fetch_add(&session_counter, 1) & 0xffffffffffffull;
	xsnprintf(buf, len, "%012llX", (unsigned long long)n);
	return n;
}

void
worker_session_add(struct worker *w, struct session *s)
{
	TAILQ_INSERT_TAIL(&w->sessions, s, link);
	w->nsessions++;
}

void
worker_session_remove(struct worker *w, struct session *s)
{
	TAILQ_REMOVE(&w->sessions, s, link);
	w->nsessions--;
	if (w->stopping && w->nsessions == 0)
		event_base_loopexit(w->base, NULL);
}

static void
worker_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct session *s, *next;

	(void)fd;
	(void)what;
	if (w->nsessions > 0)
		log_warning(NULL, "worker %u: shutdown_timeout reached, closing %u sessions",
		            w->id, w->nsessions);
	for (s = TAILQ_FIRST(&w->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		session_kill(s);
	}
	/* Sessions that cannot even flush their 421 are freed by their close timer. */
}

static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct session *s, *next;
	unsigned ms = w->srv->cfg->shutdown_timeout;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	w->stopping = 1;
	listener_close(w);
	/* Idle backend connections get QUIT now; busy ones when their session ends. */
	relay_pool_close(w->relays);
	for (s = TAILQ_FIRST(&w->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		session_shutdown(s);
	}
	if (w->nsessions == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	evtimer_add(w->kill_ev, &tv);
}

int
worker_init(struct worker *w, unsigned id, struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct dns_options dopt = {
		.servers = (const char *const *)cfg->dns_servers,
		.nservers = cfg->ndns_servers,
		.timeout_ms = cfg->dns_timeout,
		.local_data_file = cfg->dns_local_data,
	};

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->srv = srv;
	TAILQ_INIT(&w->sessions);
	w->base = event_base_new();
	if (w->base == NULL) {
		log_error(NULL, "cannot create an event loop");
		return -1;
	}
	w->stop_ev = event_new(w->base, -1, 0, worker_stop_cb, w);
	w->kill_ev = evtimer_new(w->base, worker_kill_cb, w);
	w->relays = relay_pool_new(w->base, cfg);
	w->dns = dns_new(w->base, &dopt);
	if (w->dns == NULL)
		log_warning(NULL, "worker %u: DNS unavailable; client names will be \"unknown\"", id);
	return listener_open(w);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t all;

	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	current_worker = w;
	relay_pool_bind(w->relays);
	event_base_dispatch(w->base);
	relay_pool_bind(NULL);
	return NULL;
}

int
worker_start(struct worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		log_error(NULL, "cannot start worker thread %u", w->id);
		return -1;
	}
	w->started = 1;
	return 0;
}

void
worker_stop(struct worker *w)
{
	if (w->stop_ev != NULL)
		event_active(w->stop_ev, EV_TIMEOUT, 0);
}

void
worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = 0;
}

void
worker_finish(struct worker *w)
{
	worker_join(w);
	listener_close(w);
	if (!TAILQ_EMPTY(&w->sessions))
		log_warning(NULL, "worker %u: exiting with %u sessions", w->id, w->nsessions);
	dns_free(&w->dns);
	relay_pool_free(&w->relays);   /* before the base its events are on */
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->kill_ev != NULL)
		event_free(w->kill_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	memset(w, 0, sizeof(*w));
}
