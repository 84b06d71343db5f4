/* store.c - the store interface and its in-memory backend. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "store.h"
#include "util.h"

#define STORE_MAX_KEYS_DEFAULT 65536
/* Buckets examined for expired keys on each request: enough to keep up with
 * steady traffic, small enough to keep every request cheap. */
#define STORE_SWEEP_BUCKETS 4

/* ---- the public interface ---- */

static int
store_key_ok(const char *key)
{
	return key != NULL && key[0] != '\0' && strnlen(key, STORE_KEY_MAX + 1) <= STORE_KEY_MAX;
}

struct store_req *
store_incr(struct store *s, struct event_base *base, const char *key, int64_t delta,
           unsigned ttl_ms, store_done_fn *done, void *arg)
{
	if (s == NULL || base == NULL || done == NULL || !store_key_ok(key))
		return NULL;
	return s->ops->incr(s, base, key, delta, ttl_ms, done, arg);
}

struct store_req *
store_get(struct store *s, struct event_base *base, const char *key, store_done_fn *done,
          void *arg)
{
	if (s == NULL || base == NULL || done == NULL || !store_key_ok(key))
		return NULL;
	return s->ops->get(s, base, key, done, arg);
}

struct store_req *
store_set(struct store *s, struct event_base *base, const char *key, const char *value,
          unsigned ttl_ms, store_done_fn *done, void *arg)
{
	if (s == NULL || base == NULL || done == NULL || !store_key_ok(key))
		return NULL;
	if (value != NULL && strnlen(value, STORE_VALUE_MAX + 1) > STORE_VALUE_MAX)
		return NULL;
	return s->ops->set(s, base, key, value, ttl_ms, done, arg);
}

void
store_cancel(struct store_req *r)
{
	/* Every backend's request starts with its ops pointer. */
	if (r != NULL)
		(*(const struct store_ops *const *)r)->cancel(r);
}

void
store_free(struct store **sp)
{
	struct store *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	s->ops->free(s);
}

/* ---- the memory backend ---- */

struct mem_entry {
	struct mem_entry *next;
	uint64_t expires_ms;   /* now_ms() clock; 0 = never */
	char *value;
	char key[];
};

struct mem_store {
	struct store store;    /* first: the public handle */
	pthread_mutex_t mu;    /* guards everything below */
	struct mem_entry **buckets;
	size_t nbuckets;       /* a power of two */
	size_t nkeys, max_keys;
	size_t sweep_next;     /* the bucket the next sweep starts at */
	/* No key expires before this (a lower bound): lets a full store refuse a new
	 * key without scanning when nothing can have expired yet. */
	uint64_t min_expires_ms;
};

/* The answer, computed during the call and delivered by ev on the caller's loop. */
struct mem_req {
	const struct store_ops *ops;   /* first, for store_cancel */
	struct event *ev;
	store_done_fn *done;
	void *arg;
	int status;
	char *value;
};

static size_t
mem_hash(const struct mem_store *m, const char *key)
{
	uint64_t h = 14695981039346656037ull;   /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32)) & (m->nbuckets - 1);
}

static int
mem_expired(const struct mem_entry *e, uint64_t now)
{
	return e->expires_ms != 0 && now >= e->expires_ms;
}

/* Unlinks and frees *ep; ep points at the link that holds it. */
static void
mem_remove(struct mem_store *m, struct mem_entry **ep)
{
	struct mem_entry *e = *ep;

	*ep = e->next;
	free(e->value);
	free(e);
	m->nkeys--;
}

static void
mem_sweep_bucket(struct mem_store *m, size_t b, uint64_t now)
{
	struct mem_entry **ep = &m->buckets[b];

	while (*ep != NULL) {
		if (mem_expired(*ep, now))
			mem_remove(m, ep);
		else
			ep = &(*ep)->next;
	}
}

