/* check_store.c - the in-memory store: get/set, incr, TTL, bounds, cancel, threads. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "store.h"
#include "util.h"

/* ---- running one request to its answer ---- */

struct reply {
	int calls;
	int status;
	int absent;            /* value was NULL */
	char value[128];
	int in_call;           /* set while the request function runs */
	int reentered;
};

static void
reply_cb(void *arg, int status, const char *value)
{
	struct reply *r = arg;

	if (r->in_call)
		r->reentered++;
	r->calls++;
	r->status = status;
	r->absent = value == NULL;
	strlcpy_s(r->value, value != NULL ? value : "", sizeof(r->value));
}

enum op { OP_GET, OP_SET, OP_INCR };

/* Makes one request and runs base until it is answered. */
static struct reply
run(struct store *s, struct event_base *base, enum op op, const char *key, const char *value,
    int64_t delta, unsigned ttl_ms)
{
	struct reply r = { 0 };
	struct store_req *req = NULL;

	r.in_call = 1;
	switch (op) {
	case OP_GET:
		req = store_get(s, base, key, reply_cb, &r);
		break;
	case OP_SET:
		req = store_set(s, base, key, value, ttl_ms, reply_cb, &r);
		break;
	case OP_INCR:
		req = store_incr(s, base, key, delta, ttl_ms, reply_cb, &r);
		break;
	}
	r.in_call = 0;
	ck_assert_ptr_nonnull(req);
	ck_assert_msg(r.calls == 0, "%s: answered inside the call", key);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_msg(r.calls == 1, "%s: got %d answers, want 1", key, r.calls);
	ck_assert_int_eq(r.reentered, 0);
	return r;
}

/* ---- a table of steps on one store ---- */

static const struct step {
	enum op op;
	const char *key, *value;
	int64_t delta;
	unsigned ttl_ms;
	int status;
	const char *want;      /* NULL: absent */
} steps[] = {
	{ OP_GET, "k", NULL, 0, 0, 0, NULL },
	{ OP_SET, "k", "hello", 0, 0, 0, NULL },
	{ OP_GET, "k", NULL, 0, 0, 0, "hello" },
	{ OP_SET, "k", "", 0, 0, 0, NULL },
	{ OP_GET, "k", NULL, 0, 0, 0, "" },
	{ OP_INCR, "k", NULL, 1, 0, -1, NULL },                   /* "" is not an integer */
	{ OP_SET, "k", "12abc", 0, 0, 0, NULL },
	{ OP_INCR, "k", NULL, 1, 0, -1, NULL },
	{ OP_GET, "k", NULL, 0, 0, 0, "12abc" },                  /* unchanged */
	{ OP_INCR, "n", NULL, 5, 0, 0, "5" },                     /* created at 0 */
	{ OP_INCR, "n", NULL, -7, 0, 0, "-2" },
	{ OP_INCR, "n", NULL, 0, 0, 0, "-2" },
	{ OP_GET, "n", NULL, 0, 0, 0, "-2" },
	{ OP_SET, "n", "9223372036854775806", 0, 0, 0, NULL },
	{ OP_INCR, "n", NULL, 1, 0, 0, "9223372036854775807" },
	{ OP_INCR, "n", NULL, 1, 0, -1, NULL },                   /* overflow */
	{ OP_GET, "n", NULL, 0, 0, 0, "9223372036854775807" },
	{ OP_SET, "n", "-40", 0, 0, 0, NULL },
	{ OP_INCR, "n", NULL, 2, 0, 0, "-38" },
	{ OP_SET, "n", " 4", 0, 0, 0, NULL },
	{ OP_INCR, "n", NULL, 1, 0, -1, NULL },                   /* no leading space */
	{ OP_SET, "n", NULL, 0, 0, 0, NULL },                     /* delete */
	{ OP_GET, "n", NULL, 0, 0, 0, NULL },
	{ OP_SET, "n", NULL, 0, 0, 0, NULL },                     /* delete of nothing */
};

