/* stub_badabi.c - test filter built for a future ABI version. */
#include "sluice/filter.h"

const struct sluice_filter sluice_filter = {
	.abi_version = SLUICE_FILTER_ABI_VERSION + 41,
	.struct_size = sizeof(struct sluice_filter),
	.name = "badabi",
};
