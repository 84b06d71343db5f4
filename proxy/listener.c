/* listener.c - listening sockets and connection limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "proxy_proto.h"
#include "session.h"
#include "util.h"
#include "worker.h"

#define LIMIT_BUCKETS 4096

struct ip_count {
	struct ip_count *next;
	unsigned char key[16];
	unsigned count;
};

struct conn_limits {
	pthread_mutex_t lock;
	unsigned total;
	struct ip_count *buckets[LIMIT_BUCKETS];
};

static unsigned
key_hash(const unsigned char key[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % LIMIT_BUCKETS;
}

struct conn_limits *
conn_limits_new(void)
{
	struct conn_limits *cl = xcalloc(1, sizeof(*cl));

	pthread_mutex_init(&cl->lock, NULL);
	return cl;
}

void
conn_limits_free(struct conn_limits **clp)
{
	struct conn_limits *cl = *clp;

	if (cl == NULL)
		return;
	*clp = NULL;
	for (size_t i = 0; i < LIMIT_BUCKETS; i++) {
		while (cl->buckets[i] != NULL) {
			struct ip_count *e = cl->buckets[i];
			cl->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

/* Count one connection: in the total unless !total, and for sa's address unless
 * sa is NULL; the limits apply when check is set. 0, or -1 with nothing counted
 * and *per_ip_r telling which limit. */
static int
limits_enter(struct server *srv, const struct sockaddr *sa, int total, int check, int *per_ip_r)
{
	struct conn_limits *cl = srv->limits;
	unsigned char key[16];
	struct ip_count *e = NULL;
	unsigned h = 0;
	int rc = 0;

	*per_ip_r = 0;
	if (sa != NULL) {
		config_addr_key16(sa, key);
		h = key_hash(key);
	}
	pthread_mutex_lock(&cl->lock);
	if (sa != NULL)
		for (e = cl->buckets[h]; e != NULL; e = e->next)
			if (memcmp(e->key, key, 16) == 0)
				break;
	if (check && total && srv->cfg->max_connections && cl->total >= srv->cfg->max_connections) {
		rc = -1;
	} else if (check && srv->cfg->max_connections_per_ip && e != NULL &&
	           e->count >= srv->cfg->max_connections_per_ip) {
		rc = -1;
		*per_ip_r = 1;
	} else {
		if (sa != NULL && e == NULL) {
			e = xcalloc(1, sizeof(*e));
			memcpy(e->key, key, 16);
			e->next = cl->buckets[h];
			cl->buckets[h] = e;
		}
		if (e != NULL)
			e->count++;
		if (total)
			cl->total++;
	}
	pthread_mutex_unlock(&cl->lock);
	return rc;
}

int
conn_limits_enter(struct server *srv, const struct sockaddr *sa, int *per_ip_r)
{
	return limits_enter(srv, sa, 1, 1, per_ip_r);
}

int
conn_limits_enter_ip(struct server *srv, const struct sockaddr *sa)
{
	int per_ip;

	return limits_enter(srv, sa, 0, 1, &per_ip);
}

void
conn_limits_leave(struct server *srv, const struct sockaddr *sa)
{
	struct conn_limits *cl = srv->limits;
	unsigned char key[16];
	unsigned h = 0;

	if (sa != NULL) {
		config_addr_key16(sa, key);
		h = key_hash(key);
	}
	pthread_mutex_lock(&cl->lock);
	cl->total--;
	for (struct ip_count **pp = &cl->buckets[h]; sa != NULL && *pp != NULL; pp = &(*pp)->next) {
		if (memcmp((*pp)->key, key, 16) == 0) {
			struct ip_count *e = *pp;
			if (--e->count == 0) {
				*pp = e->next;
				free(e);
			}
			break;
		}
	}
	pthread_mutex_unlock(&cl->lock);
}

void
conn_limits_move(struct server *srv, const struct sockaddr *from, const struct sockaddr *to)
{
	int per_ip;

	conn_limits_leave(srv, from);
	(void)limits_enter(srv, to, 1, 0, &per_ip);
}

/* Refuse without a session: one reply on a fresh socket never blocks. */
static void
listener_refuse(int fd, const char *reply)
{
	ssize_t n = send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)n;
	close(fd);
}

static void
listener_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                   int salen, void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->srv->cfg;
	const struct config_listener *lc = &cfg->listeners[0];
	const char *name;
	int per_ip, proxied;
	char reply[300], addr[64];

	for (size_t i = 0; i < w->nlisteners; i++)
		if (w->listeners[i] == l)
			lc = &cfg->listeners[i];
	name = lc->name;
	proxied = lc->proxy_protocol != PROXY_PROTO_NO;
	/* The PROXY spec: only trusted proxies may use it; anyone else would choose
	 * the address we log and filter on. No greeting, no reply. */
	if (proxied && !config_cidr_match(lc->trusted, lc->ntrusted, sa)) {
		config_addr_format(sa, addr, sizeof(addr));
		log_warning(NULL, "refused connection from %s on %s: not trusted to send "
		            "PROXY protocol headers", addr, name);
		close(fd);
		return;
	}
	/* Behind a proxy the per-IP limit applies to the real client, known only
	 * once the session has read the header (session.c). */
	if (conn_limits_enter(w->srv, proxied ? NULL : sa, &per_ip) < 0) {
		config_addr_format(sa, addr, sizeof(addr));
		log_warning(NULL, "refused connection from %s on %s: %s", addr, name,
		            per_ip ? "max_connections_per_ip reached" : "max_connections reached");
		if (per_ip) {
			char ip[64];
			strlcpy_s(ip, addr, sizeof(ip));
			char *colon = strrchr(ip, ':');
			if (colon != NULL)
				*colon = '\0';
			xsnprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections from %s\r\n",
			          cfg->hostname, ip);
		} else {
			xsnprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections\r\n",
			          cfg->hostname);
		}
		listener_refuse(fd, reply);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	session_new(w, fd, sa, (socklen_t)salen, lc);
}

int
listener_open(struct worker *w)
{
	const struct config *cfg = w->srv->cfg;

	w->listeners = xcalloc(cfg->nlisteners, sizeof(*w->listeners));
	w->nlisteners = cfg->nlisteners;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_addr *a = &cfg->listeners[i].addr;
		w->listeners[i] = evconnlistener_new_bind(w->base, listener_accept_cb, w,
		        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
		        LEV_OPT_REUSEABLE_PORT, 1024, (const struct sockaddr *)&a->ss, (int)a->len);
		if (w->listeners[i] == NULL) {
			log_error(NULL, "cannot listen on %s (%s): %s", a->text, cfg->listeners[i].name,
			          strerror(errno));
			return -1;
		}
	}
	return 0;
}

void
listener_close(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++)
		if (w->listeners[i] != NULL)
			evconnlistener_free(w->listeners[i]);
	free(w->listeners);
	w->listeners = NULL;
	w->nlisteners = 0;
}
