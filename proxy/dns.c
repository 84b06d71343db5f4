/* dns.c - libunbound glue: async lookups answered through ub_fd() in a libevent loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "dns.h"
#include "log.h"
#include "util.h"

#define DNS_TIMEOUT_DEFAULT_MS 5000u
#define DNS_TYPE_A 1
#define DNS_TYPE_PTR 12
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_NXDOMAIN 3
#define DNS_NAME_MAX 256      /* presentation form without trailing dot, plus NUL */
#define DNS_DATA_LINE_MAX 4096

struct dns {
	struct event_base *base;
	struct ub_ctx *ctx;
	struct event *ev_fd;
	unsigned timeout_ms;
	struct dns_query *queries;  /* pending, doubly linked */
	/* ub_process() runs callbacks while it walks unbound's answer pipe, so the
	 * context must outlive any dns_free() a callback makes. */
	int busy;
	int dying;
};

enum dns_stage { DNS_STAGE_PTR, DNS_STAGE_FORWARD };

struct dns_query {
	struct dns *dns;
	struct dns_query *prev, *next;
	struct event *timer;
	dns_name_cb *cb;
	void *arg;
	int async_id;
	int ub_pending;        /* async_id names a live unbound query */
	enum dns_stage stage;
	int family;            /* AF_INET or AF_INET6; mapped addresses are AF_INET */
	uint8_t addr[16];
	char name[DNS_NAME_MAX];
};

static void dns_destroy(struct dns *dns);
static void dns_ub_cb(void *mydata, int err, struct ub_result *result);

static void
dns_query_unlink(struct dns_query *q)
{
	struct dns *dns = q->dns;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Forgets q entirely: unbound will drop its answer and no callback runs. */
static void
dns_query_drop(struct dns_query *q)
{
	if (q->ub_pending) {
		int r = ub_cancel(q->dns->ctx, q->async_id);
		if (r != 0)
			log_debug(NULL, "dns: ub_cancel(%d): %s", q->async_id, ub_strerror(r));
	}
	if (q->timer != NULL)
		event_free(q->timer);
	dns_query_unlink(q);
	free(q);
}

/* Completes q: frees it first, so the callback may cancel other queries, free the
 * session that owned q, or even free the whole struct dns. */
static void
dns_query_finish(struct dns_query *q, enum dns_status status)
{
	dns_name_cb *cb = q->cb;
	void *arg = q->arg;
	char name[DNS_NAME_MAX];

	strlcpy_s(name, status == DNS_STATUS_OK ? q->name : "", sizeof(name));
	dns_query_drop(q);     /* cancels the unbound query too when the timer fired */
	cb(arg, status, status == DNS_STATUS_OK ? name : NULL);
}

static void
dns_on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;
	int r;

	(void)fd;
	(void)what;
	dns->busy++;
	r = ub_process(dns->ctx);
	dns->busy--;
	if (r != 0)
		log_warning(NULL, "dns: ub_process: %s", ub_strerror(r));
	if (dns->dying && dns->busy == 0)
		dns_destroy(dns);
}

static void
dns_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	log_debug(NULL, "dns: lookup timed out after %u ms (%s stage)", q->dns->timeout_ms,
	          q->stage == DNS_STAGE_PTR ? "PTR" : "address");
	/* The timer is not pending inside its own callback; freeing it here is fine. */
	dns_query_finish(q, DNS_STATUS_TEMPFAIL);
}

/* Reads local-data records, one per line, into ctx; logs file:line on error. */
static int
dns_load_local_data(struct ub_ctx *ctx, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[DNS_DATA_LINE_MAX];
	unsigned lineno = 0;
	int ok = 1;

	if (f == NULL) {
		log_warning(NULL, "dns: %s: %s", path, strerror(errno));
		return 0;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		char *p = line;

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
			log_warning(NULL, "dns: %s:%u: line too long", path, lineno);
			ok = 0;
			break;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		                   line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == ';' || *p == '#')
			continue;
		/* unbound reports parse errors as "out of memory"; its own log line has
		 * the detail, ours has the place. */
		if (ub_ctx_data_add(ctx, p) != 0) {
			log_warning(NULL, "dns: %s:%u: unbound rejects this record", path, lineno);
			ok = 0;
		}
	}
	if (ok && ferror(f)) {
		log_warning(NULL, "dns: %s: read error", path);
		ok = 0;
	}
	fclose(f);
	return ok;
}

