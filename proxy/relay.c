/* relay.c - the backend leg once open: lifecycle, I/O callbacks, replies, commands, DATA
 * streaming, envelope replay, every failure mapped to a 4xx, and what makes a
 * connection clean for reuse. Opening: relay_open.c; the idle pool: relay_pool.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "config.h"
#include "log.h"
#include "relay.h"
#include "relay_int.h"
#include "relay_pool.h"
#include "smtp_data.h"
#include "util.h"

#define RELAY_LINE_MAX 2048           /* tolerated reply line (RFC: 512) */
/* The body is pumped into the output buffer at most RELAY_OUT_HIGH + RELAY_CHUNK
 * ahead of the socket: a second copy of each message in memory would double the
 * RSS at 100 sessions (measured: 32 MiB with 256 KiB here, 100 KiB messages). */
#define RELAY_OUT_HIGH (32 * 1024)    /* stop pumping the body above this */
#define RELAY_OUT_LOW (16 * 1024)
#define RELAY_CHUNK (16 * 1024)

static const char *const state_names[] = {
	"closed", "connecting", "greeting", "ehlo", "helo", "starttls", "tls", "xclient", "ehlo2",
	"ready", "command", "data-cmd", "data-body", "data-end",
	"env-rset", "env-mail", "env-rcpt",
	"xforward", "env-xforward",
};

static const char REPLY_LOST[] = "451 4.4.2 Error: lost connection with backend MTA\r\n";
static const char REPLY_NO_FINAL[] = "451 4.4.2 Error: no reply from backend MTA; message not accepted\r\n";
static const char REPLY_UNEXPECTED[] = "451 4.4.0 Error: unexpected reply from backend MTA\r\n";
static const char REPLY_LOCAL[] = "451 4.3.0 Error: local error in processing\r\n";

static void relay_read_cb(struct bufferevent *bev, void *arg);
static void relay_write_cb(struct bufferevent *bev, void *arg);
static void relay_event_cb(struct bufferevent *bev, short what, void *arg);
static int relay_sink(void *arg, const char *buf, size_t len);
static void relay_env_clear(struct relay *r);
static void relay_env_on_reply(struct relay *r);
static void relay_xforward_on_reply(struct relay *r);

void
relay_set_state(struct relay *r, enum relay_state st)
{
	if (r->state != st)
		log_debug(r->sid, "relay %s: %s -> %s", r->name, state_names[r->state], state_names[st]);
	r->state = st;
}

static void
relay_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	relay_cb *cb = r->cb;

	(void)fd;
	(void)what;
	r->cb = NULL;
	if (cb != NULL)
		cb(r->cb_arg, &r->result);
}

void
relay_finish(struct relay *r, int code, int local, const char *text, size_t len)
{
	memcpy(r->resbuf, text, len);
	r->result.code = code;
	r->result.local = local;
	r->result.text = r->resbuf;
	r->result.len = len;
	event_active(r->done_ev, EV_TIMEOUT, 0);
}

void
relay_finish_local(struct relay *r, const char *reply)
{
	relay_finish(r, atoi(reply), 1, reply, strlen(reply));
}

void
relay_close(struct relay *r)
{
	if (r->bev != NULL) {
		bufferevent_free(r->bev);
		r->bev = NULL;
		r->gen++;
	}
	relay_xclient_clear(r);
	r->src = NULL;
	relay_set_state(r, R_CLOSED);
	r->bidx = -1;
	xsnprintf(r->name, sizeof(r->name), "-");
	/* What reuse knows belongs to the connection (no_reuse to the relay). */
	r->uses = r->errors = r->nrset = 0;
	r->tx_open = r->xclient_used = r->reusing = 0;
	r->tls = 0;
}

void
relay_timeouts(struct relay *r, unsigned read_ms)
{
	struct timeval tv = { read_ms / 1000, (read_ms % 1000) * 1000 };
	struct timeval wtv = { r->cfg->backend_timeout_command / 1000,
	                       (r->cfg->backend_timeout_command % 1000) * 1000 };

	bufferevent_set_timeouts(r->bev, read_ms ? &tv : NULL, &wtv);
}

