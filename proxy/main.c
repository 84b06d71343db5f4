/* main.c - command line, configuration check, daemon/foreground, signals, and the
 * start and orderly stop of the worker threads. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "backend.h"
#include "chain.h"
#include "host.h"
#include "store.h"
#include "workers.h"
#include "config.h"
#include "listener.h"
#include "loader.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/sluice/sluice.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: sluiced [-f] [-t] [-V] [-c file]\n"
	           "  -c file  configuration (default %s)\n"
	           "  -f       stay in the foreground and log to stderr\n"
	           "  -t       check the configuration and exit\n"
	           "  -V       print the version and exit\n", DEFAULT_CONFIG);
}

/* replaced by host_table() */

struct main_state {
	struct worker *workers;
	unsigned nworkers;
	struct event_base *base;
	int stopping;
};

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct main_state *ms = arg;

	(void)what;
	if (ms->stopping)
		return;
	ms->stopping = 1;
	log_info(NULL, "signal %d: stopping; sessions finish their transaction first", (int)sig);
	for (unsigned i = 0; i < ms->nworkers; i++)
		worker_stop(&ms->workers[i]);
	event_base_loopexit(ms->base, NULL);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info(NULL, "SIGHUP: configuration reload is not implemented yet; ignored");
}

static int
spool_dir_ready(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_error(NULL, "cannot create spool_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error(NULL, "spool_dir %s is not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		log_error(NULL, "spool_dir %s is not writable: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	int foreground = 0, check_only = 0, opt, rc = 1;
	struct config *cfg = NULL;
	struct filter_set *filters = NULL;
	struct main_state ms = { 0 };
	struct server srv = { 0 };
	struct event *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;

	while ((opt = getopt(argc, argv, "c:ftVh")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 't': check_only = 1; break;
		case 'V': printf("sluiced %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	int nerr = config_load(path, stderr, &cfg);
	if (nerr == 0)
		nerr = loader_load(cfg, host_table(), stderr, &filters);
	if (check_only) {
		if (nerr == 0)
			printf("%s: configuration OK\n", path);
		loader_unload(&filters);
		config_free(&cfg);
		return nerr ? 1 : 0;
	}
	if (nerr) {
		fprintf(stderr, "sluiced: %d error%s in %s; not starting\n", nerr, nerr == 1 ? "" : "s", path);
		config_free(&cfg);
		return 1;
	}

	log_open(foreground, (enum log_level)cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (spool_dir_ready(cfg->spool_dir) < 0)
		goto out;
	if (evthread_use_pthreads() < 0) {
		log_error(NULL, "libevent has no pthreads support");
		goto out;
	}
	if (!foreground && daemon(0, 0) < 0) {
		log_error(NULL, "cannot become a daemon: %s", strerror(errno));
		goto out;
	}

	srv.cfg = cfg;
	srv.pool = backend_pool_new(cfg);
	srv.limits = conn_limits_new();
	srv.workers = workers_new(cfg->work_threads);
	srv.store = store_memory_new(0);
	host_configure(&srv);
	chain_configure(filters);
	ms.nworkers = cfg->workers ? cfg->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (ms.nworkers == 0)
		ms.nworkers = 1;
	ms.workers = xcalloc(ms.nworkers, sizeof(*ms.workers));
	ms.base = event_base_new();
	if (ms.base == NULL)
		goto out;
	for (unsigned i = 0; i < ms.nworkers; i++)
		if (worker_init(&ms.workers[i], i, &srv) < 0)
			goto out;

	sig_term = evsignal_new(ms.base, SIGTERM, on_stop_signal, &ms);
	sig_int = evsignal_new(ms.base, SIGINT, on_stop_signal, &ms);
	sig_hup = evsignal_new(ms.base, SIGHUP, on_hup, &ms);
	event_add(sig_term, NULL);
	event_add(sig_int, NULL);
	event_add(sig_hup, NULL);
	backend_probe_start(srv.pool, ms.base);

	for (unsigned i = 0; i < ms.nworkers; i++)
		if (worker_start(&ms.workers[i]) < 0) {
			on_stop_signal(SIGTERM, 0, &ms);
			goto out;
		}
	{
		char listen_text[512] = "";
		size_t n = 0;
		for (size_t i = 0; i < cfg->nlisteners; i++)
			n += xsnprintf(listen_text + n, sizeof(listen_text) - n, "%s%s", i ? " " : "",
			               cfg->listeners[i].addr.text);
		log_info(NULL, "sluiced %s started: %u workers, listening on %s, backend %s%s",
		         PACKAGE_VERSION, ms.nworkers, listen_text, cfg->backends[0].addr.text,
		         cfg->nbackends > 1 ? " (and more)" : "");
	}
	event_base_dispatch(ms.base);
	rc = 0;
out:
	/* Loops first, then the pool (it may still deliver to a loop's base), then
	 * the loops' memory, then the filters (fini after every session and job). */
	for (unsigned i = 0; ms.workers != NULL && i < ms.nworkers; i++)
		worker_join(&ms.workers[i]);
	workers_free(&srv.workers);
	for (unsigned i = 0; ms.workers != NULL && i < ms.nworkers; i++)
		worker_finish(&ms.workers[i]);
	free(ms.workers);
	if (srv.pool != NULL)
		backend_probe_stop(srv.pool);
	if (sig_term) event_free(sig_term);
	if (sig_int) event_free(sig_int);
	if (sig_hup) event_free(sig_hup);
	if (ms.base != NULL)
		event_base_free(ms.base);
	backend_pool_free(&srv.pool);
	conn_limits_free(&srv.limits);
	store_free(&srv.store);
	chain_configure(NULL);
	loader_unload(&filters);
	if (rc == 0)
		log_info(NULL, "stopped");
	config_free(&cfg);
	libevent_global_shutdown();
	return rc;
}
