# Helpers for test scripts (sourced). Every check prints what it expected on failure and exits 1.
set -u
: "${ROOT:?ROOT must point at the checkout}"
: "${BIN:=$ROOT/build/san/bin}"
: "${TOOLS:=$ROOT/build/san/tests/tools}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
skip() {
	echo "$*"
	exit 77
}
# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
# expect_contains WHAT TEXT NEEDLE
expect_contains() {
	case $2 in
	*"$3"*) ;;
	*) fail "$1: '$3' not in (last 30 lines): $(tail -n 30 <<<"$2")" ;;
	esac
}
# run_capture VAR_OUT VAR_RC CMD...: run CMD, capture stdout+stderr and the exit status
run_capture() {
	local __out __rc
	__out=$("${@:3}" 2>&1)
	__rc=$?
	printf -v "$1" '%s' "$__out"
	printf -v "$2" '%s' "$__rc"
}
# pids_matching TEXT: PIDs whose command line contains TEXT (never this shell or its children)
pids_matching() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		{ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$1" && echo "$p"
	done
	return 0
}
# need_stock_kernel_kvm: skip unless this /dev/kvm can boot Debian's stock kernel (hardware
# virtualization: the lab here) and the guest images are built.
need_stock_kernel_kvm() {
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	[ -d /sys/module/kvm_pvm ] && skip "PVM /dev/kvm cannot boot stock kernels (run in the lab)"
	local v
	for v in MINIVM_KERNEL MINIVM_VMLINUX MINIVM_INITRD; do
		[ -f "${!v:-}" ] || skip "no $v (make images)"
	done
	return 0
}
