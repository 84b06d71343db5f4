/* config_filter.h - [filter NAME] sections: names, core keys, the filter's own
 * keys. Used by config.c only; the filters themselves are loaded by loader.c. */
#ifndef SLUICE_CONFIG_FILTER_H
#define SLUICE_CONFIG_FILTER_H

#include <stddef.h>

#include "config.h"

/* Open a [filter NAME] section at line: check the name and that it is new, and
 * append a defaulted filter to cfg->filters. Returns 0, or -1 with the message
 * (without "path:line: ") in err; errlen of 512 plus the name never truncates. */
int config_filter_open(struct config *cfg, const char *name, unsigned line,
                       char *err, size_t errlen);

/* One key = value of the section f. Core keys are checked here; every other key
 * is kept in f->kv for the filter (a duplicate is refused). Returns 0, or -1 with
 * the message in err (errlen 512 more than the value never truncates). */
int config_filter_key(struct config_filter *f, const char *key, const char *value,
                      unsigned line, char *err, size_t errlen);

/* Checks once the section is complete (a module is required). */
int config_filter_check(const struct config_filter *f, char *err, size_t errlen);

/* Free what f owns (not f itself). */
void config_filter_clear(struct config_filter *f);

#endif
