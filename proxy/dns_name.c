/* dns_name.c - client names: reverse lookup, PTR, forward confirmation, and the cache
 * of answers (dns_client_name). */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "dns.h"
#include "dns_int.h"
#include "log.h"
#include "util.h"

#define DNS_CACHE_OK_MAX_MS (3600u * 1000u)
#define DNS_CACHE_NONE_MAX_MS (60u * 1000u)

/* Completes q: frees it first, so the callback may cancel other queries, free the
 * session that owned q, or even free the whole struct dns. */
void
dns_query_finish(struct dns_query *q, enum dns_status status)
{
	dns_name_cb *cb = q->cb;
	void *arg = q->arg;
	char name[DNS_NAME_MAX];

	strlcpy_s(name, status == DNS_STATUS_OK ? q->name : "", sizeof(name));
	dns_query_drop(q);     /* cancels the unbound query too when the timer fired */
	cb(arg, status, status == DNS_STATUS_OK ? name : NULL);
}

/* ---- the client-name cache ---- */

static int
dns_addr_from_sockaddr(const struct sockaddr *sa, struct dns_addr *a_r)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	/* Zeroed: the unused tail of an IPv4 key takes part in no comparison, but
	 * should not be garbage either. */
	memset(a_r, 0, sizeof(*a_r));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a_r->family = AF_INET;
		memcpy(a_r->bytes, &sin->sin_addr, 4);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
			a_r->family = AF_INET;
			memcpy(a_r->bytes, b + 12, 4);
		} else {
			a_r->family = AF_INET6;
			memcpy(a_r->bytes, b, 16);
		}
		return 1;
	}
	return 0;
}

