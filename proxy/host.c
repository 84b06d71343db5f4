/* host.c - the filter host table: every service a filter may use, checked and
 * bound to its session; asynchronous requests tracked for cancellation. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "chain_state.h"
#include "config.h"
#include "dns.h"
#include "host.h"
#include "host_int.h"
#include "loader.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "workers.h"

static struct server *host_srv;

enum req_kind { REQ_DNS, REQ_WORK, REQ_TIMER, REQ_STORE };

/* One pending asynchronous request of a filter. */
struct host_req {
	struct host_req *next;
	struct sluice_ctx *ctx;          /* NULL once cancelled */
	enum sluice_scope scope;
	enum req_kind kind;
	void *cb;
	void *arg;
	struct host_work_call call;      /* REQ_WORK: what the pool thread runs */
	union {
		struct dns_query *dns;
		struct workers_job *job;
		struct event *timer;
		struct store_req *store;
	} h;
};

void
host_configure(struct server *srv)
{
	host_srv = srv;
}

/* ------------------------------------------------------------ checks */

/* Hooks and host-made callbacks only: a ctx whose session is gone never gets here
 * because cancelled requests are given NULL. */
int
host_ctx_ok(struct sluice_ctx *ctx, const char *what)
{
	if (ctx == NULL || ctx->s == NULL) {
		log_warning(NULL, "filter called %s without a valid context", what);
		return 0;
	}
	return 1;
}

void
host_ctx_refuse(struct sluice_ctx *ctx, const char *what, const char *why)
{
	log_warning(ctx->s->sid, "filter %s: %s refused: %s", ctx->f->name, what, why);
}

static int
in_tx(struct sluice_ctx *ctx)
{
	return ctx->s->tx != NULL || (ctx->s->chain && ctx->s->chain->tx_active);
}

struct message *
host_ctx_message(struct sluice_ctx *ctx, const char *what)
{
	if (ctx->s->msg == NULL || !ctx->s->msg_ready) {
		host_ctx_refuse(ctx, what, "only from the header, eoh, body and eom hooks");
		return NULL;
	}
	return ctx->s->msg;
}

/* ------------------------------------------------------------ logging, info */

static void
host_log(struct sluice_ctx *ctx, enum sluice_log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (level > SLUICE_LOG_DEBUG)
		level = SLUICE_LOG_DEBUG;
	if (ctx == NULL || ctx->s == NULL)
		log_msg((enum log_level)level, NULL, "filter: %s", text);
	else
		log_msg((enum log_level)level, ctx->s->sid, "filter %s: %s", ctx->f->name, text);
}

static void
host_log_global(enum sluice_log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (level > SLUICE_LOG_DEBUG)
		level = SLUICE_LOG_DEBUG;
	log_msg((enum log_level)level, NULL, "filter: %s", text);
}

static const char *host_session_id(struct sluice_ctx *ctx) { return host_ctx_ok(ctx, "session_id") ? ctx->s->sid : NULL; }
static const char *host_tx_id(struct sluice_ctx *ctx) { return host_ctx_ok(ctx, "tx_id") && ctx->s->tx ? ctx->s->tx->id : NULL; }
static const char *host_client_addr(struct sluice_ctx *ctx) { return host_ctx_ok(ctx, "client_addr") ? ctx->s->addr : NULL; }
static unsigned host_client_port(struct sluice_ctx *ctx) { return host_ctx_ok(ctx, "client_port") ? ctx->s->port : 0; }
static const char *host_client_name(struct sluice_ctx *ctx) { return host_ctx_ok(ctx, "client_name") ? ctx->s->name : NULL; }
static const char *host_listener(struct sluice_ctx *ctx) { return host_ctx_ok(ctx, "listener") ? ctx->s->listener : NULL; }

static const char *
host_helo(struct sluice_ctx *ctx)
{
	return host_ctx_ok(ctx, "helo") && ctx->s->helo_seen ? ctx->s->helo : NULL;
}

static const char *
host_login(struct sluice_ctx *ctx)
{
	return host_ctx_ok(ctx, "login") && ctx->s->login[0] ? ctx->s->login : NULL;
}

