/* loader.c - filter plugins: dlopen, descriptor checks, init with the section's
 * keys, fini in reverse order. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loader.h"
#include "util.h"

/* What a filter's init sees of its section. */
struct sluice_filter_config {
	const struct config_filter *sec;
	const char *path;                /* the configuration file, for messages */
	bool *used;                      /* parallel to sec->kv: read through config_get */
	FILE *errs;
	int nerrors;
	char where[4200];                /* config_where's answer */
};

/* One load in progress. */
struct loader {
	const struct config *cfg;
	FILE *errs;
	int nerrors;
	struct filter_set *set;
};

_Static_assert(sizeof(enum filter_on_error) == sizeof(int), "on_error is an int in config.h");

static void loader_error(struct loader *ld, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
loader_error(struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;

	ld->nerrors++;
	if (ld->errs == NULL)
		return;
	fprintf(ld->errs, "%s:%u: ", ld->cfg->path, line);
	va_start(ap, fmt);
	vfprintf(ld->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ld->errs);
}

/* ---------------------------------------------------------------- host config services */

static const struct config_kv *
kv_find(const struct sluice_filter_config *fc, const char *key, size_t *i_r)
{
	for (size_t i = 0; key != NULL && i < fc->sec->nkv; i++)
		if (strcmp(fc->sec->kv[i].key, key) == 0) {
			if (i_r != NULL)
				*i_r = i;
			return &fc->sec->kv[i];
		}
	return NULL;
}

const char *
loader_config_get(struct sluice_filter_config *fc, const char *key)
{
	const struct config_kv *kv;
	size_t i;

	if (fc == NULL || (kv = kv_find(fc, key, &i)) == NULL)
		return NULL;
	fc->used[i] = true;
	return kv->value;
}

/* The key's line, or the section header's when key is NULL or not given. */
static unsigned
key_line(const struct sluice_filter_config *fc, const char *key)
{
	const struct config_kv *kv = kv_find(fc, key, NULL);

	return kv != NULL ? kv->line : fc->sec->line;
}

void
loader_config_error(struct sluice_filter_config *fc, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (fc == NULL)
		return;
	fc->nerrors++;
	if (fc->errs == NULL || fmt == NULL)
		return;
	/* Name the key too: the administrator looks for it, not for a line number. */
	fprintf(fc->errs, "%s:%u: filter %s: %s%s", fc->path, key_line(fc, key), fc->sec->name,
	        key ? key : "", key ? ": " : "");
	va_start(ap, fmt);
	vfprintf(fc->errs, fmt, ap);
	va_end(ap);
	fputc('\n', fc->errs);
}

const char *
loader_config_where(struct sluice_filter_config *fc, const char *key)
{
	if (fc == NULL)
		return "";
	xsnprintf(fc->where, sizeof(fc->where), "%s:%u", fc->path, key_line(fc, key));
	return fc->where;
}

/* ---------------------------------------------------------------- loading */

static bool
name_valid(const char *s)
{
	return s != NULL && *s != '\0' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

/* dlopen sec's module and check its descriptor; 0 and fi->dl, fi->desc set, or -1. */
static int
module_open(struct loader *ld, const struct config_filter *sec, struct filter_instance *fi)
{
	unsigned line = sec->core_line[CONFIG_FILTER_MODULE];
	const struct sluice_filter *desc;
	char path[4200];

	if (sec->module == NULL) {           /* config_load refuses it; be safe */
		loader_error(ld, sec->line, "[filter %s] has no module", sec->name);
		return -1;
	}
	if (strchr(sec->module, '/') != NULL)
		strlcpy_s(path, sec->module, sizeof(path));
	else
		xsnprintf(path, sizeof(path), "%s/%s.so", ld->cfg->filter_dir, sec->module);
	fi->path = xstrdup(path);
	dlerror();
	fi->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (fi->dl == NULL) {
		const char *e = dlerror();

		loader_error(ld, line, "%s: cannot load filter %s: %s", path, sec->name,
		             e ? e : "unknown error");
		return -1;
	}
	desc = dlsym(fi->dl, SLUICE_FILTER_SYMBOL);
	if (desc == NULL) {
		loader_error(ld, line, "%s: no symbol '%s': not a sluice filter", path,
		             SLUICE_FILTER_SYMBOL);
		return -1;
	}
	/* Only the two leading fields are known to be there until both match. */
	if (desc->abi_version != SLUICE_FILTER_ABI_VERSION) {
		loader_error(ld, line, "%s: filter ABI version %u, sluiced expects %u", path,
		             (unsigned)desc->abi_version, (unsigned)SLUICE_FILTER_ABI_VERSION);
		return -1;
	}
	if (desc->struct_size != sizeof(struct sluice_filter)) {
		loader_error(ld, line, "%s: filter descriptor of %u octets, sluiced expects %zu "
		             "(built against other headers?)", path, (unsigned)desc->struct_size,
		             sizeof(struct sluice_filter));
		return -1;
	}
	if (desc->name == NULL || desc->name[0] == '\0') {
		loader_error(ld, line, "%s: the filter has no name", path);
		return -1;
	}
	if (!name_valid(desc->name)) {
		loader_error(ld, line, "%s: bad filter name '%.64s': want lower-case letters, "
		             "digits, '-' and '_'", path, desc->name);
		return -1;
	}
	for (size_t i = 0; i < ld->set->n; i++)
		if (strcmp(ld->set->filters[i].desc->name, desc->name) == 0 &&
		    ld->set->filters[i].desc != desc) {
			loader_error(ld, line, "%s: duplicate filter name '%s' (already loaded from "
			             "%s for [filter %s])", path, desc->name,
			             ld->set->filters[i].path, ld->set->filters[i].name);
			return -1;
		}
	fi->desc = desc;
	return 0;
}

/* init with the section's keys; every key it did not read is an error. */
static int
module_init(struct loader *ld, const struct config_filter *sec, const struct sluice_host *host,
            struct filter_instance *fi)
{
	struct sluice_filter_config *fc = xcalloc(1, sizeof(*fc));
	int rc = 0, before = ld->nerrors;

	fc->sec = sec;
	fc->path = ld->cfg->path;
	fc->used = xcalloc(sec->nkv + 1, sizeof(*fc->used));
	fc->errs = ld->errs;
	if (fi->desc->init != NULL)
		rc = fi->desc->init(host, fc, &fi->self);
	ld->nerrors += fc->nerrors;
	if (rc != 0) {
		if (fc->nerrors == 0)
			loader_error(ld, sec->line, "filter %s refused its configuration", sec->name);
	} else {
		for (size_t i = 0; i < sec->nkv; i++)
			if (!fc->used[i])
				loader_error(ld, sec->kv[i].line, "unknown key '%s' for filter %s",
				             sec->kv[i].key, sec->name);
	}
	free(fc->used);
	free(fc);
	return rc == 0 && ld->nerrors == before ? 0 : rc == 0 ? 1 : -1;
}

static void
instance_clear(struct filter_instance *fi)
{
	if (fi->dl != NULL)
		dlclose(fi->dl);
	free(fi->name);
	free(fi->path);
	memset(fi, 0, sizeof(*fi));
}

int
loader_load(const struct config *cfg, const struct sluice_host *host, FILE *errs,
            struct filter_set **set_r)
{
	struct loader ld = { .cfg = cfg, .errs = errs };

	ld.set = xcalloc(1, sizeof(*ld.set));
	*set_r = NULL;
	for (size_t i = 0; i < cfg->nfilters; i++) {
		const struct config_filter *sec = &cfg->filters[i];
		struct filter_instance fi = { 0 };

		fi.name = xstrdup(sec->name);
		fi.timeout_ms = sec->timeout_ms;
		fi.on_error = (enum filter_on_error)sec->on_error;
		fi.dry_run = sec->dry_run;
		fi.skip_authenticated = sec->skip_authenticated;
		if (module_open(&ld, sec, &fi) < 0 || module_init(&ld, sec, host, &fi) < 0) {
			instance_clear(&fi);
			continue;            /* go on: report every filter's problems at once */
		}
		/* Initialised, even if with errors: it is in the set so that it gets fini. */
		fi.index = (unsigned)ld.set->n;
		ld.set->filters = xrealloc(ld.set->filters, (ld.set->n + 1) * sizeof(fi));
		ld.set->filters[ld.set->n++] = fi;
	}
	if (ld.nerrors > 0)
		loader_unload(&ld.set);
	*set_r = ld.set;
	return ld.nerrors;
}

void
loader_unload(struct filter_set **setp)
{
	struct filter_set *set = *setp;

	if (set == NULL)
		return;
	for (size_t i = set->n; i-- > 0; ) {
		struct filter_instance *fi = &set->filters[i];

		if (fi->desc->fini != NULL)
			fi->desc->fini(fi->self);
		instance_clear(fi);
	}
	free(set->filters);
	free(set);
	*setp = NULL;
}
