/* dns.h - libunbound glue: asynchronous lookups driven by a libevent loop.
 * One struct dns per event loop (per worker thread); never shared across threads. */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "sluice/types.h"

struct event_base;
struct dns;
struct dns_query;

/* Client-name answers each struct dns remembers at most (see dns_client_name). */
#define DNS_CACHE_ENTRIES 1024

/* Options; NULL/0 fields mean defaults. */
struct dns_options {
	const char *const *forwarders;  /* "ADDR" or "ADDR@PORT" strings, NULL-terminated; NULL = /etc/resolv.conf */
	/* The same, counted, as struct config keeps them (dns_servers, ndns_servers;
	 * cast char ** to const char *const *). Used when nservers > 0, instead of
	 * forwarders. */
	const char *const *servers;
	size_t nservers;
	const char *local_data_file;    /* zone-file syntax records served first, one per line,
	                                 * ';' or '#' comment lines; NULL = none */
	unsigned timeout_ms;            /* per lookup (a dns_client_name call, PTR and address
	                                 * steps together; a dns_lookup), default 5000 */
	unsigned cache_ttl_max_ms;      /* caps every client-name cache lifetime below the
	                                 * limits at dns_client_name; 0 = no extra cap.
	                                 * For tests. */
};

/* Creates the unbound context and registers its fd with base. Returns NULL and logs
 * on failure. */
struct dns *dns_new(struct event_base *base, const struct dns_options *opt);
/* Cancels outstanding queries without calling their callbacks. */
void dns_free(struct dns **dns);

enum dns_status {
	DNS_STATUS_OK = 0,        /* name holds the verified client name */
	DNS_STATUS_NONE,          /* no PTR, or the name does not resolve back to the address */
	DNS_STATUS_TEMPFAIL,      /* SERVFAIL, timeout */
};

/* Called on the loop thread, exactly once per query unless the query was cancelled.
 * name is valid only during the call, without trailing dot, lower-case. */
typedef void dns_name_cb(void *arg, enum dns_status status, const char *name);

/* The client's verified name, the way MTAs do it: PTR, then the PTR name's A/AAAA
 * must contain the address ("forward-confirmed reverse DNS"). Returns a handle for
 * dns_cancel; the callback may run before this returns (cached answers, unusable
 * addresses, failure to start). Returns NULL only when the callback already ran.
 *
 * Answers are cached in the struct dns, keyed by address (a v4-mapped IPv6 address
 * is its IPv4 address), in DNS_CACHE_ENTRIES direct-mapped slots: a newer address
 * can displace an older one before it expires. OK lives for the smaller of the PTR
 * and A/AAAA TTLs, at most one hour (a zero TTL is not cached); NONE lives for the
 * negative TTL unbound reports, 60 s when it reports none, at most 60 s; TEMPFAIL
 * is never cached. A cache hit runs the callback before this returns, so it does
 * no DNS at all; it does not see changes to the records until the entry expires. */
struct dns_query *dns_client_name(struct dns *dns, const struct sockaddr *addr,
                                  dns_name_cb *cb, void *arg);

/* Called on the loop thread, from the loop, exactly once per dns_lookup unless the
 * query was cancelled (or dns_free came first). answer is shaped as struct
 * sluice_dns_answer documents and valid during the call only; status is OK (count
 * >= 1), NXDOMAIN, NODATA, TEMPFAIL (SERVFAIL, refused, DNSSEC bogus) or
 * TIMEOUT (the timer of dns_options.timeout_ms). Records that cannot be
 * shown as a C string (a TXT holding NUL, a PTR or MX name with bytes a hostname
 * cannot hold) are left out; when none is left, the status is NODATA. The root name
 * as MX target (RFC 7505 null MX) reads "0 .". */
typedef void dns_lookup_cb(void *arg, const struct sluice_dns_answer *answer);

/* A general lookup of name (presentation form, trailing dot optional) for rrtype:
 * SLUICE_DNS_A, AAAA, PTR, MX or TXT. The callback never runs inside this call.
 * Returns NULL, and the callback never runs, when the query cannot be made: bad
 * arguments (NULL, empty or overlong name, another type) or failure to start.
 * Answers are cached (see dns_lookup_cache_hits). Cancel with dns_cancel. */
struct dns_query *dns_lookup(struct dns *dns, const char *name, int rrtype, dns_lookup_cb *cb,
                             void *arg);

/* Lookups answered from the loop's own answer cache so far (dns_lookup keeps
 * OK answers for their TTL, at most an hour, and NXDOMAIN/NODATA at most a
 * minute, in DNS_ANSWER_ENTRIES direct-mapped slots; the callback still runs
 * from the loop, never inside dns_lookup). For tests and metrics. */
uint64_t dns_lookup_cache_hits(const struct dns *dns);

/* Drop a pending query (either kind): its callback will not run. Safe on NULL. */
void dns_cancel(struct dns_query *q);

#endif
