/* dmarc.c - the dmarc filter: DMARC (RFC 7489) from the SPF and DKIM results
 * earlier filters noted, with the policy looked up through sluice's resolver. */

/*
 *   [filter dmarc]
 *   module = dmarc
 *   reject_action = reject            # p=reject: reject, quarantine or none
 *   quarantine_action = quarantine    # p=quarantine: quarantine or none
 *   temperror_action = none           # dmarc=temperror: none or tempfail
 *   override = lists.example.org      # domains whose policy is recorded, not enforced
 *   public_suffix_list = /usr/share/publicsuffix/public_suffix_list.dat
 *
 * It runs after spf and dkim. At the end of the header section it reads the
 * From field and starts the policy lookup (_dmarc.FROM, then _dmarc.ORG), so
 * the answer usually arrives while the body does; at the end of the message
 * it reads the spf.* and dkim.* notes, decides, and leaves dmarc.result,
 * dmarc.policy and auth-results.dmarc. doc/filters/dmarc.md has the rest.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/filter.h"
#include "sluice/host.h"
#include "sluice/types.h"

#include "dmarc_eval.h"
#include "dmarc_from.h"
#include "dmarc_psl.h"
#include "dmarc_record.h"

#ifndef DMARC_PSL_DEFAULT
#define DMARC_PSL_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dat"
#endif
#define DMARC_DKIM_MAX 64           /* signatures looked at, at most */
#define DMARC_NAME_MAX 253          /* a DNS name, without the trailing dot */

/* What init read; hooks only read it. */
struct dmarc {
	const struct sluice_host *host;
	struct dmarc_psl *psl;
	struct dmarc_actions actions;
	int temperror_tempfail;
	struct dmarc_domains override;
	int library;                /* libopendmarc was set up for us */
};

enum lookup { LOOKUP_IDLE = 0, LOOKUP_FROM, LOOKUP_ORG, LOOKUP_DONE };
enum found { FOUND_NONE = 0, FOUND_RECORD, FOUND_SEVERAL, FOUND_TEMPERROR };

/* One message; freed in reset. */
struct dmarc_tx {
	int started;                /* the From field was read */
	size_t from_fields;
	enum dmarc_from_status from_status;
	char from[DMARC_DOMAIN_MAX + 1];
	char org[DMARC_DOMAIN_MAX + 1];
	enum lookup lookup;
	enum found found;
	int at_org;                 /* the record is the Organizational Domain's */
	char *record;
	sluice_resume_t token;      /* eom is waiting for the lookup */
};

/* What was decided, for notes, the log and the verdict. */
struct outcome {
	enum dmarc_result result;
	enum dmarc_p dis;
	const struct dmarc_record *record;   /* NULL: none was used */
	const char *reason;                  /* a comment for Authentication-Results */
	const char *from;                    /* NULL: no usable From domain */
	const struct dmarc_eval *eval;       /* NULL: no evaluation */
	int overridden;
};

static void dmarc_dns_done(struct sluice_ctx *ctx, void *arg, const struct sluice_dns_answer *a);

/* ---------------------------------------------------------------- policy lookup */

/* Asks for _dmarc.DOMAIN. A name DNS cannot hold has no record: then the
 * Organizational Domain's (shorter) is next. */
static void
lookup_start(struct dmarc *self, struct sluice_ctx *ctx, struct dmarc_tx *tx, const char *domain,
             enum lookup stage)
{
	char name[DMARC_NAME_MAX + 2];

	tx->lookup = stage;
	if ((size_t)snprintf(name, sizeof(name), "_dmarc.%s", domain) > DMARC_NAME_MAX) {
		if (stage == LOOKUP_FROM && strcmp(tx->org, tx->from) != 0) {
			lookup_start(self, ctx, tx, tx->org, LOOKUP_ORG);
			return;
		}
		tx->found = FOUND_NONE;
		tx->lookup = LOOKUP_DONE;
		return;
	}
	if (self->host->dns_query(ctx, name, SLUICE_DNS_TXT, dmarc_dns_done, self) < 0) {
		tx->found = FOUND_TEMPERROR;
		tx->lookup = LOOKUP_DONE;
	}
}

