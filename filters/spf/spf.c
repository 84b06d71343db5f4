/* spf.c - the spf filter: the HELO and MAIL FROM identities checked against the
 * sender domains' SPF records (RFC 7208), a policy per result, the results
 * left as notes and a Received-SPF field. */

/*
 *   [filter spf]
 *   module = spf
 *   fail = reject                 # reject, tempfail, score:N or none, per result
 *   softfail = score:2.0
 *   skip = 192.0.2.0/24           # trusted forwarders and relays: not checked
 *   helo_fail = none              # reject: a failing HELO name refuses MAIL too
 *   authenticated = skip          # check: authenticated sessions are checked too
 *
 * doc/filters/spf.md has the keys and their defaults. libspf2 evaluates in the
 * worker pool (its DNS is synchronous) and asks sluice's resolver through
 * spf_dns.c; spf_check.c maps its answer onto the seven results.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sluice/filter.h"
#include "sluice/host.h"
#include "sluice/types.h"

#include "spf_check.h"
#include "spf_policy.h"
#include "spf_text.h"

struct spf_filter {
	const struct sluice_host *host;
	struct spf_policy policy;
	struct spf_checker *checker;    /* shared by the worker threads */
	struct spf_resolver resolver;   /* the host's dns_query_wait */
	char receiver[256];             /* our host name, for Received-SPF */
};

/* Per session: the HELO identity's result, checked once per HELO name. */
struct spf_session {
	char *helo;
	struct spf_outcome helo_out;
};

/* Per transaction: the Received-SPF value to add at the end of the message. */
struct spf_tx {
	char *received;
};

/* One MAIL's evaluation, on its way to the worker pool and back. */
struct spf_job {
	struct spf_filter *self;
	sluice_resume_t token;
	char ip[64];
	char *helo;                     /* "" when the client sent none */
	char *sender;                   /* "" for the null sender */
	int check_helo;                 /* else helo_out comes from the session */
	struct spf_outcome helo_out, mfrom_out;
};

/* ---------------------------------------------------------------- data */

static void
job_free(struct spf_job *job)
{
	free(job->helo);
	free(job->sender);
	free(job);
}

static void
tx_free(struct spf_filter *self, struct sluice_ctx *ctx)
{
	struct spf_tx *tx = self->host->get_data(ctx, SLUICE_SCOPE_TX);

	if (tx == NULL)
		return;
	self->host->set_data(ctx, SLUICE_SCOPE_TX, NULL);
	free(tx->received);
	free(tx);
}

static struct spf_session *
session_get(struct spf_filter *self, struct sluice_ctx *ctx)
{
	struct spf_session *ss = self->host->get_data(ctx, SLUICE_SCOPE_SESSION);

	if (ss == NULL && (ss = calloc(1, sizeof(*ss))) != NULL)
		self->host->set_data(ctx, SLUICE_SCOPE_SESSION, ss);
	return ss;
}

/* Client text for a log line: printable ASCII only, bounded. */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* ---------------------------------------------------------------- the work */

/* Worker thread: libspf2 and dns_query_wait only, no other host call. */
static void *
spf_job_run(void *arg)
{
	struct spf_job *job = arg;
	struct spf_identity id = { job->ip, job->helo, job->sender, SPF_SCOPE_HELO };

	if (job->check_helo)
		spf_check(job->self->checker, &job->self->resolver, &id, &job->helo_out);
	if (job->sender[0] != '\0') {
		id.scope = SPF_SCOPE_MFROM;
		spf_check(job->self->checker, &job->self->resolver, &id, &job->mfrom_out);
	}
	return job;
}

static void
notes_set(struct spf_filter *self, struct sluice_ctx *ctx, const struct spf_job *job,
          const struct spf_outcome *o)
{
	const struct sluice_host *h = self->host;
	char ar[400];

	h->note_set(ctx, SLUICE_SCOPE_SESSION, "spf.helo_result", spf_res_name(job->helo_out.result));
	h->note_set(ctx, SLUICE_SCOPE_TX, "spf.result", spf_res_name(o->result));
	h->note_set(ctx, SLUICE_SCOPE_TX, "spf.domain", o->domain);
	h->note_set(ctx, SLUICE_SCOPE_TX, "spf.scope", o->scope == SPF_SCOPE_HELO ? "helo" : "mfrom");
	if (spf_authres_build(ar, sizeof(ar), o) > 0)
		h->note_set(ctx, SLUICE_SCOPE_TX, "auth-results.spf", ar);
}

