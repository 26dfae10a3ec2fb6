# shellcheck shell=bash disable=SC2034 # the arrays are the sourcing script's
# Shared by the benchmarks that boot Debian's stock kernel into the benchmark rootfs under
# minivm and under QEMU, in the lab (vm-blk.sh, vm-net.sh). Sourced; ROOT set, set -euo pipefail.
#
# A script calls lab_dispatch first: outside the lab that runs the script again inside it and
# exits; inside, the script calls lab_guest_init, then builds its command lines from MV_ARGS,
# qemu_guest_args and L1_ROOTFS.

# lab_dispatch ID TITLE SCRIPT VAR... -- ARG...: unless MINI_IN_LAB is set, run SCRIPT again
# with MINI_IN_LAB=1 and the named variables where a stock kernel boots (in the lab, started if
# need be, when this host's /dev/kvm is PVM or missing; else right here), print its summary
# and, with --record among the ARGs, write it into section ID of docs/results.md; then exit.
# Inside the lab it returns at once.
lab_dispatch() {
	[ -z "${MINI_IN_LAB:-}" ] || return 0
	local id=$1 title=$2 script=$3 record=0 where a
	shift 3
	local envs=(MINI_IN_LAB=1)
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1=${!1:-}")
		shift
	done
	[ $# -gt 0 ] && shift
	for a in "$@"; do
		case $a in
		--record) record=1 ;;
		*) echo "usage: bench/${script##*/} [--record]" >&2 && exit 2 ;;
		esac
	done
	LAB_OUT=$(mktemp)
	trap 'rm -f "$LAB_OUT"' EXIT
	if [ -d /sys/module/kvm_pvm ] || [ ! -c /dev/kvm ]; then
		where="in the lab"
		"$BIN/minilab" status >/dev/null || "$BIN/minilab" start
		"$BIN/minilab" run -- env "${envs[@]}" "$script" >"$LAB_OUT"
	else
		where="on this host"
		env "${envs[@]}" "$script" >"$LAB_OUT"
	fi
	cat "$LAB_OUT"
	if [ "$record" = 1 ]; then
		"$ROOT/bench/record.py" "$id" "$title" "bench/${script##*/} --record" "$where" <"$LAB_OUT"
	fi
	exit 0
}

