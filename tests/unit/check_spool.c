/* check_spool.c - unit tests for the memory-then-file message spool. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

static char tmpdir[64];

static void
dir_setup(void)
{
	strlcpy_s(tmpdir, "/tmp/check_spool.XXXXXX", sizeof(tmpdir));
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void
dir_teardown(void)
{
	chmod(tmpdir, 0700);
	rmdir(tmpdir);
}

/* Entries in dir other than . and .. */
static int
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A byte pattern that differs at every offset in a 50 MB range. */
static unsigned char
pattern(uint64_t off)
{
	return (unsigned char)((off * 2654435761u) >> 13 ^ off);
}

static void
fill(unsigned char *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(off + i);
}

/* Read everything back and compare with the pattern. */
static void
check_content(struct spool *sp, uint64_t want_size, size_t piece)
{
	unsigned char *buf = xmalloc(piece);
	uint64_t off = 0;

	ck_assert_msg(spool_size(sp) == want_size, "got size %llu, want %llu",
	              (unsigned long long)spool_size(sp), (unsigned long long)want_size);
	while (off < want_size) {
		ssize_t n = spool_read(sp, off, buf, piece);

		ck_assert_msg(n > 0, "read at %llu: got %zd, want > 0", (unsigned long long)off, n);
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(off + (uint64_t)i))
				ck_abort_msg("at offset %llu: got %#x, want %#x",
				             (unsigned long long)(off + (uint64_t)i), buf[i],
				             pattern(off + (uint64_t)i));
		off += (uint64_t)n;
	}
	ck_assert_msg(spool_read(sp, off, buf, piece) == 0, "read at end: want 0");
	free(buf);
}

/* Write total octets of the pattern in pieces. */
static void
write_pattern(struct spool *sp, uint64_t start, uint64_t total, size_t piece)
{
	unsigned char *buf = xmalloc(piece);

	for (uint64_t off = start; off < start + total; off += piece) {
		size_t n = start + total - off < piece ? (size_t)(start + total - off) : piece;

		fill(buf, off, n);
		ck_assert_msg(spool_write(sp, buf, n) == 0, "write at %llu: %s",
		              (unsigned long long)off, strerror(errno));
	}
	free(buf);
}

struct threshold_case {
	size_t mem_limit;
	uint64_t total;
	size_t piece;
	int on_disk;
};

static const struct threshold_case threshold_cases[] = {
	{ 1024, 0, 1, 0 },
	{ 1024, 1000, 100, 0 },
	{ 1024, 1024, 100, 0 },          /* exactly the limit stays in memory */
	{ 1024, 1025, 100, 1 },
	{ 1024, 1025, 1, 1 },
	{ 1024, 5000, 5000, 1 },         /* one write larger than the limit */
	{ 0, 1, 1, 1 },                  /* no memory at all */
	{ 128 * 1024, 100 * 1024, 4096, 0 },
	{ 128 * 1024, 300 * 1024 + 7, 4093, 1 },
	{ 100, 10000, 33, 1 },           /* limit below the first buffer size */
};

START_TEST(test_threshold)
{
	const struct threshold_case *c = &threshold_cases[_i];
	struct spool *sp = spool_new(tmpdir, c->mem_limit);
	size_t len = 99;

	write_pattern(sp, 0, c->total, c->piece);
	ck_assert_msg(spool_on_disk(sp) == c->on_disk, "limit %zu, %llu octets: got on_disk %d, want %d",
	              c->mem_limit, (unsigned long long)c->total, spool_on_disk(sp), c->on_disk);
	const char *mem = spool_memory(sp, &len);
	if (c->on_disk) {
		ck_assert_msg(mem == NULL, "on disk: got a memory view, want NULL");
	} else {
		ck_assert_msg(mem != NULL && len == c->total, "in memory: got len %zu, want %llu",
		              len, (unsigned long long)c->total);
		for (size_t i = 0; i < len; i++)
			ck_assert_msg((unsigned char)mem[i] == pattern(i), "memory view differs at %zu", i);
	}
	/* The temporary file is never visible by name. */
	ck_assert_msg(dir_entries(tmpdir) == 0, "got %d entries in %s, want 0",
	              dir_entries(tmpdir), tmpdir);
	check_content(sp, c->total, 1000);
	check_content(sp, c->total, 7);
	spool_free(&sp);
	ck_assert_msg(sp == NULL, "spool_free did not NULL the pointer");
}
END_TEST

struct read_case {
	uint64_t off;
	size_t len;
	ssize_t want;
};

/* Spool of 3000 octets. */
static const struct read_case read_cases[] = {
	{ 0, 10, 10 },
	{ 1500, 100, 100 },
	{ 2990, 100, 10 },
	{ 2999, 1, 1 },
	{ 3000, 10, 0 },
	{ 5000, 10, 0 },
	{ 10, 0, 0 },
};

