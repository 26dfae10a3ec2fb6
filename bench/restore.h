/* latency --from-snapshot (issue 11 item 4, issue 14 item 10): the restore start of a VM, one
 * guest of MB_RESTORE_MEM_MIB with a small and a large footprint, restored from a saved state
 * to running, beside a cold boot of the same guest; vm (minivm) and qemu with the PVH test guest
 * on this host's /dev/kvm. The measuring engine is bench/vm-restore.sh, one run per backend
 * and call, read back from its JSON lines (the saved states made once in the work directory
 * and reused). docs/bench.md has the method. */
#ifndef MB_RESTORE_H
#define MB_RESTORE_H

#include "cli.h"
#include "error.h"
#include "results.h"

#define MB_RESTORE_MEM_MIB  256u /* the guest's RAM */
#define MB_RESTORE_FULL_MIB 200u /* the large footprint: MiB of non-zero pages */

/* Check before anything is created: the backends (vm, qemu) and what each needs here (KVM,
 * QEMU, the test guest, minivm, python3, the script), no --workload. */
int mb_restore_check(const struct mb_opts *o, mc_err *err);
int mb_restore(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err);

#endif
