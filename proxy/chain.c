/* chain.c - per-phase filter chains: dispatch, verdict merge, pending hooks,
 * timeouts, on_error and dry_run. The rules are written in sluice/filter.h. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "chain.h"
#include "chain_state.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "util.h"
#include "worker.h"

static const char *const phase_names[CHAIN_PHASE_COUNT] = {
	"connect", "helo", "starttls", "auth", "mail", "rcpt", "data", "header", "eoh",
	"body", "eom",
};

static const char *const verdict_names[] = {
	"continue", "accept", "reject", "tempfail", "discard", "quarantine", "pending",
};

static const char REPLY_REJECT[] = "550 5.7.1 Command rejected";
static const char REPLY_TEMPFAIL[] = "451 4.7.1 Service unavailable - try again later";

/* Built once by chain_configure: per phase, the indexes of the filters with a hook. */
static const struct filter_set *chain_set;
static unsigned *phase_list[CHAIN_PHASE_COUNT];
static size_t phase_len[CHAIN_PHASE_COUNT];

static void chain_step(struct session *s);

const char *
chain_phase_name(enum chain_phase phase)
{
	return phase < CHAIN_PHASE_COUNT ? phase_names[phase] : "?";
}

static const char *
verdict_name(enum sluice_verdict v)
{
	return (unsigned)v < ARRAY_LEN(verdict_names) ? verdict_names[v] : "invalid";
}

static int
has_hook(const struct sluice_filter *d, enum chain_phase phase)
{
	switch (phase) {
	case CHAIN_CONNECT: return d->connect != NULL;
	case CHAIN_HELO: return d->helo != NULL;
	case CHAIN_STARTTLS: return d->starttls != NULL;
	case CHAIN_AUTH: return d->auth != NULL;
	case CHAIN_MAIL: return d->mail != NULL;
	case CHAIN_RCPT: return d->rcpt != NULL;
	case CHAIN_DATA: return d->data != NULL;
	case CHAIN_HEADER: return d->header != NULL;
	case CHAIN_EOH: return d->eoh != NULL;
	case CHAIN_BODY: return d->body != NULL;
	case CHAIN_EOM: return d->eom != NULL;
	default: return 0;
	}
}

void
chain_configure(const struct filter_set *set)
{
	for (int p = 0; p < CHAIN_PHASE_COUNT; p++) {
		free(phase_list[p]);
		phase_list[p] = NULL;
		phase_len[p] = 0;
	}
	chain_set = set;
	if (set == NULL)
		return;
	for (int p = 0; p < CHAIN_PHASE_COUNT; p++) {
		phase_list[p] = xcalloc(set->n ? set->n : 1, sizeof(unsigned));
		for (size_t i = 0; i < set->n; i++)
			if (has_hook(set->filters[i].desc, (enum chain_phase)p))
				phase_list[p][phase_len[p]++] = (unsigned)i;
	}
}

int
chain_wants(enum chain_phase phase)
{
	return phase < CHAIN_PHASE_COUNT && phase_len[phase] > 0;
}

struct chain_session *
chain_of(const struct session *s)
{
	return s->chain;
}

/* ------------------------------------------------------------ lifecycle */

static void
chain_timeout_cb(evutil_socket_t fd, short what, void *arg);

void
chain_session_begin(struct session *s)
{
	struct chain_session *cs;

	if (chain_set == NULL || chain_set->n == 0)
		return;
	cs = xcalloc(1, sizeof(*cs));
	cs->nctx = chain_set->n;
	cs->ctx = xcalloc(cs->nctx, sizeof(*cs->ctx));
	for (size_t i = 0; i < cs->nctx; i++) {
		cs->ctx[i].s = s;
		cs->ctx[i].f = &chain_set->filters[i];
	}
	cs->timer = evtimer_new(s->w->base, chain_timeout_cb, s);
	s->chain = cs;
}

static void
notes_drop(struct chain_session *cs, int all)
{
	struct chain_note **pp = &cs->notes;

	while (*pp != NULL) {
		struct chain_note *n = *pp;
		if (all || n->scope == SLUICE_SCOPE_TX) {
			*pp = n->next;
			free(n->key);
			free(n->value);
			free(n);
		} else {
			pp = &n->next;
		}
	}
}

