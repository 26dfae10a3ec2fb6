/* Unit tests for minibench's statistics (bench/stats.c), against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "bench/stats.h"

#define EPS 1e-9

/* cmocka's assert_float_equal compares floats: compare doubles, and say what differed */
static void near(double got, double want, const char *what, int line)
{
	if (fabs(got - want) > EPS) {
		print_error("line %d: %s = %.12g, want %.12g\n", line, what, got, want);
		fail();
	}
}
#define assert_near(got, want) near((got), (want), #got, __LINE__)

static void one_sample(void **state)
{
	(void)state;
	double v[] = {4.5};
	struct mb_stats s;
	mc_err err = NULL;
	assert_int_equal(mb_stats_compute(v, 1, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_near(s.min, 4.5);
	assert_near(s.median, 4.5);
	assert_near(s.max, 4.5);
	assert_near(s.mean, 4.5);
	assert_near(s.p95, 4.5);
	assert_near(s.stddev, 0);
}

/* 5 values, unsorted: median is the middle one; h = 4 * 0.95 = 3.8, so p95 = 7 + 0.8 * (9 - 7) */
static void odd_count(void **state)
{
	(void)state;
	double v[] = {9, 1, 7, 3, 5};
	struct mb_stats s;
	mc_err err = NULL;
	assert_int_equal(mb_stats_compute(v, 5, &s, &err), 0);
	assert_near(s.min, 1);
	assert_near(s.max, 9);
	assert_near(s.median, 5);
	assert_near(s.mean, 5);
	assert_near(s.p95, 8.6);
	/* squares of deviations: 16+4+0+4+16 = 40, / (5-1) = 10 */
	assert_near(s.stddev, sqrt(10));
	assert_near(v[0], 9); /* the caller's array is left unsorted */
}

/* 4 values: median is the mean of the middle two; h = 3 * 0.95 = 2.85, p95 = 6 + 0.85 * 4 */
static void even_count(void **state)
{
	(void)state;
	double v[] = {10, 2, 6, 4};
	struct mb_stats s;
	mc_err err = NULL;
	assert_int_equal(mb_stats_compute(v, 4, &s, &err), 0);
	assert_near(s.median, 5);
	assert_near(s.mean, 5.5);
	assert_near(s.p95, 9.4);
	/* deviations -3.5 -1.5 0.5 4.5: 12.25+2.25+0.25+20.25 = 35, / 3 */
	assert_near(s.stddev, sqrt(35.0 / 3));
}

/* 1..20: h = 19 * 0.95 = 18.05, between x[18] = 19 and x[19] = 20 */
static void p95_interpolation(void **state)
{
	(void)state;
	double v[20];
	for (int i = 0; i < 20; i++)
		v[i] = 20 - i;
	struct mb_stats s;
	mc_err err = NULL;
	assert_int_equal(mb_stats_compute(v, 20, &s, &err), 0);
	assert_near(s.p95, 19.05);
	assert_near(s.median, 10.5);
	double sorted[] = {1, 2};
	assert_float_equal(mb_percentile_sorted(sorted, 2, 0.95), 1.95, EPS);
	assert_float_equal(mb_percentile_sorted(sorted, 2, 0), 1, EPS);
	assert_float_equal(mb_percentile_sorted(sorted, 2, 1), 2, EPS);
}

static void equal_values(void **state)
{
	(void)state;
	double v[] = {3, 3, 3};
	struct mb_stats s;
	mc_err err = NULL;
	assert_int_equal(mb_stats_compute(v, 3, &s, &err), 0);
	assert_near(s.p95, 3);
	assert_near(s.stddev, 0);
}

static void refused(void **state)
{
	(void)state;
	struct mb_stats s;
	mc_err err = NULL;
	assert_int_equal(mb_stats_compute(NULL, 0, &s, &err), -1);
	assert_non_null(err);
	mc_error_free(&err);
	double v[] = {1, NAN};
	assert_int_equal(mb_stats_compute(v, 2, &s, &err), -1);
	assert_non_null(err);
	mc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(one_sample),   cmocka_unit_test(odd_count),
	    cmocka_unit_test(even_count),   cmocka_unit_test(p95_interpolation),
	    cmocka_unit_test(equal_values), cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
