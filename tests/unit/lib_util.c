/* Unit tests for lib/: size parsing, error context chaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "lib/error.h"
#include "lib/util.h"

static void parse_size_units(void **state)
{
	(void)state;
	uint64_t v = 0;
	mc_err err = NULL;
	assert_int_equal(mc_parse_size("4096", &v, &err), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(mc_parse_size("256M", &v, &err), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(mc_parse_size("2GiB", &v, &err), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(mc_parse_size("1k", &v, &err), 0);
	assert_int_equal(v, 1024);
	assert_null(err);
}

static void parse_size_rejects_junk(void **state)
{
	(void)state;
	const char *bad[] = {"", "-1", "12Q", "M", "10MX", "99999999999999999999", "17179869184T"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 0;
		mc_err err = NULL;
		assert_int_equal(mc_parse_size(bad[i], &v, &err), -1);
		assert_non_null(err);
		mc_error_free(&err);
	}
}

static void parse_uint_range(void **state)
{
	(void)state;
	uint64_t v;
	mc_err err = NULL;
	assert_int_equal(mc_parse_uint("0", 1, 8, &v, "--cpus", &err), -1);
	assert_non_null(strstr(mc_error_text(err), "--cpus 0 is out of range"));
	mc_error_free(&err);
	assert_int_equal(mc_parse_uint("3", 1, 8, &v, "--cpus", &err), 0);
	assert_int_equal(v, 3);
	assert_int_equal(mc_parse_uint("3x", 1, 8, &v, "--cpus", &err), -1);
	mc_error_free(&err);
}

static void error_context_chain(void **state)
{
	(void)state;
	mc_err err = NULL;
	mc_errorf(&err, 2, "open `%s`", "/nonexistent");
	mc_errorf(&err, 0, "second error is ignored");
	mc_wrap(&err, "load kernel");
	assert_string_equal(mc_error_text(err),
			    "load kernel: open `/nonexistent`: No such file or directory");
	assert_int_equal(err->errnum, 2);
	mc_error_free(&err);
	assert_null(err);
}

static void read_file_limits(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	mc_err err = NULL;
	assert_int_equal(mc_read_file("/proc/self/stat", 1 << 20, &buf, &len, &err), 0);
	assert_true(len > 0);
	free(buf);
	assert_int_equal(mc_read_file("/proc/self/maps", 16, &buf, &len, &err), -1);
	assert_non_null(strstr(mc_error_text(err), "larger than 16 bytes"));
	mc_error_free(&err);
}

/* A deadline for pthread_cond_timedwait: now + ns on CLOCK_REALTIME, tv_nsec normalised. */
static void realtime_after_deadline(void **state)
{
	(void)state;
	uint64_t steps[] = {0, 1, 999999999ull, 1000000000ull, 2500000000ull};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct timespec before, after;
		clock_gettime(CLOCK_REALTIME, &before);
		struct timespec d = mc_realtime_after(steps[i]);
		clock_gettime(CLOCK_REALTIME, &after);
		assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
		int64_t ns = (int64_t)d.tv_sec * 1000000000LL + d.tv_nsec;
		int64_t lo = (int64_t)before.tv_sec * 1000000000LL + before.tv_nsec;
		int64_t hi = (int64_t)after.tv_sec * 1000000000LL + after.tv_nsec;
		assert_true(ns >= lo + (int64_t)steps[i]);
		assert_true(ns <= hi + (int64_t)steps[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_size_units), cmocka_unit_test(parse_size_rejects_junk),
	    cmocka_unit_test(parse_uint_range), cmocka_unit_test(error_context_chain),
	    cmocka_unit_test(read_file_limits), cmocka_unit_test(realtime_after_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