/* RFC 7489 6.6.3: the From domain's record, else the Organizational Domain's;
 * several records, no policy; a temporary failure ends the search. */
static void
lookup_answer(struct dmarc *self, struct sluice_ctx *ctx, struct dmarc_tx *tx,
              const struct sluice_dns_answer *a)
{
	int idx = DMARC_RECORD_NONE;

	switch (a->status) {
	case SLUICE_ASYNC_OK:
		idx = dmarc_record_select(a->records, a->count);
		if (idx == DMARC_RECORD_SEVERAL) {
			tx->found = FOUND_SEVERAL;
			break;
		}
		if (idx >= 0) {
			tx->record = strdup(a->records[idx]);
			tx->found = tx->record != NULL ? FOUND_RECORD : FOUND_TEMPERROR;
			tx->at_org = tx->lookup == LOOKUP_ORG;
			break;
		}
		/* TXT records, none of them DMARC: as if there were none */
		/* fall through */
	case SLUICE_ASYNC_NXDOMAIN:
	case SLUICE_ASYNC_NODATA:
		if (tx->lookup == LOOKUP_FROM && strcmp(tx->org, tx->from) != 0) {
			lookup_start(self, ctx, tx, tx->org, LOOKUP_ORG);
			return;
		}
		tx->found = FOUND_NONE;
		break;
	default:
		tx->found = FOUND_TEMPERROR;
		break;
	}
	tx->lookup = LOOKUP_DONE;
}

/* Reads the From field and starts the lookup (eoh, or eom when eoh did not run). */
static void
dmarc_start(struct dmarc *self, struct sluice_ctx *ctx, struct dmarc_tx *tx)
{
	const char *v;

	tx->started = 1;
	tx->lookup = LOOKUP_DONE;
	tx->from_fields = self->host->header_count(ctx, "From");
	if (tx->from_fields != 1)
		return;
	v = self->host->header_get(ctx, "From", 1);
	tx->from_status = v != NULL ? dmarc_from_domain(v, tx->from, sizeof(tx->from)) : DMARC_FROM_BAD;
	if (tx->from_status != DMARC_FROM_OK)
		return;
	if (dmarc_psl_org_domain(self->psl, tx->from, tx->org, sizeof(tx->org)) < 0)
		memcpy(tx->org, tx->from, sizeof(tx->org));
	lookup_start(self, ctx, tx, tx->from, LOOKUP_FROM);
}

/* ---------------------------------------------------------------- deciding */

static const char *
domain_of(const char *address)
{
	const char *at = address != NULL ? strrchr(address, '@') : NULL;

	return at != NULL ? at + 1 : "";
}

/* The SPF result and every DKIM signature the earlier filters noted. */
static void
read_auth_notes(struct dmarc *self, struct sluice_ctx *ctx, struct dmarc_eval *e)
{
	const struct sluice_host *h = self->host;
	int64_t count = h->note_get_int(ctx, "dkim.count", 0);
	char key[64];

	dmarc_eval_spf(e, h->note_get(ctx, "spf.result"), h->note_get(ctx, "spf.domain"));
	if (count > DMARC_DKIM_MAX) {
		h->log(ctx, SLUICE_LOG_WARNING, "%lld DKIM results; looking at the first %d",
		       (long long)count, DMARC_DKIM_MAX);
		count = DMARC_DKIM_MAX;
	}
	for (int64_t i = 1; i <= count; i++) {
		const char *result, *domain;

		snprintf(key, sizeof(key), "dkim.%lld.result", (long long)i);
		result = h->note_get(ctx, key);
		snprintf(key, sizeof(key), "dkim.%lld.domain", (long long)i);
		domain = h->note_get(ctx, key);
		dmarc_eval_dkim(e, result, domain);
	}
}

