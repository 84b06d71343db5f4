/* session.c - the client connection: lifecycle, input framing, timers, replies,
 * message content, and the end-of-message handoff to the relay. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth.h"
#include "chain.h"
#include "commands.h"
#include "config.h"
#include "config_addr.h"
#include "content.h"
#include "listener.h"
#include "log.h"
#include "message.h"
#include "proxy_proto.h"
#include "relay.h"
#include "session.h"
#include "spool.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define SESSION_INPUT_HIGH (64 * 1024)    /* read backpressure */
#define SESSION_CLOSE_TIMEOUT_MS 10000    /* flushing the last reply */

static const char *const state_names[S_STATE_COUNT] = {
	"proxy", "tls", "greeting", "command", "busy", "data", "bdat", "closing",
};

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);
static void session_timer_cb(evutil_socket_t fd, short what, void *arg);
static void session_process(struct session *s);
static void session_content_input(struct session *s);
static void session_free(struct session *s);

void
session_set_state(struct session *s, enum session_state st)
{
	if (s->state == st)
		return;
	log_debug(s->sid, "state %s -> %s", state_names[s->state], state_names[st]);
	s->state = st;
}

static void
timer_arm(struct session *s, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(s->timer, &tv);
}

/* ------------------------------------------------------------ replies */

/* Replies collect in s->outq and go straight to the socket with one write when
 * nothing is queued in the bufferevent before them: the bufferevent's own write
 * path costs two epoll_ctl per reply (measured with strace: about a third of the
 * syscalls per message). Replies made while a pipelined group is being handled
 * go out together at the end of it. What the socket does not take is handed to
 * the bufferevent, which keeps the order. With TLS every octet goes through the
 * filter. */
void
session_flush(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (evbuffer_get_length(s->outq) == 0)
		return;
	if (evbuffer_get_length(out) == 0 && s->tls == TLS_OFF)
		(void)evbuffer_write(s->outq, bufferevent_getfd(s->bev));
	if (evbuffer_get_length(s->outq) > 0)
		bufferevent_write_buffer(s->bev, s->outq);
}

static void
session_write(struct session *s, const char *buf, size_t len)
{
	evbuffer_add(s->outq, buf, len);
	if (!s->processing)
		session_flush(s);
}

static void
session_vreply(struct session *s, const char *fmt, va_list ap)
{
	char line[SMTP_REPLY_LINE_MAX];
	size_t n;
	int r = vsnprintf(line, sizeof(line) - 2, fmt, ap);

	if (r < 0)
		return;
	n = (size_t)r >= sizeof(line) - 2 ? sizeof(line) - 3 : (size_t)r;
	log_debug(s->sid, "client < %.*s", (int)n, line);
	line[n++] = '\r';
	line[n++] = '\n';
	session_write(s, line, n);
}

void
session_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vreply(s, fmt, ap);
	va_end(ap);
}

void
session_reply_raw(struct session *s, const char *text, size_t len)
{
	log_debug(s->sid, "client < %.*s", (int)(len >= 2 ? len - 2 : len), text);
	session_write(s, text, len);
}

/* Close once what is queued is flushed, adding no reply. */
static void
session_drop(struct session *s)
{
	if (s->state == S_CLOSING)
		return;
	session_flush(s);
	session_set_state(s, S_CLOSING);
	s->close_ms = now_ms();
	bufferevent_disable(s->bev, EV_READ);
	evtimer_del(s->timer);
	/* The write callback frees the session once the output is flushed; when it
	 * already is, the timer does it from the loop: callers still hold s. */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		timer_arm(s, 0);
	else
		timer_arm(s, SESSION_CLOSE_TIMEOUT_MS);
}

static void
session_vclose(struct session *s, const char *fmt, va_list ap)
{
	if (s->state == S_CLOSING)
		return;
	if (fmt != NULL)
		session_vreply(s, fmt, ap);
	session_drop(s);
}

void
session_close(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vclose(s, fmt, ap);
	va_end(ap);
}

void
session_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->cfg->max_errors) {
		log_info(s->sid, "too many errors (%u) from [%s]", s->errors, s->addr);
		session_close(s, "421 4.7.0 %s Error: too many errors", s->cfg->hostname);
	}
}

/* ------------------------------------------------------------ transactions */

/* The ESMTP parameters of the MAIL or RCPT command being handled, as sent (the
 * text after the path's '>'), for re-sending an edited envelope. */