static const char *
host_sender(struct sluice_ctx *ctx)
{
	struct chain_session *cs;

	if (!host_ctx_ok(ctx, "sender"))
		return NULL;
	if (ctx->s->tx != NULL)
		return ctx->s->tx->sender;
	/* The mail hook (transaction scope) runs before the transaction record
	 * exists: the sender is the one being decided on. */
	cs = chain_of(ctx->s);
	if (cs != NULL && cs->running && cs->phase == CHAIN_MAIL)
		return cs->args.str;
	return NULL;
}

static size_t
host_rcpt_count(struct sluice_ctx *ctx)
{
	return host_ctx_ok(ctx, "rcpt_count") && ctx->s->tx ? ctx->s->tx->nrcpts : 0;
}

static const char *
host_rcpt(struct sluice_ctx *ctx, size_t i)
{
	if (!host_ctx_ok(ctx, "rcpt") || ctx->s->tx == NULL || i >= ctx->s->tx->nrcpts)
		return NULL;
	return ctx->s->tx->rcpts[i];
}

/* ------------------------------------------------------------ reply */

static int
text_clean(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (s[n] == '\r' || s[n] == '\n' || (unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
			return 0;
	return 1;
}

static int
host_set_reply(struct sluice_ctx *ctx, const char *code, const char *ecode, const char *text)
{
	struct chain_session *cs;

	if (!host_ctx_ok(ctx, "set_reply") || (cs = chain_of(ctx->s)) == NULL)
		return -1;
	if (!ctx->in_hook && ctx->token == 0) {
		host_ctx_refuse(ctx, "set_reply", "only inside a hook, or while it is pending");
		return -1;
	}
	if (code == NULL || strlen(code) != 3 || (code[0] != '4' && code[0] != '5') ||
	    !isdigit((unsigned char)code[1]) || !isdigit((unsigned char)code[2])) {
		host_ctx_refuse(ctx, "set_reply", "the code must be 4xx or 5xx");
		return -1;
	}
	if (ecode != NULL && (smtp_enhanced_code_len(ecode, strlen(ecode)) != strlen(ecode) ||
	                      ecode[0] != code[0])) {
		host_ctx_refuse(ctx, "set_reply", "the enhanced code must be X.Y.Z of the same class");
		return -1;
	}
	if (text == NULL || !text_clean(text, 400)) {
		host_ctx_refuse(ctx, "set_reply", "text with CR, LF, control characters, or over 400 octets");
		return -1;
	}
	xsnprintf(cs->reply, sizeof(cs->reply), "%s %s%s%s", code, ecode ? ecode : "", ecode ? " " : "", text);
	cs->reply_set = 1;
	return 0;
}

/* ------------------------------------------------------------ message edits */

static size_t
host_header_count(struct sluice_ctx *ctx, const char *name)
{
	struct message *m;

	if (!host_ctx_ok(ctx, "header_count") || name == NULL || (m = host_ctx_message(ctx, "header_count")) == NULL)
		return 0;
	return message_header_count(m, name);
}

static const char *
host_header_get(struct sluice_ctx *ctx, const char *name, size_t index)
{
	struct message *m;

	if (!host_ctx_ok(ctx, "header_get") || name == NULL || (m = host_ctx_message(ctx, "header_get")) == NULL)
		return NULL;
	return message_header_get(m, name, index);
}

static int
edit_result(struct sluice_ctx *ctx, const char *what, int rc, const char *why)
{
	if (rc < 0)
		host_ctx_refuse(ctx, what, why ? why : "invalid");
	return rc < 0 ? -1 : 0;
}

static int
host_header_add(struct sluice_ctx *ctx, const char *name, const char *value)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "header_add") || (m = host_ctx_message(ctx, "header_add")) == NULL)
		return -1;
	return edit_result(ctx, "header_add", message_header_add(m, name, value, &why), why);
}

static int
host_header_insert(struct sluice_ctx *ctx, size_t position, const char *name, const char *value)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "header_insert") || (m = host_ctx_message(ctx, "header_insert")) == NULL)
		return -1;
	return edit_result(ctx, "header_insert", message_header_insert(m, position, name, value, &why), why);
}

