/* worker.h - the server-wide state and the event-loop threads (one per core by
 * default), each with its own listeners (SO_REUSEPORT), DNS, sessions and idle
 * backend connections. */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct backend_pool;
struct store;
struct workers;
struct config;
struct conn_limits;
struct dns;
struct event;
struct event_base;
struct evconnlistener;
struct relay_pool;
struct session;

/* Shared by all workers; read-only after start except the atomic and locked parts. */
struct server {
	const struct config *cfg;
	struct backend_pool *pool;
	struct conn_limits *limits;
	struct workers *workers;          /* blocking work off the loops (filters) */
	struct store *store;              /* the shared store (filters) */
};

struct worker {
	unsigned id;
	struct server *srv;
	pthread_t thread;
	int started;
	struct event_base *base;
	struct dns *dns;
	struct relay_pool *relays;    /* idle backend connections of this loop */
	struct evconnlistener **listeners;
	size_t nlisteners;
	struct event *stop_ev;        /* activated by the main thread on SIGTERM */
	struct event *kill_ev;        /* shutdown_timeout reached */
	TAILQ_HEAD(, session) sessions;
	unsigned nsessions;
	int stopping;
};

/* Create the loop, DNS and listeners (binding happens here, so errors surface
 * before any thread starts). Returns -1 after logging. */
int worker_init(struct worker *w, unsigned id, struct server *srv);
int worker_start(struct worker *w);
/* From any thread: stop accepting, let sessions finish, exit the loop. */
void worker_stop(struct worker *w);
/* Wait for the loop thread to end (after worker_stop). */
void worker_join(struct worker *w);
/* Join the thread (if still running) and free everything. */
void worker_finish(struct worker *w);

void worker_session_add(struct worker *w, struct session *s);
void worker_session_remove(struct worker *w, struct session *s);
/* A new session id: 12 upper-case hex digits, unique across workers and restarts;
 * returns the number they spell. */
uint64_t worker_session_id(struct worker *w, char *buf, size_t len);

/* The worker whose loop runs on this thread, or NULL. */
struct worker *worker_current(void);
/* The session of this worker whose number has these low 40 bits, or NULL. */
struct session *worker_session_by_num(struct worker *w, uint64_t num40);

#endif
