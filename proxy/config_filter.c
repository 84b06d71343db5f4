/* config_filter.c - [filter NAME] sections: names, core keys, the filter's own keys. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config_filter.h"
#include "config_keys.h"
#include "util.h"

static const char *const on_error_words[] = { "tempfail", "accept", "reject", NULL };
static const char *const no_yes_words[] = { "no", "yes", NULL };

/* Indexed by enum config_filter_core; module is a plain string, set here. */
#define F(field) offsetof(struct config_filter, field)
static const struct config_key core_keys[CONFIG_FILTER_NCORE] = {
	[CONFIG_FILTER_MODULE] = { "module", KT_PATH, F(module), 0, NULL, NULL },
	[CONFIG_FILTER_TIMEOUT] = { "timeout", KT_DURATION, F(timeout_ms), 1, NULL, NULL },
	[CONFIG_FILTER_ON_ERROR] = { "on_error", KT_ENUM, F(on_error), 0, on_error_words, NULL },
	[CONFIG_FILTER_DRY_RUN] = { "dry_run", KT_ENUM, F(dry_run), 0, no_yes_words, NULL },
	[CONFIG_FILTER_SKIP_AUTHENTICATED] = { "skip_authenticated", KT_ENUM,
	                                       F(skip_authenticated), 0, no_yes_words, NULL },
};
#undef F

static int
name_valid(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

int
config_filter_open(struct config *cfg, const char *name, unsigned line, char *err, size_t errlen)
{
	struct config_filter *f;

	if (*name == '\0') {
		xsnprintf(err, errlen, "section [filter] needs a name: [filter NAME]");
		return -1;
	}
	if (!name_valid(name)) {
		xsnprintf(err, errlen, "bad filter name '%s': want lower-case letters, digits, "
		          "'-' and '_'", name);
		return -1;
	}
	for (size_t i = 0; i < cfg->nfilters; i++)
		if (strcmp(cfg->filters[i].name, name) == 0) {
			xsnprintf(err, errlen, "duplicate section [filter %s] (first on line %u)",
			          name, cfg->filters[i].line);
			return -1;
		}
	cfg->filters = xrealloc(cfg->filters, (cfg->nfilters + 1) * sizeof(*cfg->filters));
	f = &cfg->filters[cfg->nfilters++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->line = line;
	f->timeout_ms = 30 * 1000;
	f->on_error = 0;                 /* FILTER_ON_ERROR_TEMPFAIL */
	return 0;
}

static int
module_set(struct config_filter *f, const char *value, char *err, size_t errlen)
{
	/* A name is a file in filter_dir: keep it to what a file name needs. */
	if (strchr(value, '/') == NULL && strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(value)) {
		xsnprintf(err, errlen, "bad value '%s' for module: want a filter name "
		          "(letters, digits, '-', '_', '.') or a path to a .so file", value);
		return -1;
	}
	free(f->module);
	f->module = xstrdup(value);
	return 0;
}

int
config_filter_key(struct config_filter *f, const char *key, const char *value, unsigned line,
                  char *err, size_t errlen)
{
	for (size_t i = 0; i < CONFIG_FILTER_NCORE; i++) {
		if (strcmp(key, core_keys[i].name) != 0)
			continue;
		if (f->core_line[i] != 0) {
			xsnprintf(err, errlen, "duplicate key '%s' (first set on line %u)", key,
			          f->core_line[i]);
			return -1;
		}
		f->core_line[i] = line;
		if (*value == '\0') {
			xsnprintf(err, errlen, "empty value for %s", key);
			return -1;
		}
		if (i == CONFIG_FILTER_MODULE)
			return module_set(f, value, err, errlen);
		return config_value_set(f, &core_keys[i], value, err, errlen);
	}
	for (size_t i = 0; i < f->nkv; i++)
		if (strcmp(f->kv[i].key, key) == 0) {
			xsnprintf(err, errlen, "duplicate key '%s' (first set on line %u)", key,
			          f->kv[i].line);
			return -1;
		}
	f->kv = xrealloc(f->kv, (f->nkv + 1) * sizeof(*f->kv));
	f->kv[f->nkv].key = xstrdup(key);
	f->kv[f->nkv].value = xstrdup(value);
	f->kv[f->nkv].line = line;
	f->nkv++;
	return 0;
}

int
config_filter_check(const struct config_filter *f, char *err, size_t errlen)
{
	if (f->module == NULL && f->core_line[CONFIG_FILTER_MODULE] == 0) {
		xsnprintf(err, errlen, "[filter %s] has no module: add module = NAME or PATH",
		          f->name);
		return -1;
	}
	return 0;
}

void
config_filter_clear(struct config_filter *f)
{
	for (size_t i = 0; i < f->nkv; i++) {
		free(f->kv[i].key);
		free(f->kv[i].value);
	}
	free(f->kv);
	free(f->module);
	free(f->name);
	memset(f, 0, sizeof(*f));
}
