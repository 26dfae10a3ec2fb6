/* The migration experiment (the seed study's chapter 6, issue 11 item 5): one guest of the same
 * memory footprint per backend, idle or dirtying at a given rate, migrated live; total time and
 * downtime by the observer (DESIGN.md "Migration, one method for both"), the tool's own figures
 * and the bytes sent, min/median/max over the runs, per-round series for the VMs. The
 * measuring engines are bench/vm-migrate.sh (vm: minivm, qemu) and bench/ct-migrate.sh (ct:
 * minict through CRIU), one run per call, read back from their JSON lines. docs/bench.md has
 * the method. */
#ifndef MB_MIGRATE_H
#define MB_MIGRATE_H

#include "cli.h"
#include "error.h"
#include "results.h"

#define MB_MIGRATE_QUICK_MIB 32u   /* the memory every guest holds, --quick */
#define MB_MIGRATE_FULL_MIB  256u  /* the same, the full run */
#define MB_MIGRATE_MAX_RATE  4096u /* dirty:MIBPS's largest rate */

/* Check before anything is created: the workload, the backends (vm, qemu, ct) and what each
 * needs here (KVM, QEMU, root, CRIU, the test guest and tools, the scripts). */
int mb_migrate_check(const struct mb_opts *o, mc_err *err);
int mb_migrate(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err);

#endif