static void
mem_sweep_some(struct mem_store *m, uint64_t now)
{
	for (int i = 0; i < STORE_SWEEP_BUCKETS; i++) {
		mem_sweep_bucket(m, m->sweep_next, now);
		m->sweep_next = (m->sweep_next + 1) & (m->nbuckets - 1);
	}
}

/* Full: drop every expired key, and learn the new lower bound of expiry. */
static void
mem_sweep_all(struct mem_store *m, uint64_t now)
{
	uint64_t min = UINT64_MAX;

	for (size_t b = 0; b < m->nbuckets; b++) {
		mem_sweep_bucket(m, b, now);
		for (const struct mem_entry *e = m->buckets[b]; e != NULL; e = e->next)
			if (e->expires_ms != 0 && e->expires_ms < min)
				min = e->expires_ms;
	}
	m->min_expires_ms = min;
}

/* The live entry for key, or NULL (an expired one is removed on the way). Returns
 * the link that holds it in *link_r when found. */
static struct mem_entry *
mem_find(struct mem_store *m, const char *key, uint64_t now, struct mem_entry ***link_r)
{
	struct mem_entry **ep = &m->buckets[mem_hash(m, key)];

	for (; *ep != NULL; ep = &(*ep)->next) {
		if (strcmp((*ep)->key, key) != 0)
			continue;
		if (mem_expired(*ep, now)) {
			mem_remove(m, ep);
			return NULL;
		}
		if (link_r != NULL)
			*link_r = ep;
		return *ep;
	}
	return NULL;
}

static uint64_t
mem_expiry(unsigned ttl_ms, uint64_t now)
{
	return ttl_ms == 0 ? 0 : now + ttl_ms;
}

/* A new entry, or NULL when the store is full even after evicting expired keys. */
static struct mem_entry *
mem_insert(struct mem_store *m, const char *key, const char *value, unsigned ttl_ms,
           uint64_t now)
{
	size_t klen = strlen(key);
	struct mem_entry *e;
	size_t b;

	if (m->nkeys >= m->max_keys && now >= m->min_expires_ms)
		mem_sweep_all(m, now);
	if (m->nkeys >= m->max_keys)
		return NULL;
	e = xmalloc(sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->value = xstrdup(value);
	e->expires_ms = mem_expiry(ttl_ms, now);
	if (e->expires_ms != 0 && e->expires_ms < m->min_expires_ms)
		m->min_expires_ms = e->expires_ms;
	b = mem_hash(m, key);
	e->next = m->buckets[b];
	m->buckets[b] = e;
	m->nkeys++;
	return e;
}

static void
mem_on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct mem_req *r = arg;
	store_done_fn *done = r->done;
	void *done_arg = r->arg;
	int status = r->status;
	char *value = r->value;

	(void)fd;
	(void)what;
	/* Freed before the call, so done may free whatever it likes. */
	event_free(r->ev);
	free(r);
	done(done_arg, status, value);
	free(value);
}

static const struct store_ops mem_ops;

/* Schedules the answer on base's loop; takes value (heap or NULL). */
static struct store_req *
mem_request(struct event_base *base, store_done_fn *done, void *arg, int status, char *value)
{
	struct mem_req *r = xcalloc(1, sizeof(*r));

	r->ops = &mem_ops;
	r->done = done;
	r->arg = arg;
	r->status = status;
	r->value = value;
	r->ev = event_new(base, -1, 0, mem_on_answer, r);
	if (r->ev == NULL) {
		free(value);
		free(r);
		return NULL;
	}
	/* Activated, not run: the answer comes from the loop, never from the call. */
	event_active(r->ev, EV_READ, 0);
	return (struct store_req *)r;
}

static int
mem_parse_int(const char *s, int64_t *v_r)
{
	char *end;
	long long v;

	if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t' || s[0] == '+')
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	*v_r = (int64_t)v;
	return 1;
}

