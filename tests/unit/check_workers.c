/* check_workers.c - the thread pool: delivery to the right loop, volume, cancel, free. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "util.h"
#include "workers.h"

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until something breaks it, at most ms. */
static void
loop_for(struct event_base *base, unsigned ms)
{
	struct event *guard = evtimer_new(base, guard_cb, base);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(guard);
	evtimer_add(guard, &tv);
	event_base_loop(base, 0);
	event_free(guard);
}

/* ---- results come back to the loop that asked, on its thread ---- */

struct tally {
	struct event_base *base;
	pthread_t loop_thread;
	int want;
	atomic_int calls;
	atomic_int wrong_thread;
	atomic_int cancelled;
	atomic_long sum;
	atomic_int in_submit;   /* set while workers_submit/cancel runs */
	atomic_int reentered;
};

static void *
square(void *arg)
{
	intptr_t v = (intptr_t)arg;
	intptr_t *r = xmalloc(sizeof(*r));

	*r = v * v;
	return r;
}

static void
tally_done(void *arg, void *result, int cancelled)
{
	struct tally *t = arg;

	if (!pthread_equal(pthread_self(), t->loop_thread))
		t->wrong_thread++;
	if (t->in_submit)
		t->reentered++;
	if (cancelled)
		t->cancelled++;
	if (result != NULL) {
		t->sum += *(intptr_t *)result;
		free(result);
	}
	if (++t->calls == t->want)
		event_base_loopbreak(t->base);
}

struct loop_arg {
	struct workers *w;
	struct tally t;
	int njobs;
};

/* One loop thread submitting njobs and running until all are back. */
static void *
loop_thread(void *arg)
{
	struct loop_arg *la = arg;
	struct tally *t = &la->t;

	t->base = event_base_new();
	t->loop_thread = pthread_self();
	t->want = la->njobs;
	for (intptr_t i = 1; i <= la->njobs; i++) {
		t->in_submit = 1;
		struct workers_job *j = workers_submit(la->w, t->base, square, (void *)i, tally_done, t);
		t->in_submit = 0;
		ck_assert_ptr_nonnull(j);
	}
	loop_for(t->base, 15000);
	event_base_free(t->base);
	return NULL;
}

static long
sum_squares(long n)
{
	return n * (n + 1) * (2 * n + 1) / 6;
}

