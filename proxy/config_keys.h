/* config_keys.h - the [sluice] key table and its value parsers; used by config.c and
 * config_filter.c only. */
#ifndef SLUICE_CONFIG_KEYS_H
#define SLUICE_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"

enum config_key_type {
	KT_LISTEN, KT_BACKEND, KT_HOSTNAME, KT_PATH, KT_WORKERS, KT_UINT, KT_SIZE,
	KT_DURATION, KT_ENUM, KT_LOGLEVEL,
	KT_DNS,                          /* repeatable; config.c adds servers */
	KT_FILE,                         /* absolute path, readable at load time */
	KT_HEADER,                       /* a header field name */
	KT_MAILBOX,                      /* local@domain (RFC 5321 Mailbox) */
};

struct config_key {
	const char *name;
	enum config_key_type type;
	size_t off;                      /* field in struct config (or the base given) */
	unsigned long long min;          /* in the stored unit (octets, ms) */
	const char *const *words;        /* KT_ENUM: index = enum value */
	const char *why;                 /* said when the value is below min */
};

/* Every key of [sluice]; a static assertion in config_keys.c keeps the count true. */
#define CONFIG_NKEYS 41
extern const struct config_key config_keys[CONFIG_NKEYS];

/* Check value for k and store it in cfg. KT_LISTEN and KT_BACKEND are not plain
 * values (config.c adds listeners and backends) and are refused. Returns 0, or -1
 * with the message, without "path:line: ", in err. The message quotes value and
 * is at most strlen(value) + 300 octets, so a buffer 512 longer than the value
 * never truncates it. */
int config_key_set(struct config *cfg, const struct config_key *k, const char *value,
                   char *err, size_t errlen);

/* The same for a key whose off is a field of another struct at base (the core
 * keys of a [filter NAME] section, config_filter.c). */
int config_value_set(void *base, const struct config_key *k, const char *value,
                     char *err, size_t errlen);

#endif
