/* stub_ok.c - test filter "ok": reads `greeting` (refuses "bad") and `log` (a file
 * its init and fini append "init NAME" / "fini NAME" to); frees its state in fini.
 * Built three times (Makefile.am): stub_ok, stub_two (-DSTUB_NAME="two", for order
 * tests) and stub_dup (name "ok" again, from another .so). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/filter.h"
#include "sluice/host.h"

#ifndef STUB_NAME
#define STUB_NAME "ok"
#endif

struct stub { char *log; char *greeting; };

static void
stub_record(const char *log, const char *what)
{
	FILE *fp = log != NULL ? fopen(log, "a") : NULL;

	if (fp != NULL) {
		fprintf(fp, "%s %s\n", what, STUB_NAME);
		fclose(fp);
	}
}

static int
stub_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	const char *greeting = host->config_get(cfg, "greeting");
	const char *log = host->config_get(cfg, "log");
	struct stub *st;

	stub_record(log, "init");
	if (greeting != NULL && strcmp(greeting, "bad") == 0) {
		host->config_error(cfg, "greeting", "bad value '%s' for greeting (at %s)", greeting,
		                   host->config_where(cfg, "greeting"));
		return -1;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	st->log = log != NULL ? strdup(log) : NULL;
	st->greeting = strdup(greeting != NULL ? greeting : "hello");
	*self_r = st;
	return 0;
}

static void
stub_fini(void *self)
{
	struct stub *st = self;

	stub_record(st->log, "fini");
	free(st->log);
	free(st->greeting);
	free(st);
}

static enum sluice_verdict
stub_connect(struct sluice_ctx *ctx, void *self)
{
	(void)ctx;
	(void)self;
	return SLUICE_CONTINUE;
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = STUB_NAME,
	.description = "test filter with keys",
	.init = stub_init,
	.fini = stub_fini,
	.connect = stub_connect,
};
