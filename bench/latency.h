/* The latency experiment: start-to-exit time of a guest running one short command, with N
 * guests started at once, for each backend, interleaved run by run. */
#ifndef MB_LATENCY_H
#define MB_LATENCY_H

#include "cli.h"
#include "error.h"
#include "results.h"

/* Check the options before anything is created: the workload exists, every backend can run
 * (its tool is there, it is implemented, minibench runs as root). */
int mb_latency_check(const struct mb_opts *o, mc_err *err);
/* workdir holds the bundle (rootfs + config.json), the runtimes' state and the guests' log. */
int mb_latency(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err);

#endif
