/* listener.h - listening sockets (one per worker and address, SO_REUSEPORT) and
 * connection limits (max_connections, max_connections_per_ip). */
#ifndef SLUICE_LISTENER_H
#define SLUICE_LISTENER_H

#include <sys/socket.h>

struct server;
struct worker;

/* Bind every configured listener on w's loop. Returns -1 after logging. */
int listener_open(struct worker *w);
void listener_close(struct worker *w);

struct conn_limits *conn_limits_new(void);
void conn_limits_free(struct conn_limits **cl);
/* Count a new connection against max_connections and, unless sa is NULL (a
 * PROXY protocol listener: the client is not known yet), against
 * max_connections_per_ip for sa. 0 when allowed, else -1 with *per_ip_r telling
 * which limit refused it, and nothing counted. Thread-safe. */
int conn_limits_enter(struct server *srv, const struct sockaddr *sa, int *per_ip_r);
/* Count a connection already in the total against sa's per-IP limit: 0, or -1
 * (nothing counted). Thread-safe. */
int conn_limits_enter_ip(struct server *srv, const struct sockaddr *sa);
/* Uncount a connection: the total, and sa's address unless sa is NULL (it must
 * be NULL exactly when the address was not counted). Thread-safe. */
void conn_limits_leave(struct server *srv, const struct sockaddr *sa);
/* A session's client changed (a trusted client's XCLIENT): its per-IP count
 * moves from from to to, without checking the limit (the trusted peer's
 * connection is already counted). */
void conn_limits_move(struct server *srv, const struct sockaddr *from, const struct sockaddr *to);

#endif