static int
host_header_change(struct sluice_ctx *ctx, const char *name, size_t index, const char *value)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "header_change") || (m = host_ctx_message(ctx, "header_change")) == NULL)
		return -1;
	return edit_result(ctx, "header_change", message_header_change(m, name, index, value, &why), why);
}

static int
host_sender_change(struct sluice_ctx *ctx, const char *sender, const char *params)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "sender_change") || (m = host_ctx_message(ctx, "sender_change")) == NULL)
		return -1;
	return edit_result(ctx, "sender_change", message_sender_change(m, sender, params, &why), why);
}

static int
host_rcpt_add(struct sluice_ctx *ctx, const char *rcpt, const char *params)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "rcpt_add") || (m = host_ctx_message(ctx, "rcpt_add")) == NULL)
		return -1;
	return edit_result(ctx, "rcpt_add", message_rcpt_add(m, rcpt, params, &why), why);
}

static int
host_rcpt_delete(struct sluice_ctx *ctx, const char *rcpt)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "rcpt_delete") || (m = host_ctx_message(ctx, "rcpt_delete")) == NULL)
		return -1;
	return edit_result(ctx, "rcpt_delete", message_rcpt_delete(m, rcpt, &why), why);
}

static int
host_body_replace(struct sluice_ctx *ctx, const void *data, size_t len)
{
	struct message *m;
	const char *why = NULL;

	if (!host_ctx_ok(ctx, "body_replace") || (m = host_ctx_message(ctx, "body_replace")) == NULL)
		return -1;
	return edit_result(ctx, "body_replace", message_body_replace(m, data, len, &why), why);
}

/* ------------------------------------------------------------ notes, score */

