/* stub_nohooks.c - test filter with a name and nothing else: no init, no fini. */
#include "sluice/filter.h"

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "nohooks",
};
