/* check_dns.c - dns.c, dns_name.c (client names) and dns_answers.c (the lookup
 * answer cache) against local data and a loopback UDP server; no real DNS. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns.h"
#include "log.h"
#include "util.h"

/* Records served from local data. unbound's default local zones already hold the
 * TEST-NET reverse zones (static: NXDOMAIN for anything not listed) and the loopback
 * names; any other name goes to the loopback test server below, which is why the
 * server tests reach it through the address step (remote.example.com). */
static const char local_data[] =
	"; sluice dns test data\n"
	"# hash comments too\n"
	"\n"
	"10.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.\n"
	"mail.example.test. 300 IN A 192.0.2.10\n"
	"   20.2.0.192.in-addr.arpa. PTR other.example.test.   \n"
	"other.example.test. A 192.0.2.21\n"
	"30.2.0.192.in-addr.arpa. TXT \"no ptr here\"\n"
	"11.2.0.192.in-addr.arpa. PTR UPPER.Example.Test.\n"
	"upper.example.test. A 192.0.2.11\n"
	"12.2.0.192.in-addr.arpa. PTR bad\\032name.example.test.\n"
	"5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mail6.example.test.\n"
	"mail6.example.test. AAAA 2001:db8::25\n"
	"40.2.0.192.in-addr.arpa. PTR Remote.Example.COM.\n"
	"6.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mail.example.test.\n"
	/* TTLs for the cache: short PTR, short address record, zero. */
	"50.2.0.192.in-addr.arpa. 1 IN PTR shortptr.example.test.\n"
	"shortptr.example.test. 300 IN A 192.0.2.50\n"
	"51.2.0.192.in-addr.arpa. 300 IN PTR shorta.example.test.\n"
	"shorta.example.test. 1 IN A 192.0.2.51\n"
	"52.2.0.192.in-addr.arpa. 0 IN PTR zero.example.test.\n"
	"zero.example.test. 300 IN A 192.0.2.52\n"
	/* For dns_lookup. */
	"txt.example.test. 300 IN TXT \"v=spf1 \" \"ip4:192.0.2.0/24\" \" -all\"\n"
	"mx.example.test. 300 IN MX 10 Mail.Example.Test.\n"
	"mx.example.test. 300 IN MX 20 backup.example.test.\n"
	"nullmx.example.test. 300 IN MX 0 .\n";

/* ---- a loopback UDP "authoritative" server on the test's own event loop ---- */

enum server_mode { SERVER_DROP, SERVER_NXDOMAIN, SERVER_SERVFAIL };

struct server {
	int fd;
	unsigned short port;
	struct event *ev;
	enum server_mode mode;
	int queries;
};

static void
server_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	unsigned char buf[1500];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;

	(void)what;
	while ((n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
	                     &fromlen)) >= 0) {
		s->queries++;
		if (s->mode == SERVER_DROP || n < 12)
			continue;
		/* Answer header + question, no records: enough for unbound to take the rcode. */
		size_t i = 12;
		while (i < (size_t)n && buf[i] != 0 && buf[i] < 64)
			i += (size_t)buf[i] + 1;
		i += 1 + 4;
		if (i > (size_t)n)
			continue;
		buf[2] = (unsigned char)(0x80 | (buf[2] & 0x79));   /* QR, keep opcode and RD */
		buf[3] = (unsigned char)(0x80 | (s->mode == SERVER_NXDOMAIN ? 3 : 2));
		buf[4] = 0; buf[5] = 1;
		memset(buf + 6, 0, 6);
		(void)sendto(fd, buf, i, 0, (struct sockaddr *)&from, fromlen);
		fromlen = sizeof(from);
	}
}

static void
server_start(struct server *s, struct event_base *base)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(s->fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, server_on_read, s);
	ck_assert_ptr_nonnull(s->ev);
	ck_assert_int_eq(event_add(s->ev, NULL), 0);
}

static void
server_stop(struct server *s)
{
	event_free(s->ev);
	close(s->fd);
}

/* ---- fixture ---- */

static char data_path[64];

struct fix {
	struct event_base *base;
	struct server srv;
	char fwd[64];
	const char *fwds[2];
	unsigned cache_ttl_max_ms;  /* for fix_dns; 0 = dns.c's own limits */
	struct dns *dns;
};

static struct dns *
fix_dns(struct fix *f, unsigned timeout_ms, int with_data)
{
	struct dns_options opt = {
		.forwarders = f->fwds,
		.local_data_file = with_data ? data_path : NULL,
		.timeout_ms = timeout_ms,
		.cache_ttl_max_ms = f->cache_ttl_max_ms,
	};
	return dns_new(f->base, &opt);
}

static void
fix_init(struct fix *f, unsigned timeout_ms)
{
	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	server_start(&f->srv, f->base);
	xsnprintf(f->fwd, sizeof(f->fwd), "127.0.0.1@%u", f->srv.port);
	f->fwds[0] = f->fwd;
	f->fwds[1] = NULL;
	f->dns = fix_dns(f, timeout_ms, 1);
	ck_assert_ptr_nonnull(f->dns);
}

static void
fix_done(struct fix *f)
{
	dns_free(&f->dns);
	ck_assert_ptr_null(f->dns);
	server_stop(&f->srv);
	event_base_free(f->base);
}

struct answer {
	int calls;
	enum dns_status status;
	char name[256];
	struct event_base *base;
	int stop;              /* break the loop on the first answer */
};

static void
answer_cb(void *arg, enum dns_status status, const char *name)
{
	struct answer *a = arg;

	a->calls++;
	a->status = status;
	if (status == DNS_STATUS_OK)
		ck_assert_ptr_nonnull(name);
	strlcpy_s(a->name, name != NULL ? name : "", sizeof(a->name));
	if (a->stop)
		event_base_loopbreak(a->base);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop for at most ms (a bounded timer, so no test can hang). */
static void
loop_for(struct event_base *base, unsigned ms)
{
	struct event *guard = evtimer_new(base, guard_cb, base);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(guard);
	evtimer_add(guard, &tv);
	event_base_loop(base, 0);
	event_free(guard);
}

static void
make_addr(struct sockaddr_storage *ss, const char *text)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
}