START_TEST(test_many_jobs_two_loops)
{
	struct workers *w = workers_new(4);
	struct loop_arg la[2];
	pthread_t th[2];

	memset(la, 0, sizeof(la));
	for (int i = 0; i < 2; i++) {
		la[i].w = w;
		la[i].njobs = 1000;
		ck_assert_int_eq(pthread_create(&th[i], NULL, loop_thread, &la[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(la[i].t.calls == 1000, "loop %d: got %d callbacks, want 1000", i,
		              (int)la[i].t.calls);
		ck_assert_msg(la[i].t.wrong_thread == 0, "loop %d: %d callbacks on another thread",
		              i, (int)la[i].t.wrong_thread);
		ck_assert_msg(la[i].t.sum == sum_squares(1000), "loop %d: got sum %ld, want %ld", i,
		              (long)la[i].t.sum, sum_squares(1000));
		ck_assert_int_eq(la[i].t.cancelled, 0);
	}
	workers_free(&w);
	ck_assert_ptr_null(w);
	workers_free(&w);
}
END_TEST

/* ---- cancellation ---- */

/* A job that blocks until the test opens the gate. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
	int entered;
	int no_result;         /* return NULL: nothing to leak when no done runs */
};

static void
gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void *
gate_open_later(void *arg)
{
	usleep(100 * 1000);
	gate_open(arg);
	return NULL;
}

static void
gate_wait_entered(struct gate *g, int n)
{
	pthread_mutex_lock(&g->mu);
	while (g->entered < n)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void *
gated(void *arg)
{
	struct gate *g = arg;
	intptr_t *r = g->no_result ? NULL : xmalloc(sizeof(*r));

	if (r != NULL)
		*r = 7;
	pthread_mutex_lock(&g->mu);
	g->entered++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return r;
}

struct one {
	int calls;
	int cancelled;
	int had_result;
	int in_call;
	int reentered;
	struct event_base *base;
	int stop_after;
	int *total;
};

static void
one_done(void *arg, void *result, int cancelled)
{
	struct one *o = arg;

	if (o->in_call)
		o->reentered++;
	o->calls++;
	o->cancelled = cancelled;
	o->had_result = result != NULL;
	free(result);
	if (o->total != NULL && ++*o->total == o->stop_after)
		event_base_loopbreak(o->base);
}

START_TEST(test_cancel_queued_and_running)
{
	struct event_base *base = event_base_new();
	struct workers *w = workers_new(1);
	struct gate g;
	struct one running = { 0 }, queued = { 0 }, plain = { 0 };
	int total = 0;

	gate_init(&g);
	running.base = queued.base = plain.base = base;
	running.total = queued.total = plain.total = &total;
	running.stop_after = queued.stop_after = plain.stop_after = 3;

	struct workers_job *jr = workers_submit(w, base, gated, &g, one_done, &running);
	gate_wait_entered(&g, 1);                 /* the only thread is busy with it */
	struct workers_job *jq = workers_submit(w, base, square, (void *)2, one_done, &queued);
	struct workers_job *jp = workers_submit(w, base, square, (void *)3, one_done, &plain);
	ck_assert_ptr_nonnull(jr);
	ck_assert_ptr_nonnull(jq);
	ck_assert_ptr_nonnull(jp);

	queued.in_call = running.in_call = 1;
	workers_cancel(jq);
	workers_cancel(jr);
	queued.in_call = running.in_call = 0;
	ck_assert_msg(queued.calls == 0 && running.calls == 0, "done ran inside workers_cancel");

	/* The queued one is delivered without waiting for the running one. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_msg(queued.calls == 1, "queued cancel: got %d callbacks, want 1", queued.calls);
	ck_assert_msg(queued.cancelled == 1 && !queued.had_result,
	              "queued cancel: got cancelled=%d result=%d, want 1 and none",
	              queued.cancelled, queued.had_result);
	ck_assert_int_eq(running.calls, 0);

	gate_open(&g);
	loop_for(base, 5000);
	ck_assert_msg(running.calls == 1 && running.cancelled == 1 && running.had_result,
	              "running cancel: got calls=%d cancelled=%d result=%d, want 1 1 1",
	              running.calls, running.cancelled, running.had_result);
	ck_assert_msg(plain.calls == 1 && plain.cancelled == 0 && plain.had_result,
	              "plain job: got calls=%d cancelled=%d result=%d, want 1 0 1",
	              plain.calls, plain.cancelled, plain.had_result);
	ck_assert_int_eq(queued.calls, 1);

	workers_cancel(NULL);
	workers_free(&w);
	event_base_free(base);
}
END_TEST

/* A finished job whose done has not run yet is still cancellable. */
START_TEST(test_cancel_finished_undelivered)
{
	struct event_base *base = event_base_new();
	struct workers *w = workers_new(2);
	struct gate g;
	struct one o = { 0 };
	int total = 0;

	gate_init(&g);
	gate_open(&g);
	struct workers_job *j = workers_submit(w, base, gated, &g, one_done, &o);
	gate_wait_entered(&g, 1);
	usleep(50 * 1000);                        /* finished, but the loop is not running */
	workers_cancel(j);
	workers_cancel(j);                        /* twice is harmless */
	o.base = base;
	o.total = &total;
	o.stop_after = 99;
	loop_for(base, 200);
	ck_assert_msg(o.calls == 1 && o.cancelled == 1 && o.had_result,
	              "got calls=%d cancelled=%d result=%d, want 1 1 1", o.calls, o.cancelled,
	              o.had_result);
	workers_free(&w);
	event_base_free(base);
}
END_TEST

/* ---- free ---- */

START_TEST(test_free_with_jobs_queued)
{
	struct event_base *base = event_base_new();
	struct workers *w = workers_new(1);
	struct gate g;
	struct one running = { 0 }, queued[50];

	memset(queued, 0, sizeof(queued));
	gate_init(&g);
	g.no_result = 1;   /* its result is dropped with the pool, as workers.h says */
	ck_assert_ptr_nonnull(workers_submit(w, base, gated, &g, one_done, &running));
	gate_wait_entered(&g, 1);
	for (size_t i = 0; i < ARRAY_LEN(queued); i++)
		ck_assert_ptr_nonnull(workers_submit(w, base, square, (void *)i, one_done, &queued[i]));

	/* Opens the gate from another thread once workers_free is waiting. */
	pthread_t opener;
	ck_assert_int_eq(pthread_create(&opener, NULL, gate_open_later, &g), 0);
	workers_free(&w);
	pthread_join(opener, NULL);
	ck_assert_ptr_null(w);
	loop_for(base, 100);
	ck_assert_msg(running.calls == 0, "done ran after workers_free");
	for (size_t i = 0; i < ARRAY_LEN(queued); i++)
		ck_assert_msg(queued[i].calls == 0, "queued job %zu called back after workers_free", i);
	event_base_free(base);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct event_base *base = event_base_new();
	struct workers *w = workers_new(0);   /* means 1 */
	struct one o = { 0 };

	ck_assert_ptr_null(workers_submit(NULL, base, square, NULL, one_done, &o));
	ck_assert_ptr_null(workers_submit(w, NULL, square, NULL, one_done, &o));
	ck_assert_ptr_null(workers_submit(w, base, NULL, NULL, one_done, &o));
	ck_assert_ptr_null(workers_submit(w, base, square, NULL, NULL, &o));
	workers_free(&w);
	event_base_free(base);
	ck_assert_int_eq(o.calls, 0);
}
END_TEST

static Suite *
workers_suite(void)
{
	Suite *s = suite_create("workers");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_many_jobs_two_loops);
	tcase_add_test(tc, test_cancel_queued_and_running);
	tcase_add_test(tc, test_cancel_finished_undelivered);
	tcase_add_test(tc, test_free_with_jobs_queued);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_open(1, LOG_LEVEL_WARNING);
	if (evthread_use_pthreads() < 0)
		return EXIT_FAILURE;
	SRunner *sr = srunner_create(workers_suite());
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