void
relay_send(struct relay *r, const char *line, size_t len)
{
	char buf[SMTP_COMMAND_MAX + 2];
	struct evbuffer *out = bufferevent_get_output(r->bev);
	ssize_t n = 0;

	if (r->auth_line)   /* credentials are never logged */
		log_debug(r->sid, "backend %s < (AUTH exchange, %zu octets)", r->name, len);
	else
		log_debug(r->sid, "backend %s < %.*s", r->name, (int)len, line);
	if (len > SMTP_COMMAND_MAX - 2)
		len = SMTP_COMMAND_MAX - 2;
	memcpy(buf, line, len);
	buf[len++] = '\r';
	buf[len++] = '\n';
	/* Straight to the socket when nothing is queued (see session_flush); never
	 * under TLS, where the socket is below the filter. */
	if (r->tls == 0 && evbuffer_get_length(out) == 0) {
		n = send(bufferevent_getfd(r->bev), buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < len)
		bufferevent_write(r->bev, buf + n, len - (size_t)n);
}

struct relay *
relay_new(struct event_base *base, struct backend_pool *pool, const struct config *cfg,
          const char *sid)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->pool = pool;
	r->cfg = cfg;
	strlcpy_s(r->sid, sid ? sid : "-", sizeof(r->sid));
	r->bidx = -1;
	r->idle_pool = relay_pool_current(base);
	r->done_ev = event_new(base, -1, 0, relay_done_cb, r);
	if (r->done_ev == NULL)
		abort();
	xsnprintf(r->name, sizeof(r->name), "-");
	return r;
}

/* QUIT through the TLS filter, then what it made of it straight to the socket. */
static void
relay_tls_quit(struct relay *r)
{
	struct bufferevent *under = bufferevent_get_underlying(r->bev);
	struct evbuffer *out;
	size_t n;

	if (under == NULL || evbuffer_get_length(bufferevent_get_output(r->bev)) != 0)
		return;
	bufferevent_write(r->bev, "QUIT\r\n", 6);
	out = bufferevent_get_output(under);
	n = evbuffer_get_length(out);
	if (n > 0 && n <= 4096 &&
	    send(bufferevent_getfd(under), evbuffer_pullup(out, (ssize_t)n), n,
	         MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n) {
		evbuffer_drain(out, n);
		log_debug(r->sid, "backend %s < QUIT", r->name);
	}
}

void
relay_quit(struct relay *r)
{
	if (r->bev != NULL && r->tls == 2)
		relay_tls_quit(r);
	else if (r->bev != NULL && r->tls == 0 &&
	         evbuffer_get_length(bufferevent_get_output(r->bev)) == 0) {
		/* Best effort, never waits: an idle socket's send buffer takes six octets. */
		evutil_socket_t fd = bufferevent_getfd(r->bev);
		if (send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT) == 6)
			log_debug(r->sid, "backend %s < QUIT", r->name);
	}
}

void
relay_free(struct relay **rp)
{
	struct relay *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	if (r->state == R_READY)
		relay_quit(r);
	relay_close(r);
	relay_id_clear(r);
	relay_env_clear(r);
	free(r->env_code);
	free(r->xfwd_mail);
	event_free(r->done_ev);
	free(r->chunk);
	free(r);
}

void
relay_release(struct relay **rp)
{
	struct relay *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	if (r->idle_pool != NULL && r->bev != NULL && relay_pool_put(r->idle_pool, r))
		return;
	relay_free(&r);
}

void
relay_mark_no_reuse(struct relay *r)
{
	if (!r->no_reuse)
		log_debug(r->sid, "backend %s: connection marked not reusable", r->name);
	r->no_reuse = 1;
}

void
relay_adopt(struct relay *r, struct relay **fromp)
{
	struct relay *p = *fromp;

	*fromp = NULL;
	r->bev = p->bev;
	p->bev = NULL;
	bufferevent_setcb(r->bev, relay_read_cb, relay_write_cb, relay_event_cb, r);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	r->bidx = p->bidx;
	strlcpy_s(r->name, p->name, sizeof(r->name));
	r->caps = p->caps;
	r->uses = p->uses;
	r->xclient_used = p->xclient_used;
	/* Clean by the test that let it into the pool. */
	r->errors = r->nrset = 0;
	r->tx_open = 0;
	relay_set_state(r, R_READY);
	p->state = R_CLOSED;      /* an empty shell now: nothing to log, no QUIT */
	relay_free(&p);
}

