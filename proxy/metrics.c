/* metrics.c - the counter table behind metrics.h. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

/* Open addressing at most half full, so a probe always ends at an empty slot. */
#define METRICS_SLOTS (2 * METRICS_MAX_COUNTERS)

struct metric {
	char name[METRICS_NAME_MAX + 1];   /* "" = empty slot */
	uint64_t value;
};

/* A fixed table: counters live as long as the process, and a mutex held for a
 * hash probe is cheaper than anything cleverer at these rates. */
static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric metrics[METRICS_SLOTS];
static size_t metrics_count;
static atomic_int warned_full, warned_name;

static int
metrics_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return 0;
	for (const char *p = name; *p != '\0'; p++, n++)
		if (n >= METRICS_NAME_MAX ||
		    !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

/* The slot holding name, or the empty slot where it would go. Lock held. */
static struct metric *
metrics_slot(const char *name)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	for (size_t i = h % METRICS_SLOTS;; i = (i + 1) % METRICS_SLOTS)
		if (metrics[i].name[0] == '\0' || strcmp(metrics[i].name, name) == 0)
			return &metrics[i];
}

void
metrics_counter_add(const char *name, uint64_t delta)
{
	struct metric *m;

	if (!metrics_name_ok(name)) {
		if (!atomic_exchange(&warned_name, 1))
			log_warning(NULL, "metrics: counter name \"%.*s\" is not [a-z_][a-z0-9_]*; "
			            "dropped (reported once)", METRICS_NAME_MAX,
			            name != NULL ? name : "(null)");
		return;
	}
	pthread_mutex_lock(&metrics_mu);
	m = metrics_slot(name);
	if (m->name[0] == '\0') {
		if (metrics_count >= METRICS_MAX_COUNTERS) {
			pthread_mutex_unlock(&metrics_mu);
			if (!atomic_exchange(&warned_full, 1))
				log_warning(NULL, "metrics: %d counters exist; \"%s\" and later new "
				            "names are dropped (reported once)", METRICS_MAX_COUNTERS, name);
			return;
		}
		strlcpy_s(m->name, name, sizeof(m->name));
		metrics_count++;
	}
	m->value += delta;
	pthread_mutex_unlock(&metrics_mu);
}

uint64_t
metrics_counter_get(const char *name)
{
	uint64_t v = 0;

	if (!metrics_name_ok(name))
		return 0;
	pthread_mutex_lock(&metrics_mu);
	const struct metric *m = metrics_slot(name);
	if (m->name[0] != '\0')
		v = m->value;
	pthread_mutex_unlock(&metrics_mu);
	return v;
}

static int
metrics_cmp(const void *a, const void *b)
{
	return strcmp(((const struct metric *)a)->name, ((const struct metric *)b)->name);
}

void
metrics_write(FILE *f)
{
	struct metric *snap;
	size_t n = 0;

	/* Copied out, so the lock is not held across stdio. */
	snap = xmalloc(METRICS_MAX_COUNTERS * sizeof(*snap));
	pthread_mutex_lock(&metrics_mu);
	for (size_t i = 0; i < METRICS_SLOTS && n < METRICS_MAX_COUNTERS; i++)
		if (metrics[i].name[0] != '\0')
			snap[n++] = metrics[i];
	pthread_mutex_unlock(&metrics_mu);
	qsort(snap, n, sizeof(*snap), metrics_cmp);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "# TYPE %s counter\n%s %" PRIu64 "\n", snap[i].name, snap[i].name,
		        snap[i].value);
	free(snap);
}
