/* relay_open.c - opening the backend leg: connect with failover across backends,
 * greeting, EHLO/HELO, STARTTLS (backend_tls), XCLIENT (early or after EHLO),
 * re-identifying a pooled connection for a new client, and the capability probe. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "relay_int.h"
#include "tls.h"
#include "util.h"
#include "xclient.h"

static const char REPLY_UNAVAILABLE[] = "451 4.4.1 Error: backend MTA unavailable, try again later\r\n";

static void relay_try_next(struct relay *r);
static void relay_after_caps(struct relay *r, int second);

/* EHLO or HELO with our name. */
static void
relay_send_hello(struct relay *r, const char *verb)
{
	char line[SMTP_COMMAND_MAX];
	size_t n = xsnprintf(line, sizeof(line), "%s %s", verb, r->cfg->hostname);

	relay_send(r, line, n);
}

static void
relay_connect(struct relay *r, int idx)
{
	struct backend *b = &r->pool->backends[idx];

	r->bidx = idx;
	strlcpy_s(r->name, b->cfg->addr.text, sizeof(r->name));
	relay_socket_new(r);
	/* A pending connect is bounded by the write timeout. */
	struct timeval tv = { r->cfg->backend_timeout_connect / 1000,
	                      (r->cfg->backend_timeout_connect % 1000) * 1000 };
	bufferevent_set_timeouts(r->bev, &tv, &tv);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	relay_set_state(r, R_CONNECTING);
	r->uses = 1;
	metrics_counter_add("sluice_backend_connects_total", 1);
	if (bufferevent_socket_connect(r->bev, (const struct sockaddr *)&b->cfg->addr.ss,
	                               (int)b->cfg->addr.len) < 0) {
		backend_mark_down(b, strerror(errno));
		relay_close(r);
		relay_try_next(r);
		return;
	}
	/* Whole lines and whole messages are written at once, so Nagle saves nothing;
	 * and on a connection kept for many sessions the MTA acks late (delayed ACK
	 * once the exchange looks interactive): the last segment of each message
	 * would wait for that ACK, 40 ms on Linux. */
	int one = 1;
	(void)setsockopt(bufferevent_getfd(r->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Give up on the current backend (its fault) and try the next one. */
void
relay_backend_failed(struct relay *r, const char *why)
{
	if (r->reusing) {
		/* A pooled connection that went stale is no sign of a sick backend, and
		 * the client has sent nothing on it yet: a new connection, silently. */
		int idx = r->bidx;
		log_debug(r->sid, "pool: reused connection to %s failed: %s; opening a new one",
		          r->name, why);
		metrics_counter_add("sluice_backend_pool_reuse_failures_total", 1);
		relay_quit(r);
		relay_close(r);
		relay_connect(r, idx);
		return;
	}
	if (r->bidx >= 0)
		backend_mark_down(&r->pool->backends[r->bidx], why);
	relay_close(r);
	relay_try_next(r);
}

static void
relay_try_next(struct relay *r)
{
	int idx;

	if (r->probe_only) {
		relay_finish_local(r, REPLY_UNAVAILABLE);
		return;
	}
	idx = backend_pool_next(r->pool, r->next_try);

	if (idx < 0) {
		log_warning(r->sid, "no backend MTA available");
		relay_finish_local(r, REPLY_UNAVAILABLE);
		return;
	}
	r->next_try = (size_t)idx + 1;
	if (!r->probe && r->idle_pool != NULL) {
		struct relay *idle = relay_pool_take(r->idle_pool, idx);
		if (idle != NULL) {
			relay_adopt(r, &idle);
			relay_reidentify(r);
			return;
		}
	}
	relay_connect(r, idx);
}

/* XCLIENT lines for the attributes this backend announced. */
static void
relay_build_xclient(struct relay *r)
{
	r->nxclient = xclient_build(&r->id, r->caps.xclient_attrs, r->xclient, RELAY_XCLIENT_LINES);
	r->ixclient = 0;
}

/* The backend's `identity=` (auto unless its backend line says otherwise). */
static int
relay_identity(const struct relay *r)
{
	return r->bidx >= 0 ? r->pool->backends[r->bidx].cfg->identity : CONFIG_IDENTITY_AUTO;
}

static int
relay_wants_xclient(const struct relay *r)
{
	int id = relay_identity(r);

	if (r->probe || id == CONFIG_IDENTITY_NONE || id == CONFIG_IDENTITY_XFORWARD)
		return 0;
	return id == CONFIG_IDENTITY_XCLIENT || r->cfg->xclient != CONFIG_XCLIENT_NO;
}

/* XCLIENT must be used: xclient = yes, or identity=xclient on the backend line. */
static int
relay_needs_xclient(const struct relay *r)
{
	return r->cfg->xclient == CONFIG_XCLIENT_YES || relay_identity(r) == CONFIG_IDENTITY_XCLIENT;
}

void
relay_id_clear(struct relay *r)
{
	free(r->id_helo);
	free(r->id_name);
	free(r->id_addr);
	free(r->id_login);
	r->id_helo = r->id_name = r->id_addr = r->id_login = NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
relay_open(struct relay *r, const struct client_identity *id, relay_cb *cb, void *arg)
{
	r->cb = cb;
	r->cb_arg = arg;
	r->probe = id == NULL;
	r->probe_only = 0;
	r->next_try = 0;
	r->tls_plain = 0;
	relay_close(r);
	relay_id_clear(r);
	if (id != NULL) {
		r->id = *id;
		r->id.helo = r->id_helo = dup_or_null(id->helo);
		r->id.name = r->id_name = dup_or_null(id->name);
		r->id.addr = r->id_addr = dup_or_null(id->addr);
		r->id.login = r->id_login = dup_or_null(id->login);
	}
	relay_try_next(r);
}

void
relay_probe(struct relay *r, size_t idx, relay_cb *cb, void *arg)
{
	r->cb = cb;
	r->cb_arg = arg;
	r->probe = 1;
	r->probe_only = 1;
	r->tls_plain = 0;
	relay_close(r);
	relay_id_clear(r);
	relay_connect(r, (int)idx);
}

void
relay_xclient_clear(struct relay *r)
{
	r->nxclient = r->ixclient = 0;
}

/* ------------------------------------------------------------ STARTTLS */

/* STARTTLS is to be tried on this connection: configured, not on yet, and not
 * given up on for this backend (opportunistic fallback). */
static int
relay_wants_tls(const struct relay *r)
{
	return r->cfg->backend_tls != CONFIG_BACKEND_TLS_NO && r->tls == 0 &&
	       r->tls_plain != r->bidx + 1;
}

/* After the first EHLO: STARTTLS when wanted. Returns 1 when it took over (sent
 * STARTTLS, or gave up on the backend), 0 to go on in the clear. */
static int
relay_starttls(struct relay *r)
{
	if (!relay_wants_tls(r))
		return 0;
	if (!(r->caps.caps & SMTP_CAP_STARTTLS)) {
		if (r->cfg->backend_tls == CONFIG_BACKEND_TLS_REQUIRED) {
			log_warning(r->sid, "backend %s does not offer STARTTLS (backend_tls = required)",
			            r->name);
			relay_backend_failed(r, "does not offer STARTTLS (backend_tls = required)");
			return 1;
		}
		log_debug(r->sid, "backend %s does not offer STARTTLS; going on without TLS", r->name);
		return 0;
	}
	relay_set_state(r, R_STARTTLS);
	relay_send(r, "STARTTLS", 8);
	return 1;
}

static int
host_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The handshake failed (why: OpenSSL's reason). required: the backend is unusable
 * for this session. opportunistic: the same backend again, in the clear (RFC 7435:
 * a failed upgrade must not cost the mail), on a new connection since the old
 * one's SMTP state is lost. */
static void
relay_tls_failed(struct relay *r, const char *why)
{
	char msg[400];
	int idx = r->bidx;

	xsnprintf(msg, sizeof(msg), "TLS handshake failed: %s", why);
	if (r->cfg->backend_tls == CONFIG_BACKEND_TLS_REQUIRED) {
		log_warning(r->sid, "backend %s: %s (backend_tls = required)", r->name, msg);
		relay_backend_failed(r, msg);
		return;
	}
	log_warning(r->sid, "backend %s: %s; again without TLS (backend_tls = opportunistic)",
	            r->name, msg);
	relay_close(r);
	r->tls_plain = idx + 1;
	relay_connect(r, idx);
}

/* The 220 to STARTTLS: drop what came with it, wrap the connection. */
static void
relay_tls_start(struct relay *r)
{
	const char *host = r->pool->backends[r->bidx].cfg->host;
	struct evbuffer *in = bufferevent_get_input(r->bev);
	size_t n = evbuffer_get_length(in);
	struct bufferevent *bev = NULL;
	SSL *ssl;
	char ebuf[256];

	/* RFC 3207 4.2 (CVE-2011-0411 turned around): what the backend sent after its
	 * 220 in the clear is not believed, neither now nor after the handshake. */
	if (n > 0) {
		log_warning(r->sid, "backend %s: discarded %zu octets after the backend's 220 to STARTTLS",
		            r->name, n);
		evbuffer_drain(in, n);
	}
	ERR_clear_error();
	ssl = SSL_new(r->cfg->backend_tls_ctx);
	if (ssl != NULL) {
		/* The name (or address) is always checked, so that the log can say; with
		 * required and backend_tls_verify, a mismatch fails the handshake. */
		if (host_is_ip(host)) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		} else {
			SSL_set_tlsext_host_name(ssl, host);
			SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			SSL_set1_host(ssl, host);
		}
		if (r->cfg->backend_tls == CONFIG_BACKEND_TLS_REQUIRED && r->cfg->backend_tls_verify)
			SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		bev = bufferevent_openssl_filter_new(r->base, r->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                     BEV_OPT_CLOSE_ON_FREE);
	}
	if (bev == NULL) {
		const char *why = tls_error_text(ebuf, sizeof(ebuf));

		if (ssl != NULL)
			SSL_free(ssl);
		relay_tls_failed(r, why);
		return;
	}
	/* The filter's timeouts govern from now on; the socket's would fire while idle. */
	bufferevent_set_timeouts(r->bev, NULL, NULL);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	r->tls = 1;
	/* RFC 3207 4.2: what was learned before TLS is forgotten. */
	smtp_caps_init(&r->caps);
	relay_set_state(r, R_TLS);
	relay_bev_replace(r, bev);
	relay_timeouts(r, r->cfg->backend_timeout_connect);
	/* Last: enabling may run the handshake's first steps, and a failure there
	 * (relay_tls_event) closes r->bev at once. */
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void
relay_tls_event(struct relay *r, short what)
{
	SSL *ssl = bufferevent_openssl_get_ssl(r->bev);
	long v = SSL_get_verify_result(ssl);
	unsigned long e;
	char why[300], ebuf[256];

	if (what & BEV_EVENT_CONNECTED) {
		const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
		X509 *peer = SSL_get0_peer_certificate(ssl);
		int alg = 0, bits = SSL_CIPHER_get_bits(c, &alg);

		r->tls = 2;
		/* The pool must not give this connection to a client it was not opened for
		 * (relay_pool.c); simplest: never. */
		relay_mark_no_reuse(r);
		log_info(r->sid, "backend TLS established with %s: %s with cipher %s (%d/%d bits), "
		         "certificate %s%s", r->name, SSL_get_version(ssl), SSL_CIPHER_get_name(c),
		         bits, alg, peer != NULL && v == X509_V_OK ? "verified" : "not verified: ",
		         peer == NULL ? "none" : v == X509_V_OK ? "" : X509_verify_cert_error_string(v));
		relay_set_state(r, R_EHLO);
		relay_timeouts(r, r->cfg->backend_timeout_command);
		relay_send_hello(r, "EHLO");
		return;
	}
	e = bufferevent_get_openssl_error(r->bev);
	while (bufferevent_get_openssl_error(r->bev) != 0)
		;
	if (e != 0) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		if (v != X509_V_OK)
			xsnprintf(why, sizeof(why), "%s (%s)", ebuf, X509_verify_cert_error_string(v));
		else
			xsnprintf(why, sizeof(why), "%s", ebuf);
	} else {
		xsnprintf(why, sizeof(why), "%s", (what & BEV_EVENT_TIMEOUT) ? "timeout" :
		          (what & BEV_EVENT_EOF) ? "connection closed" :
		          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	relay_tls_failed(r, why);
}

/* When the pool already knows this backend offers XCLIENT (from the probe or an
 * earlier session), send it right after the greeting: one round trip fewer per
 * session. Sluice's own EHLO is only needed to learn the capabilities. */
static int
relay_xclient_early(struct relay *r)
{
	struct smtp_caps caps;

	r->xclient_early = 0;
	if (!relay_wants_xclient(r) || relay_wants_tls(r) ||
	    !backend_get_caps(&r->pool->backends[r->bidx], &caps) ||
	    !(caps.caps & SMTP_CAP_XCLIENT))
		return 0;
	r->caps = caps;
	relay_build_xclient(r);
	if (r->nxclient == 0)
		return 0;
	r->xclient_early = 1;
	relay_set_state(r, R_XCLIENT);
	relay_send(r, r->xclient[0], strlen(r->xclient[0]));
	return 1;
}

static void
relay_opened(struct relay *r)
{
	int id = relay_identity(r);

	/* Without XCLIENT, XFORWARD tells the backend who the client is, before
	 * each MAIL: where the backend line asks for it, or (identity auto,
	 * xclient = auto) where the backend offers it. */
	r->xforward = !r->probe && !r->xclient_used && (r->caps.caps & SMTP_CAP_XFORWARD) &&
	              (id == CONFIG_IDENTITY_XFORWARD ||
	               (id == CONFIG_IDENTITY_AUTO && r->cfg->xclient == CONFIG_XCLIENT_AUTO));
	if (!r->probe && id == CONFIG_IDENTITY_XFORWARD && !r->xforward) {
		relay_backend_failed(r, "does not offer XFORWARD (identity=xforward)");
		return;
	}
	r->reusing = 0;
	backend_mark_up(&r->pool->backends[r->bidx]);
	relay_set_state(r, R_READY);
	relay_timeouts(r, 0);
	relay_finish(r, 250, 0, "250 ok\r\n", 8);
}

static void
relay_ehlo_done(struct relay *r, int second)
{
	/* Capabilities: every line after the first. */
	const char *p = r->rbuf, *end = r->rbuf + r->rlen;
	int first = 1;

	smtp_caps_init(&r->caps);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)(nl - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (!first && ll > 4)
			smtp_caps_add_line(&r->caps, p + 4, ll - 4);
		first = 0;
		p = nl + 1;
	}
	if (!second && relay_starttls(r))
		return;
	/* What the backend offers to sluice itself (after TLS, when TLS is used): the
	 * pool's view, used for the EHLO sluice offers its clients. */
	if (!second)
		backend_set_caps(&r->pool->backends[r->bidx], &r->caps);
	relay_after_caps(r, second);
}

/* XCLIENT when wanted and offered, else done. */
static void
relay_after_caps(struct relay *r, int second)
{
	if (second || !relay_wants_xclient(r)) {
		relay_opened(r);
		return;
	}
	if (!(r->caps.caps & SMTP_CAP_XCLIENT)) {
		if (relay_needs_xclient(r)) {
			relay_backend_failed(r, "does not offer XCLIENT (xclient = yes, or identity=xclient)");
			return;
		}
		relay_opened(r);
		return;
	}
	relay_build_xclient(r);
	if (r->nxclient == 0) {
		relay_opened(r);
		return;
	}
	relay_set_state(r, R_XCLIENT);
	r->ixclient = 0;
	relay_send(r, r->xclient[0], strlen(r->xclient[0]));
}

/* The greeting after XCLIENT must repeat the client's own, or the backend takes
 * sluice's name for the client's HELO. */
static void
relay_send_client_hello(struct relay *r)
{
	char line[SMTP_COMMAND_MAX];
	size_t n = xsnprintf(line, sizeof(line), "%s %s", r->id.esmtp ? "EHLO" : "HELO",
	                     r->id.helo && *r->id.helo ? r->id.helo : r->cfg->hostname);

	relay_set_state(r, R_EHLO2);
	relay_send(r, line, n);
}

/* "<what> <first line of the reply>", for logs and backend_mark_down. */
static const char *
relay_why(struct relay *r, char *buf, size_t size, const char *what)
{
	xsnprintf(buf, size, "%s %.*s", what, (int)strcspn(r->rbuf, "\r\n"), r->rbuf);
	return buf;
}

void
relay_open_on_reply(struct relay *r)
{
	char why[160];
	int cls = r->rcode / 100;

	switch (r->state) {
	case R_GREETING:
		if (cls == 2 && relay_xclient_early(r)) {
			break;
		} else if (cls == 2) {
			relay_set_state(r, R_EHLO);
			relay_send_hello(r, "EHLO");
		} else {
			relay_backend_failed(r, relay_why(r, why, sizeof(why), "greeted with"));
		}
		break;
	case R_EHLO:
		if (cls == 2)
			relay_ehlo_done(r, 0);
		else if (cls == 5) {
			relay_set_state(r, R_HELO);
			relay_send_hello(r, "HELO");
		} else {
			relay_backend_failed(r, relay_why(r, why, sizeof(why), "refused EHLO:"));
		}
		break;
	case R_HELO:
		if (cls == 2) {
			smtp_caps_init(&r->caps);
			if (r->tls == 0 && r->cfg->backend_tls == CONFIG_BACKEND_TLS_REQUIRED)
				relay_backend_failed(r, "refused EHLO, so no STARTTLS (backend_tls = required)");
			else if (relay_wants_xclient(r) && relay_needs_xclient(r))
				relay_backend_failed(r, "does not offer XCLIENT (xclient = yes, or identity=xclient)");
			else
				relay_opened(r);
		} else {
			relay_backend_failed(r, relay_why(r, why, sizeof(why), "refused HELO:"));
		}
		break;
	case R_STARTTLS:
		if (r->rcode == 220) {
			relay_tls_start(r);
		} else if (r->cfg->backend_tls == CONFIG_BACKEND_TLS_REQUIRED) {
			relay_why(r, why, sizeof(why), "refused STARTTLS (backend_tls = required):");
			log_warning(r->sid, "backend %s %s", r->name, why);
			relay_backend_failed(r, why);
		} else {
			log_info(r->sid, "backend %s %s; going on without TLS", r->name,
			         relay_why(r, why, sizeof(why), "refused STARTTLS:"));
			backend_set_caps(&r->pool->backends[r->bidx], &r->caps);
			relay_after_caps(r, 0);
		}
		break;
	case R_XCLIENT:
		if (cls != 2 && r->xclient_early) {
			/* The backend wants EHLO first after all: the long way. */
			log_debug(r->sid, "backend %s refused XCLIENT before EHLO; sending EHLO first", r->name);
			r->xclient_early = 0;
			relay_xclient_clear(r);
			relay_set_state(r, R_EHLO);
			relay_send_hello(r, "EHLO");
		} else if (cls != 2 && r->reusing) {
			/* Postfix checks smtpd_authorized_xclient_hosts against the client the
			 * previous XCLIENT announced: a 5xx here will come again. */
			relay_why(r, why, sizeof(why), "refused XCLIENT on a reused connection:");
			if (cls == 5)
				backend_refuse_reuse(&r->pool->backends[r->bidx], why);
			relay_backend_failed(r, why);
		} else if (cls != 2) {
			/* Fail closed: without XCLIENT the backend would take sluice's address
			 * for the client's (an open relay when it trusts sluice). */
			relay_why(r, why, sizeof(why),
			          "refused XCLIENT (is sluice in smtpd_authorized_xclient_hosts?):");
			log_error(r->sid, "backend %s %s", r->name, why);
			relay_backend_failed(r, why);
		} else {
			/* From here on the backend takes this connection for the client's. */
			r->xclient_used = 1;
			if (++r->ixclient < r->nxclient)
				relay_send(r, r->xclient[r->ixclient], strlen(r->xclient[r->ixclient]));
			else
				relay_send_client_hello(r);
		}
		break;
	case R_EHLO2:
		if (cls == 2 && r->id.esmtp)
			relay_ehlo_done(r, 1);
		else if (cls == 2)
			relay_opened(r);   /* HELO: keep what the first EHLO learned */
		else {
			relay_backend_failed(r, relay_why(r, why, sizeof(why), "refused EHLO after XCLIENT:"));
		}
		break;
	default:
		break;
	}
}

/* Who the new client is, told on a connection that told the backend about an
 * earlier one: every attribute the backend takes gets a value, so that nothing of
 * the earlier client (its LOGIN above all) survives an omitted one. */
static void
relay_build_xclient_again(struct relay *r, unsigned attrs)
{
	struct client_identity id = r->id;

	if (id.helo == NULL || *id.helo == '\0')
		id.helo = "[UNAVAILABLE]";
	if (id.login == NULL || *id.login == '\0')
		id.login = "[UNAVAILABLE]";
	if (id.name == NULL || *id.name == '\0')
		id.name = "[UNAVAILABLE]";
	r->nxclient = xclient_build(&id, attrs, r->xclient, RELAY_XCLIENT_LINES);
	r->ixclient = 0;
}

void
relay_reidentify(struct relay *r)
{
	struct smtp_caps caps;

	r->reusing = 1;
	r->uses++;
	r->xclient_early = 0;
	relay_xclient_clear(r);
	/* This stands in for connecting: a connection that went silent while idle
	 * (a firewall forgot it) must not hold the client for backend_timeout_command. */
	relay_timeouts(r, r->cfg->backend_timeout_connect < r->cfg->backend_timeout_command ?
	                  r->cfg->backend_timeout_connect : r->cfg->backend_timeout_command);
	log_debug(r->sid, "pool: reusing the connection to %s (session %u on it)", r->name, r->uses);
	metrics_counter_add("sluice_backend_pool_reuses_total", 1);
	if (!r->xclient_used) {
		/* sluice's own identity: its EHLO again resets the SMTP state and shows
		 * the connection alive before the client's MAIL goes out on it; XCLIENT
		 * follows if the backend offers it now. */
		relay_set_state(r, R_EHLO);
		relay_send_hello(r, "EHLO");
		return;
	}
	/* The backend believes the previous client is here: only XCLIENT may follow. */
	if (!relay_wants_xclient(r) || !backend_get_caps(&r->pool->backends[r->bidx], &caps) ||
	    !(caps.caps & SMTP_CAP_XCLIENT)) {
		relay_backend_failed(r, "cannot announce the new client (XCLIENT no longer offered)");
		return;
	}
	relay_build_xclient_again(r, caps.xclient_attrs);
	if (r->nxclient == 0) {
		relay_backend_failed(r, "cannot announce the new client (no XCLIENT attribute)");
		return;
	}
	relay_set_state(r, R_XCLIENT);
	relay_send(r, r->xclient[0], strlen(r->xclient[0]));
}
