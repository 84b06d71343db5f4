/* rules.c - the rules filter: an ordered access list from the configuration or a
 * reloadable file, applied at the earliest phase that can decide it. */

/*
 *   [filter rules]
 *   module = rules
 *   rule10 = client 192.0.2.0/24 reject "550 5.7.1 Go away"
 *   rule20 = header Subject "^\[spam\]" score 5 "tagged subject"
 *   rules_file = /etc/sluice/rules      # more rules, after the ruleN keys
 *   reload_interval = 10s               # how often connect looks at the file
 *
 * The syntax and the decision order are in doc/filters/rules.md; parsing and
 * matching live in ruleset.c, which knows nothing of sessions.
 */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sluice/filter.h"
#include "sluice/host.h"
#include "sluice/types.h"

#include "ruleset.h"

#define RULES_MAX_KEYS 999          /* rule1 .. rule999 */
#define RULES_RELOAD_DEFAULT 10     /* seconds */

struct rules {
	const struct sluice_host *host;
	char *inline_text[RULES_MAX_KEYS + 1];  /* ruleN values, kept for reloads */
	char *file;                             /* NULL: inline rules only */
	unsigned reload_interval;               /* seconds; 0 = never */

	pthread_mutex_t lock;                   /* guards current and the file identity */
	struct ruleset *current;
	struct timespec file_mtime;
	ino_t file_ino;
	off_t file_size;
	atomic_llong next_check;                /* monotonic seconds */
	atomic_bool reloading;                  /* one reload in the worker pool at a time */
};

/* A session keeps the rules it started with, whatever reloads happen meanwhile. */
struct rules_session {
	struct ruleset *rs;
	struct rule_addr client;
	int client_ok;
};

/* ---------------------------------------------------------------- building */

struct build_errors {
	const struct sluice_host *host;
	struct sluice_filter_config *cfg;       /* NULL on reload: log instead */
	int count;
};

static void
rules_report(void *arg, const char *where, const char *msg)
{
	struct build_errors *e = arg;

	e->count++;
	if (e->cfg != NULL)
		e->host->config_error(e->cfg, "rules_file", "%s: %s", where, msg);
	else
		e->host->log_global(SLUICE_LOG_ERROR, "rules: %s: %s", where, msg);
}

/* Inline rules, then the file's. On any problem: NULL, every problem reported. */
static struct ruleset *
rules_build(struct rules *self, struct sluice_filter_config *cfg, struct stat *st_r)
{
	struct build_errors e = { self->host, cfg, 0 };
	struct ruleset *rs = ruleset_new();
	char where[16], err[512];

	if (rs == NULL)
		return NULL;
	for (unsigned i = 1; i <= RULES_MAX_KEYS; i++) {
		if (self->inline_text[i] == NULL)
			continue;
		snprintf(where, sizeof(where), "rule%u", i);
		if (ruleset_add(rs, self->inline_text[i], where, err, sizeof(err)) < 0) {
			e.count++;
			if (cfg != NULL)
				self->host->config_error(cfg, where, "%s", err);
		}
	}
	if (self->file != NULL)
		ruleset_add_file(rs, self->file, st_r, rules_report, &e);
	if (e.count > 0)
		ruleset_unref(&rs);
	return rs;
}

static long long
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

static void
rules_set_identity(struct rules *self, const struct stat *st)
{
	self->file_mtime = st->st_mtim;
	self->file_ino = st->st_ino;
	self->file_size = st->st_size;
}

/* ---------------------------------------------------------------- reload */

/* Runs in a worker thread: stat, parse, swap. The host's log_global is the one
 * host function documented for worker threads. */