/* Stop a phase in progress without calling its done (the session is ending it). */
static void
chain_abandon(struct chain_session *cs)
{
	if (!cs->running)
		return;
	evtimer_del(cs->timer);
	cs->ctx[cs->pending].token = 0;
	cs->call_seq++;
	cs->running = 0;
	cs->done = NULL;
}

void
chain_tx_end(struct session *s)
{
	struct chain_session *cs = s->chain;

	if (cs == NULL || !cs->tx_active)
		return;
	if (cs->running && cs->phase >= CHAIN_MAIL)
		chain_abandon(cs);
	for (size_t i = 0; i < cs->nctx; i++) {
		struct sluice_ctx *ctx = &cs->ctx[i];
		host_cancel_scope(ctx, SLUICE_SCOPE_TX);
		if (ctx->f->desc->reset != NULL) {
			ctx->in_hook = 1;
			ctx->f->desc->reset(ctx, ctx->f->self);
			ctx->in_hook = 0;
		}
		ctx->data[SLUICE_SCOPE_TX] = NULL;
	}
	notes_drop(cs, 0);
	cs->tx_active = 0;
	cs->accept_tx = cs->discard_tx = 0;
	cs->quarantine[0] = '\0';
	cs->score = 0;
	cs->score_reasons[0] = '\0';
}

void
chain_session_end(struct session *s)
{
	struct chain_session *cs = s->chain;

	if (cs == NULL)
		return;
	chain_abandon(cs);
	chain_tx_end(s);
	for (size_t i = 0; i < cs->nctx; i++) {
		struct sluice_ctx *ctx = &cs->ctx[i];
		host_cancel_scope(ctx, SLUICE_SCOPE_SESSION);
		if (ctx->f->desc->close != NULL) {
			ctx->in_hook = 1;
			ctx->f->desc->close(ctx, ctx->f->self);
			ctx->in_hook = 0;
		}
	}
	notes_drop(cs, 1);
	event_free(cs->timer);
	free(cs->ctx);
	free(cs);
	s->chain = NULL;
}

int
chain_tx_discard(const struct session *s)
{
	return s->chain != NULL && (s->chain->discard_tx || s->chain->discard_session);
}

const char *
chain_tx_quarantine(const struct session *s)
{
	return s->chain != NULL && s->chain->quarantine[0] ? s->chain->quarantine : NULL;
}

double
chain_tx_score(const struct session *s)
{
	return s->chain != NULL ? s->chain->score : 0;
}

const char *
chain_tx_score_reasons(const struct session *s)
{
	return s->chain != NULL ? s->chain->score_reasons : "";
}

size_t
chain_tx_notes(const struct session *s, const char *prefix, const char **values, size_t max)
{
	size_t n = 0, plen = strlen(prefix);

	if (s->chain == NULL)
		return 0;
	/* The list is newest first: collect, then reverse. */
	for (const struct chain_note *nt = s->chain->notes; nt != NULL && n < max; nt = nt->next)
		if (nt->scope == SLUICE_SCOPE_TX && strncmp(nt->key, prefix, plen) == 0)
			values[n++] = nt->value;
	for (size_t i = 0; i < n / 2; i++) {
		const char *t = values[i];
		values[i] = values[n - 1 - i];
		values[n - 1 - i] = t;
	}
	return n;
}

/* ------------------------------------------------------------ running */

static void
chain_finish(struct session *s, enum sluice_verdict v, const char *reply)
{
	struct chain_session *cs = s->chain;
	struct chain_result res = { v, NULL };
	chain_done_fn *done;

	if (reply != NULL) {
		strlcpy_s(cs->result_reply, reply, sizeof(cs->result_reply));
		res.reply = cs->result_reply;
	}
	done = cs->done;
	cs->done = NULL;
	cs->running = 0;
	if (done != NULL)
		done(s, &res);
}

