/* stub_authnotes.c - test filter: leaves the notes the spf and dkim filters
 * would leave, from its keys, and shows notes as headers; for test_dmarc.py. */

/*
 *   [filter authnotes]
 *   module = .../stub_authnotes.so
 *   spf_result = pass                 # at mail: spf.result, spf.domain, spf.scope
 *   spf_domain = example.org          # default: the MAIL FROM domain (HELO for <>)
 *   dkim_results = pass:example.org fail:other.example   # at eom: dkim.*
 *
 *   [filter report]                   # a second section, after dmarc
 *   module = .../stub_authnotes.so
 *   report_notes = dmarc.result dmarc.policy auth-results.dmarc
 *
 * report_notes adds "X-Note-KEY: VALUE" at eom for each note that is set.
 * Without keys the filter does nothing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/filter.h"
#include "sluice/host.h"
#include "sluice/types.h"

struct authnotes {
	const struct sluice_host *host;
	char *spf_result, *spf_domain;
	char *dkim_results;       /* "RESULT:DOMAIN ..." */
	char *report_notes;       /* "KEY ..." */
};

static char *
dup_key(const struct sluice_host *host, struct sluice_filter_config *cfg, const char *key)
{
	const char *v = host->config_get(cfg, key);

	return v != NULL && *v != '\0' ? strdup(v) : NULL;
}

static void
authnotes_free(struct authnotes *a)
{
	free(a->spf_result);
	free(a->spf_domain);
	free(a->dkim_results);
	free(a->report_notes);
	free(a);
}

/* Every blank-separated word is RESULT:DOMAIN, both non-empty. */
static int
dkim_results_ok(const char *v)
{
	for (const char *w = v; *w != '\0';) {
		size_t n = strcspn(w, " ");
		const char *colon = memchr(w, ':', n);

		if (n > 0 && (colon == NULL || colon == w || colon == w + n - 1))
			return 0;
		w += n;
		while (*w == ' ')
			w++;
	}
	return 1;
}

static int
authnotes_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct authnotes *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -1;
	a->host = host;
	a->spf_result = dup_key(host, cfg, "spf_result");
	a->spf_domain = dup_key(host, cfg, "spf_domain");
	a->dkim_results = dup_key(host, cfg, "dkim_results");
	a->report_notes = dup_key(host, cfg, "report_notes");
	if (a->dkim_results != NULL && !dkim_results_ok(a->dkim_results)) {
		host->config_error(cfg, "dkim_results", "want RESULT:DOMAIN ..., got \"%s\"",
		                   a->dkim_results);
		authnotes_free(a);
		return -1;
	}
	*self_r = a;
	return 0;
}

static void
authnotes_fini(void *self)
{
	authnotes_free(self);
}

static enum sluice_verdict
authnotes_mail(struct sluice_ctx *ctx, void *self, const char *sender, const char *const *params)
{
	struct authnotes *a = self;
	const char *at = strrchr(sender, '@'), *domain = a->spf_domain, *scope = "mfrom";

	(void)params;
	if (a->spf_result == NULL)
		return SLUICE_CONTINUE;
	if (domain == NULL && at != NULL)
		domain = at + 1;
	if (domain == NULL) {
		domain = a->host->helo(ctx) ? a->host->helo(ctx) : "";
		scope = "helo";
	}
	a->host->note_set(ctx, SLUICE_SCOPE_TX, "spf.result", a->spf_result);
	a->host->note_set(ctx, SLUICE_SCOPE_TX, "spf.domain", domain);
	a->host->note_set(ctx, SLUICE_SCOPE_TX, "spf.scope", scope);
	return SLUICE_CONTINUE;
}

static void
set_dkim_notes(struct authnotes *a, struct sluice_ctx *ctx)
{
	char *copy = strdup(a->dkim_results), *save = NULL, key[64];
	int n = 0;

	if (copy == NULL)
		return;
	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(w, ':');

		*colon = '\0';
		n++;
		snprintf(key, sizeof(key), "dkim.%d.result", n);
		a->host->note_set(ctx, SLUICE_SCOPE_TX, key, w);
		snprintf(key, sizeof(key), "dkim.%d.domain", n);
		a->host->note_set(ctx, SLUICE_SCOPE_TX, key, colon + 1);
		snprintf(key, sizeof(key), "dkim.%d.selector", n);
		a->host->note_set(ctx, SLUICE_SCOPE_TX, key, "stub");
	}
	a->host->note_set_int(ctx, SLUICE_SCOPE_TX, "dkim.count", n);
	free(copy);
}

static void
report(struct authnotes *a, struct sluice_ctx *ctx)
{
	char *copy = strdup(a->report_notes), *save = NULL, name[160];

	if (copy == NULL)
		return;
	for (char *k = strtok_r(copy, " ", &save); k != NULL; k = strtok_r(NULL, " ", &save)) {
		const char *v = a->host->note_get(ctx, k);

		if (v == NULL)
			continue;
		snprintf(name, sizeof(name), "X-Note-%s", k);
		a->host->header_add(ctx, name, v);
	}
	free(copy);
}

static enum sluice_verdict
authnotes_eom(struct sluice_ctx *ctx, void *self)
{
	struct authnotes *a = self;

	if (a->dkim_results != NULL)
		set_dkim_notes(a, ctx);
	if (a->report_notes != NULL)
		report(a, ctx);
	return SLUICE_CONTINUE;
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "authnotes",
	.description = "test filter: spf and dkim notes from its keys, notes as headers",
	.init = authnotes_init,
	.fini = authnotes_fini,
	.mail = authnotes_mail,
	.eom = authnotes_eom,
};
