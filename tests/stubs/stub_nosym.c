/* stub_nosym.c - a shared object that is not a sluice filter: no descriptor. */
#include "sluice/filter.h"

int stub_nosym_present(void);

int
stub_nosym_present(void)
{
	return 1;
}
