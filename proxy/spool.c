/* spool.c - one message's content, in memory up to a limit, then in an unlinked file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

#define SPOOL_MEM_MIN 4096

struct spool {
	char *dir;
	size_t mem_limit;
	char *mem;                /* NULL once on disk */
	size_t mem_len, mem_cap;
	int fd;                   /* -1 while in memory */
	uint64_t size;
};

struct spool *
spool_new(const char *dir, size_t mem_limit)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->dir = xstrdup(dir != NULL ? dir : "/tmp");
	sp->mem_limit = mem_limit;
	sp->fd = -1;
	return sp;
}

void
spool_free(struct spool **sp)
{
	if (*sp == NULL)
		return;
	if ((*sp)->fd >= 0)
		close((*sp)->fd);
	free((*sp)->mem);
	free((*sp)->dir);
	free(*sp);
	*sp = NULL;
}

/* Write all of buf at off, across short writes and EINTR. */
static int
spool_pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* An anonymous file in dir, never visible by name once this returns. */
static int
spool_open_file(const char *dir)
{
	size_t n = strlen(dir) + sizeof("/sluice-spool.XXXXXX");
	char *path;
	int fd;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* Not every file system has O_TMPFILE; anything else fails below too. */
#endif
	path = xmalloc(n);
	xsnprintf(path, n, "%s/sluice-spool.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0 && unlink(path) < 0) {
		int e = errno;

		close(fd);
		fd = -1;
		errno = e;
	}
	free(path);
	return fd;
}

/* Move the memory content into a new file. On failure nothing changes. */
static int
spool_spill(struct spool *sp)
{
	int fd = spool_open_file(sp->dir);

	if (fd < 0)
		return -1;
	if (spool_pwrite_all(fd, sp->mem, sp->mem_len, 0) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	free(sp->mem);
	sp->mem = NULL;
	sp->mem_len = sp->mem_cap = 0;
	sp->fd = fd;
	return 0;
}

int
spool_write(struct spool *sp, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (sp->fd < 0 && len <= sp->mem_limit - sp->mem_len) {
		if (sp->mem_len + len > sp->mem_cap) {
			size_t cap = sp->mem_cap < SPOOL_MEM_MIN ? SPOOL_MEM_MIN : sp->mem_cap;

			while (cap < sp->mem_len + len)
				cap = cap > sp->mem_limit / 2 ? sp->mem_limit : cap * 2;
			if (cap > sp->mem_limit)
				cap = sp->mem_limit;
			sp->mem = xrealloc(sp->mem, cap);
			sp->mem_cap = cap;
		}
		memcpy(sp->mem + sp->mem_len, buf, len);
		sp->mem_len += len;
		sp->size += len;
		return 0;
	}
	if (sp->fd < 0 && spool_spill(sp) < 0)
		return -1;
	if (spool_pwrite_all(sp->fd, buf, len, sp->size) < 0) {
		int e = errno;

		/* Drop a partial append so reads see exactly what was accepted. */
		if (ftruncate(sp->fd, (off_t)sp->size) < 0) {
			/* nothing better to do; the size below still bounds reads */
		}
		errno = e;
		return -1;
	}
	sp->size += len;
	return 0;
}

int
spool_sink(void *arg, const char *buf, size_t len)
{
	return spool_write(arg, buf, len);
}

uint64_t
spool_size(const struct spool *sp)
{
	return sp->size;
}

int
spool_on_disk(const struct spool *sp)
{
	return sp->fd >= 0;
}

ssize_t
spool_read(struct spool *sp, uint64_t off, void *buf, size_t len)
{
	if (off >= sp->size || len == 0)
		return 0;
	if (len > sp->size - off)
		len = (size_t)(sp->size - off);
	if (sp->fd < 0) {
		memcpy(buf, sp->mem + off, len);
		return (ssize_t)len;
	}
	for (;;) {
		ssize_t n = pread(sp->fd, buf, len, (off_t)off);

		if (n >= 0 || errno != EINTR)
			return n;
	}
}

const char *
spool_memory(const struct spool *sp, size_t *len_r)
{
	if (sp->fd >= 0)
		return NULL;
	*len_r = sp->mem_len;
	/* An empty spool has no buffer yet; still a valid in-memory view. */
	return sp->mem != NULL ? sp->mem : "";
}

void
spool_reset(struct spool *sp)
{
	/* Closing returns the spool to memory, where most messages fit. */
	if (sp->fd >= 0) {
		close(sp->fd);
		sp->fd = -1;
	}
	sp->mem_len = 0;
	sp->size = 0;
}
