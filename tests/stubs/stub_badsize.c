/* stub_badsize.c - test filter whose descriptor size is not sluiced's. */
#include "sluice/filter.h"

const struct sluice_filter sluice_filter = {
	.abi_version = SLUICE_FILTER_ABI_VERSION,
	.struct_size = sizeof(struct sluice_filter) - 8,
	.name = "badsize",
};