START_TEST(test_steps)
{
	struct event_base *base = event_base_new();
	struct store *s = store_memory_new(0);

	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		const struct step *st = &steps[i];
		struct reply r = run(s, base, st->op, st->key, st->value, st->delta, st->ttl_ms);
		ck_assert_msg(r.status == st->status, "step %zu: got status %d, want %d", i, r.status,
		              st->status);
		if (st->want == NULL)
			ck_assert_msg(r.absent, "step %zu: got \"%s\", want no value", i, r.value);
		else
			ck_assert_msg(!r.absent && strcmp(r.value, st->want) == 0,
			              "step %zu: got \"%s\"%s, want \"%s\"", i, r.value,
			              r.absent ? " (absent)" : "", st->want);
	}
	store_free(&s);
	ck_assert_ptr_null(s);
	store_free(&s);
	event_base_free(base);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct event_base *base = event_base_new();
	struct store *s = store_memory_new(10);
	struct reply r = { 0 };
	char *big = xmalloc(STORE_VALUE_MAX + 2);
	char longkey[STORE_KEY_MAX + 2];

	memset(big, 'v', STORE_VALUE_MAX + 1);
	big[STORE_VALUE_MAX + 1] = '\0';
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	ck_assert_ptr_null(store_get(s, base, "", reply_cb, &r));
	ck_assert_ptr_null(store_get(s, base, NULL, reply_cb, &r));
	ck_assert_ptr_null(store_get(s, base, longkey, reply_cb, &r));
	ck_assert_ptr_null(store_get(s, NULL, "k", reply_cb, &r));
	ck_assert_ptr_null(store_get(s, base, "k", NULL, &r));
	ck_assert_ptr_null(store_get(NULL, base, "k", reply_cb, &r));
	ck_assert_ptr_null(store_set(s, base, "k", big, 0, reply_cb, &r));
	ck_assert_ptr_null(store_incr(s, base, "", 1, 0, reply_cb, &r));
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(r.calls, 0);
	longkey[STORE_KEY_MAX] = '\0';         /* exactly the limit is fine */
	ck_assert_int_eq(run(s, base, OP_SET, longkey, "x", 0, 0).status, 0);
	free(big);
	store_free(&s);
	event_base_free(base);
}
END_TEST

/* ---- time to live ---- */

START_TEST(test_ttl)
{
	struct event_base *base = event_base_new();
	struct store *s = store_memory_new(0);
	struct reply r;

	ck_assert_int_eq(run(s, base, OP_SET, "v", "x", 0, 300).status, 0);
	ck_assert_int_eq(run(s, base, OP_INCR, "c", NULL, 1, 300).status, 0);
	/* A later incr keeps the creation's expiry, whatever its own ttl. */
	r = run(s, base, OP_INCR, "c", NULL, 1, 60000);
	ck_assert_str_eq(r.value, "2");
	ck_assert_int_eq(run(s, base, OP_SET, "forever", "y", 0, 0).status, 0);
	ck_assert_str_eq(run(s, base, OP_GET, "v", NULL, 0, 0).value, "x");
	usleep(350 * 1000);
	r = run(s, base, OP_GET, "v", NULL, 0, 0);
	ck_assert_msg(r.absent, "v: got \"%s\" after its ttl", r.value);
	r = run(s, base, OP_INCR, "c", NULL, 1, 0);
	ck_assert_msg(strcmp(r.value, "1") == 0, "c: got %s after its ttl, want a fresh 1", r.value);
	ck_assert_str_eq(run(s, base, OP_GET, "forever", NULL, 0, 0).value, "y");
	/* set replaces the expiry: from 300 ms to none. */
	ck_assert_int_eq(run(s, base, OP_SET, "w", "1", 0, 300).status, 0);
	ck_assert_int_eq(run(s, base, OP_SET, "w", "2", 0, 0).status, 0);
	usleep(350 * 1000);
	ck_assert_str_eq(run(s, base, OP_GET, "w", NULL, 0, 0).value, "2");
	store_free(&s);
	event_base_free(base);
}
END_TEST

/* ---- the max_keys bound ---- */

