/* What every natlab fuzz harness shares: the entry point, and CHECK, which
 * turns a broken invariant into a crash libFuzzer records. */
#ifndef NATLAB_FUZZ_H
#define NATLAB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond))                                                                   \
			abort();                                                               \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