START_TEST(test_read_offsets)
{
	for (int disk = 0; disk < 2; disk++) {
		struct spool *sp = spool_new(tmpdir, disk ? 1000 : 4000);

		write_pattern(sp, 0, 3000, 512);
		ck_assert_int_eq(spool_on_disk(sp), disk);
		for (size_t k = 0; k < ARRAY_LEN(read_cases); k++) {
			const struct read_case *c = &read_cases[k];
			unsigned char buf[128];
			ssize_t n = spool_read(sp, c->off, buf, c->len);

			ck_assert_msg(n == c->want, "disk %d read(%llu, %zu): got %zd, want %zd", disk,
			              (unsigned long long)c->off, c->len, n, c->want);
			for (ssize_t i = 0; i < n; i++)
				ck_assert_msg(buf[i] == pattern(c->off + (uint64_t)i),
				              "disk %d read at %llu: octet %zd differs", disk,
				              (unsigned long long)c->off, i);
		}
		spool_free(&sp);
	}
}
END_TEST

START_TEST(test_reset)
{
	struct spool *sp = spool_new(tmpdir, 1000);
	size_t len = 99;
	unsigned char buf[16];

	write_pattern(sp, 0, 5000, 100);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	spool_reset(sp);
	ck_assert_msg(spool_size(sp) == 0, "after reset: got size %llu, want 0",
	              (unsigned long long)spool_size(sp));
	ck_assert_msg(spool_read(sp, 0, buf, sizeof(buf)) == 0, "after reset: read want 0");
	ck_assert_msg(spool_on_disk(sp) == 0, "after reset: got on_disk 1, want 0");
	ck_assert_msg(spool_memory(sp, &len) != NULL && len == 0, "after reset: got len %zu, want 0",
	              len);

	/* The next transaction starts from scratch: in memory, then on disk again. */
	write_pattern(sp, 0, 500, 100);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	check_content(sp, 500, 64);
	spool_reset(sp);
	write_pattern(sp, 0, 2500, 100);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	check_content(sp, 2500, 64);
	ck_assert_int_eq(dir_entries(tmpdir), 0);
	spool_free(&sp);
}
END_TEST

START_TEST(test_sink)
{
	struct spool *sp = spool_new(tmpdir, 8);
	unsigned char buf[32];

	ck_assert_int_eq(spool_sink(sp, "hello ", 6), 0);
	ck_assert_int_eq(spool_sink(sp, "world", 5), 0);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	ck_assert_int_eq(spool_read(sp, 0, buf, sizeof(buf)), 11);
	ck_assert_msg(memcmp(buf, "hello world", 11) == 0, "got \"%.11s\", want \"hello world\"", buf);
	spool_free(&sp);
}
END_TEST

START_TEST(test_unwritable_dir)
{
	char missing[128], file[128];
	const char *dirs[3];
	size_t ndirs = 0;
	int fd;

	xsnprintf(missing, sizeof(missing), "%s/does-not-exist", tmpdir);
	xsnprintf(file, sizeof(file), "%s/plain-file", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	ck_assert_msg(fd >= 0, "create %s: %s", file, strerror(errno));
	close(fd);
	dirs[ndirs++] = missing;
	dirs[ndirs++] = file;
	/* Permission bits do not stop root. */
	if (geteuid() != 0)
		dirs[ndirs++] = "/proc";

	for (size_t k = 0; k < ndirs; k++) {
		struct spool *sp = spool_new(dirs[k], 16);
		unsigned char buf[32];

		write_pattern(sp, 0, 16, 4);            /* fits in memory: fine */
		errno = 0;
		fill(buf, 16, 10);
		ck_assert_msg(spool_write(sp, buf, 10) == -1, "dir %s: spill got 0, want -1", dirs[k]);
		ck_assert_msg(errno != 0, "dir %s: got errno 0, want it set", dirs[k]);
		/* What was written before is still readable. */
		ck_assert_int_eq(spool_on_disk(sp), 0);
		check_content(sp, 16, 5);
		spool_free(&sp);
	}
	unlink(file);
}
END_TEST

static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

START_TEST(test_large)
{
	/* 50 MB in 64 KB pieces with 128 KB in memory: memory stays bounded. */
	const uint64_t total = 50ull * 1024 * 1024;
	struct spool *sp = spool_new(tmpdir, 128 * 1024);
	long before = maxrss_kb();

	write_pattern(sp, 0, total, 64 * 1024);
	long after = maxrss_kb();

	ck_assert_int_eq(spool_on_disk(sp), 1);
	/* Measured at about 0.1 MB, 0.5 MB under ASan: reliable either way. */
	ck_assert_msg(after - before < 5 * 1024, "max RSS grew by %ld KB, want < 5120",
	              after - before);
	check_content(sp, total, 64 * 1024);
	ck_assert_int_eq(dir_entries(tmpdir), 0);
	spool_free(&sp);
}
END_TEST

static Suite *
spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_loop_test(tc, test_threshold, 0, ARRAY_LEN(threshold_cases));
	tcase_add_test(tc, test_read_offsets);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_sink);
	tcase_add_test(tc, test_unwritable_dir);
	tcase_add_test(tc, test_large);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(spool_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