/* One lookup to completion; returns elapsed ms. */
static uint64_t
lookup(struct fix *f, const char *addr, struct answer *a)
{
	struct sockaddr_storage ss;
	uint64_t t0 = now_ms();

	memset(a, 0, sizeof(*a));
	a->base = f->base;
	a->stop = 1;
	make_addr(&ss, addr);
	(void)dns_client_name(f->dns, (struct sockaddr *)&ss, answer_cb, a);
	if (a->calls == 0)
		loop_for(f->base, 10000);
	return now_ms() - t0;
}

/* ---- table: local data only, nothing may reach the server ---- */

static const struct {
	const char *addr;
	enum dns_status status;
	const char *name;
} local_cases[] = {
	{ "192.0.2.10", DNS_STATUS_OK, "mail.example.test" },        /* forward-confirmed */
	{ "192.0.2.20", DNS_STATUS_NONE, "" },                       /* name has other address */
	{ "192.0.2.30", DNS_STATUS_NONE, "" },                       /* NODATA for PTR */
	{ "192.0.2.31", DNS_STATUS_NONE, "" },                       /* NXDOMAIN for PTR */
	{ "192.0.2.11", DNS_STATUS_OK, "upper.example.test" },       /* lower-cased */
	{ "192.0.2.12", DNS_STATUS_NONE, "" },                       /* unusable PTR name */
	{ "2001:db8::25", DNS_STATUS_OK, "mail6.example.test" },     /* nibble ip6.arpa */
	{ "2001:db8::26", DNS_STATUS_NONE, "" },                     /* name has no AAAA */
	{ "::ffff:192.0.2.10", DNS_STATUS_OK, "mail.example.test" }, /* v4-mapped is v4 */
	{ "127.0.0.1", DNS_STATUS_OK, "localhost" },                 /* unbound default zones */
	{ "::1", DNS_STATUS_OK, "localhost" },
};

static const char *const status_names[] = { "OK", "NONE", "TEMPFAIL" };

START_TEST(test_local)
{
	struct fix f;
	struct answer a;

	fix_init(&f, 5000);
	lookup(&f, local_cases[_i].addr, &a);
	ck_assert_msg(a.calls == 1, "%s: got %d callbacks, want 1", local_cases[_i].addr, a.calls);
	ck_assert_msg(a.status == local_cases[_i].status, "%s: got %s, want %s",
	              local_cases[_i].addr, status_names[a.status],
	              status_names[local_cases[_i].status]);
	ck_assert_msg(strcmp(a.name, local_cases[_i].name) == 0, "%s: got name \"%s\", want \"%s\"",
	              local_cases[_i].addr, a.name, local_cases[_i].name);
	ck_assert_msg(f.srv.queries == 0, "%s: %d queries left the local data",
	              local_cases[_i].addr, f.srv.queries);
	fix_done(&f);
}
END_TEST

/* ---- answers from the loopback server ---- */