int
relay_is_open(const struct relay *r)
{
	return r->state == R_READY;
}

const struct smtp_caps *
relay_caps(const struct relay *r)
{
	return &r->caps;
}

const char *
relay_backend_name(const struct relay *r)
{
	return r->name;
}

void
relay_socket_new(struct relay *r)
{
	r->bev = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL)
		abort();
	bufferevent_setcb(r->bev, relay_read_cb, relay_write_cb, relay_event_cb, r);
}

void
relay_bev_replace(struct relay *r, struct bufferevent *bev)
{
	r->bev = bev;
	r->gen++;                 /* a read loop on the old one stops */
	bufferevent_setcb(bev, relay_read_cb, relay_write_cb, relay_event_cb, r);
}

/* ------------------------------------------------------------ replies */

static void
relay_on_reply(struct relay *r)
{
	int code = r->rcode, cls = code / 100;

	log_debug(r->sid, "backend %s > %.*s", r->name,
	          (int)(r->rlen >= 2 ? r->rlen - 2 : r->rlen), r->rbuf);
	if (code >= 400)
		r->errors++;
	switch (r->state) {
	case R_GREETING:
	case R_EHLO:
	case R_HELO:
	case R_STARTTLS:
	case R_XCLIENT:
	case R_EHLO2:
		relay_open_on_reply(r);
		break;
	case R_DATA_CMD:
		if (code == 354) {
			relay_set_state(r, R_DATA_BODY);
			relay_write_cb(r->bev, r);
		} else if (cls == 4 || cls == 5) {
			relay_set_state(r, R_READY);
			relay_timeouts(r, 0);
			relay_finish(r, code, 0, r->rbuf, r->rlen);
		} else {
			relay_close(r);
			relay_finish_local(r, REPLY_UNEXPECTED);
		}
		break;
	case R_DATA_BODY:
		/* An early reply while we still send: the backend gave up on the message. */
		relay_close(r);
		if (cls == 4 || cls == 5)
			relay_finish(r, code, 0, r->rbuf, r->rlen);
		else
			relay_finish_local(r, REPLY_UNEXPECTED);
		break;
	case R_ENV_RSET:
	case R_ENV_MAIL:
	case R_ENV_RCPT:
		relay_env_on_reply(r);
		break;
	case R_XFORWARD:
	case R_ENV_XFWD:
		relay_xforward_on_reply(r);
		break;
	case R_COMMAND:
	case R_DATA_END:
		/* The reply to the dot ends the transaction, whatever it says. */
		if (r->state == R_DATA_END || (r->cmd_verb == RV_RSET && cls == 2))
			r->tx_open = 0;
		relay_set_state(r, R_READY);
		relay_timeouts(r, 0);
		if (cls == 3 && !(r->cmd_verb == RV_AUTH && code == 334)) {
			relay_close(r);
			relay_finish_local(r, REPLY_UNEXPECTED);
			break;
		}
		relay_finish(r, code, 0, r->rbuf, r->rlen);
		if (code == 421)
			relay_close(r);
		break;
	case R_READY:
		/* Unsolicited, e.g. "421 timeout" from an idle backend: stop using it. */
		log_info(r->sid, "backend %s said, unasked: %.*s", r->name,
		         (int)strcspn(r->rbuf, "\r\n"), r->rbuf);
		relay_close(r);
		break;
	default:
		break;
	}
}

