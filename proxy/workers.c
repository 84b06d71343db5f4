/* workers.c - the blocking-work thread pool and its per-loop completion queues. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "workers.h"

/* Done callbacks one completion event runs before yielding to the rest of the
 * loop; the event re-arms itself for the remainder. */
#define WORKERS_DELIVER_BATCH 256

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct workers_loop;

struct workers_job {
	TAILQ_ENTRY(workers_job) link;   /* on the pool queue, then on its loop's queue */
	struct workers_loop *loop;
	void *(*fn)(void *);
	void *fn_arg;
	workers_done_fn *done;
	void *done_arg;
	void *result;
	enum job_state state;
	int cancelled;
};

TAILQ_HEAD(job_list, workers_job);

/* One per event_base with jobs outstanding: jobs whose done is due on that loop.
 * It goes away with the base's last outstanding job, so a base with nothing
 * outstanding can be freed at any time. */
struct workers_loop {
	struct workers_loop *next;
	struct workers *w;
	struct event_base *base;
	struct event *ev;
	struct job_list done;
	size_t outstanding;    /* submitted, done not yet run */
	int armed;             /* ev is active or about to be */
};

struct workers {
	pthread_mutex_t mu;    /* guards everything below and every job's fields */
	pthread_cond_t cv;
	struct job_list queue;
	struct workers_loop *loops;
	pthread_t *threads;
	unsigned nthreads;
	int stopping;
};

/* Called with w->mu held. */
static void
workers_loop_push(struct workers_loop *l, struct workers_job *job)
{
	job->state = JOB_DONE;
	TAILQ_INSERT_TAIL(&l->done, job, link);
	if (!l->armed) {
		l->armed = 1;
		/* Thread-safe with evthread_use_pthreads(); coalesces with a pending
		 * activation, so a burst of completions costs one loop wake-up. */
		event_active(l->ev, EV_READ, 0);
	}
}

static void
workers_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct workers_loop *l = arg;
	struct workers *w = l->w;

	(void)fd;
	(void)what;
	for (int n = 0;; n++) {
		struct workers_job *job;

		pthread_mutex_lock(&w->mu);
		if (n == WORKERS_DELIVER_BATCH && !TAILQ_EMPTY(&l->done)) {
			event_active(l->ev, EV_READ, 0);   /* let other events run first */
			pthread_mutex_unlock(&w->mu);
			return;
		}
		job = TAILQ_FIRST(&l->done);
		if (job == NULL) {
			l->armed = 0;
			pthread_mutex_unlock(&w->mu);
			return;
		}
		TAILQ_REMOVE(&l->done, job, link);
		/* Read under the lock: a done callback run earlier in this pass may
		 * have cancelled this job. */
		workers_done_fn *done = job->done;
		void *done_arg = job->done_arg, *result = job->result;
		int cancelled = job->cancelled;
		int last = --l->outstanding == 0;
		if (last) {
			struct workers_loop **lp = &w->loops;
			while (*lp != l)
				lp = &(*lp)->next;
			*lp = l->next;
		}
		pthread_mutex_unlock(&w->mu);

		free(job);
		if (last) {
			/* Nothing more can arrive for l; freeing an event inside its
			 * own callback is allowed. A submit from done makes a new l. */
			event_free(l->ev);
			free(l);
		}
		done(done_arg, result, cancelled);
		if (last)
			return;
	}
}

static void *
workers_thread(void *arg)
{
	struct workers *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct workers_job *job;

		while (!w->stopping && TAILQ_EMPTY(&w->queue))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping)
			break;
		job = TAILQ_FIRST(&w->queue);
		TAILQ_REMOVE(&w->queue, job, link);
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&w->mu);

		void *result = job->fn(job->fn_arg);

		pthread_mutex_lock(&w->mu);
		job->result = result;
		if (w->stopping) {
			free(job);   /* workers_free promised no callback */
			break;
		}
		workers_loop_push(job->loop, job);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct workers *
workers_new(unsigned nthreads)
{
	struct workers *w = xcalloc(1, sizeof(*w));

	if (nthreads == 0)
		nthreads = 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	TAILQ_INIT(&w->queue);
	w->threads = xcalloc(nthreads, sizeof(*w->threads));
	for (unsigned i = 0; i < nthreads; i++) {
		int r = pthread_create(&w->threads[i], NULL, workers_thread, w);
		if (r != 0) {
			log_error(NULL, "workers: cannot start thread %u: %s", i, strerror(r));
			abort();
		}
		w->nthreads++;
	}
	return w;
}

void
workers_free(struct workers **wp)
{
	struct workers *w = *wp;
	struct workers_job *job;
	struct workers_loop *l;

	if (w == NULL)
		return;
	*wp = NULL;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	while ((job = TAILQ_FIRST(&w->queue)) != NULL) {
		TAILQ_REMOVE(&w->queue, job, link);
		free(job);
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	/* The threads are gone: no more locking needed. */
	while ((l = w->loops) != NULL) {
		w->loops = l->next;
		while ((job = TAILQ_FIRST(&l->done)) != NULL) {
			TAILQ_REMOVE(&l->done, job, link);
			free(job);
		}
		event_free(l->ev);
		free(l);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
}

/* Called with w->mu held. */
static struct workers_loop *
workers_loop_get(struct workers *w, struct event_base *base)
{
	struct workers_loop *l;

	for (l = w->loops; l != NULL; l = l->next)
		if (l->base == base)
			return l;
	l = xcalloc(1, sizeof(*l));
	l->w = w;
	l->base = base;
	TAILQ_INIT(&l->done);
	l->ev = event_new(base, -1, 0, workers_on_done, l);
	if (l->ev == NULL) {
		log_error(NULL, "workers: cannot create a completion event");
		abort();
	}
	l->next = w->loops;
	w->loops = l;
	return l;
}

struct workers_job *
workers_submit(struct workers *w, struct event_base *base, void *(*fn)(void *), void *fn_arg,
               workers_done_fn *done, void *done_arg)
{
	struct workers_job *job;

	if (w == NULL || base == NULL || fn == NULL || done == NULL)
		return NULL;
	job = xcalloc(1, sizeof(*job));
	job->fn = fn;
	job->fn_arg = fn_arg;
	job->done = done;
	job->done_arg = done_arg;
	job->state = JOB_QUEUED;
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		free(job);
		return NULL;
	}
	job->loop = workers_loop_get(w, base);
	job->loop->outstanding++;
	TAILQ_INSERT_TAIL(&w->queue, job, link);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return job;
}

void
workers_cancel(struct workers_job *job)
{
	struct workers *w;

	if (job == NULL)
		return;
	w = job->loop->w;
	pthread_mutex_lock(&w->mu);
	job->cancelled = 1;
	if (job->state == JOB_QUEUED) {
		TAILQ_REMOVE(&w->queue, job, link);
		workers_loop_push(job->loop, job);
	}
	pthread_mutex_unlock(&w->mu);
}