/* Keep the Received-SPF value for eom, where header edits are allowed. It is
 * kept whatever the verdict: with dry_run the message goes on regardless. */
static void
received_keep(struct spf_filter *self, struct sluice_ctx *ctx, const struct spf_job *job,
              const struct spf_outcome *o)
{
	struct spf_identity id = { job->ip, job->helo, job->sender, o->scope };
	char value[SPF_TEXT_MAX];
	struct spf_tx *tx;

	tx_free(self, ctx);
	if (spf_received_build(value, sizeof(value), o, &id, self->receiver) < 0) {
		self->host->log(ctx, SLUICE_LOG_WARNING, "Received-SPF field too long; not added");
		return;
	}
	if ((tx = calloc(1, sizeof(*tx))) == NULL || (tx->received = strdup(value)) == NULL) {
		free(tx);
		return;
	}
	self->host->set_data(ctx, SLUICE_SCOPE_TX, tx);
}

/* The verdict for outcome o (and, with helo_fail = reject, for a failing
 * HELO name); sets the reply or adds the score. */
static enum sluice_verdict
spf_decide(struct spf_filter *self, struct sluice_ctx *ctx, const struct spf_job *job,
           const struct spf_outcome *o, struct spf_action *a_r)
{
	const struct sluice_host *h = self->host;
	const struct spf_outcome *why = o;
	struct spf_reply r;
	char reason[64];

	*a_r = self->policy.on[o->result];
	if (a_r->act != SPF_ACT_REJECT && job->sender[0] != '\0' &&
	    job->helo_out.result == SPF_RES_FAIL && self->policy.helo_fail_reject) {
		a_r->act = SPF_ACT_REJECT;
		why = &job->helo_out;
	}
	switch (a_r->act) {
	case SPF_ACT_REJECT:
	case SPF_ACT_TEMPFAIL:
		spf_reply_build(&r, a_r->act, why, job->ip);
		h->set_reply(ctx, r.code, r.ecode, r.text);
		return a_r->act == SPF_ACT_REJECT ? SLUICE_REJECT : SLUICE_TEMPFAIL;
	case SPF_ACT_SCORE:
		snprintf(reason, sizeof(reason), "SPF %s", spf_res_name(o->result));
		h->score_add(ctx, a_r->points, reason);
		return SLUICE_CONTINUE;
	default:
		return SLUICE_CONTINUE;
	}
}

static void
decision_log(struct spf_filter *self, struct sluice_ctx *ctx, const struct spf_job *job,
             const struct spf_outcome *o, const struct spf_action *a)
{
	char who[300], helo[300], act[48];
	const char *hr = spf_res_name(job->helo_out.result);

	if (a->act == SPF_ACT_SCORE)
		snprintf(act, sizeof(act), "score %+.2f", a->points);
	else
		snprintf(act, sizeof(act), "%s", spf_act_name(a->act));
	printable(job->helo, helo, sizeof(helo));
	if (o->scope == SPF_SCOPE_MFROM)
		self->host->log(ctx, SLUICE_LOG_INFO, "mailfrom <%s> from %s: %s%s%s%s; helo %s: %s; "
		                "action %s", printable(job->sender, who, sizeof(who)), job->ip,
		                spf_res_name(o->result), o->problem[0] ? " (" : "", o->problem,
		                o->problem[0] ? ")" : "", helo, hr, act);
	else
		self->host->log(ctx, SLUICE_LOG_INFO, "helo %s (null sender) from %s: %s%s%s%s; "
		                "action %s", helo, job->ip, spf_res_name(o->result),
		                o->problem[0] ? " (" : "", o->problem, o->problem[0] ? ")" : "", act);
}

