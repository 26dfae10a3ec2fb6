/* Summary statistics over one sample of measurements, written once for every experiment.
 *
 * min, max, mean; median and p95 by linear interpolation between closest ranks (the rule of
 * numpy's default, R's type 7 and Excel's PERCENTILE.INC): for the sorted sample x[0..n-1]
 * and a fraction p, h = (n - 1) * p, and the percentile is x[floor h] + (h - floor h) *
 * (x[floor h + 1] - x[floor h]). So the median of an even count is the mean of the two middle
 * values, and p95 of 1..20 is 19.05. stddev is the sample standard deviation (divides by
 * n - 1), 0 for a single sample.
 */
#ifndef MB_STATS_H
#define MB_STATS_H

#include <stddef.h>

#include "error.h"

struct mb_stats {
	size_t n;
	double min, median, max, mean, p95, stddev;
};

/* Percentile p (0..1) of an already sorted sample of n >= 1 values, by the rule above. */
double mb_percentile_sorted(const double *sorted, size_t n, double p);
/* Compute every statistic of v[0..n-1] (v is left as it is); fails on an empty sample or a
 * value that is not finite. */
int mb_stats_compute(const double *v, size_t n, struct mb_stats *out, mc_err *err);

#endif
