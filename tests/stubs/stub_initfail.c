/* stub_initfail.c - test filter "initfail": reads `log`, records "init initfail"
 * there, and refuses its configuration without saying why. */
#include <stdio.h>

#include "sluice/filter.h"
#include "sluice/host.h"

static int
stub_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	const char *log = host->config_get(cfg, "log");
	FILE *fp = log != NULL ? fopen(log, "a") : NULL;

	(void)self_r;
	if (fp != NULL) {
		fputs("init initfail\n", fp);
		fclose(fp);
	}
	return -1;
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "initfail",
	.init = stub_init,
};