/* The connection broke (EOF, error, timeout, malformed reply) in the current state. */
static void
relay_on_failure(struct relay *r, const char *why)
{
	switch (r->state) {
	case R_CONNECTING: case R_GREETING: case R_EHLO: case R_HELO: case R_STARTTLS:
	case R_XCLIENT: case R_EHLO2:
		relay_backend_failed(r, why);
		break;
	case R_COMMAND: case R_DATA_CMD: case R_DATA_BODY:
	case R_ENV_RSET: case R_ENV_MAIL: case R_ENV_RCPT:
		log_warning(r->sid, "backend %s: %s", r->name, why);
		relay_close(r);
		relay_finish_local(r, REPLY_LOST);
		break;
	case R_DATA_END:
		log_warning(r->sid, "backend %s: %s after the final dot; message not accepted", r->name, why);
		relay_close(r);
		relay_finish_local(r, REPLY_NO_FINAL);
		break;
	default:
		log_debug(r->sid, "backend %s: %s while idle", r->name, why);
		relay_close(r);
		break;
	}
}

static void
relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned gen = r->gen;

	while (r->gen == gen && r->bev != NULL) {
		size_t eol_len = 0;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (p.pos < 0) {
			if (evbuffer_get_length(in) > RELAY_LINE_MAX)
				relay_on_failure(r, "reply line too long");
			return;
		}
		size_t ll = (size_t)p.pos;
		if (ll > RELAY_LINE_MAX) {
			relay_on_failure(r, "reply line too long");
			return;
		}
		char line[RELAY_LINE_MAX + 2];
		evbuffer_remove(in, line, ll);
		evbuffer_drain(in, eol_len);
		struct smtp_reply_line rl;
		if (smtp_reply_line_parse(line, ll, &rl) != SMTP_OK ||
		    (r->rlen > 0 && rl.code != r->rcode) || r->rlen + ll + 2 > RELAY_REPLY_MAX) {
			log_warning(r->sid, "backend %s: malformed reply line: %.*s", r->name,
			            (int)(ll > 100 ? 100 : ll), line);
			r->rlen = 0;
			if (r->state == R_DATA_END || r->state == R_COMMAND || r->state == R_DATA_CMD ||
			    r->state == R_DATA_BODY || r->state == R_ENV_RSET || r->state == R_ENV_MAIL ||
			    r->state == R_ENV_RCPT) {
				relay_close(r);
				relay_finish_local(r, REPLY_UNEXPECTED);
			} else {
				relay_on_failure(r, "malformed reply");
			}
			return;
		}
		if (r->state == R_CONNECTING)
			relay_set_state(r, R_GREETING);
		r->rcode = rl.code;
		memcpy(r->rbuf + r->rlen, line, ll);
		r->rlen += ll;
		memcpy(r->rbuf + r->rlen, "\r\n", 2);
		r->rlen += 2;
		if (rl.last) {
			relay_on_reply(r);
			r->rlen = 0;
		}
	}
}

/* Write side: pump the body while below the high mark. */
static int
relay_sink(void *arg, const char *buf, size_t len)
{
	return evbuffer_add(arg, buf, len);
}

static void
relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *out = bufferevent_get_output(bev);

	if (r->state != R_DATA_BODY || r->src == NULL)
		return;
	if (r->chunk == NULL)
		r->chunk = xmalloc(RELAY_CHUNK);
	for (;;) {
		const char *data;
		ssize_t got;

		if (evbuffer_get_length(out) >= RELAY_OUT_HIGH) {
			bufferevent_setwatermark(bev, EV_WRITE, RELAY_OUT_LOW, 0);
			return;
		}
		got = r->src(r->src_arg, &data, r->chunk, RELAY_CHUNK);
		if (got < 0) {
			log_error(r->sid, "cannot read spooled message: %s", strerror(errno));
			relay_close(r);
			relay_finish_local(r, REPLY_LOCAL);
			return;
		}
		if (got == 0)
			break;
		smtp_stuff_feed(&r->stuff, data, (size_t)got, relay_sink, out);
		r->sent += (uint64_t)got;
	}
	smtp_stuff_end(&r->stuff, relay_sink, out);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	log_debug(r->sid, "backend %s < (%llu octets of message) .", r->name, (unsigned long long)r->sent);
	r->src = NULL;
	relay_set_state(r, R_DATA_END);
	relay_timeouts(r, r->cfg->backend_timeout_data_end);
}