START_TEST(test_nxdomain_from_server)
{
	struct fix f;
	struct answer a;

	fix_init(&f, 5000);
	f.srv.mode = SERVER_NXDOMAIN;
	lookup(&f, "192.0.2.40", &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_msg(a.status == DNS_STATUS_NONE, "got %s, want NONE", status_names[a.status]);
	ck_assert_int_ge(f.srv.queries, 1);
	fix_done(&f);
}
END_TEST

START_TEST(test_servfail_from_server)
{
	struct fix f;
	struct answer a;

	fix_init(&f, 5000);
	f.srv.mode = SERVER_SERVFAIL;
	uint64_t ms = lookup(&f, "192.0.2.40", &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_msg(a.status == DNS_STATUS_TEMPFAIL, "got %s, want TEMPFAIL", status_names[a.status]);
	ck_assert_int_ge(f.srv.queries, 1);
	ck_assert_msg(ms < 5000, "SERVFAIL took %llu ms; it should not wait for the timer",
	              (unsigned long long)ms);
	fix_done(&f);
}
END_TEST

START_TEST(test_timeout)
{
	struct fix f;
	struct answer a;

	fix_init(&f, 300);
	f.srv.mode = SERVER_DROP;
	uint64_t ms = lookup(&f, "192.0.2.40", &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_msg(a.status == DNS_STATUS_TEMPFAIL, "got %s, want TEMPFAIL", status_names[a.status]);
	ck_assert_msg(ms >= 250 && ms < 2000, "timed out after %llu ms, want about 300",
	              (unsigned long long)ms);
	ck_assert_msg(f.srv.queries >= 1, "the query never reached the silent server");
	/* Late loop turns must not bring a second callback. */
	a.stop = 0;
	loop_for(f.base, 200);
	ck_assert_int_eq(a.calls, 1);
	fix_done(&f);
}
END_TEST

/* ---- cancellation and re-entrancy ---- */

START_TEST(test_cancel_immediately)
{
	struct fix f;
	struct answer a = { 0 };
	struct sockaddr_storage ss;

	fix_init(&f, 300);
	a.base = f.base;
	make_addr(&ss, "192.0.2.10");    /* answered from local data, so it would come */
	struct dns_query *q = dns_client_name(f.dns, (struct sockaddr *)&ss, answer_cb, &a);
	ck_assert_ptr_nonnull(q);
	dns_cancel(q);
	loop_for(f.base, 500);           /* beyond the timeout, too */
	ck_assert_msg(a.calls == 0, "cancelled query called back %d times", a.calls);
	dns_cancel(NULL);
	fix_done(&f);
}
END_TEST

START_TEST(test_cancel_while_waiting)
{
	struct fix f;
	struct answer a = { 0 };
	struct sockaddr_storage ss;

	fix_init(&f, 400);
	f.srv.mode = SERVER_DROP;
	a.base = f.base;
	make_addr(&ss, "192.0.2.40");
	struct dns_query *q = dns_client_name(f.dns, (struct sockaddr *)&ss, answer_cb, &a);
	ck_assert_ptr_nonnull(q);
	loop_for(f.base, 100);
	ck_assert_int_eq(a.calls, 0);
	dns_cancel(q);
	loop_for(f.base, 600);
	ck_assert_msg(a.calls == 0, "cancelled query called back %d times", a.calls);
	fix_done(&f);
}
END_TEST

START_TEST(test_free_with_pending)
{
	struct fix f;
	struct answer a = { 0 };
	struct sockaddr_storage ss;

	fix_init(&f, 5000);
	a.base = f.base;
	make_addr(&ss, "192.0.2.40");
	ck_assert_ptr_nonnull(dns_client_name(f.dns, (struct sockaddr *)&ss, answer_cb, &a));
	make_addr(&ss, "192.0.2.10");
	ck_assert_ptr_nonnull(dns_client_name(f.dns, (struct sockaddr *)&ss, answer_cb, &a));
	loop_for(f.base, 50);
	int before = a.calls;
	dns_free(&f.dns);
	ck_assert_ptr_null(f.dns);
	loop_for(f.base, 200);
	ck_assert_int_eq(a.calls, before);
	fix_done(&f);
}
END_TEST

/* Two sessions; whichever answers first tears the other down, as a session that
 * closes would. */
struct pair {
	struct dns_query *q[2];
	int calls[2];
	struct event_base *base;
	struct dns **dns;
	int free_dns;          /* the first callback frees the whole resolver instead */
};

static void
pair_cb(int self, struct pair *p, enum dns_status status)
{
	p->calls[self]++;
	ck_assert_int_eq(status, DNS_STATUS_OK);
	if (p->calls[0] + p->calls[1] == 1) {
		if (p->free_dns)
			dns_free(p->dns);
		else
			dns_cancel(p->q[!self]);
	}
}

static void
pair_cb0(void *arg, enum dns_status status, const char *name)
{
	(void)name;
	pair_cb(0, arg, status);
}

static void
pair_cb1(void *arg, enum dns_status status, const char *name)
{
	(void)name;
	pair_cb(1, arg, status);
}

static void
run_pair(int free_dns)
{
	struct fix f;
	struct pair p = { 0 };
	struct sockaddr_storage ss;

	fix_init(&f, 2000);
	p.base = f.base;
	p.dns = &f.dns;
	p.free_dns = free_dns;
	make_addr(&ss, "192.0.2.10");
	p.q[0] = dns_client_name(f.dns, (struct sockaddr *)&ss, pair_cb0, &p);
	make_addr(&ss, "2001:db8::25");
	p.q[1] = dns_client_name(f.dns, (struct sockaddr *)&ss, pair_cb1, &p);
	ck_assert_ptr_nonnull(p.q[0]);
	ck_assert_ptr_nonnull(p.q[1]);
	loop_for(f.base, 500);
	ck_assert_msg(p.calls[0] + p.calls[1] == 1, "got %d and %d callbacks, want one in all",
	              p.calls[0], p.calls[1]);
	if (free_dns)
		ck_assert_ptr_null(f.dns);
	fix_done(&f);
}

START_TEST(test_callback_cancels_other)
{
	run_pair(0);
}
END_TEST

START_TEST(test_callback_frees_dns)
{
	run_pair(1);
}
END_TEST

/* ---- creation ---- */

START_TEST(test_unknown_family)
{
	struct fix f;
	struct answer a = { 0 };
	struct sockaddr_un sun;

	fix_init(&f, 1000);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_ptr_null(dns_client_name(f.dns, (struct sockaddr *)&sun, answer_cb, &a));
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.status, DNS_STATUS_NONE);
	fix_done(&f);
}
END_TEST

static void
write_file(char *path, size_t size, const char *text)
{
	strlcpy_s(path, "/tmp/check_dns_XXXXXX", size);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(test_bad_local_data)
{
	static const char *const bad[] = {
		"mail.example.test. A 192.0.2.10\nthis is not a record\n",
		"mail.example.test. A 999.0.2.10\n",
		"x.example.test. BOGUSTYPE foo\n",
	};
	struct fix f;
	char path[64];

	fix_init(&f, 1000);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct dns_options opt = { .forwarders = f.fwds, .local_data_file = path };
		write_file(path, sizeof(path), bad[i]);
		struct dns *d = dns_new(f.base, &opt);
		unlink(path);
		ck_assert_msg(d == NULL, "bad local data %zu accepted", i);
	}
	struct dns_options missing = { .forwarders = f.fwds,
	                               .local_data_file = "/nonexistent/sluice-dns-data" };
	ck_assert_ptr_null(dns_new(f.base, &missing));
	const char *const badfwd[] = { "not an address", NULL };
	struct dns_options fwd = { .forwarders = badfwd };
	ck_assert_ptr_null(dns_new(f.base, &fwd));
	fix_done(&f);
}
END_TEST

/* resolv.conf + /etc/hosts mode: loopback is still answered locally, no query leaves. */
START_TEST(test_default_options_localhost)
{
	struct fix f;
	struct answer a;

	fix_init(&f, 2000);
	dns_free(&f.dns);
	f.dns = dns_new(f.base, NULL);
	ck_assert_ptr_nonnull(f.dns);
	lookup(&f, "127.0.0.1", &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_msg(a.status == DNS_STATUS_OK && strcmp(a.name, "localhost") == 0,
	              "got %s \"%s\", want OK \"localhost\"", status_names[a.status], a.name);
	fix_done(&f);
}
END_TEST

/* ---- the client-name cache ---- */

/* Starts a lookup and reports whether the cache answered it: dns_client_name runs
 * the callback before returning only for cache hits (and for failures to start,
 * which are TEMPFAIL and never seen here), so a NULL handle with the answer in
 * hand means no query went to unbound. Misses are run to completion. */
static int
lookup_cached(struct fix *f, const char *addr, struct answer *a)
{
	struct sockaddr_storage ss;
	struct dns_query *q;

	memset(a, 0, sizeof(*a));
	a->base = f->base;
	a->stop = 1;
	make_addr(&ss, addr);
	q = dns_client_name(f->dns, (struct sockaddr *)&ss, answer_cb, a);
	if (q == NULL) {
		ck_assert_msg(a->calls == 1, "%s: NULL handle with %d callbacks", addr, a->calls);
		return 1;
	}
	ck_assert_msg(a->calls == 0, "%s: callback ran but a handle came back", addr);
	loop_for(f->base, 10000);
	ck_assert_msg(a->calls == 1, "%s: got %d callbacks, want 1", addr, a->calls);
	return 0;
}

static const struct {
	const char *first, *second;   /* second is looked up right after first */
	int hit;
	enum dns_status status;
	const char *name;
} cache_cases[] = {
	{ "192.0.2.10", "192.0.2.10", 1, DNS_STATUS_OK, "mail.example.test" },
	{ "2001:db8::25", "2001:db8::25", 1, DNS_STATUS_OK, "mail6.example.test" },
	{ "192.0.2.31", "192.0.2.31", 1, DNS_STATUS_NONE, "" },        /* NXDOMAIN */
	{ "192.0.2.30", "192.0.2.30", 1, DNS_STATUS_NONE, "" },        /* NODATA */
	{ "192.0.2.20", "192.0.2.20", 1, DNS_STATUS_NONE, "" },        /* not confirmed */
	{ "192.0.2.10", "::ffff:192.0.2.10", 1, DNS_STATUS_OK, "mail.example.test" },
	{ "::ffff:192.0.2.10", "192.0.2.10", 1, DNS_STATUS_OK, "mail.example.test" },
	/* Not the same client: no hit. */
	{ "192.0.2.10", "192.0.2.11", 0, DNS_STATUS_OK, "upper.example.test" },
	{ "192.0.2.10", "2001:db8::c000:20a", 0, DNS_STATUS_NONE, "" }, /* same last 4 bytes */
	{ "2001:db8::25", "2001:db8::26", 0, DNS_STATUS_NONE, "" },
	/* A zero TTL is not cached. */
	{ "192.0.2.52", "192.0.2.52", 0, DNS_STATUS_OK, "zero.example.test" },
};

START_TEST(test_cache_hit)
{
	struct fix f;
	struct answer a;
	const char *second = cache_cases[_i].second;

	fix_init(&f, 5000);
	ck_assert_msg(!lookup_cached(&f, cache_cases[_i].first, &a),
	              "%s: a fresh resolver answered from its cache", cache_cases[_i].first);
	int hit = lookup_cached(&f, second, &a);
	ck_assert_msg(hit == cache_cases[_i].hit, "%s after %s: got %s, want %s", second,
	              cache_cases[_i].first, hit ? "cache hit" : "miss",
	              cache_cases[_i].hit ? "cache hit" : "miss");
	ck_assert_msg(a.status == cache_cases[_i].status, "%s: got %s, want %s", second,
	              status_names[a.status], status_names[cache_cases[_i].status]);
	ck_assert_msg(strcmp(a.name, cache_cases[_i].name) == 0, "%s: got name \"%s\", want \"%s\"",
	              second, a.name, cache_cases[_i].name);
	fix_done(&f);
}
END_TEST

/* An answer from the server is remembered even after the server changes its mind:
 * nothing reaches it, and the old answer comes back. */
START_TEST(test_cache_hides_server)
{
	struct fix f;
	struct answer a;

	fix_init(&f, 5000);
	f.srv.mode = SERVER_NXDOMAIN;
	ck_assert(!lookup_cached(&f, "192.0.2.40", &a));
	ck_assert_msg(a.status == DNS_STATUS_NONE, "got %s, want NONE", status_names[a.status]);
	int queries = f.srv.queries;
	ck_assert_int_ge(queries, 1);
	f.srv.mode = SERVER_SERVFAIL;
	ck_assert_msg(lookup_cached(&f, "192.0.2.40", &a), "second lookup missed the cache");
	ck_assert_msg(a.status == DNS_STATUS_NONE, "got %s, want the cached NONE",
	              status_names[a.status]);
	ck_assert_msg(f.srv.queries == queries, "got %d server queries, want still %d",
	              f.srv.queries, queries);
	fix_done(&f);
}
END_TEST

START_TEST(test_cache_expires)
{
	static const struct {
		const char *addr;
		enum dns_status status;
	} cases[] = {
		{ "192.0.2.10", DNS_STATUS_OK },
		{ "192.0.2.31", DNS_STATUS_NONE },
	};
	struct fix f;
	struct answer a;

	fix_init(&f, 5000);
	dns_free(&f.dns);
	f.cache_ttl_max_ms = 150;
	f.dns = fix_dns(&f, 5000, 1);
	ck_assert_ptr_nonnull(f.dns);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		ck_assert(!lookup_cached(&f, cases[i].addr, &a));
		ck_assert_msg(lookup_cached(&f, cases[i].addr, &a), "%s: no hit before expiry",
		              cases[i].addr);
	}
	loop_for(f.base, 250);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		ck_assert_msg(!lookup_cached(&f, cases[i].addr, &a), "%s: hit after expiry",
		              cases[i].addr);
		ck_assert_msg(a.status == cases[i].status, "%s: got %s, want %s", cases[i].addr,
		              status_names[a.status], status_names[cases[i].status]);
		ck_assert_msg(lookup_cached(&f, cases[i].addr, &a), "%s: fresh answer not cached",
		              cases[i].addr);
	}
	fix_done(&f);
}
END_TEST

/* OK lives for the smaller of the PTR and address TTLs (1 s in either place here). */
START_TEST(test_cache_record_ttl)
{
	static const char *const addrs[] = { "192.0.2.50", "192.0.2.51", "192.0.2.10" };
	struct fix f;
	struct answer a;

	fix_init(&f, 5000);
	for (size_t i = 0; i < ARRAY_LEN(addrs); i++) {
		ck_assert(!lookup_cached(&f, addrs[i], &a));
		ck_assert_msg(a.status == DNS_STATUS_OK, "%s: got %s, want OK", addrs[i],
		              status_names[a.status]);
		ck_assert_msg(lookup_cached(&f, addrs[i], &a), "%s: no hit", addrs[i]);
	}
	loop_for(f.base, 1200);
	ck_assert_msg(!lookup_cached(&f, addrs[0], &a), "PTR TTL 1 s: still cached after 1.2 s");
	ck_assert_msg(!lookup_cached(&f, addrs[1], &a), "A TTL 1 s: still cached after 1.2 s");
	ck_assert_msg(lookup_cached(&f, addrs[2], &a), "TTL 300 s: gone after 1.2 s");
	fix_done(&f);
}
END_TEST

/* TEMPFAIL, from SERVFAIL or from the timer, sends the next lookup to DNS again. */
START_TEST(test_cache_not_tempfail)
{
	static const enum server_mode modes[] = { SERVER_SERVFAIL, SERVER_DROP };
	struct fix f;
	struct answer a;

	fix_init(&f, 300);
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		f.srv.mode = modes[i];
		for (int round = 0; round < 2; round++) {
			ck_assert_msg(!lookup_cached(&f, "192.0.2.40", &a),
			              "mode %zu round %d: TEMPFAIL came from the cache", i, round);
			ck_assert_msg(a.status == DNS_STATUS_TEMPFAIL, "mode %zu: got %s, want TEMPFAIL",
			              i, status_names[a.status]);
		}
	}
	fix_done(&f);
}
END_TEST

