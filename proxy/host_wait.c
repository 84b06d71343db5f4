/* host_wait.c - host services that cross threads or read the whole message:
 * dns_query_wait (a work function waits for a lookup its loop makes) and
 * message_read (the message as it will leave, for a signer). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "chain_state.h"
#include "config.h"
#include "dns.h"
#include "host_int.h"
#include "loader.h"
#include "log.h"
#include "message.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* The loop whose filter submitted the work function running on this thread. */
static _Thread_local struct worker *work_origin;

void *
host_work_run(void *arg)
{
	struct host_work_call *call = arg;
	void *result;

	work_origin = call->origin;
	result = call->fn(call->arg);
	work_origin = NULL;
	return result;
}

/* ------------------------------------------------------------ dns_query_wait */

/*
 * One lookup a pool thread waits for. The loop thread makes it (struct dns
 * belongs to its loop) and hands the answer back under the lock. Two owners: the
 * waiter and the loop; whoever lets go last frees it, so a waiter that gave up
 * (deadline) leaves the late answer to the loop to throw away.
 */
struct dns_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	int done;
	struct worker *w;
	enum sluice_dns_type type;
	char name[256];
	struct sluice_dns_answer *answer;   /* deep copy, one allocation */
};

static void
dns_wait_unref(struct dns_wait *dw)
{
	int last;

	pthread_mutex_lock(&dw->lock);
	last = --dw->refs == 0;
	pthread_mutex_unlock(&dw->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&dw->lock);
	pthread_cond_destroy(&dw->cond);
	free(dw->answer);
	free(dw);
}

/* One allocation holding the answer, its record pointers and their strings. */
static struct sluice_dns_answer *
answer_copy(enum sluice_async_status status, size_t count, const char *const *records, uint32_t ttl)
{
	size_t size = sizeof(struct sluice_dns_answer) + (count + 1) * sizeof(char *);
	struct sluice_dns_answer *a;
	const char **recs;
	char *p;

	for (size_t i = 0; i < count; i++)
		size += strlen(records[i]) + 1;
	a = xcalloc(1, size);
	recs = (const char **)(a + 1);
	p = (char *)(recs + count + 1);
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(records[i]) + 1;
		memcpy(p, records[i], len);
		recs[i] = p;
		p += len;
	}
	a->status = status;
	a->count = count;
	a->records = recs;
	a->ttl = ttl;
	return a;
}

static void
dns_wait_finish(struct dns_wait *dw, struct sluice_dns_answer *a)
{
	pthread_mutex_lock(&dw->lock);
	dw->answer = a;
	dw->done = 1;
	pthread_cond_signal(&dw->cond);
	pthread_mutex_unlock(&dw->lock);
	dns_wait_unref(dw);
}

static void
dns_wait_answer(void *arg, const struct sluice_dns_answer *answer)
{
	dns_wait_finish(arg, answer_copy(answer->status, answer->count, answer->records, answer->ttl));
}

/* On the loop thread of the work's origin. */
static void
dns_wait_start(evutil_socket_t fd, short what, void *arg)
{
	struct dns_wait *dw = arg;

	(void)fd;
	(void)what;
	if (dw->w->dns == NULL ||
	    dns_lookup(dw->w->dns, dw->name, (int)dw->type, dns_wait_answer, dw) == NULL)
		dns_wait_finish(dw, answer_copy(SLUICE_ASYNC_TEMPFAIL, 0, NULL, 0));
}

struct sluice_dns_answer *
host_dns_query_wait(const char *name, enum sluice_dns_type type)
{
	struct worker *w = work_origin;
	struct dns_wait *dw;
	struct sluice_dns_answer *a;
	struct timespec deadline;
	unsigned ms;
	int timed_out = 0;

	if (w == NULL) {
		log_warning(NULL, "filter called dns_query_wait outside a work function: refused");
		return NULL;
	}
	if (name == NULL || *name == '\0' || strlen(name) >= sizeof(dw->name))
		return NULL;
	dw = xcalloc(1, sizeof(*dw));
	pthread_mutex_init(&dw->lock, NULL);
	pthread_cond_init(&dw->cond, NULL);
	dw->refs = 2;
	dw->w = w;
	dw->type = type;
	strlcpy_s(dw->name, name, sizeof(dw->name));
	if (event_base_once(w->base, -1, EV_TIMEOUT, dns_wait_start, dw, &(struct timeval){ 0, 0 }) < 0) {
		dw->refs = 1;
		dns_wait_unref(dw);
		return NULL;
	}
	/* The lookup has its own timeout (dns_timeout); the extra second only
	 * guards against a loop that stopped before running it. */
	ms = w->srv->cfg->dns_timeout + 1000;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&dw->lock);
	while (!dw->done && !timed_out)
		timed_out = pthread_cond_timedwait(&dw->cond, &dw->lock, &deadline) == ETIMEDOUT;
	a = dw->answer;
	dw->answer = NULL;
	pthread_mutex_unlock(&dw->lock);
	dns_wait_unref(dw);
	return a != NULL ? a : answer_copy(SLUICE_ASYNC_TIMEOUT, 0, NULL, 0);
}

void
host_dns_answer_free(struct sluice_dns_answer *answer)
{
	free(answer);
}

/* ------------------------------------------------------------ message_read */

int
host_message_read(struct sluice_ctx *ctx, int (*cb)(void *arg, const unsigned char *data, size_t len),
                  void *arg)
{
	struct chain_session *cs;
	struct message *m;
	struct message_out out;
	char buf[16384];
	const char *data;
	ssize_t n;

	if (!host_ctx_ok(ctx, "message_read") || cb == NULL)
		return -1;
	cs = chain_of(ctx->s);
	if (cs == NULL || !cs->running || cs->phase != CHAIN_EOM) {
		host_ctx_refuse(ctx, "message_read", "only from the eom hook");
		return -1;
	}
	if ((m = host_ctx_message(ctx, "message_read")) == NULL)
		return -1;
	/* No prefix: sluice's own Received and Authentication-Results come later. */
	message_out_init(&out, m, NULL, 0);
	while ((n = message_out_next(&out, &data, buf, sizeof(buf))) > 0)
		if (cb(arg, (const unsigned char *)data, (size_t)n) != 0)
			return 0;
	if (n < 0) {
		log_error(ctx->s->sid, "filter %s: message_read: cannot read the spool: %s",
		          ctx->f->name, strerror(errno));
		return -1;
	}
	return 0;
}
