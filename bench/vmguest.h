/* The vm (minivm) and qemu backends' guests for density: one VM per guest, booted from the stock
 * kernel and our initramfs into the benchmark rootfs image, shared and read-only as the
 * containers' tree is (guestinit's minivm.root=/dev/vda,ro), with its own writable data disk
 * at /data (/dev/vdb, as a container's upper layer holds its /data), 1 vCPU and 512 MiB, and
 * its command's stdin and stdout on virtio-console ports (minivm's own; QEMU: virtio-serial-pci
 * with ports of the same names). Both VMMs boot the same kernel, initramfs and images on
 * virtio-blk-pci and run the same command.
 *
 * One guest is a relay process (the runner's child, what the runner times and reaps) and the
 * VMM under it. The guest's command, `/bin/sh -c 'set -f; read -r s; eval $s' K`, runs the
 * first line of its stdin (the chroot that gives the workload the containers' paths,
 * vmguest.c), which runs the second, the workload's script (so that a script can hold any
 * character but a newline, which a kernel command line can't); the script speaks a line
 * protocol on its stdout:
 *   @mb a     the guest is up (before the barrier)  -> the relay writes "a K" to /mb/events
 *             and reads one byte from /mb/go (the release), then writes "\n" to the guest's
 *             stdin, where the guest's `read x` waits
 *   @mb e     the workload has exited               -> "e K" to /mb/events
 *   @mb x N   the script's exit status (its EXIT trap) -> the relay's exit status
 * every other line is the guest's output, written to the guest's output file on the host. */
#ifndef MB_VMGUEST_H
#define MB_VMGUEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "error.h"

struct mb_vm_spec {
	char kernel[PATH_MAX], initrd[PATH_MAX], image[PATH_MAX]; /* make images */
	const char *dir;    /* guest K's files in <dir>/g<K>/: data.ext4 (its /data, /dev/vdb),
			       console.log (the kernel's); image is every guest's /dev/vda */
	const char *out;    /* the guest's output goes to <dir>/g<K>/<out> */
	const char *mbdir;  /* the barrier's FIFOs */
	const char *script; /* one line: what the guest runs (mb_vm_script) */
	unsigned cpus, mem_mib;
	/* vm (latency): minivm runs with --timings json; its stderr goes to <dir>/g<K>/vmm.err
	 * while it runs, then its milestones line to <dir>/g<K>/timings.json and every other
	 * line on to the relay's stderr (the guests' log) */
	bool timings;
};

/* Backend vm or qemu: the VMM into l->tool (minivm beside minibench or $MINIVM; QEMU from
 * $PATH), /dev/kvm present; fails naming the fix. */
int mb_vm_tool(enum mb_backend b, struct mb_launcher *l, mc_err *err);
/* The kernel, initramfs and rootfs image into v: $MINIVM_KERNEL, $MINIVM_INITRD,
 * $MINIVM_ROOTFS_IMG, else the checkout's build/images.env; fails naming `make images`. */
int mb_vm_images(struct mb_vm_spec *v, mc_err *err);
/* The same check, for an experiment's check before it runs: the images are there. */
int mb_vm_images_check(mc_err *err);
/* The workload's script, one line: cd /data, setup, "@mb a", the barrier, cmd
 * >/data/sysbench.out, "@mb e", down, the output, "@mb x STATUS" (an EXIT trap, so that every
 * exit says it). Fails if it does not fit. */
int mb_vm_script(char *buf, size_t size, const char *setup, const char *cmd, const char *down,
		 mc_err *err);
/* The spec of an experiment's guests: the images (mb_vm_images), the script into
 * script/size (mb_vm_script), dir, out and mbdir as above, MB_GUEST_CPUS and
 * MB_GUEST_MEM_MIB; timings off. v keeps pointers to script, dir, out and mbdir. */
int mb_vm_prepare(struct mb_vm_spec *v, char *script, size_t size, const char *setup,
		  const char *cmd, const char *down, const char *dir, const char *out,
		  const char *mbdir, mc_err *err);
/* Before a batch, guest k's data disk (outside the timed part): with data_stage, a fresh
 * sparse ext4 holding that directory's files (mkfs.ext4 -d: OLTP's table); else the one it
 * has (made empty the first time, then kept like a container's upper layer: fileio's files);
 * dropped from the host's page cache. Commands' output goes to log. */
int mb_vm_disks(const struct mb_vm_spec *v, unsigned k, const char *data_stage, const char *log,
		mc_err *err);
/* In a guest's process (spawn.c's guest_exec, stdin and stdout /dev/null, stderr the guests' log):
 * start the VMM for guest k and relay (above); exits with the guest script's status. */
__attribute__((noreturn)) void mb_vm_guest_exec(const struct mb_launcher *l,
						const struct mb_vm_spec *v, unsigned k);

#endif