/* Twice as many clients as slots, all answered locally (half with names, half
 * NXDOMAIN from the 10.in-addr.arpa default zone): at most DNS_CACHE_ENTRIES of
 * them can be hits afterwards. */
#define BOUND_CLIENTS (2 * DNS_CACHE_ENTRIES)
#define BOUND_BATCH 256

struct counter {
	int calls;
	int want;
	struct event_base *base;
};

static void
counter_cb(void *arg, enum dns_status status, const char *name)
{
	struct counter *c = arg;

	(void)name;
	ck_assert_int_ne(status, DNS_STATUS_TEMPFAIL);
	if (++c->calls == c->want)
		event_base_loopbreak(c->base);
}

static void
bound_addr(int i, char *buf, size_t size)
{
	xsnprintf(buf, size, "10.%d.%d.%d", i % 2, (i / 2) >> 8, (i / 2) & 0xff);
}

START_TEST(test_cache_bounded)
{
	struct fix f;
	char path[64], addr[32];
	size_t cap = (size_t)BOUND_CLIENTS * 100, len = 0;
	char *data = xmalloc(cap);

	/* 10.0.x.y have forward-confirmed names, 10.1.x.y nothing. */
	for (int i = 0; i < BOUND_CLIENTS; i += 2) {
		int b = (i / 2) >> 8, c = (i / 2) & 0xff;
		len += xsnprintf(data + len, cap - len,
		                 "%d.%d.0.10.in-addr.arpa. PTR h%d.bound.test.\n"
		                 "h%d.bound.test. A 10.0.%d.%d\n", c, b, i, i, b, c);
	}
	write_file(path, sizeof(path), data);
	free(data);
	fix_init(&f, 5000);
	dns_free(&f.dns);
	struct dns_options opt = { .forwarders = f.fwds, .local_data_file = path };
	f.dns = dns_new(f.base, &opt);
	unlink(path);
	ck_assert_ptr_nonnull(f.dns);

	for (int first = 0; first < BOUND_CLIENTS; first += BOUND_BATCH) {
		struct counter c = { 0, BOUND_BATCH, f.base };
		for (int i = first; i < first + BOUND_BATCH; i++) {
			struct sockaddr_storage ss;
			bound_addr(i, addr, sizeof(addr));
			make_addr(&ss, addr);
			ck_assert_ptr_nonnull(dns_client_name(f.dns, (struct sockaddr *)&ss,
			                                      counter_cb, &c));
		}
		loop_for(f.base, 10000);
		ck_assert_msg(c.calls == BOUND_BATCH, "batch at %d: got %d answers, want %d",
		              first, c.calls, BOUND_BATCH);
	}
	ck_assert_int_eq(f.srv.queries, 0);

	int hits = 0;
	for (int i = 0; i < BOUND_CLIENTS; i++) {
		struct counter c = { 0, 1, f.base };
		struct sockaddr_storage ss;
		bound_addr(i, addr, sizeof(addr));
		make_addr(&ss, addr);
		struct dns_query *q = dns_client_name(f.dns, (struct sockaddr *)&ss, counter_cb, &c);
		if (q == NULL)
			hits++;
		dns_cancel(q);    /* a miss must not refill the cache while we count */
	}
	ck_assert_msg(hits <= DNS_CACHE_ENTRIES, "got %d cache hits from %d clients, want at most %d",
	              hits, BOUND_CLIENTS, DNS_CACHE_ENTRIES);
	ck_assert_msg(hits >= DNS_CACHE_ENTRIES / 2, "got %d cache hits, want at least %d",
	              hits, DNS_CACHE_ENTRIES / 2);
	fix_done(&f);
}
END_TEST