static enum sluice_verdict
chain_call(struct sluice_ctx *ctx, enum chain_phase phase, const struct chain_args *a)
{
	const struct sluice_filter *d = ctx->f->desc;
	void *self = ctx->f->self;

	switch (phase) {
	case CHAIN_CONNECT: return d->connect(ctx, self);
	case CHAIN_HELO: return d->helo(ctx, self, a->str);
	case CHAIN_STARTTLS: return d->starttls(ctx, self);
	case CHAIN_AUTH: return d->auth(ctx, self, a->str);
	case CHAIN_MAIL: return d->mail(ctx, self, a->str, a->params);
	case CHAIN_RCPT: return d->rcpt(ctx, self, a->str, a->params);
	case CHAIN_DATA: return d->data(ctx, self);
	case CHAIN_HEADER: return d->header(ctx, self, a->name, a->value);
	case CHAIN_EOH: return d->eoh(ctx, self);
	case CHAIN_BODY: return d->body(ctx, self, a->chunk, a->len);
	case CHAIN_EOM: return d->eom(ctx, self);
	default: return SLUICE_CONTINUE;
	}
}

/* A filter failed (bad verdict, timeout, PENDING without suspend): its on_error
 * decides. Returns 1 when that ended the phase. */
static int
chain_failed(struct session *s, size_t idx, const char *why)
{
	struct chain_session *cs = s->chain;
	const struct filter_instance *f = cs->ctx[idx].f;
	static const char *const policy[] = { "tempfail", "accept", "reject" };

	log_warning(s->sid, "filter %s failed in %s: %s; on_error = %s", f->name,
	            phase_names[cs->phase], why, policy[f->on_error]);
	metrics_counter_add("sluice_filter_errors_total", 1);
	switch (f->on_error) {
	case FILTER_ON_ERROR_ACCEPT:
		return 0;
	case FILTER_ON_ERROR_REJECT:
		chain_finish(s, SLUICE_REJECT, REPLY_REJECT);
		return 1;
	default:
		chain_finish(s, SLUICE_TEMPFAIL, REPLY_TEMPFAIL);
		return 1;
	}
}

/* Apply filter idx's verdict v. Returns 1 when it ended the phase. */
static int
chain_verdict(struct session *s, size_t idx, enum sluice_verdict v)
{
	struct chain_session *cs = s->chain;
	const struct filter_instance *f = cs->ctx[idx].f;
	int session_scope = cs->phase <= CHAIN_HELO;

	if ((unsigned)v > SLUICE_QUARANTINE)
		return chain_failed(s, idx, "invalid verdict");
	if (v == SLUICE_CONTINUE)
		return 0;
	if (f->dry_run) {
		log_info(s->sid, "filter %s (dry run) would %s in %s%s%s", f->name, verdict_name(v),
		         phase_names[cs->phase], cs->reply_set ? ": " : "", cs->reply_set ? cs->reply : "");
		return 0;
	}
	log_debug(s->sid, "filter %s: %s in %s", f->name, verdict_name(v), phase_names[cs->phase]);
	switch (v) {
	case SLUICE_QUARANTINE:
		if (cs->quarantine[0] == '\0')
			xsnprintf(cs->quarantine, sizeof(cs->quarantine), "%s",
			          cs->reply_set ? cs->reply : f->name);
		return 0;
	case SLUICE_ACCEPT:
		if (session_scope)
			cs->accept_session = 1;
		else
			cs->accept_tx = 1;
		chain_finish(s, SLUICE_CONTINUE, NULL);
		return 1;
	case SLUICE_DISCARD:
		if (session_scope)
			cs->discard_session = 1;
		else
			cs->discard_tx = 1;
		chain_finish(s, SLUICE_CONTINUE, NULL);
		return 1;
	case SLUICE_REJECT:
	case SLUICE_TEMPFAIL:
		if (cs->reply_set && cs->reply[0] != (v == SLUICE_REJECT ? '5' : '4')) {
			/* A 4xx reply cannot carry a reject, nor a 5xx a tempfail. */
			log_warning(s->sid, "filter %s: reply \"%s\" does not fit %s; default reply used",
			            f->name, cs->reply, verdict_name(v));
			cs->reply_set = 0;
		}
		metrics_counter_add(v == SLUICE_REJECT ? "sluice_filter_rejects_total"
		                                        : "sluice_filter_tempfails_total", 1);
		chain_finish(s, v, cs->reply_set ? cs->reply : v == SLUICE_REJECT ? REPLY_REJECT
		                                                                  : REPLY_TEMPFAIL);
		return 1;
	default:
		return 0;
	}
}

