/* store.h - the shared key/value store filters use for counters and values with a
 * time to live: one interface, backends behind struct store_ops (in memory now,
 * Redis later). */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct store_req;

/* Longest key and value accepted, in octets without the NUL. */
#define STORE_KEY_MAX 512
#define STORE_VALUE_MAX 65536

/* Runs on the loop thread of the base given with the request, from that loop, never
 * inside the call that made the request; exactly once unless store_cancel came
 * first. status: 0 ok, -1 failure (store full, key holds a non-integer for incr,
 * overflow, backend unreachable). value is valid during the call only: the stored
 * value (NULL when absent) for get, the new counter as decimal text for incr, NULL
 * for set and on failure. */
typedef void store_done_fn(void *arg, int status, const char *value);

/* Backends implement these; the public functions below check arguments and
 * dispatch. A backend's struct embeds struct store as its first member. */
struct store_ops {
	struct store_req *(*incr)(struct store *s, struct event_base *base, const char *key,
	                          int64_t delta, unsigned ttl_ms, store_done_fn *done, void *arg);
	struct store_req *(*get)(struct store *s, struct event_base *base, const char *key,
	                         store_done_fn *done, void *arg);
	struct store_req *(*set)(struct store *s, struct event_base *base, const char *key,
	                         const char *value, unsigned ttl_ms, store_done_fn *done, void *arg);
	void (*cancel)(struct store_req *r);
	void (*free)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* An in-memory store shared by every loop (one mutex), holding at most max_keys
 * keys (0 = 65536). Expired keys vanish when touched, and a few hash buckets are
 * swept on each request; when the store is full, expired keys are evicted first,
 * then new keys are refused with status -1 (existing keys can still change).
 * The operation itself happens during the call; only the answer is deferred. */
struct store *store_memory_new(size_t max_keys);

/* Frees the store. Requests still outstanding must be cancelled first, or their
 * loops must have delivered them (the memory backend happens to tolerate it; a
 * network backend will not). Safe on NULL; NULLs *s. */
void store_free(struct store **s);

/*
 * Requests: call on base's loop thread. Keys: 1 to STORE_KEY_MAX octets, no NUL.
 * They return a handle for store_cancel, valid until done runs, or NULL when the
 * request was refused (bad arguments): then done never runs.
 */

/* Adds delta to the integer held by key (a missing key counts as 0) and answers
 * the new value. ttl_ms applies when this call creates the key (0: no expiry); an
 * existing key keeps its expiry. A key holding a non-integer, or a sum outside
 * int64_t, fails with -1 and leaves the key unchanged. */
struct store_req *store_incr(struct store *s, struct event_base *base, const char *key,
                             int64_t delta, unsigned ttl_ms, store_done_fn *done, void *arg);
struct store_req *store_get(struct store *s, struct event_base *base, const char *key,
                            store_done_fn *done, void *arg);
/* Replaces key's value and expiry (ttl_ms 0: none). value NULL deletes the key. */
struct store_req *store_set(struct store *s, struct event_base *base, const char *key,
                            const char *value, unsigned ttl_ms, store_done_fn *done, void *arg);

/* Drops a request whose done has not run: done never runs for it (the caller
 * reports the cancellation itself). The operation may still have taken effect.
 * Call on the request's loop thread. Safe on NULL. */
void store_cancel(struct store_req *r);

#endif
