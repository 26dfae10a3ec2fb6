/* mc_crc32 (lib/migstream.c): the PCLMULQDQ folding path and the table path give zlib's
 * crc32() for any length, alignment, seed and split of one buffer into several calls; checked
 * against a bit-at-a-time reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/migstream.h"

static uint32_t ref_crc(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
	}
	return ~crc;
}

static void known_values(void **state)
{
	(void)state;
	assert_int_equal(mc_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(mc_crc32(0, "", 0), 0);
}

static void matches_reference(void **state)
{
	(void)state;
	enum { N = 70000 };
	uint8_t *b = malloc(N);
	assert_non_null(b);
	srand(7);
	for (size_t i = 0; i < N; i++)
		b[i] = (uint8_t)rand();
	for (int k = 0; k < 3000; k++) {
		size_t off = (size_t)rand() % 64, n = (size_t)rand() % (k < 2900 ? 600 : N - 64);
		uint32_t seed = (uint32_t)rand();
		uint32_t want = ref_crc(seed, b + off, n);
		assert_int_equal(mc_crc32(seed, b + off, n), want);
		size_t cut = n ? (size_t)rand() % n : 0;
		assert_int_equal(mc_crc32(mc_crc32(seed, b + off, cut), b + off + cut, n - cut),
				 want);
	}
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(known_values),
	    cmocka_unit_test(matches_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