/* ---- dns_lookup: general queries ---- */

struct lanswer {
	int calls;
	enum sluice_async_status status;
	size_t count;
	char records[4][128];
	uint32_t ttl;
	struct event_base *base;
};

static void
lanswer_cb(void *arg, const struct sluice_dns_answer *ans)
{
	struct lanswer *a = arg;

	a->calls++;
	a->status = ans->status;
	a->count = ans->count;
	a->ttl = ans->ttl;
	ck_assert_ptr_nonnull(ans->records);
	for (size_t i = 0; i < ans->count && i < ARRAY_LEN(a->records); i++) {
		ck_assert_ptr_nonnull(ans->records[i]);
		strlcpy_s(a->records[i], ans->records[i], sizeof(a->records[i]));
	}
	if (a->base != NULL)
		event_base_loopbreak(a->base);
}

static int
record_cmp(const void *x, const void *y)
{
	return strcmp(x, y);
}

/* One lookup to completion (records sorted); returns elapsed ms. */
static uint64_t
run_lookup(struct fix *f, const char *name, int type, struct lanswer *a)
{
	uint64_t t0 = now_ms();

	memset(a, 0, sizeof(*a));
	a->base = f->base;
	ck_assert_ptr_nonnull(dns_lookup(f->dns, name, type, lanswer_cb, a));
	ck_assert_msg(a->calls == 0, "%s: answered inside dns_lookup", name);
	loop_for(f->base, 10000);
	ck_assert_msg(a->calls == 1, "%s: got %d callbacks, want 1", name, a->calls);
	qsort(a->records, a->count < 4 ? a->count : 4, sizeof(a->records[0]), record_cmp);
	return now_ms() - t0;
}