static void
decide_record(struct dmarc *self, struct sluice_ctx *ctx, struct dmarc_tx *tx,
              struct dmarc_record *rec, struct dmarc_eval *e, struct outcome *o)
{
	const char *why;

	if (dmarc_record_parse(tx->record, tx->from, tx->at_org ? tx->org : NULL, rec, &why) < 0) {
		o->result = DMARC_RESULT_PERMERROR;
		o->reason = why;
		self->host->log(ctx, SLUICE_LOG_INFO, "DMARC record of %s unusable: %s",
		                tx->at_org ? tx->org : tx->from, why);
		return;
	}
	o->record = rec;
	if (rec->p_none_by_rua)
		o->reason = "broken record read as p=none";
	dmarc_eval_init(e, self->psl, tx->from, rec);
	read_auth_notes(self, ctx, e);
	o->eval = e;
	o->result = dmarc_eval_result(e);
	if (o->result != DMARC_RESULT_FAIL)
		return;
	o->overridden = dmarc_domains_match(&self->override, tx->from) ||
	                dmarc_domains_match(&self->override, domain_of(self->host->sender(ctx)));
	/* arc4random: uniform and thread-safe; pct=0 and pct=100 never depend on it. */
	o->dis = dmarc_disposition(rec->requested, rec->pct, arc4random_uniform(100), o->overridden,
	                           &self->actions);
}

static void
record_outcome(struct dmarc *self, struct sluice_ctx *ctx, const struct outcome *o)
{
	const struct sluice_host *h = self->host;
	const struct dmarc_eval *e = o->eval;
	char clause[512], aligned[DMARC_DOMAIN_MAX + 16] = "-", policy[48] = "-";

	h->note_set(ctx, SLUICE_SCOPE_TX, "dmarc.result", dmarc_result_name(o->result));
	h->note_set(ctx, SLUICE_SCOPE_TX, "dmarc.policy", dmarc_p_name(o->dis));
	if (dmarc_ar_clause(clause, sizeof(clause), o->result, o->record, o->dis, o->reason,
	                    o->from) == 0)
		h->note_set(ctx, SLUICE_SCOPE_TX, "auth-results.dmarc", clause);
	if (o->record != NULL)
		snprintf(policy, sizeof(policy), "%s pct=%d", dmarc_p_name(o->record->requested),
		         o->record->pct);
	if (e != NULL && (e->spf_pass || e->dkim_pass))
		snprintf(aligned, sizeof(aligned), "%s%s%s%s", e->spf_pass ? "spf" : "",
		         e->spf_pass && e->dkim_pass ? "," : "", e->dkim_pass ? "dkim:" : "",
		         e->dkim_pass ? e->dkim_domain : "");
	h->log(ctx, SLUICE_LOG_INFO, "dmarc=%s header.from=%s policy=%s aligned=%s dis=%s%s%s%s",
	       dmarc_result_name(o->result), o->from ? o->from : "-", policy, aligned,
	       dmarc_p_name(o->dis), o->overridden ? " (override)" : "", o->reason ? ": " : "",
	       o->reason ? o->reason : "");
	h->counter_add(ctx, dmarc_result_name(o->result), 1);
}

