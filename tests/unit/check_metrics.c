/* check_metrics.c - named counters: names, threads, the table bound, the text format. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

/* Each test runs in its own process (check forks), so each starts with no counters. */

static char *
written(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	metrics_write(f);
	fclose(f);
	return buf;
}

START_TEST(test_add_get_write)
{
	metrics_counter_add("sluice_sessions_total", 3);
	metrics_counter_add("sluice_b", 1);
	metrics_counter_add("sluice_sessions_total", 4);
	metrics_counter_add("a_first", 0);
	metrics_counter_add("sluice_big", 18446744073709551615ull);
	ck_assert_uint_eq(metrics_counter_get("sluice_sessions_total"), 7);
	ck_assert_uint_eq(metrics_counter_get("sluice_b"), 1);
	ck_assert_uint_eq(metrics_counter_get("a_first"), 0);
	ck_assert_uint_eq(metrics_counter_get("never_added"), 0);
	ck_assert_uint_eq(metrics_counter_get("Bad-Name"), 0);

	char *text = written();
	static const char want[] =
		"# TYPE a_first counter\na_first 0\n"
		"# TYPE sluice_b counter\nsluice_b 1\n"
		"# TYPE sluice_big counter\nsluice_big 18446744073709551615\n"
		"# TYPE sluice_sessions_total counter\nsluice_sessions_total 7\n";
	ck_assert_msg(strcmp(text, want) == 0, "got:\n%s\nwant:\n%s", text, want);
	free(text);
}
END_TEST

START_TEST(test_bad_names)
{
	static const char *const bad[] = {
		"", "Upper", "has-dash", "has space", "dot.name", "9starts_with_digit", "\xc3\xa9t\xc3\xa9",
		"line\nbreak",
	};
	char longname[METRICS_NAME_MAX + 2];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		metrics_counter_add(bad[i], 1);
	metrics_counter_add(NULL, 1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	metrics_counter_add(longname, 1);
	char *text = written();
	ck_assert_msg(text[0] == '\0', "bad names were kept:\n%s", text);
	free(text);
	longname[METRICS_NAME_MAX] = '\0';     /* exactly the limit is fine */
	metrics_counter_add(longname, 2);
	ck_assert_uint_eq(metrics_counter_get(longname), 2);
	metrics_counter_add("_x9", 1);
	ck_assert_uint_eq(metrics_counter_get("_x9"), 1);
}
END_TEST

START_TEST(test_bounded)
{
	char name[32];

	for (int i = 0; i < METRICS_MAX_COUNTERS + 100; i++) {
		xsnprintf(name, sizeof(name), "c%d", i);
		metrics_counter_add(name, 1);
	}
	ck_assert_uint_eq(metrics_counter_get("c0"), 1);
	xsnprintf(name, sizeof(name), "c%d", METRICS_MAX_COUNTERS - 1);
	ck_assert_uint_eq(metrics_counter_get(name), 1);
	xsnprintf(name, sizeof(name), "c%d", METRICS_MAX_COUNTERS);
	ck_assert_uint_eq(metrics_counter_get(name), 0);
	/* Existing counters keep counting when the table is full. */
	metrics_counter_add("c0", 1);
	ck_assert_uint_eq(metrics_counter_get("c0"), 2);

	char *text = written();
	size_t lines = 0;
	for (const char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(lines, 2 * METRICS_MAX_COUNTERS);
	ck_assert(strncmp(text, "# TYPE c0 counter\nc0 2\n# TYPE c1 counter\n", 41) == 0);
	free(text);
}
END_TEST

#define ADD_THREADS 4
#define ADDS 20000

static void *
adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < ADDS; i++) {
		metrics_counter_add("shared_total", 1);
		metrics_counter_add(i % 2 ? "odd_total" : "even_total", 2);
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t th[ADD_THREADS];

	for (int i = 0; i < ADD_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, adder, NULL), 0);
	for (int i = 0; i < ADD_THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(metrics_counter_get("shared_total"), (uint64_t)ADD_THREADS * ADDS);
	ck_assert_uint_eq(metrics_counter_get("odd_total"), (uint64_t)ADD_THREADS * ADDS);
	ck_assert_uint_eq(metrics_counter_get("even_total"), (uint64_t)ADD_THREADS * ADDS);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_add_get_write);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_open(1, LOG_LEVEL_ERROR);   /* the once-only warnings are expected here */
	SRunner *sr = srunner_create(metrics_suite());
	/* The tests rely on a fresh counter table each. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
