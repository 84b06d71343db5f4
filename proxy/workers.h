/* workers.h - a fixed pool of threads that run blocking functions off the event
 * loops and hand each result back to the loop that asked. */
#ifndef SLUICE_WORKERS_H
#define SLUICE_WORKERS_H

struct event_base;
struct workers;
struct workers_job;

/* Starts nthreads threads (at least 1). Call from main, after
 * evthread_use_pthreads() and before any loop runs. Never returns NULL (thread
 * creation failure is fatal, like allocation failure). */
struct workers *workers_new(unsigned nthreads);

/* Stops the pool: waits for the jobs now running, drops the queued ones, and frees
 * everything. No done callback runs after (or during) this call, for any job, so a
 * result still undelivered is lost; whoever needs results freed cancels its jobs
 * and lets its loop deliver them first. Call from main once the loops have
 * stopped; a base that still has jobs outstanding must not be freed before this
 * (the pool holds an event on each such base). Safe on NULL; NULLs *w. */
void workers_free(struct workers **w);

/* Runs on the loop thread of the base given to workers_submit, from that loop,
 * exactly once per job (unless workers_free came first). result is fn's return
 * value (NULL when the job never ran); cancelled is 1 after workers_cancel. The
 * job handle is invalid once this is called. */
typedef void workers_done_fn(void *arg, void *result, int cancelled);

/* Queues fn(fn_arg) for a pool thread; fn may block and must not touch the loop or
 * anything owned by it. Call on base's loop thread (or before its loop runs): the
 * pool keeps a completion queue and event per base with jobs outstanding. done is
 * never called inside workers_submit. Returns NULL (nothing queued, done never
 * runs) only when w is stopping or an argument is NULL.
 *
 * base must not be freed while one of its jobs is outstanding (submitted, done not
 * yet run), unless workers_free came first. Once none is, the pool holds nothing
 * on base. */
struct workers_job *workers_submit(struct workers *w, struct event_base *base,
                                   void *(*fn)(void *), void *fn_arg,
                                   workers_done_fn *done, void *done_arg);

/* From the loop thread owning the job's base, before its done ran. A queued job is
 * dropped: done runs later on the loop (never inside this call) with result NULL
 * and cancelled = 1. A running or finished job is not interrupted: done runs once
 * it is delivered, with cancelled = 1 and fn's result, for the caller to free.
 * Safe on NULL; a second cancel of one job is harmless. */
void workers_cancel(struct workers_job *job);

#endif