static enum sluice_verdict
dmarc_decide(struct dmarc *self, struct sluice_ctx *ctx, struct dmarc_tx *tx)
{
	const struct sluice_host *h = self->host;
	struct outcome o = { .result = DMARC_RESULT_NONE, .dis = DMARC_P_NONE };
	struct dmarc_record rec;
	struct dmarc_eval e;
	char text[400];

	if (tx->from_fields != 1 || tx->from_status != DMARC_FROM_OK) {
		/* RFC 7489 6.6.1: no single Author Domain, no evaluation. */
		o.result = DMARC_RESULT_PERMERROR;
		o.reason = tx->from_fields == 0 ? "no From field" : tx->from_fields > 1
		           ? "several From fields" : dmarc_from_status_text(tx->from_status);
	} else {
		o.from = tx->from;
		if (tx->found == FOUND_TEMPERROR) {
			o.result = DMARC_RESULT_TEMPERROR;
			o.reason = "policy lookup failed";
		} else if (tx->found == FOUND_SEVERAL) {
			o.reason = "several DMARC records";
		} else if (tx->found == FOUND_RECORD) {
			decide_record(self, ctx, tx, &rec, &e, &o);
		}
	}
	record_outcome(self, ctx, &o);
	switch (o.dis) {
	case DMARC_P_REJECT:
		snprintf(text, sizeof(text), "Rejected by the DMARC policy of %s", tx->from);
		h->set_reply(ctx, "550", "5.7.1", text);
		h->counter_add(ctx, "rejected", 1);
		return SLUICE_REJECT;
	case DMARC_P_QUARANTINE:
		h->counter_add(ctx, "quarantined", 1);
		return SLUICE_QUARANTINE;
	default:
		break;
	}
	if (o.result == DMARC_RESULT_TEMPERROR && self->temperror_tempfail) {
		snprintf(text, sizeof(text), "DMARC check of %s failed temporarily, try again later",
		         tx->from);
		h->set_reply(ctx, "451", "4.4.3", text);
		h->counter_add(ctx, "tempfailed", 1);
		return SLUICE_TEMPFAIL;
	}
	return SLUICE_CONTINUE;
}

/* ---------------------------------------------------------------- hooks */

static struct dmarc_tx *
tx_of(struct dmarc *self, struct sluice_ctx *ctx)
{
	struct dmarc_tx *tx = self->host->get_data(ctx, SLUICE_SCOPE_TX);

	if (tx == NULL && (tx = calloc(1, sizeof(*tx))) != NULL)
		self->host->set_data(ctx, SLUICE_SCOPE_TX, tx);
	return tx;
}

/* Transaction requests are cancelled before reset runs, so a callback that
 * gets a ctx always finds its transaction's data. */
static void
dmarc_dns_done(struct sluice_ctx *ctx, void *arg, const struct sluice_dns_answer *a)
{
	struct dmarc *self = arg;
	struct dmarc_tx *tx;
	sluice_resume_t token;
	enum sluice_verdict v;

	if (ctx == NULL)
		return;                 /* cancelled: reset frees what we kept */
	tx = self->host->get_data(ctx, SLUICE_SCOPE_TX);
	if (tx == NULL || (tx->lookup != LOOKUP_FROM && tx->lookup != LOOKUP_ORG))
		return;
	lookup_answer(self, ctx, tx, a);
	if (tx->lookup != LOOKUP_DONE || tx->token == 0)
		return;                 /* another lookup, or eom has not come yet */
	token = tx->token;
	tx->token = 0;
	v = dmarc_decide(self, ctx, tx);
	/* The chain goes on inside resume and may end the transaction: tx is
	 * not ours to touch afterwards. */
	self->host->resume(token, v);
}

static enum sluice_verdict
dmarc_eoh(struct sluice_ctx *ctx, void *self_)
{
	struct dmarc *self = self_;
	struct dmarc_tx *tx = tx_of(self, ctx);

	if (tx != NULL && !tx->started)
		dmarc_start(self, ctx, tx);
	return SLUICE_CONTINUE;     /* a failed allocation is retried at eom */
}

static enum sluice_verdict
dmarc_eom(struct sluice_ctx *ctx, void *self_)
{
	struct dmarc *self = self_;
	struct dmarc_tx *tx = tx_of(self, ctx);

	if (tx == NULL) {
		self->host->log(ctx, SLUICE_LOG_ERROR, "out of memory");
		return SLUICE_TEMPFAIL;
	}
	if (!tx->started)
		dmarc_start(self, ctx, tx);
	if (tx->lookup == LOOKUP_DONE)
		return dmarc_decide(self, ctx, tx);
	tx->token = self->host->suspend(ctx);
	if (tx->token == 0)
		return SLUICE_TEMPFAIL;
	return SLUICE_PENDING;
}

