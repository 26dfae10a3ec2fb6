#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double mb_percentile_sorted(const double *sorted, size_t n, double p)
{
	if (n == 1 || p <= 0)
		return sorted[0];
	if (p >= 1)
		return sorted[n - 1];
	double h = (double)(n - 1) * p;
	size_t lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

int mb_stats_compute(const double *v, size_t n, struct mb_stats *out, mc_err *err)
{
	if (n == 0)
		return mc_errorf(err, 0, "statistics of an empty sample");
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return mc_errorf(err, ENOMEM, "statistics of %zu values", n);
	memcpy(s, v, n * sizeof(*s));
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(s[i])) {
			free(s);
			return mc_errorf(err, 0, "statistics: value %zu is not a finite number", i);
		}
		sum += s[i];
	}
	qsort(s, n, sizeof(*s), cmp_double);
	out->n = n;
	out->min = s[0];
	out->max = s[n - 1];
	out->mean = sum / (double)n;
	out->median = mb_percentile_sorted(s, n, 0.5);
	out->p95 = mb_percentile_sorted(s, n, 0.95);
	double sq = 0;
	for (size_t i = 0; i < n; i++)
		sq += (s[i] - out->mean) * (s[i] - out->mean);
	out->stddev = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;
	free(s);
	return 0;
}