static struct store_req *
mem_incr(struct store *s, struct event_base *base, const char *key, int64_t delta,
         unsigned ttl_ms, store_done_fn *done, void *arg)
{
	struct mem_store *m = (struct mem_store *)s;
	uint64_t now = now_ms();
	struct mem_entry *e;
	char buf[32];
	int64_t v = 0, sum;
	int status = -1;

	pthread_mutex_lock(&m->mu);
	mem_sweep_some(m, now);
	e = mem_find(m, key, now, NULL);
	if ((e == NULL || mem_parse_int(e->value, &v)) && !__builtin_add_overflow(v, delta, &sum)) {
		xsnprintf(buf, sizeof(buf), "%" PRId64, sum);
		if (e != NULL) {
			free(e->value);
			e->value = xstrdup(buf);
			status = 0;
		} else if (mem_insert(m, key, buf, ttl_ms, now) != NULL) {
			status = 0;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return mem_request(base, done, arg, status, status == 0 ? xstrdup(buf) : NULL);
}

static struct store_req *
mem_get(struct store *s, struct event_base *base, const char *key, store_done_fn *done,
        void *arg)
{
	struct mem_store *m = (struct mem_store *)s;
	uint64_t now = now_ms();
	struct mem_entry *e;
	char *value;

	pthread_mutex_lock(&m->mu);
	mem_sweep_some(m, now);
	e = mem_find(m, key, now, NULL);
	value = e != NULL ? xstrdup(e->value) : NULL;
	pthread_mutex_unlock(&m->mu);
	return mem_request(base, done, arg, 0, value);
}

static struct store_req *
mem_set(struct store *s, struct event_base *base, const char *key, const char *value,
        unsigned ttl_ms, store_done_fn *done, void *arg)
{
	struct mem_store *m = (struct mem_store *)s;
	uint64_t now = now_ms();
	struct mem_entry *e, **link;
	int status = 0;

	pthread_mutex_lock(&m->mu);
	mem_sweep_some(m, now);
	e = mem_find(m, key, now, &link);
	if (value == NULL) {
		if (e != NULL)
			mem_remove(m, link);
	} else if (e != NULL) {
		free(e->value);
		e->value = xstrdup(value);
		e->expires_ms = mem_expiry(ttl_ms, now);
		if (e->expires_ms != 0 && e->expires_ms < m->min_expires_ms)
			m->min_expires_ms = e->expires_ms;
	} else if (mem_insert(m, key, value, ttl_ms, now) == NULL) {
		status = -1;
	}
	pthread_mutex_unlock(&m->mu);
	return mem_request(base, done, arg, status, NULL);
}

static void
mem_cancel(struct store_req *req)
{
	struct mem_req *r = (struct mem_req *)req;

	event_free(r->ev);
	free(r->value);
	free(r);
}

static void
mem_free(struct store *s)
{
	struct mem_store *m = (struct mem_store *)s;

	for (size_t b = 0; b < m->nbuckets; b++)
		while (m->buckets[b] != NULL)
			mem_remove(m, &m->buckets[b]);
	pthread_mutex_destroy(&m->mu);
	free(m->buckets);
	free(m);
}

static const struct store_ops mem_ops = {
	.incr = mem_incr,
	.get = mem_get,
	.set = mem_set,
	.cancel = mem_cancel,
	.free = mem_free,
};

struct store *
store_memory_new(size_t max_keys)
{
	struct mem_store *m = xcalloc(1, sizeof(*m));

	m->store.ops = &mem_ops;
	m->max_keys = max_keys != 0 ? max_keys : STORE_MAX_KEYS_DEFAULT;
	/* About one key per bucket when full, at most 2^20 buckets. */
	m->nbuckets = 16;
	while (m->nbuckets < m->max_keys && m->nbuckets < ((size_t)1 << 20))
		m->nbuckets <<= 1;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
	m->min_expires_ms = UINT64_MAX;
	pthread_mutex_init(&m->mu, NULL);
	return &m->store;
}