static int
chain_skips(const struct session *s, const struct chain_session *cs, const struct filter_instance *f)
{
	if (cs->accept_session || (cs->phase >= CHAIN_MAIL && cs->accept_tx))
		return 1;
	if (f->skip_authenticated && s->login[0] != '\0')
		return 1;
	return 0;
}

static void
chain_step(struct session *s)
{
	struct chain_session *cs = s->chain;

	while (cs->pos < phase_len[cs->phase]) {
		size_t idx = phase_list[cs->phase][cs->pos];
		struct sluice_ctx *ctx = &cs->ctx[idx];
		enum sluice_verdict v;

		if (chain_skips(s, cs, ctx->f)) {
			cs->pos++;
			continue;
		}
		cs->reply_set = 0;
		cs->call_seq++;
		ctx->token = 0;
		ctx->early = 0;
		ctx->in_hook = 1;
		v = chain_call(ctx, cs->phase, &cs->args);
		ctx->in_hook = 0;
		if (v == SLUICE_PENDING) {
			if (ctx->token == 0) {
				if (chain_failed(s, idx, "answered pending without host->suspend()"))
					return;
			} else if (ctx->early) {
				ctx->token = 0;
				if (chain_verdict(s, idx, ctx->early_verdict))
					return;
			} else {
				unsigned ms = ctx->f->timeout_ms;
				struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
				cs->pending = idx;
				evtimer_add(cs->timer, &tv);
				return;   /* chain_resume or the timer goes on */
			}
		} else {
			ctx->token = 0;
			if (chain_verdict(s, idx, v))
				return;
		}
		cs->pos++;
	}
	chain_finish(s, SLUICE_CONTINUE, NULL);
}

void
chain_run(struct session *s, enum chain_phase phase, const struct chain_args *args,
          chain_done_fn *done)
{
	struct chain_session *cs = s->chain;
	static const struct chain_result cont = { SLUICE_CONTINUE, NULL };

	if (cs == NULL || phase_len[phase] == 0) {
		if (cs != NULL && phase >= CHAIN_MAIL)
			cs->tx_active = 1;
		done(s, &cont);
		return;
	}
	if (phase >= CHAIN_MAIL)
		cs->tx_active = 1;
	cs->running = 1;
	cs->phase = phase;
	cs->pos = 0;
	cs->done = done;
	if (args != NULL)
		cs->args = *args;
	else
		memset(&cs->args, 0, sizeof(cs->args));
	chain_step(s);
}

/* ------------------------------------------------------------ async */

static sluice_resume_t
make_token(const struct session *s, uint64_t seq)
{
	return ((s->num & 0xffffffffffull) << 24) | (seq & 0xffffff);
}

sluice_resume_t
chain_suspend(struct sluice_ctx *ctx)
{
	struct chain_session *cs = ctx->s->chain;

	if (!ctx->in_hook || cs == NULL || !cs->running)
		return 0;
	ctx->token = make_token(ctx->s, cs->call_seq);
	return ctx->token;
}

int
chain_resume(struct session *s, sluice_resume_t token, enum sluice_verdict verdict)
{
	struct chain_session *cs = s->chain;
	struct sluice_ctx *ctx;

	if (cs == NULL || !cs->running || token == 0)
		return -1;
	/* The pending filter, or the one whose hook is running right now. */
	for (size_t i = 0; i < cs->nctx; i++) {
		ctx = &cs->ctx[i];
		if (ctx->token != token)
			continue;
		if (verdict == SLUICE_PENDING)
			return -1;
		if (ctx->in_hook) {
			ctx->early = 1;
			ctx->early_verdict = verdict;
			return 0;
		}
		evtimer_del(cs->timer);
		ctx->token = 0;
		if (!chain_verdict(s, i, verdict)) {
			cs->pos++;
			chain_step(s);
		}
		return 0;
	}
	return -1;
}

static void
chain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct chain_session *cs = s->chain;
	char why[64];

	(void)fd;
	(void)what;
	if (cs == NULL || !cs->running)
		return;
	cs->ctx[cs->pending].token = 0;
	cs->call_seq++;
	xsnprintf(why, sizeof(why), "no answer within %u ms", cs->ctx[cs->pending].f->timeout_ms);
	if (!chain_failed(s, cs->pending, why)) {
		cs->pos++;
		chain_step(s);
	}
}