static void *
rules_reload_work(void *arg)
{
	struct rules *self = arg;
	struct ruleset *rs, *old;
	struct stat st;
	int same;

	if (stat(self->file, &st) < 0) {
		self->host->log_global(SLUICE_LOG_WARNING, "rules: %s: %s; keeping the rules in use",
		                       self->file, strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&self->lock);
	same = st.st_mtim.tv_sec == self->file_mtime.tv_sec &&
	       st.st_mtim.tv_nsec == self->file_mtime.tv_nsec && st.st_ino == self->file_ino &&
	       st.st_size == self->file_size;
	pthread_mutex_unlock(&self->lock);
	if (same)
		return NULL;
	rs = rules_build(self, NULL, &st);
	pthread_mutex_lock(&self->lock);
	/* Remember the file even when it is bad, so one bad edit is logged once. */
	rules_set_identity(self, &st);
	if (rs == NULL) {
		pthread_mutex_unlock(&self->lock);
		self->host->log_global(SLUICE_LOG_ERROR, "rules: %s not reloaded; keeping the rules "
		                       "in use", self->file);
		return NULL;
	}
	old = self->current;
	self->current = rs;
	pthread_mutex_unlock(&self->lock);
	self->host->log_global(SLUICE_LOG_INFO, "rules: reloaded %s: %zu rules", self->file, rs->n);
	ruleset_unref(&old);       /* sessions still using it hold their own reference */
	return NULL;
}

static void
rules_reload_done(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status,
                  void *result)
{
	struct rules *self = arg;

	(void)ctx;
	(void)status;
	(void)result;
	atomic_store(&self->reloading, false);
}

static void
rules_maybe_reload(struct rules *self, struct sluice_ctx *ctx)
{
	long long now = now_seconds(), next = atomic_load(&self->next_check);
	bool idle = false;

	if (self->file == NULL || self->reload_interval == 0 || now < next)
		return;
	if (!atomic_compare_exchange_strong(&self->next_check, &next,
	                                    now + self->reload_interval))
		return;                 /* another loop thread got there first */
	if (!atomic_compare_exchange_strong(&self->reloading, &idle, true))
		return;
	if (self->host->work(ctx, rules_reload_work, rules_reload_done, self) < 0)
		atomic_store(&self->reloading, false);
}

/* ---------------------------------------------------------------- sessions */

static struct rules_session *
rules_session(struct rules *self, struct sluice_ctx *ctx)
{
	struct rules_session *s = self->host->get_data(ctx, SLUICE_SCOPE_SESSION);
	const char *addr;

	if (s != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	pthread_mutex_lock(&self->lock);
	s->rs = ruleset_ref(self->current);
	pthread_mutex_unlock(&self->lock);
	addr = self->host->client_addr(ctx);
	s->client_ok = addr != NULL && rule_addr_parse(addr, &s->client) == 0;
	self->host->set_data(ctx, SLUICE_SCOPE_SESSION, s);
	return s;
}

struct rules_call {
	struct rules *self;
	struct sluice_ctx *ctx;
	const char *rcpt;       /* at rcpt: this one; else NULL: every accepted one */
};

static const char *
call_rcpt(void *arg, size_t i)
{
	struct rules_call *c = arg;

	return c->rcpt != NULL ? c->rcpt : c->self->host->rcpt(c->ctx, i);
}

static const char *
call_header(void *arg, const char *name, size_t index)
{
	struct rules_call *c = arg;

	return c->self->host->header_get(c->ctx, name, index);
}

static void
call_apply(void *arg, const struct rule *r)
{
	struct rules_call *c = arg;
	const struct sluice_host *h = c->self->host;
	char reason[64];

	if (r->action == RULE_ADD_HEADER) {
		if (h->header_add(c->ctx, r->field, r->text) < 0)
			h->log(c->ctx, SLUICE_LOG_WARNING, "%s: header %s refused", r->where, r->field);
	} else if (r->action == RULE_SCORE) {
		snprintf(reason, sizeof(reason), "rules %s", r->where);
		h->score_add(c->ctx, r->points, r->text ? r->text : reason);
	}
	h->log(c->ctx, SLUICE_LOG_DEBUG, "%s matched: %s", r->where, rule_action_name(r->action));
}

static enum sluice_verdict
verdict_of(const struct rules_call *c, const struct rule *r, int can_discard)
{
	const struct sluice_host *h = c->self->host;

	switch (r->action) {
	case RULE_ACCEPT:
		h->log(c->ctx, SLUICE_LOG_INFO, "%s: accept", r->where);
		return SLUICE_ACCEPT;
	case RULE_REJECT:
	case RULE_TEMPFAIL:
		h->log(c->ctx, SLUICE_LOG_INFO, "%s: %s", r->where, rule_action_name(r->action));
		if (r->code[0] != '\0')
			h->set_reply(c->ctx, r->code, r->ecode, r->text);
		return r->action == RULE_REJECT ? SLUICE_REJECT : SLUICE_TEMPFAIL;
	case RULE_DISCARD:
		/* Before MAIL there is no message to discard; mail decides it again. */
		if (!can_discard)
			return SLUICE_CONTINUE;
		h->log(c->ctx, SLUICE_LOG_INFO, "%s: discard", r->where);
		return SLUICE_DISCARD;
	default:
		return SLUICE_CONTINUE;
	}
}

/* One walk with what this phase knows. */
static enum sluice_verdict
rules_run(struct rules *self, struct sluice_ctx *ctx, unsigned known, const char *sender,
          const char *rcpt, int eom)
{
	const struct sluice_host *h = self->host;
	struct rules_session *s = rules_session(self, ctx);
	struct rules_call c = { self, ctx, rcpt };
	struct rule_facts f = { 0 };
	const struct rule *r;

	if (s == NULL)
		return SLUICE_TEMPFAIL;
	f.known = known;
	f.client = s->client_ok ? &s->client : NULL;
	f.client_name = h->client_name(ctx);
	f.helo = h->helo(ctx);
	f.login = h->login(ctx);
	f.sender = sender != NULL ? sender : h->sender(ctx);
	f.rcpt_count = rcpt != NULL ? 1 : (known & RULE_KNOWN(RULE_RCPT)) ? h->rcpt_count(ctx) : 0;
	f.rcpt = call_rcpt;
	f.header = call_header;
	f.arg = &c;
	if (ruleset_walk(s->rs, &f, eom ? call_apply : NULL, &c, &r) != RULESET_DECIDED)
		return SLUICE_CONTINUE;
	return verdict_of(&c, r, (known & RULE_KNOWN(RULE_SENDER)) != 0);
}

#define K(m) RULE_KNOWN(m)
#define KNOWN_CONNECT (K(RULE_CLIENT) | K(RULE_CLIENT_NAME))
#define KNOWN_HELO (KNOWN_CONNECT | K(RULE_HELO))
#define KNOWN_MAIL (KNOWN_HELO | K(RULE_LOGIN) | K(RULE_SENDER))
#define KNOWN_RCPT (KNOWN_MAIL | K(RULE_RCPT))
#define KNOWN_ALL (KNOWN_RCPT | K(RULE_HEADER))

static enum sluice_verdict
rules_connect(struct sluice_ctx *ctx, void *self)
{
	rules_maybe_reload(self, ctx);
	return rules_run(self, ctx, KNOWN_CONNECT, NULL, NULL, 0);
}

static enum sluice_verdict
rules_helo(struct sluice_ctx *ctx, void *self, const char *helo)
{
	(void)helo;
	return rules_run(self, ctx, KNOWN_HELO, NULL, NULL, 0);
}

static enum sluice_verdict
rules_mail(struct sluice_ctx *ctx, void *self, const char *sender, const char *const *params)
{
	(void)params;
	return rules_run(self, ctx, KNOWN_MAIL, sender, NULL, 0);
}

static enum sluice_verdict
rules_rcpt(struct sluice_ctx *ctx, void *self, const char *rcpt, const char *const *params)
{
	(void)params;
	return rules_run(self, ctx, KNOWN_RCPT, NULL, rcpt, 0);
}

static enum sluice_verdict
rules_eom(struct sluice_ctx *ctx, void *self)
{
	return rules_run(self, ctx, KNOWN_ALL, NULL, NULL, 1);
}

static void
rules_close(struct sluice_ctx *ctx, void *self_)
{
	struct rules *self = self_;
	struct rules_session *s = self->host->get_data(ctx, SLUICE_SCOPE_SESSION);

	if (s == NULL)
		return;
	self->host->set_data(ctx, SLUICE_SCOPE_SESSION, NULL);
	ruleset_unref(&s->rs);
	free(s);
}

/* ---------------------------------------------------------------- life cycle */

static void
rules_free(struct rules *self)
{
	for (unsigned i = 0; i <= RULES_MAX_KEYS; i++)
		free(self->inline_text[i]);
	free(self->file);
	ruleset_unref(&self->current);
	pthread_mutex_destroy(&self->lock);
	free(self);
}

static int
rules_parse_interval(const char *v, unsigned *seconds_r)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *v == '-')
		return -1;
	if (strcmp(end, "m") == 0)
		n *= 60;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return -1;
	if (n > 86400)
		return -1;
	*seconds_r = (unsigned)n;
	return 0;
}

