/* util.h - allocation that cannot fail, bounded string helpers, clocks. */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation failure in the core is fatal: these log and abort, never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* snprintf that always terminates and returns the length written (truncated to size-1). */
size_t strlcpy_s(char *dst, const char *src, size_t size);
size_t xsnprintf(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);

/* ASCII case-insensitive prefix test over a length-delimited buffer. */
int ascii_prefix(const char *s, size_t len, const char *prefix);

/* Banned unbounded calls (STYLE.md): any use after this point fails to compile. */
#pragma GCC poison strcpy strcat sprintf vsprintf gets

#endif