static const char *
session_path_params(struct session *s)
{
	static __thread char buf[SMTP_COMMAND_MAX];
	const char *p = s->path.addr + s->path.addr_len;
	const char *end = s->line + s->line_len;

	if (p < s->line || p > end)
		return "";
	while (p < end && *p != '>')
		p++;
	if (p < end)
		p++;
	while (p < end && *p == ' ')
		p++;
	xsnprintf(buf, sizeof(buf), "%.*s", (int)(end - p), p);
	return buf;
}

struct transaction *
session_tx_new(struct session *s, const char *sender, size_t len)
{
	struct transaction *tx = xcalloc(1, sizeof(*tx));

	tx->serial = ++s->nserial;
	/* An RFC 5321 Atom (no dot): the session id, "T", the transaction serial. */
	xsnprintf(tx->id, sizeof(tx->id), "%sT%u", s->sid, tx->serial);
	tx->sender = xstrndup(sender, len);
	tx->mail_params = xstrdup(session_path_params(s));
	tx->start_ms = now_ms();
	s->tx = tx;
	return tx;
}

void
session_tx_add_rcpt(struct session *s, const char *rcpt, size_t len)
{
	struct transaction *tx = s->tx;

	if (tx->nrcpts == tx->rcpt_cap) {
		tx->rcpt_cap = tx->rcpt_cap ? tx->rcpt_cap * 2 : 4;
		tx->rcpts = xrealloc(tx->rcpts, tx->rcpt_cap * sizeof(*tx->rcpts));
		tx->rcpt_params = xrealloc(tx->rcpt_params, tx->rcpt_cap * sizeof(*tx->rcpt_params));
	}
	tx->rcpt_params[tx->nrcpts] = xstrdup(session_path_params(s));
	tx->rcpts[tx->nrcpts++] = xstrndup(rcpt, len);
}

void
session_tx_end(struct session *s)
{
	struct transaction *tx = s->tx;

	/* The filters' reset hooks still see the transaction. */
	chain_tx_end(s);
	if (tx == NULL)
		return;
	s->tx = NULL;
	for (size_t i = 0; i < tx->nrcpts; i++) {
		free(tx->rcpts[i]);
		free(tx->rcpt_params[i]);
	}
	free(tx->rcpts);
	free(tx->rcpt_params);
	free(tx->sender);
	free(tx->mail_params);
	free(tx);
	if (s->spool != NULL)
		spool_reset(s->spool);
	if (s->msg != NULL)
		message_reset(s->msg);
	s->msg_ready = 0;
}

/* ------------------------------------------------------------ lifecycle */

static void
session_greet(struct session *s)
{
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		log_info(s->sid, "client [%s] talked before the greeting", s->addr);
		session_close(s, "554 5.5.0 Error: SMTP protocol synchronization");
		return;
	}
	session_reply(s, "220 %s ESMTP sluice", s->cfg->hostname);
	session_set_state(s, S_COMMAND);
	timer_arm(s, s->cfg->timeout_command);
}

static void
session_connect_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		session_close(s, "%s", res->reply ? res->reply :
		              res->verdict == SLUICE_REJECT ? "554 5.7.1 Access denied"
		                                             : "421 4.7.0 Try again later");
		return;
	}
	if (s->cfg->greet_pause > 0) {
		timer_arm(s, s->cfg->greet_pause);
		return;   /* the timer greets */
	}
	session_greet(s);
}

/* Implicit TLS: the session starts once the handshake is done. */
static void
session_tls_start(struct session *s)
{
	if (tls_session_wrap(s) == 0)
		timer_arm(s, s->cfg->timeout_command);
}

static void
session_dns_cb(void *arg, enum dns_status status, const char *name)
{
	struct session *s = arg;

	s->dns_pending = 0;
	s->dnsq = NULL;
	s->name_status = status;
	strlcpy_s(s->name, status == DNS_STATUS_OK && name ? name : "unknown", sizeof(s->name));
	log_info(s->sid, "connect from %s[%s]:%u to %s%s%s", s->name, s->addr, s->port, s->listener,
	         s->proxy_addr[0] ? " via " : "", s->proxy_addr);
	chain_run(s, CHAIN_CONNECT, NULL, session_connect_done);
}

/* The client's address: peer, addr (IPv4-mapped shown as IPv4), port, ipv6. */
void
session_set_peer(struct session *s, const struct sockaddr *sa, socklen_t salen)
{
	memset(&s->peer, 0, sizeof(s->peer));
	memcpy(&s->peer, sa, salen);
	s->peer_len = salen;
	s->ipv6 = 0;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], s->addr, sizeof(s->addr));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, s->addr, sizeof(s->addr));
			s->ipv6 = 1;
		}
		s->port = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in4->sin_addr, s->addr, sizeof(s->addr));
		s->port = ntohs(in4->sin_port);
	}
}

