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
# wait_for DESC SECS CMD...: poll CMD every 0.1 s until it succeeds; fail after SECS seconds
wait_for() {
	local desc=$1 secs=$2 end=$((SECONDS + $2))
	shift 2
	until "$@"; do
		[ "$SECONDS" -le "$end" ] || fail "timed out ($secs s) waiting for: $desc"
		sleep 0.1
	done
}
# wait_until DESC CMD...: wait_for up to 60 s (the host tests' tiny guests: bounded so a broken
# build fails; a sanitized minivm on a loaded 2-CPU host has taken 30 s to listen)
wait_until() {
	local desc=$1
	shift
	wait_for "$desc" 60 "$@"
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
# PY: the system's python3 where there is one (in the lab, python3 on PATH is a pyenv shim that
# takes many seconds to start under TCG)
# shellcheck disable=SC2034 # used by the scripts that source this
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
# kvm_kind: what this host's /dev/kvm is: none; pvm (PVM, which cannot boot stock kernels);
# hardware (VT-x/AMD-V: boots Debian's stock kernel; the lab here, or a host with it); other (a
# /dev/kvm, but the CPU shows neither vmx nor svm). Where lab tests run (scripts/run-tests.sh).
kvm_kind() {
	if [ ! -c /dev/kvm ]; then
		echo none
	elif [ -d /sys/module/kvm_pvm ]; then
		echo pvm
	elif grep -qwE 'vmx|svm' /proc/cpuinfo; then
		echo hardware
	else
		echo other
	fi
}
# need_stock_kernel_kvm: skip unless this /dev/kvm can boot Debian's stock kernel (hardware
# virtualization: the lab here) and the guest images are built.
need_stock_kernel_kvm() {
	case $(kvm_kind) in
	none) skip "no /dev/kvm" ;;
	pvm) skip "PVM /dev/kvm cannot boot stock kernels (run in the lab)" ;;
	other) skip "this CPU shows neither vmx nor svm: /dev/kvm cannot boot stock kernels" ;;
	esac
	local v
	for v in MINIVM_KERNEL MINIVM_VMLINUX MINIVM_INITRD; do
		[ -f "${!v:-}" ] || skip "no $v (make images)"
	done
	return 0
}
