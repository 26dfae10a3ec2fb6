/* A live progress line on stderr, only when stderr is a terminal:
 *   latency  crun  4 guests  run 3/10  elapsed 0:12  ETA 0:31
 */
#ifndef MB_PROGRESS_H
#define MB_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mb_progress {
	bool on;
	uint64_t t0;
	size_t done, total; /* batches */
};

/* total: the batches the run will do, for the ETA. force_on/off for tests: -1 = isatty(2). */
void mb_progress_init(struct mb_progress *p, size_t total, int force);
/* Show what runs now (run is 1-based; 0 = a warm-up run). */
void mb_progress_show(struct mb_progress *p, const char *experiment, const char *backend,
		      unsigned guests, unsigned run, unsigned runs);
/* One batch done. */
void mb_progress_step(struct mb_progress *p);
/* Erase the line (before printing anything else on the terminal). */
void mb_progress_clear(struct mb_progress *p);
/* "m:ss" or "h:mm:ss" into buf. */
void mb_format_duration(double seconds, char *buf, size_t size);

#endif
