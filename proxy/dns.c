/* dns.c - libunbound glue: the context, lookups answered through ub_fd() in a libevent
 * loop, timeouts, and dns_lookup for filters. Client names: dns_name.c. */
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
#include "dns_int.h"
#include "log.h"
#include "util.h"

#define DNS_TIMEOUT_DEFAULT_MS 5000u
#define DNS_CLASS_IN 1
#define DNS_DATA_LINE_MAX 4096

static void dns_destroy(struct dns *dns);
static void dns_ub_cb(void *mydata, int err, struct ub_result *result);
static void dns_lookup_finish(struct dns_query *q, enum sluice_async_status status,
                              char **records, size_t count, uint32_t ttl);
static void dns_lookup_answer(struct dns_query *q, int err, struct ub_result *res);

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

void
dns_query_drop(struct dns_query *q)
{
	if (q->ub_pending) {
		int r = ub_cancel(q->dns->ctx, q->async_id);
		if (r != 0)
			log_debug(NULL, "dns: ub_cancel(%d): %s", q->async_id, ub_strerror(r));
	}
	if (q->timer != NULL)
		event_free(q->timer);
	for (size_t i = 0; i < q->cached_count; i++)
		free(q->cached_records[i]);
	free(q->cached_records);
	dns_query_unlink(q);
	free(q);
}

/* Completes a dns_lookup; takes records (count heap strings, or NULL). Like
 * dns_query_finish, q is gone before the callback runs. */