/* Loop thread: the results become notes, a field, a verdict. */
static void
spf_job_done(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status, void *result)
{
	struct spf_job *job = arg;
	struct spf_filter *self = job->self;
	const struct spf_outcome *o;
	struct spf_session *ss;
	struct spf_action a;
	enum sluice_verdict v;

	(void)result;           /* the job itself */
	if (status == SLUICE_ASYNC_CANCELLED || ctx == NULL) {
		job_free(job);
		return;
	}
	ss = self->host->get_data(ctx, SLUICE_SCOPE_SESSION);
	if (job->check_helo && ss != NULL) {
		char helo[300];

		/* A temporary error is not kept: the next MAIL asks again. */
		free(ss->helo);
		ss->helo = job->helo_out.result != SPF_RES_TEMPERROR ? strdup(job->helo) : NULL;
		ss->helo_out = job->helo_out;
		self->host->log(ctx, SLUICE_LOG_DEBUG, "checked HELO %s: %s",
		                printable(job->helo, helo, sizeof(helo)),
		                spf_res_name(job->helo_out.result));
	}
	/* RFC 7208 2.4: for the null sender the HELO result is the MAIL FROM result. */
	o = job->sender[0] != '\0' ? &job->mfrom_out : &job->helo_out;
	notes_set(self, ctx, job, o);
	received_keep(self, ctx, job, o);
	v = spf_decide(self, ctx, job, o, &a);
	decision_log(self, ctx, job, o, &a);
	self->host->counter_add(ctx, spf_res_name(o->result), 1);
	self->host->resume(job->token, v);
	job_free(job);
}

/* ---------------------------------------------------------------- hooks */

/* 1 when this session is not checked: authenticated, loopback (libspf2 would
 * call it "pass" unasked), in the skip list, or without a usable address. */
static int
spf_skipped(struct spf_filter *self, struct sluice_ctx *ctx, char *ip, size_t len)
{
	const struct sluice_host *h = self->host;
	const char *addr = h->client_addr(ctx);
	struct spf_addr a;

	if (h->login(ctx) != NULL && !self->policy.check_authenticated) {
		h->log(ctx, SLUICE_LOG_DEBUG, "authenticated session: not checked");
		return 1;
	}
	if (addr == NULL || spf_addr_parse(addr, &a) < 0) {
		h->log(ctx, SLUICE_LOG_DEBUG, "no IP address for the client: not checked");
		return 1;
	}
	if (spf_addr_is_loopback(&a) || spf_policy_skips(&self->policy, &a)) {
		h->log(ctx, SLUICE_LOG_DEBUG, "client %s is loopback or in skip: not checked", addr);
		return 1;
	}
	spf_addr_format(&a, ip, len);
	return 0;
}

static struct spf_job *
job_new(struct spf_filter *self, struct spf_session *ss, const char *ip, const char *helo,
        const char *sender)
{
	struct spf_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return NULL;
	job->self = self;
	snprintf(job->ip, sizeof(job->ip), "%s", ip);
	job->helo = strdup(helo != NULL ? helo : "");
	job->sender = strdup(sender);
	if (job->helo == NULL || job->sender == NULL) {
		job_free(job);
		return NULL;
	}
	job->check_helo = ss->helo == NULL || strcasecmp(ss->helo, job->helo) != 0;
	if (!job->check_helo)
		job->helo_out = ss->helo_out;
	return job;
}

static enum sluice_verdict
spf_unavailable(struct spf_filter *self, struct sluice_ctx *ctx)
{
	self->host->set_reply(ctx, "451", "4.7.24", "SPF check unavailable, try again later");
	return SLUICE_TEMPFAIL;
}

static enum sluice_verdict
spf_mail(struct sluice_ctx *ctx, void *self_, const char *sender, const char *const *params)
{
	struct spf_filter *self = self_;
	const struct sluice_host *h = self->host;
	struct spf_session *ss;
	struct spf_job *job;
	char ip[64];

	(void)params;
	/* A MAIL refused earlier in the session may have left its field behind. */
	tx_free(self, ctx);
	if (spf_skipped(self, ctx, ip, sizeof(ip)))
		return SLUICE_CONTINUE;
	if ((ss = session_get(self, ctx)) == NULL ||
	    (job = job_new(self, ss, ip, h->helo(ctx), sender)) == NULL)
		return spf_unavailable(self, ctx);
	job->token = h->suspend(ctx);
	if (h->work(ctx, spf_job_run, spf_job_done, job) < 0) {
		job_free(job);          /* no callback will come */
		return spf_unavailable(self, ctx);
	}
	return SLUICE_PENDING;
}