static void
relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;
	char why[200];
	unsigned long e;

	(void)bev;
	if (r->state == R_TLS) {
		relay_tls_event(r, what);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		relay_set_state(r, R_GREETING);
		relay_timeouts(r, r->cfg->backend_timeout_command);
		return;
	}
	if (r->tls != 0 && (e = bufferevent_get_openssl_error(r->bev)) != 0) {
		/* OpenSSL's reason (a bad record, an alert) rather than errno's. */
		char ebuf[160];
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		while (bufferevent_get_openssl_error(r->bev) != 0)
			;
		xsnprintf(why, sizeof(why), "TLS: %s (%s)", ebuf, state_names[r->state]);
	} else if (what & BEV_EVENT_TIMEOUT)
		xsnprintf(why, sizeof(why), "timeout (%s)", state_names[r->state]);
	else if (what & BEV_EVENT_EOF)
		xsnprintf(why, sizeof(why), "connection closed (%s)", state_names[r->state]);
	else
		xsnprintf(why, sizeof(why), "%s (%s)",
		          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()), state_names[r->state]);
	relay_on_failure(r, why);
}

/* ------------------------------------------------------------ operations */

static enum relay_verb
relay_verb_of(const char *line, size_t len)
{
	static const struct { const char *name; enum relay_verb verb; } verbs[] = {
		{ "MAIL", RV_MAIL }, { "RCPT", RV_RCPT }, { "RSET", RV_RSET }, { "NOOP", RV_NOOP },
	};

	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (len >= 4 && strncasecmp(line, verbs[i].name, 4) == 0 && (len == 4 || line[4] == ' '))
			return verbs[i].verb;
	return RV_OTHER;
}

/* XFORWARD (Postfix XFORWARD_README) before a MAIL: its attributes last one
 * transaction, so every MAIL, the envelope's too, gets them again. 0 when
 * there is nothing to send (the MAIL goes at once). */
static int
relay_xforward_start(struct relay *r, enum relay_state st)
{
	r->nxfwd = xforward_build(&r->id, r->caps.xforward_attrs, r->xfwd, RELAY_XCLIENT_LINES);
	if (r->nxfwd == 0)
		return 0;
	r->ixfwd = 0;
	relay_set_state(r, st);
	relay_timeouts(r, r->cfg->backend_timeout_command);
	relay_send(r, r->xfwd[0], strlen(r->xfwd[0]));
	return 1;
}

static void
relay_xforward_on_reply(struct relay *r)
{
	if (r->rcode / 100 != 2) {
		log_error(r->sid, "backend %s refused XFORWARD: %.*s (is sluice in its "
		          "smtpd_authorized_xforward_hosts?)", r->name,
		          (int)strcspn(r->rbuf, "\r\n"), r->rbuf);
		relay_set_state(r, R_READY);
		relay_timeouts(r, 0);
		relay_finish_local(r, REPLY_UNEXPECTED);
		return;
	}
	if (++r->ixfwd < r->nxfwd) {
		relay_send(r, r->xfwd[r->ixfwd], strlen(r->xfwd[r->ixfwd]));
		return;
	}
	r->tx_open = 1;
	if (r->state == R_ENV_XFWD) {
		relay_set_state(r, R_ENV_MAIL);
		relay_send(r, r->env_mail, strlen(r->env_mail));
		return;
	}
	relay_set_state(r, R_COMMAND);
	relay_send(r, r->xfwd_mail, strlen(r->xfwd_mail));
}

void
relay_command(struct relay *r, const char *line, size_t len, relay_cb *cb, void *arg)
{
	r->cb = cb;
	r->cb_arg = arg;
	if (r->state != R_READY) {
		relay_finish_local(r, REPLY_LOST);
		return;
	}
	r->cmd_verb = r->auth_line ? RV_AUTH : relay_verb_of(line, len);
	if (r->cmd_verb == RV_MAIL && r->xforward) {
		free(r->xfwd_mail);
		r->xfwd_mail = xstrndup(line, len);
		if (relay_xforward_start(r, R_XFORWARD))
			return;
	}
	if (r->cmd_verb == RV_MAIL)
		r->tx_open = 1;
	else if (r->cmd_verb == RV_RSET)
		r->nrset++;
	else if (r->cmd_verb != RV_RCPT && r->cmd_verb != RV_NOOP)
		relay_mark_no_reuse(r);   /* AUTH, or state pooling knows nothing of */
	relay_set_state(r, R_COMMAND);
	relay_timeouts(r, r->cfg->backend_timeout_command);
	relay_send(r, line, len);
}

