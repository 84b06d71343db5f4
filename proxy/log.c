/* log.c - one logging API, session id on every line; stderr or syslog. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "util.h"

static int log_foreground = 1;
static volatile enum log_level log_level_current = LOG_LEVEL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_syslog[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void
log_open(int foreground, enum log_level level)
{
	log_foreground = foreground;
	log_level_current = level;
	if (!foreground)
		openlog("sluiced", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(enum log_level level)
{
	log_level_current = level;
}

enum log_level
log_get_level(void)
{
	return log_level_current;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_msg(enum log_level level, const char *sid, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	if (level > log_level_current)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);

	if (!log_foreground) {
		syslog(level_syslog[level], "%s %s: %s", level_names[level], sid ? sid : "-", text);
		return;
	}

	struct timeval tv;
	struct tm tm;
	char stamp[32];

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ld sluiced %s %s: %s\n", stamp, (long)(tv.tv_usec / 1000),
	        level_names[level], sid ? sid : "-", text);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}
