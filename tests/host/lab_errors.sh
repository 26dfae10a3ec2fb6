#!/usr/bin/env bash
# minilab's own failures give one clear error line, exit 125, and leave nothing running:
# a missing QEMU, a lab image never built, a kernel that is not a bzImage, an initramfs whose
# kernel can't find init (the lab boots and dies).
. "$ROOT/tests/lib.sh"
ML=$BIN/minilab
state=$(mktemp -d "$ROOT/build/lab-errors.XXXXXX")
trap 'MINILAB_STATE=$state $ML stop >/dev/null 2>&1; rm -rf "$state"' EXIT
export MINILAB_STATE=$state
[ -f "$ROOT/build/lab.env" ] || fail "no build/lab.env: run make lab"

no_leftovers() {
	expect_eq "leftover processes of $state after $1" "$(pids_matching "$state")" ""
	[ ! -e "$state/state" ] || fail "$1: state file left behind"
	run_capture out rc "$ML" status
	expect_eq "status after $1" "$rc" 3
}

run_capture out rc env MINILAB_QEMU=/nonexistent/qemu "$ML" start
expect_eq "exit status, missing qemu" "$rc" 125
expect_contains "message, missing qemu" "$out" "MINILAB_QEMU=\`/nonexistent/qemu\` is not executable"
expect_eq "one line, missing qemu" "$(echo "$out" | wc -l)" 1
no_leftovers "missing qemu"

run_capture out rc env MINILAB_ENV="$state/absent.env" "$ML" run -- true
expect_eq "exit status, no image" "$rc" 125
expect_contains "message, no image" "$out" "lab image not built"
no_leftovers "no image"

printf 'garbage that is no kernel' >"$state/bad-kernel"
sed "s|^LAB_KERNEL=.*|LAB_KERNEL=$state/bad-kernel|" "$ROOT/build/lab.env" >"$state/bad-kernel.env"
run_capture out rc env MINILAB_ENV="$state/bad-kernel.env" "$ML" start
expect_eq "exit status, bad kernel" "$rc" 125
expect_contains "message, bad kernel" "$out" "lab image is broken: kernel \`$state/bad-kernel\` has no kernel magic"
no_leftovers "bad kernel"

# A well-formed cpio without /init: the kernel boots, panics, and QEMU exits.
mkdir -p "$state/empty/etc" && (cd "$state/empty" && find . | cpio -o -H newc --quiet) >"$state/noinit.cpio"
sed "s|^LAB_INITRD=.*|LAB_INITRD=$state/noinit.cpio|" "$ROOT/build/lab.env" >"$state/noinit.env"
run_capture out rc env MINILAB_ENV="$state/noinit.env" "$ML" start
expect_eq "exit status, initramfs without init" "$rc" 125
expect_contains "message, initramfs without init" "$out" "lab failed to start: "
expect_contains "reason, initramfs without init" "$out" "Kernel panic"
no_leftovers "initramfs without init"
echo "all lab error cases behave"