static const char *const async_names[] = { "OK", "NXDOMAIN", "NODATA", "TEMPFAIL", "TIMEOUT",
                                           "CANCELLED" };

static const struct {
	const char *name;
	int type;
	enum sluice_async_status status;
	const char *records[3];   /* sorted; NULL-terminated */
	uint32_t ttl;             /* 0: not checked */
} lookup_cases[] = {
	{ "txt.example.test", SLUICE_DNS_TXT, SLUICE_ASYNC_OK,        /* strings joined */
	  { "v=spf1 ip4:192.0.2.0/24 -all" }, 300 },
	{ "30.2.0.192.in-addr.arpa", SLUICE_DNS_TXT, SLUICE_ASYNC_OK, { "no ptr here" }, 0 },
	{ "mx.example.test", SLUICE_DNS_MX, SLUICE_ASYNC_OK,
	  { "10 mail.example.test", "20 backup.example.test" }, 300 },
	{ "nullmx.example.test", SLUICE_DNS_MX, SLUICE_ASYNC_OK, { "0 ." }, 0 },
	{ "mail.example.test", SLUICE_DNS_A, SLUICE_ASYNC_OK, { "192.0.2.10" }, 300 },
	{ "mail.example.test.", SLUICE_DNS_A, SLUICE_ASYNC_OK, { "192.0.2.10" }, 0 },
	{ "MAIL.example.TEST", SLUICE_DNS_A, SLUICE_ASYNC_OK, { "192.0.2.10" }, 0 },
	{ "mail6.example.test", SLUICE_DNS_AAAA, SLUICE_ASYNC_OK, { "2001:db8::25" }, 0 },
	{ "11.2.0.192.in-addr.arpa", SLUICE_DNS_PTR, SLUICE_ASYNC_OK, { "upper.example.test" }, 0 },
	{ "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	  SLUICE_DNS_PTR, SLUICE_ASYNC_OK, { "mail6.example.test" }, 0 },
	{ "12.2.0.192.in-addr.arpa", SLUICE_DNS_PTR, SLUICE_ASYNC_NODATA, { NULL }, 0 }, /* unusable */
	{ "mail.example.test", SLUICE_DNS_AAAA, SLUICE_ASYNC_NODATA, { NULL }, 0 },
	{ "mail.example.test", SLUICE_DNS_TXT, SLUICE_ASYNC_NODATA, { NULL }, 0 },
	{ "31.2.0.192.in-addr.arpa", SLUICE_DNS_PTR, SLUICE_ASYNC_NXDOMAIN, { NULL }, 0 },
	{ "nosuch.invalid", SLUICE_DNS_A, SLUICE_ASYNC_NXDOMAIN, { NULL }, 0 },
};

START_TEST(test_lookup_local)
{
	struct fix f;
	struct lanswer a;
	const char *name = lookup_cases[_i].name;
	size_t want = 0;

	fix_init(&f, 5000);
	run_lookup(&f, name, lookup_cases[_i].type, &a);
	ck_assert_msg(a.status == lookup_cases[_i].status, "%s/%d: got %s, want %s", name,
	              lookup_cases[_i].type, async_names[a.status],
	              async_names[lookup_cases[_i].status]);
	while (want < ARRAY_LEN(lookup_cases[_i].records) && lookup_cases[_i].records[want] != NULL)
		want++;
	ck_assert_msg(a.count == want, "%s/%d: got %zu records, want %zu", name,
	              lookup_cases[_i].type, a.count, want);
	for (size_t i = 0; i < want; i++)
		ck_assert_msg(strcmp(a.records[i], lookup_cases[_i].records[i]) == 0,
		              "%s/%d: record %zu: got \"%s\", want \"%s\"", name,
		              lookup_cases[_i].type, i, a.records[i], lookup_cases[_i].records[i]);
	if (lookup_cases[_i].ttl != 0)
		ck_assert_msg(a.ttl == lookup_cases[_i].ttl, "%s: got ttl %u, want %u", name,
		              (unsigned)a.ttl, (unsigned)lookup_cases[_i].ttl);
	ck_assert_msg(f.srv.queries == 0, "%s: %d queries left the local data", name,
	              f.srv.queries);
	fix_done(&f);
}
END_TEST

static const struct {
	enum server_mode mode;
	unsigned timeout_ms;
	enum sluice_async_status status;
} server_cases[] = {
	{ SERVER_NXDOMAIN, 5000, SLUICE_ASYNC_NXDOMAIN },
	{ SERVER_SERVFAIL, 5000, SLUICE_ASYNC_TEMPFAIL },
	{ SERVER_DROP, 300, SLUICE_ASYNC_TIMEOUT },
};

START_TEST(test_lookup_server)
{
	struct fix f;
	struct lanswer a;

	fix_init(&f, server_cases[_i].timeout_ms);
	f.srv.mode = server_cases[_i].mode;
	uint64_t ms = run_lookup(&f, "remote.example.com", SLUICE_DNS_TXT, &a);
	ck_assert_msg(a.status == server_cases[_i].status, "mode %d: got %s, want %s",
	              server_cases[_i].mode, async_names[a.status],
	              async_names[server_cases[_i].status]);
	ck_assert_int_eq(a.count, 0);
	ck_assert_int_ge(f.srv.queries, 1);
	if (server_cases[_i].mode == SERVER_DROP)
		ck_assert_msg(ms >= 250 && ms < 2000, "timed out after %llu ms, want about 300",
		              (unsigned long long)ms);
	else
		ck_assert_msg(ms < 4000, "answer took %llu ms", (unsigned long long)ms);
	/* No second callback later. */
	loop_for(f.base, 100);
	ck_assert_int_eq(a.calls, 1);
	fix_done(&f);
}
END_TEST

/* dns_options.servers, counted as struct config keeps them, take the place of
 * forwarders. */
START_TEST(test_lookup_counted_servers)
{
	struct fix f;
	struct lanswer a;
	char fwd[64];
	char *servers[1] = { fwd };

	fix_init(&f, 5000);
	dns_free(&f.dns);
	xsnprintf(fwd, sizeof(fwd), "127.0.0.1@%u", f.srv.port);
	struct dns_options opt = {
		.servers = (const char *const *)servers,
		.nservers = 1,
		.local_data_file = data_path,
		.timeout_ms = 5000,
	};
	f.dns = dns_new(f.base, &opt);
	ck_assert_ptr_nonnull(f.dns);
	f.srv.mode = SERVER_NXDOMAIN;
	run_lookup(&f, "remote.example.com", SLUICE_DNS_A, &a);
	ck_assert_msg(a.status == SLUICE_ASYNC_NXDOMAIN, "got %s, want NXDOMAIN",
	              async_names[a.status]);
	ck_assert_int_ge(f.srv.queries, 1);
	fix_done(&f);

	char bad[] = "not an address";
	servers[0] = bad;
	ck_assert_ptr_null(dns_new(f.base = event_base_new(), &opt));
	event_base_free(f.base);
}
END_TEST

/* dns_lookup's answer cache: the same name and type again is answered by the
 * loop itself (still from the loop, never inside dns_lookup), whatever the
 * spelling; another type is not; failures are not kept; entries expire; a
 * cached answer cancelled before delivery never calls back (and leaks nothing). */
START_TEST(test_lookup_answer_cache)
{
	static const struct {
		const char *first, *second;
		int type2;
		int hit;
	} cases[] = {
		{ "txt.example.test", "txt.example.test", SLUICE_DNS_TXT, 1 },
		{ "mail.example.test", "MAIL.Example.test.", SLUICE_DNS_A, 1 },
		{ "nosuch.invalid", "nosuch.invalid", SLUICE_DNS_TXT, 1 },           /* NXDOMAIN */
		{ "mail.example.test", "mail.example.test", SLUICE_DNS_AAAA, 0 },    /* other type */
		{ "mail.example.test", "mail6.example.test", SLUICE_DNS_A, 0 },
	};
	struct fix f;
	struct lanswer a, b;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		fix_init(&f, 5000);
		int type1 = cases[i].type2 == SLUICE_DNS_AAAA && cases[i].hit == 0 ? SLUICE_DNS_A
		                                                                  : cases[i].type2;
		run_lookup(&f, cases[i].first, type1, &a);
		ck_assert_msg(dns_lookup_cache_hits(f.dns) == 0, "%s: a hit on a fresh cache",
		              cases[i].first);
		run_lookup(&f, cases[i].second, cases[i].type2, &b);
		ck_assert_msg(dns_lookup_cache_hits(f.dns) == (uint64_t)cases[i].hit,
		              "%s after %s: %llu hits, want %d", cases[i].second, cases[i].first,
		              (unsigned long long)dns_lookup_cache_hits(f.dns), cases[i].hit);
		if (cases[i].hit) {
			ck_assert_msg(b.status == a.status && b.count == a.count, "%s: cached answer differs",
			              cases[i].second);
			for (size_t j = 0; j < a.count && j < 4; j++)
				ck_assert_str_eq(b.records[j], a.records[j]);
		}
		fix_done(&f);
	}

	/* TEMPFAIL and TIMEOUT are asked again (to unbound, which has its own
	 * view of a failing server). */
	fix_init(&f, 300);
	f.srv.mode = SERVER_SERVFAIL;
	run_lookup(&f, "remote.example.com", SLUICE_DNS_TXT, &a);
	ck_assert_int_eq(a.status, SLUICE_ASYNC_TEMPFAIL);
	run_lookup(&f, "remote.example.com", SLUICE_DNS_TXT, &a);
	ck_assert_msg(dns_lookup_cache_hits(f.dns) == 0, "a SERVFAIL was cached");
	f.srv.mode = SERVER_DROP;
	run_lookup(&f, "late.example.com", SLUICE_DNS_TXT, &a);
	ck_assert_int_eq(a.status, SLUICE_ASYNC_TIMEOUT);
	run_lookup(&f, "late.example.com", SLUICE_DNS_TXT, &a);
	ck_assert_msg(dns_lookup_cache_hits(f.dns) == 0, "a timeout was cached");
	fix_done(&f);

	/* Expiry (cache_ttl_max_ms caps every lifetime), and a cancelled hit. */
	fix_init(&f, 5000);
	dns_free(&f.dns);
	f.cache_ttl_max_ms = 150;
	f.dns = fix_dns(&f, 5000, 1);
	ck_assert_ptr_nonnull(f.dns);
	run_lookup(&f, "txt.example.test", SLUICE_DNS_TXT, &a);
	memset(&b, 0, sizeof(b));
	b.base = f.base;
	struct dns_query *q = dns_lookup(f.dns, "txt.example.test", SLUICE_DNS_TXT, lanswer_cb, &b);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(dns_lookup_cache_hits(f.dns), 1);
	dns_cancel(q);
	loop_for(f.base, 250);
	ck_assert_msg(b.calls == 0, "a cancelled cached answer called back");
	run_lookup(&f, "txt.example.test", SLUICE_DNS_TXT, &a);
	ck_assert_msg(dns_lookup_cache_hits(f.dns) == 1, "an expired answer was used");
	ck_assert_int_eq(a.status, SLUICE_ASYNC_OK);
	fix_done(&f);
}
END_TEST