static size_t
dns_addr_len(const struct dns_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

static struct dns_cache_entry *
dns_cache_slot(struct dns *dns, const struct dns_addr *a)
{
	/* FNV-1a. A client choosing its addresses to collide gains nothing: it can
	 * only turn its own lookups back into uncached ones. */
	uint32_t h = 2166136261u ^ (uint32_t)a->family;

	h *= 16777619u;
	for (size_t i = 0; i < dns_addr_len(a); i++) {
		h ^= a->bytes[i];
		h *= 16777619u;
	}
	return &dns->cache[h % DNS_CACHE_ENTRIES];
}

static const struct dns_cache_entry *
dns_cache_get(struct dns *dns, const struct dns_addr *a)
{
	struct dns_cache_entry *e = dns_cache_slot(dns, a);

	if (e->addr.family != a->family ||
	    memcmp(e->addr.bytes, a->bytes, dns_addr_len(a)) != 0)
		return NULL;
	if (now_ms() >= e->expires_ms) {
		free(e->name);
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	return e;
}

/* Remembers q's answer for as long as its records allow (see dns.h). */
static void
dns_cache_put(struct dns *dns, const struct dns_query *q, enum dns_status status)
{
	struct dns_cache_entry *e;
	uint64_t ms;

	if (status == DNS_STATUS_OK) {
		if (q->ttl <= 0)
			return;   /* a zero TTL asks not to be cached */
		ms = (uint64_t)q->ttl * 1000;
		if (ms > DNS_CACHE_OK_MAX_MS)
			ms = DNS_CACHE_OK_MAX_MS;
	} else if (status == DNS_STATUS_NONE) {
		/* unbound reports 0 when the negative answer carried no SOA to take a
		 * TTL from; a client without a name keeps that for a minute. */
		ms = q->ttl > 0 ? (uint64_t)q->ttl * 1000 : DNS_CACHE_NONE_MAX_MS;
		if (ms > DNS_CACHE_NONE_MAX_MS)
			ms = DNS_CACHE_NONE_MAX_MS;
	} else {
		return;   /* TEMPFAIL: the next client should get a fresh try */
	}
	if (dns->cache_ttl_max_ms != 0 && ms > dns->cache_ttl_max_ms)
		ms = dns->cache_ttl_max_ms;
	e = dns_cache_slot(dns, &q->addr);
	free(e->name);
	e->addr = q->addr;
	e->status = status;
	e->name = status == DNS_STATUS_OK ? xstrdup(q->name) : NULL;
	e->expires_ms = now_ms() + ms;
}

void
dns_name_cache_free(struct dns *dns)
{
	for (size_t i = 0; i < DNS_CACHE_ENTRIES; i++)
		free(dns->cache[i].name);
}

/* ---- lookups ---- */

/* Reverse-lookup owner name for the address, with trailing dot. */
static void
dns_reverse_name(const struct dns_query *q, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";

	const uint8_t *a = q->addr.bytes;

	if (q->addr.family == AF_INET) {
		xsnprintf(out, size, "%u.%u.%u.%u.in-addr.arpa.", a[3], a[2], a[1], a[0]);
		return;
	}
	size_t n = 0;
	for (int i = 15; i >= 0 && n + 4 < size; i--) {
		out[n++] = hex[a[i] & 0xf];
		out[n++] = '.';
		out[n++] = hex[a[i] >> 4];
		out[n++] = '.';
	}
	out[n] = '\0';
	strlcpy_s(out + n, "ip6.arpa.", size - n);
}

/* Maps an unbound answer onto OK (has data) / NONE / TEMPFAIL. */
static enum dns_status
dns_result_status(int err, const struct ub_result *res)
{
	if (err != 0) {
		log_debug(NULL, "dns: lookup error: %s", ub_strerror(err));
		return DNS_STATUS_TEMPFAIL;
	}
	if (res == NULL || res->bogus)
		return DNS_STATUS_TEMPFAIL;
	if (res->rcode == DNS_RCODE_NXDOMAIN)
		return DNS_STATUS_NONE;
	if (res->rcode != DNS_RCODE_NOERROR)
		return DNS_STATUS_TEMPFAIL;
	return res->havedata ? DNS_STATUS_OK : DNS_STATUS_NONE;
}

static enum dns_status
dns_on_ptr(struct dns_query *q, const struct ub_result *res)
{
	if (res->data[0] == NULL || res->len[0] <= 0 ||
	    !dns_decode_name((const uint8_t *)res->data[0], (size_t)res->len[0], q->name,
	                     sizeof(q->name))) {
		log_debug(NULL, "dns: %s: unusable PTR name", res->qname);
		return DNS_STATUS_NONE;
	}
	q->stage = DNS_STAGE_FORWARD;
	if (!dns_query_start(q, q->name, q->addr.family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA))
		return DNS_STATUS_TEMPFAIL;
	return DNS_STATUS_OK;   /* still pending */
}

static enum dns_status
dns_on_forward(const struct dns_query *q, const struct ub_result *res)
{
	size_t alen = q->addr.family == AF_INET ? 4 : 16;

	for (int i = 0; res->data[i] != NULL; i++)
		if ((size_t)res->len[i] == alen && memcmp(res->data[i], q->addr.bytes, alen) == 0)
			return DNS_STATUS_OK;
	log_debug(NULL, "dns: %s does not resolve back to the client", q->name);
	return DNS_STATUS_NONE;
}

void
dns_name_answer(struct dns_query *q, int err, struct ub_result *res)
{
	enum dns_status st;

	st = dns_result_status(err, res);
	if (err == 0 && res != NULL) {
		int ttl = res->ttl > 0 ? res->ttl : 0;
		if (q->ttl < 0 || ttl < q->ttl)
			q->ttl = ttl;
	}
	if (st == DNS_STATUS_OK) {
		if (q->stage == DNS_STAGE_PTR) {
			st = dns_on_ptr(q, res);
			if (st == DNS_STATUS_OK) {
				ub_resolve_free(res);
				return;   /* the address lookup is under way */
			}
		} else {
			st = dns_on_forward(q, res);
		}
	}
	ub_resolve_free(res);
	/* Before finishing: the callback may free dns. */
	dns_cache_put(q->dns, q, st);
	dns_query_finish(q, st);
}

struct dns_query *
dns_client_name(struct dns *dns, const struct sockaddr *addr, dns_name_cb *cb, void *arg)
{
	struct dns_addr a;
	const struct dns_cache_entry *e;
	struct dns_query *q;
	char rname[80];

	if (!dns_addr_from_sockaddr(addr, &a)) {
		log_warning(NULL, "dns: no reverse lookup for address family %d", addr->sa_family);
		cb(arg, DNS_STATUS_NONE, NULL);
		return NULL;
	}
	/* Answered on the spot, as dns.h allows: callers already cope with a callback
	 * that runs before the return (the failures below do it too), and a deferred
	 * event would buy nothing but another loop pass. */
	if ((e = dns_cache_get(dns, &a)) != NULL) {
		enum dns_status status = e->status;
		char name[DNS_NAME_MAX];

		/* A copy, since the callback may free dns and its cache with it. */
		strlcpy_s(name, status == DNS_STATUS_OK ? e->name : "", sizeof(name));
		cb(arg, status, status == DNS_STATUS_OK ? name : NULL);
		return NULL;
	}

	q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	q->stage = DNS_STAGE_PTR;
	q->addr = a;
	q->ttl = -1;
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;

	q->timer = evtimer_new(dns->base, dns_on_timeout, q);
	struct timeval tv = { dns->timeout_ms / 1000, (dns->timeout_ms % 1000) * 1000 };
	if (q->timer == NULL || evtimer_add(q->timer, &tv) != 0) {
		log_warning(NULL, "dns: cannot arm lookup timer");
		dns_query_finish(q, DNS_STATUS_TEMPFAIL);
		return NULL;
	}
	dns_reverse_name(q, rname, sizeof(rname));
	if (!dns_query_start(q, rname, DNS_TYPE_PTR)) {
		dns_query_finish(q, DNS_STATUS_TEMPFAIL);
		return NULL;
	}
	return q;
}