# lab_guest_init NAME TOOL: the images (make images-env), checked: the benchmark rootfs image
# and its tree with /usr/bin/TOOL (NAME: the script, for the error). Sets
#   MV_ARGS     minivm run's options for a guest: the stock kernel and initramfs, 512 MiB, the
#               rootfs image as its read-only first disk and its root (1 vCPU, the default);
#   GUEST_CMDLINE  the kernel command line for that (minivm's default + minivm.root=);
#   L1_ROOTFS   a command prefix that runs a program of the rootfs tree on L1 (a chroot in a
#               private mount namespace with /dev and /proc; it execs, so $! is the program).
lab_guest_init() {
	local name=$1 tool=$2 base
	eval "$(make -s images-env)" # the scripts run in ROOT
	if [ ! -f "${MINIVM_ROOTFS_IMG:-}" ] || [ ! -x "${MINIVM_ROOTFS_DIR:-}/usr/bin/$tool" ]; then
		echo "$name: no benchmark rootfs with $tool (make images)" >&2
		exit 1
	fi
	# shellcheck disable=SC2016 # backquotes in the help text
	base=$("$BIN/minivm" run --help 2>&1 | sed -n 's/.*replaces the default `\(.*\)`.*/\1/p')
	[ -n "$base" ] || base="console=ttyS0 quiet panic=-1 no_timer_check"
	GUEST_CMDLINE="$base minivm.root=/dev/vda,ro"
	MV_ARGS=(--kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --mem 512M
		--disk "$MINIVM_ROOTFS_IMG,ro" --cmdline "$GUEST_CMDLINE")
	# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
	L1_ROOTFS=(unshare -m sh -c 'mount --bind /dev "$0/dev" && mount -t proc proc "$0/proc" &&
		exec chroot "$0" env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"' "$MINIVM_ROOTFS_DIR")
}

# qemu_guest_args SCRIPT QEMU-ARG...: QEMU_ARGS, the same guest as MV_ARGS under
# qemu-system-x86_64 -accel kvm -M q35 (serial console on stdio, virtio-blk-pci for the
# rootfs), the QEMU-ARGs (the benchmark's device), running SCRIPT (one shell line without double
# quotes: it goes on the kernel command line) as the guest command.
qemu_guest_args() {
	local script=$1
	shift
	# shellcheck disable=SC2054 # commas inside QEMU's arguments
	QEMU_ARGS=(-accel kvm -M q35 -cpu host -smp 1 -m 512
		-nodefaults -no-user-config -display none -serial stdio -no-reboot
		-kernel "$MINIVM_KERNEL" -initrd "$MINIVM_INITRD"
		-drive file="$MINIVM_ROOTFS_IMG",if=none,id=r,format=raw,readonly=on
		-device virtio-blk-pci,drive=r "$@"
		-append "$GUEST_CMDLINE -- /bin/sh -c \"$script\"")
}

# kvm_stats_watch PID CONSOLE OUT: in the background (KVMW_PID) until PID is gone: each time a
# new line KVMSTAT:TAG appears in CONSOLE (the guest prints it, then sleeps 1 s), append
# "TAG exits N irq_injections N insn_emulation N halt_exits N irq_window_exits N" to OUT: the
# counters of the L2 VM that PID (the VMM, or timeout/ip around it) runs, from KVM's statistics
# in L1's debugfs (mounted here if need be). Exits per request or per MB, the same way for
# minivm and QEMU: in nested virtualization each exit is dear. Nothing is written where debugfs
# has no kvm directory.
kvm_stats_watch() {
	local pid=$1 console=$2 out=$3
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
	: >"$out"
	(
		# Light on the lab's TCG CPUs: bash built-ins while nothing changes (a half-second
		# read time-out on a FIFO nobody writes as the pause, -nt on a stamp file), grep only
		# when the console was written.
		dir='' seen='' stamp=$out.stamp tags=''
		rm -f "$out.nap"
		mkfifo "$out.nap" # no /dev/fd in the lab: no process substitution
		exec {nap}<>"$out.nap"
		touch -d @0 "$stamp"
		while kill -0 "$pid" 2>/dev/null; do
			[ -n "$dir" ] || dir=$(kvm_vm_dir "$pid")
			if [ -n "$dir" ] && [ "$console" -nt "$stamp" ]; then
				touch "$stamp"
				tags=$(grep -ao 'KVMSTAT:[a-z0-9-]*' "$console" | cut -d: -f2) || tags=''
				for tag in $tags; do
					case " $seen " in *" $tag "*) continue ;; esac
					seen+=" $tag"
					printf '%s' "$tag" >>"$out"
					for f in exits irq_injections insn_emulation halt_exits irq_window_exits; do
						printf ' %s %s' "$f" "$(<"$dir/$f")" >>"$out"
					done
					echo >>"$out"
				done
			fi
			read -r -t 0.5 -u "$nap" _ || true
		done
		rm -f "$stamp" "$out.nap"
	) &
	KVMW_PID=$!
}

# kvm_vm_dir PID: the debugfs directory (/sys/kernel/debug/kvm/<pid>-<fd>) of the VM made by PID
# or by a process up to three generations below it.
kvm_vm_dir() {
	local d p q i
	for d in /sys/kernel/debug/kvm/*-*; do
		[ -d "$d" ] || continue
		p=${d##*/}
		q=${p%%-*}
		for i in 1 2 3 4; do
			[ "$q" = "$1" ] && echo "$d" && return 0
			q=$(awk '/^PPid:/ {print $2}' "/proc/$q/status" 2>/dev/null) || q=''
			if [ -z "$q" ] || [ "$q" = 0 ]; then
				break
			fi
		done
	done
	return 0
}
