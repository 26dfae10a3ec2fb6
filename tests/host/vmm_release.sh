#!/usr/bin/env bash
# minivm exits as soon as the guest's status is known and hands KVM's slow teardown to a helper
# (vm_release_detached): the exit status stays the guest's, the helper holds minivm's stdout and
# stderr until every KVM object is released, so EOF there means `gone`, and nothing is left
# behind afterwards: no process, no KVM file. --pit creates the in-kernel PIT and still runs;
# the floor probe (tests/tools/kvm_floor) runs and reports its steps.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"

# kvm_files PID: how many KVM files (VM, vCPU, /dev/kvm) PID holds open.
kvm_files() {
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		anon_inode:kvm-vm | anon_inode:kvm-vcpu* | /dev/kvm) n=$((n + 1)) ;;
		esac
	done
	echo "$n"
}

for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	tag="release-$$-$RANDOM"
	# The helper is a fork of minivm: same command line, so the tag finds it.
	python3 - "$MINIVM" "$k" "$tag" <<'PY' || fail "$n: release"
import os, select, subprocess, sys, time
minivm, kernel, tag = sys.argv[1:]
p = subprocess.Popen([minivm, "run", "--kernel", kernel, "--cmdline", "exit 7 " + tag,
                      "--console", "stdio"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
status = p.wait(timeout=30)
assert status == 7, f"exit status {status}, want 7"
# EOF on both pipes: the helper is done (it must not take long: 10 s is generous).
deadline = time.monotonic() + 10
for f in (p.stdout, p.stderr):
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "minivm's stdout/stderr still open 10 s after it exited"
        r, _, _ = select.select([f], [], [], left)
        if r and not os.read(f.fileno(), 4096):
            break
PY
	# After EOF the helper only has its exit left to finish; give it a moment, then nothing
	# with the tag may remain, and no such process may hold a KVM file.
	for _ in $(seq 50); do
		[ -z "$(pids_matching "$tag")" ] && break
		sleep 0.1
	done
	left=$(pids_matching "$tag")
	for p in $left; do
		fail "$n: process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) still there after EOF, holding $(kvm_files "$p") KVM files"
	done

	# The plain shell way: the status is the guest's, and the helper is gone soon after.
	guest "$k" "exit 5 $tag-b" --console none
	expect_eq "$n: exit status with the helper" "$?" 5
	for _ in $(seq 50); do
		[ -z "$(pids_matching "$tag-b")" ] && break
		sleep 0.1
	done
	[ -z "$(pids_matching "$tag-b")" ] || fail "$n: the release helper outlived 5 s"

	# --pit: the in-kernel PIT is created (and released) and the guest runs as before.
	run_capture out rc guest "$k" hello --pit
	expect_eq "$n --pit: status ($out)" "$rc" 0
	expect_contains "$n --pit: console" "$out" "hello from the"
	run_capture out rc guest "$k" hello --no-pit
	expect_eq "$n --no-pit: status ($out)" "$rc" 0
	echo "$n: exit status kept, helper gone after EOF, --pit and --no-pit ok"
done

# The floor probe: the byte arrives, every step is reported; with --pit and the late-slot order.
for opts in "" "--pit" "--slots-after-irqchip" "--no-irqchip"; do
	# shellcheck disable=SC2086
	run_capture out rc "$TOOLS/kvm_floor" $opts
	expect_eq "kvm_floor $opts: status ($out)" "$rc" 0
	expect_contains "kvm_floor $opts: the guest's byte" "$out" "."
	expect_contains "kvm_floor $opts: steps" "$out" "close_vm"
done
echo "kvm_floor: ok"
