/* metrics.h - process-wide named counters, written in the Prometheus text format. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdint.h>
#include <stdio.h>

/* Distinct counter names the process keeps; adds to further names are dropped. */
#define METRICS_MAX_COUNTERS 1024
/* Longest name, in octets. */
#define METRICS_NAME_MAX 128

/* Adds delta to the counter called name, creating it at 0 first. Any thread; never
 * blocks for long (one mutex, no I/O inside). Names are [a-z_][a-z0-9_]* (a
 * Prometheus name may not start with a digit), 1 to METRICS_NAME_MAX octets.
 * A bad name, or a new name once METRICS_MAX_COUNTERS exist, is dropped with a
 * warning logged once per process (per kind of problem). */
void metrics_counter_add(const char *name, uint64_t delta);

/* The counter's value; 0 when it does not exist. Any thread. */
uint64_t metrics_counter_get(const char *name);

/* Writes every counter as "# TYPE name counter\nname value\n", sorted by name.
 * Any thread; the values are a consistent snapshot. */
void metrics_write(FILE *f);

#endif
