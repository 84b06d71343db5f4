/* log.h - one logging API; every line carries the session id (or "-"). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

/* Fixed meanings (STYLE.md): error = sluice cannot do what was asked and says so to
 * the peer; warning = recovered; info = one line per session and per message
 * outcome; debug = protocol trace. */
enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Before threads start: where lines go (stderr when foreground, else syslog). */
void log_open(int foreground, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error|warning|info|debug"; returns -1 when unknown. */
int log_level_parse(const char *s);

/* Thread-safe; sid may be NULL. A line is written whole or not at all. */
void log_msg(enum log_level level, const char *sid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(sid, ...) log_msg(LOG_LEVEL_ERROR, sid, __VA_ARGS__)
#define log_warning(sid, ...) log_msg(LOG_LEVEL_WARNING, sid, __VA_ARGS__)
#define log_info(sid, ...) log_msg(LOG_LEVEL_INFO, sid, __VA_ARGS__)
#define log_debug(sid, ...) \
	do { if (log_get_level() >= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, sid, __VA_ARGS__); } while (0)

#endif