static void
dmarc_reset(struct sluice_ctx *ctx, void *self_)
{
	struct dmarc *self = self_;
	struct dmarc_tx *tx = self->host->get_data(ctx, SLUICE_SCOPE_TX);

	if (tx == NULL)
		return;
	self->host->set_data(ctx, SLUICE_SCOPE_TX, NULL);
	free(tx->record);
	free(tx);
}

/* ---------------------------------------------------------------- life cycle */

static void
dmarc_free(struct dmarc *self)
{
	dmarc_psl_free(&self->psl);
	dmarc_domains_free(&self->override);
	if (self->library)
		dmarc_record_library_shutdown();
	free(self);
}

static int
read_action(const struct sluice_host *host, struct sluice_filter_config *cfg, const char *key,
            unsigned allowed, const char *words, enum dmarc_p *p)
{
	const char *v = host->config_get(cfg, key);

	if (v == NULL || dmarc_p_parse(v, allowed, p) == 0)
		return 0;
	host->config_error(cfg, key, "want %s, got \"%s\"", words, v);
	return 1;
}

static int
dmarc_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct dmarc *self = calloc(1, sizeof(*self));
	const char *v, *psl;
	char err[512];
	int errors = 0;

	if (self == NULL)
		return -1;
	self->host = host;
	self->actions.on_reject = DMARC_P_REJECT;
	self->actions.on_quarantine = DMARC_P_QUARANTINE;
	errors += read_action(host, cfg, "reject_action",
	                      1u << DMARC_P_REJECT | 1u << DMARC_P_QUARANTINE | 1u << DMARC_P_NONE,
	                      "reject, quarantine or none", &self->actions.on_reject);
	errors += read_action(host, cfg, "quarantine_action",
	                      1u << DMARC_P_QUARANTINE | 1u << DMARC_P_NONE, "quarantine or none",
	                      &self->actions.on_quarantine);
	if ((v = host->config_get(cfg, "temperror_action")) != NULL) {
		if (strcasecmp(v, "tempfail") == 0)
			self->temperror_tempfail = 1;
		else if (strcasecmp(v, "none") != 0) {
			host->config_error(cfg, "temperror_action", "want none or tempfail, got \"%s\"", v);
			errors++;
		}
	}
	if ((v = host->config_get(cfg, "override")) != NULL &&
	    dmarc_domains_parse(&self->override, v, err, sizeof(err)) < 0) {
		host->config_error(cfg, "override", "want domain names, got \"%s\"", err);
		errors++;
	}
	psl = host->config_get(cfg, "public_suffix_list");
	if (psl == NULL || *psl == '\0')
		psl = DMARC_PSL_DEFAULT;
	if ((self->psl = dmarc_psl_load(psl, err, sizeof(err))) == NULL) {
		host->config_error(cfg, "public_suffix_list", "%s", err);
		errors++;
	}
	if (errors == 0) {
		if (dmarc_record_library_init() < 0) {
			host->config_error(cfg, NULL, "libopendmarc did not initialize");
			errors++;
		} else {
			self->library = 1;
		}
	}
	if (errors > 0) {
		dmarc_free(self);
		return -1;
	}
	host->log_global(SLUICE_LOG_DEBUG, "dmarc: %zu public suffix rules from %s",
	                 dmarc_psl_count(self->psl), psl);
	*self_r = self;
	return 0;
}

static void
dmarc_fini(void *self)
{
	dmarc_free(self);
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "dmarc",
	.description = "DMARC policy from the spf and dkim filters' results (RFC 7489)",
	.init = dmarc_init,
	.fini = dmarc_fini,
	.eoh = dmarc_eoh,
	.eom = dmarc_eom,
	.reset = dmarc_reset,
};