START_TEST(test_lookup_cancel)
{
	static const enum server_mode modes[] = { SERVER_NXDOMAIN, SERVER_DROP };
	struct fix f;
	struct lanswer a = { 0 };

	fix_init(&f, 300);
	a.base = f.base;
	/* Answered locally, cancelled before the loop runs. */
	struct dns_query *q = dns_lookup(f.dns, "txt.example.test", SLUICE_DNS_TXT, lanswer_cb, &a);
	ck_assert_ptr_nonnull(q);
	dns_cancel(q);
	/* Sent to the server: cancelled before its answer is read, and while it stays
	 * silent (then the loop runs beyond the timeout too). */
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		f.srv.mode = modes[i];
		q = dns_lookup(f.dns, "remote.example.com", SLUICE_DNS_MX, lanswer_cb, &a);
		ck_assert_ptr_nonnull(q);
		if (modes[i] == SERVER_DROP)   /* the answering server must not win the race */
			loop_for(f.base, 50);
		dns_cancel(q);
	}
	loop_for(f.base, 500);
	ck_assert_msg(a.calls == 0, "cancelled lookups called back %d times", a.calls);
	/* Pending at dns_free: no callback either. */
	ck_assert_ptr_nonnull(dns_lookup(f.dns, "mx.example.test", SLUICE_DNS_MX, lanswer_cb, &a));
	dns_free(&f.dns);
	loop_for(f.base, 100);
	ck_assert_int_eq(a.calls, 0);
	fix_done(&f);
}
END_TEST