/* The client is known: its name, then the connect filters, then the greeting. */
void
session_begin(struct session *s, const char *name)
{
	/* A greeting deadline too: DNS and connect filters are bounded by it. */
	timer_arm(s, s->cfg->timeout_command);
	strlcpy_s(s->name, "unknown", sizeof(s->name));
	if (name != NULL) {
		session_dns_cb(s, strcmp(name, "unknown") != 0 ? DNS_STATUS_OK : DNS_STATUS_NONE, name);
	} else if (s->w->dns != NULL) {
		s->dns_pending = 1;
		struct dns_query *q = dns_client_name(s->w->dns, (const struct sockaddr *)&s->peer,
		                                      session_dns_cb, s);
		if (s->dns_pending)
			s->dnsq = q;
	} else {
		session_dns_cb(s, DNS_STATUS_NONE, NULL);
	}
}

/* S_PROXY: the header, parsed again from the start as more arrives (at most
 * PROXY_PROTO_MAX octets). Only the header is drained: what follows stays for
 * the SMTP dialogue, where anything before the greeting is early talking. */
static void
session_proxy_input(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t n = evbuffer_get_length(in);
	struct proxy_proto_result r;
	enum proxy_proto_status st;
	char proxy[sizeof(s->proxy_addr)];

	if (n == 0)
		return;
	if (n > PROXY_PROTO_MAX)
		n = PROXY_PROTO_MAX;
	st = proxy_proto_parse((enum proxy_proto_mode)s->lcfg->proxy_protocol,
	                       evbuffer_pullup(in, (ssize_t)n), n, &r);
	if (st == PROXY_PROTO_NEED_MORE)
		return;
	if (st == PROXY_PROTO_INVALID) {
		log_info(s->sid, "bad PROXY protocol header from [%s] on %s: %s", s->addr,
		         s->listener, r.reason);
		session_drop(s);
		return;
	}
	evbuffer_drain(in, r.len);
	config_addr_format((const struct sockaddr *)&s->peer, proxy, sizeof(proxy));
	if (r.family != AF_UNSPEC) {
		strlcpy_s(s->proxy_addr, proxy, sizeof(s->proxy_addr));
		session_set_peer(s, (const struct sockaddr *)&r.src, r.family == AF_INET ?
		                 sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
	log_debug(s->sid, "PROXY v%d %s from %s: client [%s]:%u", r.version,
	          r.command == PROXY_CMD_LOCAL ? "LOCAL" : r.family == AF_UNSPEC ? "UNKNOWN" : "PROXY",
	          proxy, s->addr, s->port);
	if (conn_limits_enter_ip(s->w->srv, (const struct sockaddr *)&s->peer) < 0) {
		log_warning(s->sid, "refused connection from [%s] via %s on %s: "
		            "max_connections_per_ip reached", s->addr, proxy, s->listener);
		session_close(s, "421 4.7.0 %s Error: too many connections from %s",
		              s->cfg->hostname, s->addr);
		return;
	}
	s->limit_ip = 1;
	session_set_state(s, S_GREETING);
	if (s->lcfg->tls_mode == CONFIG_TLS_IMPLICIT)
		session_tls_start(s);
	else
		session_begin(s, NULL);
}

void
session_new(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen,
            const struct config_listener *l)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->w = w;
	s->cfg = w->srv->cfg;
	s->num = worker_session_id(w, s->sid, sizeof(s->sid));
	s->lcfg = l;
	s->listener = l->name;
	s->start_ms = now_ms();
	session_set_peer(s, sa, salen);
	s->trusted = config_cidr_match(l->trusted, l->ntrusted, sa);
	strlcpy_s(s->name, "unknown", sizeof(s->name));

	s->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(w->base, session_timer_cb, s);
	s->outq = evbuffer_new();
	if (s->bev == NULL || s->timer == NULL || s->outq == NULL)
		abort();
	session_bev_setup(s);
	worker_session_add(w, s);
	chain_session_begin(s);
	s->last_read_ms = s->start_ms;
	if (l->proxy_protocol != PROXY_PROTO_NO) {
		s->state = S_PROXY;
		timer_arm(s, l->proxy_timeout);
		return;
	}
	s->state = S_GREETING;
	s->limit_ip = 1;
	if (l->tls_mode == CONFIG_TLS_IMPLICIT)
		session_tls_start(s);
	else
		session_begin(s, NULL);
}

void
session_bev_setup(struct session *s)
{
	bufferevent_setcb(s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SESSION_INPUT_HIGH);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
session_free(struct session *s)
{
	log_info(s->sid, "disconnect from %s[%s] commands=%u messages=%u errors=%u duration=%llums",
	         s->name, s->addr, s->ncommands, s->nmessages, s->errors,
	         (unsigned long long)(now_ms() - s->start_ms));
	dns_cancel(s->dnsq);
	session_tx_end(s);
	chain_session_end(s);
	auth_free(s);
	relay_release(&s->relay);   /* a clean backend connection waits for the next client */
	spool_free(&s->spool);
	message_free(&s->msg);
	event_free(s->timer);
	evbuffer_free(s->outq);
	bufferevent_free(s->bev);
	worker_session_remove(s->w, s);
	conn_limits_leave(s->w->srv, s->limit_ip ? (const struct sockaddr *)&s->peer : NULL);
	free(s);
}

void
session_shutdown(struct session *s)
{
	s->shutdown = 1;
	if (s->state == S_TLS)
		session_drop(s);
	else if (s->state == S_PROXY || s->state == S_GREETING ||
	         (s->state == S_COMMAND && s->tx == NULL))
		session_close(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
}

void
session_kill(struct session *s)
{
	if (s->state != S_CLOSING)
		session_close(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
}

/* ------------------------------------------------------------ events */

static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == S_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    tls_session_flushed(s))
		session_free(s);
}

void
session_closing_flushed(struct session *s)
{
	/* Called from inside libevent's write path: free from the loop. */
	if (s->state == S_CLOSING && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		timer_arm(s, 0);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (s->tls != TLS_OFF && tls_session_event(s, what) < 0) {
		session_free(s);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		/* The TLS handshake is done: greet (implicit TLS) or wait for EHLO. */
		if (s->lcfg->tls_mode == CONFIG_TLS_IMPLICIT && s->ncommands == 0) {
			session_set_state(s, S_GREETING);
			session_begin(s, NULL);
		} else {
			session_done(s);
		}
		return;
	}
	if (what & BEV_EVENT_EOF)
		log_debug(s->sid, "client closed the connection (%s)", state_names[s->state]);
	else if (what & BEV_EVENT_ERROR)
		log_info(s->sid, "client connection error: %s",
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (s->tx != NULL && s->state != S_CLOSING)
		log_info(s->sid, "lost connection with [%s] in %s; transaction %s abandoned",
		         s->addr, state_names[s->state], s->tx->id);
	session_free(s);
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	switch (s->state) {
	case S_PROXY:
		log_info(s->sid, "no complete PROXY protocol header from [%s] on %s within %u ms",
		         s->addr, s->listener, s->lcfg->proxy_timeout);
		session_drop(s);
		break;
	case S_GREETING:
		if (s->dns_pending) {
			/* DNS took the whole greeting deadline: go on without a name. */
			dns_cancel(s->dnsq);
			s->dnsq = NULL;
			session_dns_cb(s, DNS_STATUS_TEMPFAIL, NULL);
		} else {
			session_greet(s);
		}
		break;
	case S_DATA:
	case S_BDAT: {
		uint64_t elapsed = now - s->data_start_ms;
		uint64_t grace = s->cfg->timeout_data < 10000 ? s->cfg->timeout_data : 10000;
		if (now - s->last_read_ms >= s->cfg->timeout_data) {
			log_info(s->sid, "timeout in %s from [%s]", state_names[s->state], s->addr);
			session_close(s, "421 4.4.2 %s Error: timeout exceeded", s->cfg->hostname);
		} else if (s->cfg->min_data_rate > 0 && elapsed >= grace &&
		           s->data_bytes * 1000 < (uint64_t)s->cfg->min_data_rate * elapsed) {
			log_info(s->sid, "data rate too low from [%s]: %llu octets in %llu ms", s->addr,
			         (unsigned long long)s->data_bytes, (unsigned long long)elapsed);
			session_close(s, "421 4.4.2 %s Error: data rate too low", s->cfg->hostname);
		} else {
			timer_arm(s, 1000);
		}
		break;
	}
	case S_TLS:
		log_info(s->sid, "TLS handshake timeout with [%s]", s->addr);
		session_drop(s);
		break;
	case S_CLOSING:
		/* With TLS the socket below may still be sending the last reply. */
		if (tls_session_flushed(s) || now - s->close_ms >= SESSION_CLOSE_TIMEOUT_MS)
			session_free(s);
		else
			timer_arm(s, (unsigned)(SESSION_CLOSE_TIMEOUT_MS - (now - s->close_ms)));
		break;
	default:
		log_info(s->sid, "timeout in %s from [%s]", state_names[s->state], s->addr);
		session_close(s, "421 4.4.2 %s Error: timeout exceeded", s->cfg->hostname);
		break;
	}
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	s->last_read_ms = now_ms();
	if (s->state == S_PROXY)
		session_proxy_input(s);
	else if (s->state == S_COMMAND)
		session_process(s);
	else if (s->state == S_DATA || s->state == S_BDAT)
		session_content_input(s);
}

/* ------------------------------------------------------------ commands */

void
session_done(struct session *s)
{
	if (s->state == S_CLOSING)
		return;
	session_set_state(s, S_COMMAND);
	timer_arm(s, s->cfg->timeout_command);
	if (!s->processing)
		session_process(s);
}

static void
session_process(struct session *s)
{
	struct evbuffer *in;

	s->processing = 1;
	while (s->state == S_COMMAND) {
		size_t eol_len = 0;

		in = bufferevent_get_input(s->bev);   /* STARTTLS replaces s->bev */
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

		if (p.pos < 0) {
			size_t have = evbuffer_get_length(in);
			if (have > SMTP_COMMAND_MAX) {
				evbuffer_drain(in, have);
				s->discard_line = 1;
			}
			break;
		}
		size_t len = (size_t)p.pos;
		if (s->discard_line || len > SMTP_COMMAND_MAX - 2) {
			evbuffer_drain(in, len + eol_len);
			s->discard_line = 0;
			session_error(s, "500 5.5.2 Error: command line too long");
			continue;
		}
		evbuffer_remove(in, s->line, len);
		evbuffer_drain(in, eol_len);
		s->line_len = len;
		s->ncommands++;
		if (s->auth_step) {
			/* Credentials are never logged. */
			log_debug(s->sid, "client > (AUTH response, %zu octets)", len);
			auth_input(s);
			continue;
		}
		if (ascii_prefix(s->line, len, "AUTH ") && memchr(s->line + 5, ' ', len - 5) != NULL)
			log_debug(s->sid, "client > %.*s (initial response hidden)",
			          (int)(strchr(s->line + 5, ' ') - s->line), s->line);
		else
			log_debug(s->sid, "client > %.*s", (int)len, s->line);
		/* RFC 2920: only a client that saw PIPELINING may send ahead. */
		if (!s->pipelining && evbuffer_get_length(in) > 0) {
			log_info(s->sid, "improper command pipelining from [%s]", s->addr);
			session_close(s, "554 5.5.0 Error: SMTP protocol synchronization");
			break;
		}
		commands_dispatch(s);
	}
	s->processing = 0;
	session_flush(s);
}

/* ------------------------------------------------------------ content */

void
session_content_begin(struct session *s, enum smtp_data_mode mode)
{
	if (s->spool == NULL)
		s->spool = spool_new(s->cfg->spool_dir, s->cfg->spool_memory);
	spool_reset(s->spool);
	smtp_data_init(&s->data, mode,
	               s->cfg->bare_newline == CONFIG_BARE_NEWLINE_NORMALIZE ? SMTP_DATA_BARE_NORMALIZE
	                                                                    : SMTP_DATA_BARE_REJECT,
	               s->cfg->max_message_size, spool_sink, s->spool);
	s->data_start_ms = now_ms();
	s->data_bytes = 0;
}

void
session_content_read(struct session *s, enum session_state st)
{
	session_set_state(s, st);
	evtimer_del(s->timer);
	timer_arm(s, 1000);
	/* Content may already be buffered (a pipelined BDAT chunk): read it from the
	 * loop, not from inside the command loop. */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void
session_content_input(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (s->state == S_DATA || s->state == S_BDAT) {
		struct evbuffer_iovec vec;
		size_t want, used;

		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1 || vec.iov_len == 0)
			return;
		want = vec.iov_len;
		if (s->state == S_BDAT && want > s->bdat_left)
			want = (size_t)s->bdat_left;
		if (s->state == S_BDAT && s->bdat_discard)
			used = want;
		else
			used = smtp_data_feed(&s->data, vec.iov_base, want);
		evbuffer_drain(in, used);
		s->data_bytes += used;
		if (s->state == S_DATA && s->data.ended) {
			content_end(s);
			return;
		}
		if (s->state == S_BDAT) {
			s->bdat_left -= used;
			if (s->bdat_left == 0) {
				commands_bdat_chunk_done(s);
				return;
			}
		}
	}
}

