/* `minibench all`: every experiment that can run here, then one report.md.
 *
 * The experiments: latency (/bin/true) and density with each workload (cpu, fileio, oltp), one
 * after the other, each into its own --out subdirectory (DIR/latency, DIR/density-cpu, ...) as
 * if run on its own. The backends: those given with --backend, else every one; for each
 * experiment, a backend runs if the experiment's own check passes for it, and vm and qemu only
 * where a stock kernel boots (a VT-x/AMD-V /dev/kvm, not PVM: the test of scripts/run-tests.sh;
 * in the lab, MINI_IN_LAB). What is skipped, and why, is printed and goes into DIR/report.md
 * with every experiment's table and a link to its own report. An experiment that fails does not
 * stop the others; the run then fails naming them.
 */
#ifndef MB_ALL_H
#define MB_ALL_H

#include "cli.h"
#include "error.h"

/* One experiment as `minibench EXPERIMENT` runs it (its check, the run, its files). */
typedef int (*mb_run_fn)(const struct mb_opts *o, mc_err *err);

int mb_all(const struct mb_opts *o, mb_run_fn run, mc_err *err);
/* Whether this host's /dev/kvm boots a stock kernel; if not, why into why. */
bool mb_stock_kernel_kvm(char *why, size_t size);

#endif
