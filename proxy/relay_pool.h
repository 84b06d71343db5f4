/* relay_pool.h - each event loop's idle backend connections, kept between clients
 * so that a new client does not cost a connection, greeting and EHLO at the MTA.
 *
 * One pool per loop, used only on that loop's thread: a connection never moves
 * between loops. At most cfg->backend_pool connections are kept per loop, for all
 * backends together; one unused for cfg->backend_idle_timeout gets QUIT and is
 * closed; one the backend writes to or closes while idle is dropped. What may be
 * kept, and how a kept connection is re-identified for its next client, is said
 * at relay_release and relay_open (relay.h). */
#ifndef SLUICE_RELAY_POOL_H
#define SLUICE_RELAY_POOL_H

struct config;
struct event_base;
struct relay_pool;

/* An empty pool for the loop base. Never fails (aborts on allocation failure). */
struct relay_pool *relay_pool_new(struct event_base *base, const struct config *cfg);

/* From now on, relays that relay_new creates on this thread for p's loop use p.
 * Call on the loop's thread before it runs sessions; NULL unbinds. */
void relay_pool_bind(struct relay_pool *p);

/* The pool bound to this thread when it is base's, else NULL. */
struct relay_pool *relay_pool_current(struct event_base *base);

/* Shutdown: QUIT and close every idle connection now, and keep none from now on
 * (a relay released later gets QUIT and is closed). On the loop's thread, or
 * after the loop stopped. */
void relay_pool_close(struct relay_pool *p);

/* relay_pool_close, then free. NULLs *p. */
void relay_pool_free(struct relay_pool **p);

#endif
