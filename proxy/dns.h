/* dns.h - libunbound glue: asynchronous lookups driven by a libevent loop.
 * One struct dns per event loop (per worker thread); never shared across threads. */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <sys/socket.h>

struct event_base;
struct dns;
struct dns_query;

/* Options; NULL/0 fields mean defaults. */
struct dns_options {
	const char *const *forwarders;  /* "ADDR" or "ADDR@PORT" strings, NULL-terminated; NULL = /etc/resolv.conf */
	const char *local_data_file;    /* zone-file syntax records served first, one per line,
	                                 * ';' or '#' comment lines; NULL = none */
	unsigned timeout_ms;            /* per lookup (a dns_client_name call, PTR and address
	                                 * steps together), default 5000 */
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
 * dns_cancel; the callback may run before this returns (cached answers). Returns
 * NULL only when the callback already ran. */
struct dns_query *dns_client_name(struct dns *dns, const struct sockaddr *addr,
                                  dns_name_cb *cb, void *arg);

/* Drop a pending query: its callback will not run. Safe on NULL. */
void dns_cancel(struct dns_query *q);

#endif
