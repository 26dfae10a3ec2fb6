/* Boot milestones of DESIGN.md, in ms since minivm started (main() entry). Marked once each,
 * from any thread; printed as one JSON object by --timings json. */
#ifndef MINIVM_TIMINGS_H
#define MINIVM_TIMINGS_H

#include <stdio.h>

enum milestone { MS_START, MS_SETUP, MS_ENTRY, MS_INIT, MS_READY, MS_EXIT, MS_GONE, MS_COUNT };

void timings_start(void);
/* Record the milestone the first time it happens; later calls are ignored. */
void timings_mark(enum milestone m);
/* Milliseconds since start, or a negative value when the milestone never happened. */
double timings_ms(enum milestone m);
/* {"start":0.0,"setup":1.2,...,"end":"poweroff","status":0}; missing milestones are null. */
void timings_print_json(FILE *f, const char *end_reason, int status);

#endif