static int
dns_configure(struct ub_ctx *ctx, const struct dns_options *opt)
{
	int r;

	/* Before anything else: ub_ctx_data_add() finalizes the context. */
	r = ub_ctx_async(ctx, 1);
	if (r != 0) {
		log_warning(NULL, "dns: ub_ctx_async: %s", ub_strerror(r));
		return 0;
	}
	/* Forwarders come from configuration or resolv.conf; a loopback one (a local
	 * cache, systemd-resolved) is deliberate, so unbound must be allowed to use it. */
	r = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
	if (r != 0) {
		log_warning(NULL, "dns: do-not-query-localhost: %s", ub_strerror(r));
		return 0;
	}
	if (opt != NULL && opt->forwarders != NULL) {
		for (const char *const *f = opt->forwarders; *f != NULL; f++) {
			r = ub_ctx_set_fwd(ctx, *f);
			if (r != 0) {
				log_warning(NULL, "dns: forwarder \"%s\": %s", *f, ub_strerror(r));
				return 0;
			}
		}
	} else {
		/* Without resolv.conf unbound recurses from the roots; still a resolver. */
		r = ub_ctx_resolvconf(ctx, NULL);
		if (r != 0)
			log_warning(NULL, "dns: /etc/resolv.conf: %s", ub_strerror(r));
		r = ub_ctx_hosts(ctx, NULL);
		if (r != 0)
			log_warning(NULL, "dns: /etc/hosts: %s", ub_strerror(r));
	}
	if (opt != NULL && opt->local_data_file != NULL &&
	    !dns_load_local_data(ctx, opt->local_data_file))
		return 0;
	return 1;
}

struct dns *
dns_new(struct event_base *base, const struct dns_options *opt)
{
	struct ub_ctx *ctx = ub_ctx_create();
	struct dns *dns;
	int fd;

	if (ctx == NULL) {
		log_warning(NULL, "dns: cannot create unbound context");
		return NULL;
	}
	if (!dns_configure(ctx, opt)) {
		ub_ctx_delete(ctx);
		return NULL;
	}
	fd = ub_fd(ctx);
	if (fd < 0) {
		log_warning(NULL, "dns: unbound has no result descriptor");
		ub_ctx_delete(ctx);
		return NULL;
	}
	dns = xcalloc(1, sizeof(*dns));
	dns->base = base;
	dns->ctx = ctx;
	dns->timeout_ms = (opt != NULL && opt->timeout_ms != 0) ? opt->timeout_ms
	                                                       : DNS_TIMEOUT_DEFAULT_MS;
	dns->ev_fd = event_new(base, fd, EV_READ | EV_PERSIST, dns_on_fd, dns);
	if (dns->ev_fd == NULL || event_add(dns->ev_fd, NULL) != 0) {
		log_warning(NULL, "dns: cannot watch the unbound descriptor");
		if (dns->ev_fd != NULL)
			event_free(dns->ev_fd);
		ub_ctx_delete(ctx);
		free(dns);
		return NULL;
	}
	return dns;
}

static void
dns_destroy(struct dns *dns)
{
	event_free(dns->ev_fd);
	ub_ctx_delete(dns->ctx);
	free(dns);
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;

	if (dns == NULL)
		return;
	*dnsp = NULL;
	while (dns->queries != NULL)
		dns_query_drop(dns->queries);
	if (dns->busy) {
		dns->dying = 1;   /* dns_on_fd finishes the job once ub_process returns */
		return;
	}
	dns_destroy(dns);
}

