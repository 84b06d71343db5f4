/* loader.h - filter plugins: dlopen, ABI/size/name checks, init/fini order, and
 * the per-filter core settings of each [filter NAME] section. */
#ifndef SLUICE_LOADER_H
#define SLUICE_LOADER_H

#include <stddef.h>
#include <stdio.h>

#include "sluice/filter.h"
#include "sluice/host.h"

struct config;

enum filter_on_error { FILTER_ON_ERROR_TEMPFAIL = 0, FILTER_ON_ERROR_ACCEPT, FILTER_ON_ERROR_REJECT };

/* One loaded filter, in chain order. Immutable after loader_load. */
struct filter_instance {
	unsigned index;                  /* position in the chain (0 = first) */
	char *name;                      /* the section's NAME */
	char *path;                      /* the .so actually loaded */
	void *dl;                        /* dlopen handle */
	const struct sluice_filter *desc;
	void *self;                      /* what init returned */
	unsigned timeout_ms;             /* core key `timeout`, default 30 s */
	enum filter_on_error on_error;   /* core key `on_error`, default tempfail */
	int dry_run;                     /* core key `dry_run`, default no */
	int skip_authenticated;          /* core key `skip_authenticated`, default no */
};

struct filter_set {
	struct filter_instance *filters;
	size_t n;
};

/* Load every [filter NAME] section of cfg in order: resolve `module` (a name is
 * looked up as <filter_dir>/<name>.so, a value with '/' is a path), dlopen it,
 * find SLUICE_FILTER_SYMBOL, refuse (with a message naming the file) an ABI
 * version or struct size mismatch, a missing or invalid name, a duplicate name;
 * then call init with the section's own keys (errors as file:line through errs;
 * keys init never read are "unknown key" errors). Returns the number of errors;
 * on 0, *set_r is the loaded set (possibly empty), else NULL and everything
 * already loaded is finalised and closed again. Call before threads start. */
int loader_load(const struct config *cfg, const struct sluice_host *host, FILE *errs,
                struct filter_set **set_r);

/* fini every filter in reverse order, dlclose, free. NULLs *set. */
void loader_unload(struct filter_set **set);

/* The configuration services of struct sluice_host (see host.h), for the host
 * table to point at. Valid only on the cfg handed to a filter's init, during
 * that call. config_error prints "conf:line: filter NAME: message" to the errs
 * of loader_load and counts an error; config_where's string is valid until the
 * next call on the same cfg. */
const char *loader_config_get(struct sluice_filter_config *cfg, const char *key);
void loader_config_error(struct sluice_filter_config *cfg, const char *key, const char *fmt, ...)
	SLUICE_PRINTF(3, 4);
const char *loader_config_where(struct sluice_filter_config *cfg, const char *key);

#endif