static void
dns_lookup_finish(struct dns_query *q, enum sluice_async_status status, char **records,
                  size_t count, uint32_t ttl)
{
	dns_lookup_cb *cb = q->lookup_cb;
	void *arg = q->arg;
	struct sluice_dns_answer ans = {
		.status = status,
		.count = count,
		.records = (const char *const *)records,
		.ttl = ttl,
	};
	static const char *const none[] = { NULL };

	if (records == NULL)
		ans.records = none;
	dns_query_drop(q);
	cb(arg, &ans);
	for (size_t i = 0; i < count; i++)
		free(records[i]);
	free(records);
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

void
dns_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	if (q->cached) {
		/* Not a timeout: the zero timer of an answer from the cache. */
		char **records = q->cached_records;
		size_t count = q->cached_count;

		q->cached_records = NULL;
		q->cached_count = 0;
		dns_lookup_finish(q, q->cached_status, records, count, q->cached_ttl);
		return;
	}
	if (q->stage == DNS_STAGE_LOOKUP) {
		log_debug(NULL, "dns: %s type %d timed out after %u ms", q->name, q->rrtype,
		          q->dns->timeout_ms);
		dns_lookup_finish(q, SLUICE_ASYNC_TIMEOUT, NULL, 0, 0);
		return;
	}
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
	if (opt != NULL && opt->nservers > 0) {
		for (size_t i = 0; i < opt->nservers; i++) {
			r = ub_ctx_set_fwd(ctx, opt->servers[i]);
			if (r != 0) {
				log_warning(NULL, "dns: server \"%s\": %s", opt->servers[i], ub_strerror(r));
				return 0;
			}
		}
	} else if (opt != NULL && opt->forwarders != NULL) {
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
	dns->cache_ttl_max_ms = opt != NULL ? opt->cache_ttl_max_ms : 0;
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
	dns_name_cache_free(dns);
	dns_answers_free(dns);
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

/* ---- lookups ---- */

static int
dns_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Refuses anything a hostname cannot hold (compression pointers, dots or control
 * bytes inside labels, the root name, overlong names), since the result ends up
 * in headers and logs. */
int
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

int
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

static void
dns_ub_cb(void *mydata, int err, struct ub_result *res)
{
	struct dns_query *q = mydata;

	q->ub_pending = 0;
	if (q->stage == DNS_STAGE_LOOKUP)
		dns_lookup_answer(q, err, res);
	else
		dns_name_answer(q, err, res);
}

/* ---- general lookups (dns_lookup) ---- */

/* One record's rdata as text, heap-allocated, or NULL when it cannot be shown. */
static char *
dns_rdata_text(int rrtype, const uint8_t *d, size_t len)
{
	char buf[DNS_NAME_MAX + 8];

	switch (rrtype) {
	case SLUICE_DNS_A:
	case SLUICE_DNS_AAAA: {
		int af = rrtype == SLUICE_DNS_A ? AF_INET : AF_INET6;
		if (len != (af == AF_INET ? 4u : 16u) || inet_ntop(af, d, buf, sizeof(buf)) == NULL)
			return NULL;
		return xstrdup(buf);
	}
	case SLUICE_DNS_PTR:
		return dns_decode_name(d, len, buf, sizeof(buf)) ? xstrdup(buf) : NULL;
	case SLUICE_DNS_MX: {
		char name[DNS_NAME_MAX];
		if (len < 3)
			return NULL;
		unsigned pref = (unsigned)d[0] << 8 | d[1];
		if (len == 3 && d[2] == 0)
			xsnprintf(buf, sizeof(buf), "%u .", pref);   /* null MX */
		else if (dns_decode_name(d + 2, len - 2, name, sizeof(name)))
			xsnprintf(buf, sizeof(buf), "%u %s", pref, name);
		else
			return NULL;
		return xstrdup(buf);
	}
	case SLUICE_DNS_TXT: {
		/* At most len - 1 text octets: every string costs a length octet. */
		char *out = xmalloc(len + 1);
		size_t i = 0, n = 0;
		while (i < len) {
			size_t sl = d[i++];
			if (sl > len - i || memchr(d + i, '\0', sl) != NULL) {
				free(out);
				return NULL;
			}
			memcpy(out + n, d + i, sl);
			n += sl;
			i += sl;
		}
		out[n] = '\0';
		return out;
	}
	default:
		return NULL;
	}
}

static void
dns_lookup_answer(struct dns_query *q, int err, struct ub_result *res)
{
	enum sluice_async_status status;
	char **records = NULL;
	size_t count = 0;
	uint32_t ttl = 0;

	if (err != 0) {
		log_debug(NULL, "dns: %s type %d: %s", q->name, q->rrtype, ub_strerror(err));
		status = SLUICE_ASYNC_TEMPFAIL;
	} else if (res == NULL || res->bogus) {
		status = SLUICE_ASYNC_TEMPFAIL;
	} else if (res->rcode == DNS_RCODE_NXDOMAIN) {
		status = SLUICE_ASYNC_NXDOMAIN;
	} else if (res->rcode != DNS_RCODE_NOERROR) {
		status = SLUICE_ASYNC_TEMPFAIL;
	} else {
		size_t n = 0;
		while (res->havedata && res->data[n] != NULL)
			n++;
		records = xcalloc(n + 1, sizeof(*records));
		for (size_t i = 0; i < n; i++) {
			char *t = res->len[i] >= 0 ? dns_rdata_text(q->rrtype, (const uint8_t *)res->data[i],
			                                            (size_t)res->len[i]) : NULL;
			if (t != NULL)
				records[count++] = t;
			else
				log_debug(NULL, "dns: %s type %d: record %zu left out", q->name,
				          q->rrtype, i);
		}
		status = count > 0 ? SLUICE_ASYNC_OK : SLUICE_ASYNC_NODATA;
	}
	if (res != NULL && res->ttl > 0)
		ttl = (uint32_t)res->ttl;
	ub_resolve_free(res);
	dns_answers_put(q->dns, q->name, q->rrtype, status, records, count, ttl);
	dns_lookup_finish(q, status, records, count, ttl);
}

struct dns_query *
dns_lookup(struct dns *dns, const char *name, int rrtype, dns_lookup_cb *cb, void *arg)
{
	struct dns_query *q;
	size_t len;

	if (dns == NULL || name == NULL || cb == NULL)
		return NULL;
	if (rrtype != SLUICE_DNS_A && rrtype != SLUICE_DNS_AAAA && rrtype != SLUICE_DNS_PTR &&
	    rrtype != SLUICE_DNS_MX && rrtype != SLUICE_DNS_TXT) {
		log_warning(NULL, "dns: lookup of unsupported type %d refused", rrtype);
		return NULL;
	}
	len = strnlen(name, DNS_NAME_MAX);
	if (len == 0 || len >= DNS_NAME_MAX - 1) {
		log_warning(NULL, "dns: lookup of an empty or overlong name refused");
		return NULL;
	}

	q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->lookup_cb = cb;
	q->rrtype = rrtype;
	q->arg = arg;
	q->stage = DNS_STAGE_LOOKUP;
	q->ttl = -1;
	strlcpy_s(q->name, name, sizeof(q->name));
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;

	/* Failures from here on drop q without a callback, as dns.h promises. */
	q->cached = dns_answers_get(dns, name, rrtype, &q->cached_status, &q->cached_records,
	                            &q->cached_count, &q->cached_ttl);
	q->timer = evtimer_new(dns->base, dns_on_timeout, q);
	struct timeval tv = { dns->timeout_ms / 1000, (dns->timeout_ms % 1000) * 1000 };
	if (q->cached)
		tv = (struct timeval){ 0, 0 };   /* the answer is here: deliver it from the loop */
	if (q->timer == NULL || evtimer_add(q->timer, &tv) != 0) {
		log_warning(NULL, "dns: cannot arm lookup timer");
		dns_query_drop(q);
		return NULL;
	}
	if (!q->cached && !dns_query_start(q, q->name, rrtype)) {
		dns_query_drop(q);
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