void
relay_auth(struct relay *r, const char *line, size_t len, relay_cb *cb, void *arg)
{
	r->auth_line = 1;
	relay_command(r, line, len, cb, arg);
	r->auth_line = 0;
}

void
relay_data(struct relay *r, relay_source *src, void *src_arg, relay_cb *cb, void *arg)
{
	r->cb = cb;
	r->cb_arg = arg;
	if (r->state != R_READY) {
		relay_finish_local(r, REPLY_LOST);
		return;
	}
	r->src = src;
	r->src_arg = src_arg;
	r->sent = 0;
	smtp_stuff_init(&r->stuff);
	relay_set_state(r, R_DATA_CMD);
	relay_timeouts(r, r->cfg->backend_timeout_command);
	relay_send(r, "DATA", 4);
}

/* ------------------------------------------------------------ envelope replay */

static void
relay_env_clear(struct relay *r)
{
	free(r->env_mail);
	r->env_mail = NULL;
	for (size_t i = 0; i < r->env_n; i++)
		free(r->env_rcpt[i]);
	free(r->env_rcpt);
	r->env_rcpt = NULL;
	r->env_n = 0;
}

void
relay_envelope(struct relay *r, const char *mail_line, const char *const *rcpt_lines, size_t n,
               relay_cb *cb, void *arg)
{
	r->cb = cb;
	r->cb_arg = arg;
	relay_env_clear(r);
	free(r->env_code);
	r->env_code = xcalloc(n + 1, sizeof(*r->env_code));
	r->env_i = r->env_accepted = 0;
	if (r->state != R_READY) {
		relay_finish_local(r, REPLY_LOST);
		return;
	}
	r->env_mail = xstrdup(mail_line);
	r->env_rcpt = xcalloc(n + 1, sizeof(*r->env_rcpt));
	for (size_t i = 0; i < n; i++)
		r->env_rcpt[i] = xstrdup(rcpt_lines[i]);
	r->env_n = n;
	r->nrset++;
	relay_set_state(r, R_ENV_RSET);
	relay_timeouts(r, r->cfg->backend_timeout_command);
	relay_send(r, "RSET", 4);
}

size_t
relay_envelope_accepted(const struct relay *r)
{
	return r->env_accepted;
}

int
relay_envelope_rcpt_code(const struct relay *r, size_t i)
{
	return r->env_code != NULL && i < r->env_n ? r->env_code[i] : 0;
}

/* One reply of the RSET, MAIL, RCPT sequence. */
static void
relay_env_on_reply(struct relay *r)
{
	int code = r->rcode, cls = code / 100;

	if (cls == 3 || code < 200) {
		relay_close(r);
		relay_finish_local(r, REPLY_UNEXPECTED);
		return;
	}
	if (code == 421 || (cls != 2 && r->state != R_ENV_RCPT)) {
		relay_set_state(r, R_READY);
		relay_timeouts(r, 0);
		relay_finish(r, code, 0, r->rbuf, r->rlen);
		if (code == 421)
			relay_close(r);
		return;
	}
	if (r->state == R_ENV_RSET && r->xforward && relay_xforward_start(r, R_ENV_XFWD))
		return;
	if (r->state == R_ENV_RSET) {
		r->tx_open = 1;
		relay_set_state(r, R_ENV_MAIL);
		relay_send(r, r->env_mail, strlen(r->env_mail));
		return;
	}
	if (r->state == R_ENV_RCPT) {
		r->env_code[r->env_i] = code;
		if (cls == 2)
			r->env_accepted++;
		r->env_i++;
	}
	if (r->env_i < r->env_n) {
		relay_set_state(r, R_ENV_RCPT);
		relay_send(r, r->env_rcpt[r->env_i], strlen(r->env_rcpt[r->env_i]));
		return;
	}
	relay_set_state(r, R_READY);
	relay_timeouts(r, 0);
	relay_finish(r, 250, 0, "250 ok\r\n", 8);
}