/* Reverse-lookup owner name for the address, with trailing dot. */
static void
dns_reverse_name(const struct dns_query *q, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";

	if (q->family == AF_INET) {
		xsnprintf(out, size, "%u.%u.%u.%u.in-addr.arpa.", q->addr[3], q->addr[2],
		          q->addr[1], q->addr[0]);
		return;
	}
	size_t n = 0;
	for (int i = 15; i >= 0 && n + 4 < size; i--) {
		out[n++] = hex[q->addr[i] & 0xf];
		out[n++] = '.';
		out[n++] = hex[q->addr[i] >> 4];
		out[n++] = '.';
	}
	out[n] = '\0';
	strlcpy_s(out + n, "ip6.arpa.", size - n);
}

static int
dns_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Decodes an uncompressed wire-format name into lower-case presentation form
 * without the trailing dot. Refuses anything a hostname cannot hold (compression
 * pointers, dots or control bytes inside labels, the root name, overlong names),
 * since the result ends up in headers and logs. */
static int
dns_decode_name(const uint8_t *wire, size_t len, char *out, size_t size)
{
	size_t i = 0, n = 0;

	while (i < len) {
		size_t lab = wire[i++];
		if (lab == 0)
			return n > 0;  /* the trailing dot is dropped */
		if (lab > 63 || lab > len - i)
			return 0;
		if (n > 0) {
			if (n + 1 >= size)
				return 0;
			out[n++] = '.';
		}
		if (n + lab >= size)
			return 0;
		for (size_t k = 0; k < lab; k++) {
			unsigned char c = wire[i + k];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if (!dns_host_char(c))
				return 0;
			out[n++] = (char)c;
		}
		out[n] = '\0';
		i += lab;
	}
	return 0;  /* ran off the end before the root label */
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

static int
dns_query_start(struct dns_query *q, const char *qname, int qtype)
{
	int r = ub_resolve_async(q->dns->ctx, qname, qtype, DNS_CLASS_IN, q, dns_ub_cb,
	                         &q->async_id);
	if (r != 0) {
		log_warning(NULL, "dns: cannot start lookup of %s: %s", qname, ub_strerror(r));
		return 0;
	}
	q->ub_pending = 1;
	return 1;
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
	if (!dns_query_start(q, q->name, q->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA))
		return DNS_STATUS_TEMPFAIL;
	return DNS_STATUS_OK;   /* still pending */
}

static enum dns_status
dns_on_forward(const struct dns_query *q, const struct ub_result *res)
{
	size_t alen = q->family == AF_INET ? 4 : 16;

	for (int i = 0; res->data[i] != NULL; i++)
		if ((size_t)res->len[i] == alen && memcmp(res->data[i], q->addr, alen) == 0)
			return DNS_STATUS_OK;
	log_debug(NULL, "dns: %s does not resolve back to the client", q->name);
	return DNS_STATUS_NONE;
}

static void
dns_ub_cb(void *mydata, int err, struct ub_result *res)
{
	struct dns_query *q = mydata;
	enum dns_status st = dns_result_status(err, res);

	q->ub_pending = 0;
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
	dns_query_finish(q, st);
}

struct dns_query *
dns_client_name(struct dns *dns, const struct sockaddr *addr, dns_name_cb *cb, void *arg)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct dns_query *q = xcalloc(1, sizeof(*q));
	char rname[80];

	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	q->stage = DNS_STAGE_PTR;
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;

	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		q->family = AF_INET;
		memcpy(q->addr, &sin->sin_addr, 4);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			q->family = AF_INET;
			memcpy(q->addr, a + 12, 4);
		} else {
			q->family = AF_INET6;
			memcpy(q->addr, a, 16);
		}
	} else {
		log_warning(NULL, "dns: no reverse lookup for address family %d", addr->sa_family);
		dns_query_finish(q, DNS_STATUS_NONE);
		return NULL;
	}

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

void
dns_cancel(struct dns_query *q)
{
	if (q != NULL)
		dns_query_drop(q);
}
