/* spool.h - one message's content: in memory up to a threshold, then in an
 * unlinked temporary file in spool_dir, so memory stays bounded. No libevent. */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;

/* dir: where to create the temp file (created lazily, O_TMPFILE or mkstemp+unlink,
 * mode 0600). mem_limit: octets kept in memory before moving to the file. */
struct spool *spool_new(const char *dir, size_t mem_limit);
void spool_free(struct spool **sp);

/* Append. Returns 0, or -1 with errno set (the spool stays usable for reads of what
 * was written before). */
int spool_write(struct spool *sp, const void *buf, size_t len);
/* Sink-shaped wrapper (see smtp_data_sink): arg is the spool. */
int spool_sink(void *arg, const char *buf, size_t len);

uint64_t spool_size(const struct spool *sp);
int spool_on_disk(const struct spool *sp);

/* Copy up to len octets starting at off into buf. Returns the count (0 at end) or -1. */
ssize_t spool_read(struct spool *sp, uint64_t off, void *buf, size_t len);

/* Direct view of in-memory content: returns a pointer and sets *len_r when the
 * spool is still in memory, NULL when it is on disk. */
const char *spool_memory(const struct spool *sp, size_t *len_r);

/* Drop the content but keep the object (for the next transaction). */
void spool_reset(struct spool *sp);

#endif