static int
rules_have_inline(const struct rules *self)
{
	for (unsigned i = 1; i <= RULES_MAX_KEYS; i++)
		if (self->inline_text[i] != NULL)
			return 1;
	return 0;
}

static int
rules_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct rules *self = calloc(1, sizeof(*self));
	struct stat st = { 0 };
	const char *v;
	char key[16];
	int errors = 0;

	if (self == NULL)
		return -1;
	self->host = host;
	pthread_mutex_init(&self->lock, NULL);
	self->reload_interval = RULES_RELOAD_DEFAULT;
	/* Every ruleN is read, gaps allowed, so rule10/rule20/rule30 leave room. */
	for (unsigned i = 1; i <= RULES_MAX_KEYS; i++) {
		snprintf(key, sizeof(key), "rule%u", i);
		if ((v = host->config_get(cfg, key)) != NULL &&
		    (self->inline_text[i] = strdup(v)) == NULL)
			errors++;
	}
	if ((v = host->config_get(cfg, "rules_file")) != NULL && *v != '\0' &&
	    (self->file = strdup(v)) == NULL)
		errors++;
	if ((v = host->config_get(cfg, "reload_interval")) != NULL &&
	    rules_parse_interval(v, &self->reload_interval) < 0) {
		host->config_error(cfg, "reload_interval", "want seconds (10, 10s, 1m; 0 = never), "
		                   "got \"%s\"", v);
		errors++;
	}
	if (errors == 0 && self->file == NULL && !rules_have_inline(self)) {
		host->config_error(cfg, NULL, "no rules: set rule1 = ... or rules_file");
		errors++;
	}
	if (errors == 0 && (self->current = rules_build(self, cfg, &st)) == NULL)
		errors++;
	if (errors > 0) {
		rules_free(self);
		return -1;
	}
	rules_set_identity(self, &st);
	atomic_store(&self->next_check, now_seconds() + self->reload_interval);
	*self_r = self;
	return 0;
}

static void
rules_fini(void *self)
{
	rules_free(self);
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "rules",
	.description = "ordered access rules on client, HELO, sender, recipient, login, headers",
	.init = rules_init,
	.fini = rules_fini,
	.connect = rules_connect,
	.helo = rules_helo,
	.mail = rules_mail,
	.rcpt = rules_rcpt,
	.eom = rules_eom,
	.close = rules_close,
};
