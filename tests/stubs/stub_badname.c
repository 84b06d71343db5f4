/* stub_badname.c - test filter whose name has characters names may not have. */
#include "sluice/filter.h"

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "Bad Name",
};