START_TEST(test_max_keys)
{
	struct event_base *base = event_base_new();
	struct store *s = store_memory_new(4);
	char key[16];

	for (int i = 0; i < 2; i++) {
		xsnprintf(key, sizeof(key), "keep%d", i);
		ck_assert_int_eq(run(s, base, OP_SET, key, "x", 0, 0).status, 0);
	}
	for (int i = 0; i < 2; i++) {
		xsnprintf(key, sizeof(key), "brief%d", i);
		ck_assert_int_eq(run(s, base, OP_INCR, key, NULL, 1, 300).status, 0);
	}
	/* Full, nothing expired: new keys are refused, existing ones still change. */
	ck_assert_int_eq(run(s, base, OP_SET, "new", "x", 0, 0).status, -1);
	ck_assert_int_eq(run(s, base, OP_INCR, "new", NULL, 1, 0).status, -1);
	ck_assert(run(s, base, OP_GET, "new", NULL, 0, 0).absent);
	ck_assert_int_eq(run(s, base, OP_SET, "keep0", "y", 0, 0).status, 0);
	ck_assert_str_eq(run(s, base, OP_INCR, "brief0", NULL, 1, 0).value, "2");
	/* Once the brief keys expire they make room. */
	usleep(350 * 1000);
	ck_assert_int_eq(run(s, base, OP_SET, "new", "x", 0, 0).status, 0);
	ck_assert_int_eq(run(s, base, OP_SET, "new2", "x", 0, 0).status, 0);
	ck_assert_int_eq(run(s, base, OP_SET, "new3", "x", 0, 0).status, -1);
	ck_assert_str_eq(run(s, base, OP_GET, "keep0", NULL, 0, 0).value, "y");
	ck_assert_str_eq(run(s, base, OP_GET, "keep1", NULL, 0, 0).value, "x");
	/* A delete frees a slot too. */
	ck_assert_int_eq(run(s, base, OP_SET, "keep1", NULL, 0, 0).status, 0);
	ck_assert_int_eq(run(s, base, OP_SET, "new3", "x", 0, 0).status, 0);
	store_free(&s);
	event_base_free(base);
}
END_TEST

/* ---- cancel ---- */

START_TEST(test_cancel)
{
	struct event_base *base = event_base_new();
	struct store *s = store_memory_new(0);
	struct reply r = { 0 }, other = { 0 };

	struct store_req *req = store_incr(s, base, "c", 1, 0, reply_cb, &r);
	struct store_req *keep = store_get(s, base, "c", reply_cb, &other);
	ck_assert_ptr_nonnull(req);
	store_cancel(req);
	store_cancel(NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_msg(r.calls == 0, "cancelled request answered %d times", r.calls);
	ck_assert_int_eq(other.calls, 1);
	ck_assert_str_eq(other.value, "1");    /* the incr itself had taken effect */
	(void)keep;
	/* Outstanding at free: cancelled first, as store.h asks. */
	req = store_get(s, base, "c", reply_cb, &r);
	store_cancel(req);
	store_free(&s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(r.calls, 0);
	event_base_free(base);
}
END_TEST

/* ---- two loops on two threads, one counter ---- */

#define INCRS_PER_THREAD 2000

struct incr_thread {
	struct store *s;
	int answers, failures;
	struct event_base *base;
	pthread_t self;
	int wrong_thread;
};

static void
incr_cb(void *arg, int status, const char *value)
{
	struct incr_thread *t = arg;

	(void)value;
	if (!pthread_equal(pthread_self(), t->self))
		t->wrong_thread++;
	if (status != 0)
		t->failures++;
	if (++t->answers == INCRS_PER_THREAD)
		event_base_loopbreak(t->base);
}

static void *
incr_main(void *arg)
{
	struct incr_thread *t = arg;

	t->base = event_base_new();
	t->self = pthread_self();
	for (int i = 0; i < INCRS_PER_THREAD; i++) {
		ck_assert_ptr_nonnull(store_incr(t->s, t->base, "shared", 1, 0, incr_cb, t));
		if (i % 100 == 99)
			event_base_loop(t->base, EVLOOP_NONBLOCK);   /* interleave answers */
	}
	if (t->answers < INCRS_PER_THREAD)
		event_base_dispatch(t->base);
	event_base_free(t->base);
	return NULL;
}

START_TEST(test_two_threads)
{
	struct store *s = store_memory_new(0);
	struct incr_thread t[2];
	pthread_t th[2];

	memset(t, 0, sizeof(t));
	for (int i = 0; i < 2; i++) {
		t[i].s = s;
		ck_assert_int_eq(pthread_create(&th[i], NULL, incr_main, &t[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(t[i].answers, INCRS_PER_THREAD);
		ck_assert_int_eq(t[i].failures, 0);
		ck_assert_int_eq(t[i].wrong_thread, 0);
	}
	struct event_base *base = event_base_new();
	struct reply r = run(s, base, OP_GET, "shared", NULL, 0, 0);
	ck_assert_msg(strcmp(r.value, "4000") == 0, "got %s, want 4000", r.value);
	store_free(&s);
	event_base_free(base);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("memory");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_steps);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_ttl);
	tcase_add_test(tc, test_max_keys);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_two_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_open(1, LOG_LEVEL_WARNING);
	if (evthread_use_pthreads() < 0)
		return EXIT_FAILURE;
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
