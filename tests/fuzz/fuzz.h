/* fuzz.h - shared by the libFuzzer targets in tests/fuzz: the invariant check
 * and a small independent xtext decoder (RFC 3461 4). */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant failed: say which and abort, so libFuzzer saves the input. */
#define CHECK(cond) do {                                                          \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",          \
			        __FILE__, __LINE__, #cond);                       \
			abort();                                                  \
		}                                                                 \
	} while (0)

static inline int
fuzz_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;   /* xtext hex is upper case only */
}

/* Decode xtext s[0..len) into out (room for len octets); *n_r = decoded length.
 * 0 when s is not xtext: a '+' without two upper-case hex digits, or a byte
 * outside 33..126, or a bare '='. */
static inline int
fuzz_xtext_decode(const char *s, size_t len, char *out, size_t *n_r)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return 0;
			hi = fuzz_hexval((unsigned char)s[i + 1]);
			lo = fuzz_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return 0;
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c >= 33 && c <= 126 && c != '=') {
			out[n++] = (char)c;
		} else {
			return 0;
		}
	}
	*n_r = n;
	return 1;
}

#endif