START_TEST(test_lookup_bad_arguments)
{
	struct fix f;
	struct lanswer a = { 0 };
	char longname[300];

	fix_init(&f, 1000);
	a.base = f.base;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_ptr_null(dns_lookup(f.dns, "x.example.test", 99, lanswer_cb, &a));
	ck_assert_ptr_null(dns_lookup(f.dns, "x.example.test", 0, lanswer_cb, &a));
	ck_assert_ptr_null(dns_lookup(f.dns, NULL, SLUICE_DNS_A, lanswer_cb, &a));
	ck_assert_ptr_null(dns_lookup(f.dns, "", SLUICE_DNS_A, lanswer_cb, &a));
	ck_assert_ptr_null(dns_lookup(f.dns, longname, SLUICE_DNS_A, lanswer_cb, &a));
	ck_assert_ptr_null(dns_lookup(f.dns, "x.example.test", SLUICE_DNS_A, NULL, &a));
	ck_assert_ptr_null(dns_lookup(NULL, "x.example.test", SLUICE_DNS_A, lanswer_cb, &a));
	loop_for(f.base, 50);
	ck_assert_int_eq(a.calls, 0);
	fix_done(&f);
}
END_TEST

/* Many lookups of every kind in flight at once, and client-name queries mixed in. */
START_TEST(test_lookup_many)
{
	struct fix f;
	struct lanswer a[40];
	int done = 0;

	fix_init(&f, 5000);
	for (size_t i = 0; i < ARRAY_LEN(a); i++) {
		size_t c = i % ARRAY_LEN(lookup_cases);
		memset(&a[i], 0, sizeof(a[i]));
		a[i].base = NULL;
		ck_assert_ptr_nonnull(dns_lookup(f.dns, lookup_cases[c].name, lookup_cases[c].type,
		                                 lanswer_cb, &a[i]));
	}
	for (int round = 0; round < 100 && done < (int)ARRAY_LEN(a); round++) {
		event_base_loop(f.base, EVLOOP_ONCE);
		done = 0;
		for (size_t i = 0; i < ARRAY_LEN(a); i++)
			done += a[i].calls;
	}
	ck_assert_int_eq(done, (int)ARRAY_LEN(a));
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		ck_assert_msg(a[i].status == lookup_cases[i % ARRAY_LEN(lookup_cases)].status,
		              "lookup %zu: got %s", i, async_names[a[i].status]);
	fix_done(&f);
}
END_TEST

static Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_local, 0, (int)ARRAY_LEN(local_cases));
	tcase_add_test(tc, test_nxdomain_from_server);
	tcase_add_test(tc, test_servfail_from_server);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_cancel_immediately);
	tcase_add_test(tc, test_cancel_while_waiting);
	tcase_add_test(tc, test_free_with_pending);
	tcase_add_test(tc, test_callback_cancels_other);
	tcase_add_test(tc, test_callback_frees_dns);
	tcase_add_test(tc, test_unknown_family);
	tcase_add_test(tc, test_bad_local_data);
	tcase_add_test(tc, test_default_options_localhost);
	tcase_add_loop_test(tc, test_cache_hit, 0, (int)ARRAY_LEN(cache_cases));
	tcase_add_test(tc, test_cache_hides_server);
	tcase_add_test(tc, test_cache_expires);
	tcase_add_test(tc, test_cache_record_ttl);
	tcase_add_test(tc, test_cache_not_tempfail);
	tcase_add_test(tc, test_cache_bounded);
	tcase_add_loop_test(tc, test_lookup_local, 0, (int)ARRAY_LEN(lookup_cases));
	tcase_add_loop_test(tc, test_lookup_server, 0, (int)ARRAY_LEN(server_cases));
	tcase_add_test(tc, test_lookup_counted_servers);
	tcase_add_test(tc, test_lookup_cancel);
	tcase_add_test(tc, test_lookup_answer_cache);
	tcase_add_test(tc, test_lookup_bad_arguments);
	tcase_add_test(tc, test_lookup_many);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_open(1, LOG_LEVEL_WARNING);
	strlcpy_s(data_path, "/tmp/check_dns_XXXXXX", sizeof(data_path));
	int fd = mkstemp(data_path);
	if (fd < 0 || write(fd, local_data, strlen(local_data)) != (ssize_t)strlen(local_data)) {
		perror(data_path);
		return EXIT_FAILURE;
	}
	close(fd);

	SRunner *sr = srunner_create(dns_suite());
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	unlink(data_path);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
