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
/* Count a new connection; 0 when allowed, else -1 with *per_ip_r telling which
 * limit refused it. Thread-safe. */
int conn_limits_enter(struct server *srv, const struct sockaddr *sa, int *per_ip_r);
void conn_limits_leave(struct server *srv, const struct sockaddr *sa);

#endif