static enum sluice_verdict
spf_eom(struct sluice_ctx *ctx, void *self_)
{
	struct spf_filter *self = self_;
	struct spf_tx *tx = self->host->get_data(ctx, SLUICE_SCOPE_TX);

	if (tx != NULL && tx->received != NULL &&
	    self->host->header_add(ctx, "Received-SPF", tx->received) < 0)
		self->host->log(ctx, SLUICE_LOG_WARNING, "Received-SPF field refused");
	return SLUICE_CONTINUE;
}

static void
spf_reset(struct sluice_ctx *ctx, void *self)
{
	tx_free(self, ctx);
}

static void
spf_close(struct sluice_ctx *ctx, void *self_)
{
	struct spf_filter *self = self_;
	struct spf_session *ss = self->host->get_data(ctx, SLUICE_SCOPE_SESSION);

	if (ss == NULL)
		return;
	self->host->set_data(ctx, SLUICE_SCOPE_SESSION, NULL);
	free(ss->helo);
	free(ss);
}

/* ---------------------------------------------------------------- life cycle */

static int
read_word(const struct sluice_host *host, struct sluice_filter_config *cfg, const char *key,
          const char *no, const char *yes, int *out)
{
	const char *v = host->config_get(cfg, key);

	if (v == NULL)
		return 0;
	if (strcasecmp(v, yes) == 0 || strcasecmp(v, no) == 0) {
		*out = strcasecmp(v, yes) == 0;
		return 0;
	}
	host->config_error(cfg, key, "want %s or %s, got \"%s\"", no, yes, v);
	return -1;
}

static int
read_keys(struct spf_filter *self, struct sluice_filter_config *cfg)
{
	const struct sluice_host *host = self->host;
	const char *v;
	char err[160];
	int errors = 0;

	for (int r = 0; r < SPF_RES_COUNT; r++) {
		const char *key = spf_res_name((enum spf_res)r);

		if ((v = host->config_get(cfg, key)) != NULL &&
		    spf_action_parse(v, &self->policy.on[r], err, sizeof(err)) < 0) {
			host->config_error(cfg, key, "%s", err);
			errors++;
		}
	}
	if ((v = host->config_get(cfg, "skip")) != NULL &&
	    spf_policy_skip_parse(&self->policy, v, err, sizeof(err)) < 0) {
		host->config_error(cfg, "skip", "%s", err);
		errors++;
	}
	if (read_word(host, cfg, "helo_fail", "none", "reject", &self->policy.helo_fail_reject) < 0)
		errors++;
	if (read_word(host, cfg, "authenticated", "skip", "check",
	              &self->policy.check_authenticated) < 0)
		errors++;
	return errors == 0 ? 0 : -1;
}

static void
spf_free(struct spf_filter *self)
{
	spf_checker_free(&self->checker);
	spf_policy_clear(&self->policy);
	free(self);
}

static int
spf_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct spf_filter *self = calloc(1, sizeof(*self));

	if (self == NULL)
		return -1;
	self->host = host;
	spf_policy_defaults(&self->policy);
	if (read_keys(self, cfg) < 0) {
		spf_free(self);
		return -1;
	}
	if (host->struct_size < sizeof(*host) || host->dns_query_wait == NULL ||
	    host->dns_answer_free == NULL) {
		host->config_error(cfg, NULL, "this sluiced lends filters no dns_query_wait");
		spf_free(self);
		return -1;
	}
	self->resolver.query = host->dns_query_wait;
	self->resolver.answer_free = host->dns_answer_free;
	if (gethostname(self->receiver, sizeof(self->receiver) - 1) < 0)
		self->receiver[0] = '\0';
	/* libspf2 prints its warnings on stderr; every problem it has reaches us
	 * as a result, so they say nothing new. */
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	if ((self->checker = spf_checker_new(self->receiver)) == NULL) {
		host->config_error(cfg, NULL, "cannot set up libspf2 (out of memory)");
		spf_free(self);
		return -1;
	}
	*self_r = self;
	return 0;
}

static void
spf_fini(void *self)
{
	spf_free(self);
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "spf",
	.description = "SPF (RFC 7208) check of the HELO and MAIL FROM identities",
	.init = spf_init,
	.fini = spf_fini,
	.mail = spf_mail,
	.eom = spf_eom,
	.reset = spf_reset,
	.close = spf_close,
};
