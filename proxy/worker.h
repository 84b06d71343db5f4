/* worker.h - the server-wide state and the event-loop threads (one per core by
 * default), each with its own listeners (SO_REUSEPORT), DNS and sessions. */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/queue.h>

struct backend_pool;
struct config;
struct conn_limits;
struct dns;
struct event;
struct event_base;
struct evconnlistener;
struct session;

/* Shared by all workers; read-only after start except the atomic and locked parts. */
struct server {
	const struct config *cfg;
	struct backend_pool *pool;
	struct conn_limits *limits;
};

struct worker {
	unsigned id;
	struct server *srv;
	pthread_t thread;
	int started;
	struct event_base *base;
	struct dns *dns;
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
/* Join the thread (if started) and free everything. */
void worker_finish(struct worker *w);

void worker_session_add(struct worker *w, struct session *s);
void worker_session_remove(struct worker *w, struct session *s);
/* A new session id: 12 upper-case hex digits, unique across workers and restarts. */
void worker_session_id(struct worker *w, char *buf, size_t len);

#endif