static int
key_ok(const char *key)
{
	if (key == NULL || *key == '\0' || strlen(key) > 128)
		return 0;
	for (const char *p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return 0;
	return 1;
}

static int
host_note_set(struct sluice_ctx *ctx, enum sluice_scope scope, const char *key, const char *value)
{
	struct chain_session *cs;
	struct chain_note *n;

	if (!host_ctx_ok(ctx, "note_set") || (cs = chain_of(ctx->s)) == NULL)
		return -1;
	if (!key_ok(key) || value == NULL || strlen(value) > 4096 ||
	    (scope != SLUICE_SCOPE_SESSION && scope != SLUICE_SCOPE_TX)) {
		host_ctx_refuse(ctx, "note_set", "bad scope, key ([A-Za-z0-9._-], 128 octets) or value (4096)");
		return -1;
	}
	if (scope == SLUICE_SCOPE_TX && !in_tx(ctx)) {
		host_ctx_refuse(ctx, "note_set", "no transaction");
		return -1;
	}
	for (n = cs->notes; n != NULL; n = n->next)
		if (n->scope == scope && strcmp(n->key, key) == 0)
			break;
	if (n == NULL) {
		n = xcalloc(1, sizeof(*n));
		n->scope = scope;
		n->key = xstrdup(key);
		n->next = cs->notes;
		cs->notes = n;
	} else {
		free(n->value);
	}
	n->value = xstrdup(value);
	return 0;
}

static int
host_note_set_int(struct sluice_ctx *ctx, enum sluice_scope scope, const char *key, int64_t value)
{
	char buf[32];

	xsnprintf(buf, sizeof(buf), "%" PRId64, value);
	return host_note_set(ctx, scope, key, buf);
}

static const char *
host_note_get(struct sluice_ctx *ctx, const char *key)
{
	struct chain_session *cs;
	const char *found = NULL;

	if (!host_ctx_ok(ctx, "note_get") || (cs = chain_of(ctx->s)) == NULL || key == NULL)
		return NULL;
	for (struct chain_note *n = cs->notes; n != NULL; n = n->next) {
		if (strcmp(n->key, key) != 0)
			continue;
		if (n->scope == SLUICE_SCOPE_TX)
			return n->value;
		found = n->value;
	}
	return found;
}

static int64_t
host_note_get_int(struct sluice_ctx *ctx, const char *key, int64_t def)
{
	const char *v = host_note_get(ctx, key);
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtoll(v, &end, 10);
	return *end == '\0' ? (int64_t)n : def;
}

static int
host_score_add(struct sluice_ctx *ctx, double points, const char *reason)
{
	struct chain_session *cs;
	size_t len;

	if (!host_ctx_ok(ctx, "score_add") || (cs = chain_of(ctx->s)) == NULL || !in_tx(ctx)) {
		if (ctx != NULL && ctx->s != NULL)
			host_ctx_refuse(ctx, "score_add", "no transaction");
		return -1;
	}
	if (reason == NULL || !text_clean(reason, 100)) {
		host_ctx_refuse(ctx, "score_add", "reason with control characters or over 100 octets");
		return -1;
	}
	cs->score += points;
	len = strlen(cs->score_reasons);
	if (len < sizeof(cs->score_reasons) - 1)
		xsnprintf(cs->score_reasons + len, sizeof(cs->score_reasons) - len, "%s%s=%.2f",
		          len ? ", " : "", reason, points);
	log_debug(ctx->s->sid, "filter %s: score %+.2f (%s), total %.2f", ctx->f->name, points, reason, cs->score);
	return 0;
}

static double
host_score(struct sluice_ctx *ctx)
{
	struct chain_session *cs;

	if (!host_ctx_ok(ctx, "score") || (cs = chain_of(ctx->s)) == NULL)
		return 0;
	return cs->score;
}

/* ------------------------------------------------------------ suspend, resume */

static sluice_resume_t
host_suspend(struct sluice_ctx *ctx)
{
	sluice_resume_t t;

	if (!host_ctx_ok(ctx, "suspend"))
		return 0;
	if ((t = chain_suspend(ctx)) == 0)
		host_ctx_refuse(ctx, "suspend", "only inside a hook");
	return t;
}

static int
host_resume(sluice_resume_t token, enum sluice_verdict verdict)
{
	struct worker *w = worker_current();
	struct session *s;

	if (w == NULL) {
		log_warning(NULL, "filter resumed token %016" PRIx64 " outside a loop thread; dropped", token);
		return -1;
	}
	s = worker_session_by_num(w, token >> 24);
	if (s == NULL || chain_resume(s, token, verdict) < 0) {
		log_info(s ? s->sid : NULL, "late or unknown resume (token %016" PRIx64 ", %s); dropped",
		         token, s ? "transaction or call ended" : "session gone");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ async requests */

static struct host_req *
req_new(struct sluice_ctx *ctx, enum req_kind kind, void *cb, void *arg)
{
	struct host_req *r = xcalloc(1, sizeof(*r));

	r->ctx = ctx;
	r->kind = kind;
	r->cb = cb;
	r->arg = arg;
	r->scope = in_tx(ctx) ? SLUICE_SCOPE_TX : SLUICE_SCOPE_SESSION;
	r->next = ctx->reqs;
	ctx->reqs = r;
	return r;
}

static void
req_unlink(struct host_req *r)
{
	struct host_req **pp;

	if (r->ctx == NULL)
		return;
	for (pp = &r->ctx->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	r->ctx = NULL;
}

static void
dns_done(void *arg, const struct sluice_dns_answer *answer)
{
	struct host_req *r = arg;
	struct sluice_ctx *ctx = r->ctx;

	req_unlink(r);
	((sluice_dns_cb *)r->cb)(ctx, r->arg, answer);
	free(r);
}

static int
host_dns_query(struct sluice_ctx *ctx, const char *name, enum sluice_dns_type type,
               sluice_dns_cb *cb, void *arg)
{
	struct host_req *r;

	if (!host_ctx_ok(ctx, "dns_query") || cb == NULL || name == NULL)
		return -1;
	if (ctx->s->w->dns == NULL) {
		host_ctx_refuse(ctx, "dns_query", "DNS is not available");
		return -1;
	}
	r = req_new(ctx, REQ_DNS, (void *)cb, arg);
	r->h.dns = dns_lookup(ctx->s->w->dns, name, (int)type, dns_done, r);
	if (r->h.dns == NULL) {
		/* Not made (a bad name or type): the callback will never run. */
		req_unlink(r);
		free(r);
		host_ctx_refuse(ctx, "dns_query", "bad name or type");
		return -1;
	}
	return 0;
}

static void
work_done(void *arg, void *result, int cancelled)
{
	struct host_req *r = arg;
	struct sluice_ctx *ctx = r->ctx;

	req_unlink(r);
	((sluice_work_done_cb *)r->cb)(cancelled ? NULL : ctx, r->arg,
	                               cancelled ? SLUICE_ASYNC_CANCELLED : SLUICE_ASYNC_OK, result);
	free(r);
}

static int
host_work(struct sluice_ctx *ctx, sluice_work_fn *fn, sluice_work_done_cb *done, void *arg)
{
	struct host_req *r;

	if (!host_ctx_ok(ctx, "work") || fn == NULL || done == NULL)
		return -1;
	r = req_new(ctx, REQ_WORK, (void *)done, arg);
	r->call = (struct host_work_call){ fn, arg, ctx->s->w };
	r->h.job = workers_submit(host_srv->workers, ctx->s->w->base, host_work_run, &r->call,
	                          work_done, r);
	if (r->h.job == NULL) {
		req_unlink(r);
		free(r);
		host_ctx_refuse(ctx, "work", "the worker pool is not running");
		return -1;
	}
	return 0;
}

static void
timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct host_req *r = arg;
	struct sluice_ctx *ctx = r->ctx;

	(void)fd;
	(void)what;
	req_unlink(r);
	event_free(r->h.timer);
	((sluice_timer_cb *)r->cb)(ctx, r->arg, SLUICE_ASYNC_OK);
	free(r);
}

static int
host_timer(struct sluice_ctx *ctx, unsigned ms, sluice_timer_cb *cb, void *arg)
{
	struct host_req *r;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!host_ctx_ok(ctx, "timer") || cb == NULL)
		return -1;
	r = req_new(ctx, REQ_TIMER, (void *)cb, arg);
	r->h.timer = evtimer_new(ctx->s->w->base, timer_fired, r);
	evtimer_add(r->h.timer, &tv);
	return 0;
}

static void
store_done(void *arg, int status, const char *value)
{
	struct host_req *r = arg;
	struct sluice_ctx *ctx = r->ctx;

	req_unlink(r);
	((sluice_store_cb *)r->cb)(ctx, r->arg, status == 0 ? SLUICE_ASYNC_OK : SLUICE_ASYNC_TEMPFAIL,
	                           value);
	free(r);
}

static int
store_key_ok(struct sluice_ctx *ctx, const char *key, void *cb)
{
	if (!host_ctx_ok(ctx, "store") || cb == NULL || key == NULL || *key == '\0' || strlen(key) > 512)
		return 0;
	return 1;
}

static int
host_store_incr(struct sluice_ctx *ctx, const char *key, int64_t delta, unsigned ttl_ms,
                sluice_store_cb *cb, void *arg)
{
	struct host_req *r;

	if (!store_key_ok(ctx, key, (void *)cb))
		return -1;
	r = req_new(ctx, REQ_STORE, (void *)cb, arg);
	r->h.store = store_incr(host_srv->store, ctx->s->w->base, key, delta, ttl_ms, store_done, r);
	return 0;
}

static int
host_store_get(struct sluice_ctx *ctx, const char *key, sluice_store_cb *cb, void *arg)
{
	struct host_req *r;

	if (!store_key_ok(ctx, key, (void *)cb))
		return -1;
	r = req_new(ctx, REQ_STORE, (void *)cb, arg);
	r->h.store = store_get(host_srv->store, ctx->s->w->base, key, store_done, r);
	return 0;
}

static int
host_store_set(struct sluice_ctx *ctx, const char *key, const char *value, unsigned ttl_ms,
               sluice_store_cb *cb, void *arg)
{
	struct host_req *r;

	if (!store_key_ok(ctx, key, (void *)cb) || value == NULL)
		return -1;
	r = req_new(ctx, REQ_STORE, (void *)cb, arg);
	r->h.store = store_set(host_srv->store, ctx->s->w->base, key, value, ttl_ms, store_done, r);
	return 0;
}

void
host_cancel_scope(struct sluice_ctx *ctx, enum sluice_scope scope)
{
	struct host_req **pp = &ctx->reqs;

	while (*pp != NULL) {
		struct host_req *r = *pp;
		if (scope == SLUICE_SCOPE_TX && r->scope != SLUICE_SCOPE_TX) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->ctx = NULL;
		switch (r->kind) {
		case REQ_DNS: {
			static const struct sluice_dns_answer cancelled = { SLUICE_ASYNC_CANCELLED, 0, NULL, 0 };
			dns_cancel(r->h.dns);
			((sluice_dns_cb *)r->cb)(NULL, r->arg, &cancelled);
			free(r);
			break;
		}
		case REQ_WORK:
			/* work_done runs later with cancelled set and frees r. */
			workers_cancel(r->h.job);
			break;
		case REQ_TIMER:
			event_free(r->h.timer);
			((sluice_timer_cb *)r->cb)(NULL, r->arg, SLUICE_ASYNC_CANCELLED);
			free(r);
			break;
		case REQ_STORE:
			store_cancel(r->h.store);
			((sluice_store_cb *)r->cb)(NULL, r->arg, SLUICE_ASYNC_CANCELLED, NULL);
			free(r);
			break;
		}
	}
}

/* ------------------------------------------------------------ metrics, data */

static void
host_counter_add(struct sluice_ctx *ctx, const char *name, uint64_t delta)
{
	char full[160];

	if (name == NULL)
		return;
	if (ctx == NULL || ctx->f == NULL)
		xsnprintf(full, sizeof(full), "sluice_filter_%s", name);
	else
		xsnprintf(full, sizeof(full), "sluice_filter_%s_%s", ctx->f->name, name);
	for (char *p = full; *p; p++)
		if (!isalnum((unsigned char)*p))
			*p = '_';
		else
			*p = (char)tolower((unsigned char)*p);
	metrics_counter_add(full, delta);
}

static void
host_set_data(struct sluice_ctx *ctx, enum sluice_scope scope, void *data)
{
	if (host_ctx_ok(ctx, "set_data") && (scope == SLUICE_SCOPE_SESSION || scope == SLUICE_SCOPE_TX))
		ctx->data[scope] = data;
}

static void *
host_get_data(struct sluice_ctx *ctx, enum sluice_scope scope)
{
	if (!host_ctx_ok(ctx, "get_data") || (scope != SLUICE_SCOPE_SESSION && scope != SLUICE_SCOPE_TX))
		return NULL;
	return ctx->data[scope];
}

/* ------------------------------------------------------------ the table */

static const struct sluice_host table = {
	.abi_version = SLUICE_FILTER_ABI_VERSION,
	.struct_size = sizeof(struct sluice_host),
	.config_get = loader_config_get,
	.config_error = loader_config_error,
	.config_where = loader_config_where,
	.log = host_log,
	.log_global = host_log_global,
	.session_id = host_session_id,
	.tx_id = host_tx_id,
	.client_addr = host_client_addr,
	.client_port = host_client_port,
	.client_name = host_client_name,
	.helo = host_helo,
	.login = host_login,
	.listener = host_listener,
	.sender = host_sender,
	.rcpt_count = host_rcpt_count,
	.rcpt = host_rcpt,
	.set_reply = host_set_reply,
	.header_count = host_header_count,
	.header_get = host_header_get,
	.header_add = host_header_add,
	.header_insert = host_header_insert,
	.header_change = host_header_change,
	.sender_change = host_sender_change,
	.rcpt_add = host_rcpt_add,
	.rcpt_delete = host_rcpt_delete,
	.body_replace = host_body_replace,
	.note_set = host_note_set,
	.note_set_int = host_note_set_int,
	.note_get = host_note_get,
	.note_get_int = host_note_get_int,
	.score_add = host_score_add,
	.score = host_score,
	.suspend = host_suspend,
	.resume = host_resume,
	.dns_query = host_dns_query,
	.work = host_work,
	.timer = host_timer,
	.store_incr = host_store_incr,
	.store_get = host_store_get,
	.store_set = host_store_set,
	.counter_add = host_counter_add,
	.set_data = host_set_data,
	.get_data = host_get_data,
	.dns_query_wait = host_dns_query_wait,
	.dns_answer_free = host_dns_answer_free,
	.message_read = host_message_read,
};

const struct sluice_host *
host_table(void)
{
	return &table;
}
