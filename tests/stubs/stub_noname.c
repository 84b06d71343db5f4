/* stub_noname.c - test filter without a name. */
#include "sluice/filter.h"

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.description = "nameless",
};
