/* dns_int.h - what dns.c and dns_name.c share: struct dns, struct dns_query, the
 * client-name cache entry, and the internal functions each calls in the other.
 * Private to those two files. */
#ifndef SLUICE_DNS_INT_H
#define SLUICE_DNS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "dns.h"

struct event;
struct ub_ctx;
struct ub_result;

#define DNS_TYPE_A SLUICE_DNS_A
#define DNS_TYPE_PTR SLUICE_DNS_PTR
#define DNS_TYPE_AAAA SLUICE_DNS_AAAA
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_NXDOMAIN 3
#define DNS_NAME_MAX 256      /* presentation form without trailing dot, plus NUL */

/* A client address; v4-mapped IPv6 is stored as AF_INET, so both spellings of one
 * client share a cache entry. */
struct dns_addr {
	int family;            /* AF_INET or AF_INET6 */
	uint8_t bytes[16];     /* network order; IPv4 uses the first 4 */
};

/* One remembered dns_client_name answer. family 0 marks an empty slot. */
struct dns_cache_entry {
	struct dns_addr addr;
	enum dns_status status;  /* OK or NONE, never TEMPFAIL */
	char *name;              /* OK: heap copy; NONE: NULL */
	uint64_t expires_ms;     /* now_ms() clock */
};

/* One remembered dns_lookup answer (dns_answers.c). name NULL marks an empty slot. */
#define DNS_ANSWER_ENTRIES 1024
struct dns_answer_entry {
	char *name;
	int rrtype;
	enum sluice_async_status status;   /* OK, NXDOMAIN or NODATA */
	char **records;
	size_t count;
	uint32_t ttl;
	uint64_t expires_ms;
};

struct dns {
	struct event_base *base;
	struct ub_ctx *ctx;
	struct event *ev_fd;
	unsigned timeout_ms;
	unsigned cache_ttl_max_ms;  /* 0 = no cap beyond the built-in limits */
	struct dns_query *queries;  /* pending, doubly linked */
	/* Direct-mapped: a colliding address overwrites, which bounds the memory
	 * without LRU bookkeeping; a miss costs no more than having no cache. */
	struct dns_cache_entry cache[DNS_CACHE_ENTRIES];
	struct dns_answer_entry *answers;   /* dns_lookup answers; allocated at first use */
	uint64_t answer_hits;
	/* ub_process() runs callbacks while it walks unbound's answer pipe, so the
	 * context must outlive any dns_free() a callback makes. */
	int busy;
	int dying;
};

enum dns_stage { DNS_STAGE_PTR, DNS_STAGE_FORWARD, DNS_STAGE_LOOKUP };

struct dns_query {
	struct dns *dns;
	struct dns_query *prev, *next;
	struct event *timer;
	dns_name_cb *cb;          /* dns_client_name */
	dns_lookup_cb *lookup_cb; /* dns_lookup (stage DNS_STAGE_LOOKUP) */
	int rrtype;               /* dns_lookup */
	void *arg;
	int async_id;
	int ub_pending;        /* async_id names a live unbound query */
	enum dns_stage stage;
	struct dns_addr addr;
	int ttl;               /* smallest TTL seen in the answers so far, -1 = none yet */
	/* A lookup answered from the answer cache: delivered by the timer, from the
	 * loop, so the callback never runs inside dns_lookup. */
	int cached;
	enum sluice_async_status cached_status;
	char **cached_records;
	size_t cached_count;
	uint32_t cached_ttl;
	char name[DNS_NAME_MAX];
};

/* dns.c */

/* Forgets q entirely: unbound will drop its answer and no callback runs. */
void dns_query_drop(struct dns_query *q);
/* The per-query timer's callback (arg is the query): a lookup answers TIMEOUT, a
 * client name TEMPFAIL. */
void dns_on_timeout(evutil_socket_t fd, short what, void *arg);
/* Starts q's unbound lookup of qname/qtype, answered through dns.c's callback
 * (dns_name_answer for the client-name stages). 0 (logged) when unbound refuses. */
int dns_query_start(struct dns_query *q, const char *qname, int qtype);
/* Decodes an uncompressed wire-format name into lower-case presentation form
 * without the trailing dot; 0 for anything a hostname cannot hold. */
int dns_decode_name(const uint8_t *wire, size_t len, char *out, size_t size);

/* dns_answers.c */

/* Remember a lookup's answer (OK for its TTL, at most an hour; NXDOMAIN and
 * NODATA at most a minute; never TEMPFAIL or TIMEOUT; cache_ttl_max_ms caps). */
void dns_answers_put(struct dns *dns, const char *name, int rrtype, enum sluice_async_status status,
                     char *const *records, size_t count, uint32_t ttl);
/* 1 with a copy of the remembered answer (records: heap strings the caller
 * frees), 0 when there is none that is still fresh. */
int dns_answers_get(struct dns *dns, const char *name, int rrtype, enum sluice_async_status *status_r,
                    char ***records_r, size_t *count_r, uint32_t *ttl_r);
void dns_answers_free(struct dns *dns);

/* dns_name.c */

/* Completes a dns_client_name query: q is freed before its callback runs. */
void dns_query_finish(struct dns_query *q, enum dns_status status);
/* unbound's answer for a query in stage DNS_STAGE_PTR or DNS_STAGE_FORWARD; takes res. */
void dns_name_answer(struct dns_query *q, int err, struct ub_result *res);
/* Frees the names held by dns's client-name cache (on destruction). */
void dns_name_cache_free(struct dns *dns);

#endif
