/* config_listener.h - listeners: [listener NAME] sections, `listen =` lines, their
 * checks once the file is read. Used by config.c only; the sockets are listener.c's. */
#ifndef SLUICE_CONFIG_LISTENER_H
#define SLUICE_CONFIG_LISTENER_H

#include <stddef.h>

#include "config.h"

/* The lines of each listener, parallel to cfg->listeners: kept by the load, not part
 * of the public struct. The caller holds the array and frees it with free(). */
struct config_listener_lines;

/* A `listen = value` line at line: a listener named name with that address. Returns
 * 0, or -1 with the message (without "path:line: ") in err; errlen of 512 plus the
 * value never truncates. */
int config_listener_listen(struct config *cfg, struct config_listener_lines **lines_r,
                           const char *name, const char *value, int line,
                           char *err, size_t errlen);

/* Open a [listener NAME] section at line: check the name and that it is new, and
 * append a defaulted listener to cfg->listeners. Returns 0, or -1 with the message
 * in err (errlen of 512 plus the name never truncates). */
int config_listener_open(struct config *cfg, struct config_listener_lines **lines_r,
                         const char *name, int line, char *err, size_t errlen);

/* One key = value of the section of listener i. Returns 0, or -1 with the message in
 * err (errlen 512 more than the value never truncates). */
int config_listener_key(struct config *cfg, struct config_listener_lines *lines, size_t i,
                        const char *key, const char *value, int line,
                        char *err, size_t errlen);

/* Called once for each problem config_listener_check finds; msg has no "path:line: ". */
typedef void config_listener_report_fn(void *ctx, int line, const char *msg);

/* Checks of listener i once the file is read (an address, not used twice, trusted
 * addresses for PROXY, whole TLS pairs), then its TLS contexts, so that `sluiced -t`
 * reports an unreadable file or a key that does not match. A listener can have
 * several problems, so each is reported through report rather than returned. */
void config_listener_check(struct config *cfg, const struct config_listener_lines *lines,
                           size_t i, config_listener_report_fn *report, void *ctx);

/* Free what l owns (not l itself). */
void config_listener_clear(struct config_listener *l);

#endif
