#!/usr/bin/env bash
# minibench density on the container engines, end to end on the benchmark rootfs (make images):
# `density --quick --workload cpu --backend docker,docker-minict,podman --guests 1,2 --repeat 1`
# and the same with `--workload fileio --backend docker,podman`, each with --out: the table, every
# results.jsonl line against the schema of docs/bench.md with plausible values (sysbench's own
# figures agree with each other and with what was asked, memory per guest within bounds), the
# CSVs, report.md and the SVGs; the guests' limits seen in the containers' cgroups while they ran
# (1 CPU: quota 100000 per 100000 us; 512 MiB); and nothing left behind: minibench's private
# dockerd and its containerd (by PID: none may outlive the run), its /tmp/mb-docker.* and
# /tmp/mb-podman.* directories, containers, images, cgroups, mounts. A part whose engine is not
# installed is skipped with a `skip:` line; the test is skipped (77) without the rootfs or any
# engine. No timing is asserted.
. "$ROOT/tests/host/bench_lib.bash"

dir=${MINIVM_ROOTFS_DIR:-}
[ -n "$dir" ] || dir=$(sed -n 's/^MINIVM_ROOTFS_DIR=//p' "$ROOT/build/images.env" 2>/dev/null)
[ -n "$dir" ] || dir=$(sed -n 's/^MINIVM_ROOTFS_DIR=//p' <(make -s -C "$ROOT" images-env 2>/dev/null))
[ -x "$dir/usr/bin/sysbench" ] || skip "the benchmark rootfs is not built (make images)"
export MINIVM_ROOTFS_DIR=$dir

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
docker_ok=1 podman_ok=1
for t in dockerd containerd runc docker; do have "$t" || { docker_ok=0 && echo "skip: docker: no $t"; }; done
for t in podman runc; do have "$t" || { podman_ok=0 && echo "skip: podman: no $t"; }; done
[ $docker_ok = 1 ] || [ $podman_ok = 1 ] || skip "neither docker nor podman is installed (make deps)"

# What the engines leave, compared before and after each run: their directories, cgroups, mounts.
leftovers() {
	ls -d /tmp/mb-docker.* /tmp/mb-podman.* 2>/dev/null | sort
	find /sys/fs/cgroup -maxdepth 3 -name 'minibench-*' 2>/dev/null | sort
	grep -E ' /tmp/mb-(docker|podman)\.' /proc/self/mountinfo | awk '{print $5}'
	# minibench's dockerd, its containerd and shims, conmon: their command lines name the roots
	pids_matching /tmp/mb-docker. | sort
	pids_matching /tmp/mb-podman. | sort
}

# The containers' limits while their workload runs (sysbench among the cgroup's processes: the
# runtime has set them by then), below minibench's per-guest cgroup parents (docker:
# /minibench-PID-gK/ID, podman: /minibench-PID-gK/libpod-ID beside conmon/).
watch_limits() { # OUT
	local d f p
	while :; do
		for d in /sys/fs/cgroup/cpu/minibench-*-g*/*/ /sys/fs/cgroup/memory/minibench-*-g*/*/ \
			/sys/fs/cgroup/minibench-*-g*/*/; do
			[ -e "$d/cgroup.procs" ] || continue
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
				[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sysbench ] || continue
				for f in cpu.cfs_quota_us memory.limit_in_bytes cpu.max memory.max; do
					[ -e "$d/$f" ] && echo "$f $(cat "$d/$f" 2>/dev/null)"
				done
				break
			done
		done
		sleep 0.2
	done >>"$1"
}

# One run: WORKLOAD BACKENDS; its output into $TMP/WORKLOAD.
run_density() { # WORKLOAD BACKENDS
	local w=$1 backends=$2 out rc before after wpid
	before=$(leftovers)
	: >"$TMP/limits-$w"
	watch_limits "$TMP/limits-$w" &
	wpid=$!
	# --no-warmup: the figures are checked, not compared (tests/host/bench_density.sh runs one)
	run_capture out rc "$MB" density --quick --workload "$w" --backend "$backends" \
		--guests 1,2 --repeat 1 --no-warmup --out "$TMP/$w"
	kill "$wpid" && wait "$wpid" 2>/dev/null
	expect_eq "minibench density --workload $w --backend $backends ($out)" "$rc" 0
	# shellcheck disable=SC2086
	expect_table "$out" "guests    n" ${backends//,/ }
	after=$(leftovers)
	[ "$before" = "$after" ] || fail "$w: left behind: $(comm -13 <(echo "$before") <(echo "$after"))"
	# the limits every guest got: 1 CPU's time per period and 512 MiB
	grep -Eq '^(cpu.cfs_quota_us 100000|cpu.max 100000 100000)$' "$TMP/limits-$w" ||
		fail "$w: no container with a 1-CPU quota seen: $(sort -u "$TMP/limits-$w")"
	grep -Eq '^(memory.limit_in_bytes|memory.max) 536870912$' "$TMP/limits-$w" ||
		fail "$w: no container with a 512 MiB limit seen: $(sort -u "$TMP/limits-$w")"
	if grep -v '^$' "$TMP/limits-$w" |
		grep -Evq '^(cpu.cfs_quota_us 100000|cpu.max 100000 100000|memory.limit_in_bytes 536870912|memory.max 536870912)$'; then
		fail "$w: a container without the guests' limits: $(sort -u "$TMP/limits-$w")"
	fi
	python3 "$ROOT/tests/host/bench_density_check.py" "$TMP/$w" "$w" 1 "${backends//,/ }" ||
		fail "density $w on $backends: the results do not hold (above)"
}

cpu_backends='' fio_backends=''
if [ $docker_ok = 1 ]; then
	cpu_backends=docker,docker-minict
	fio_backends=docker
fi
if [ $podman_ok = 1 ]; then
	cpu_backends=${cpu_backends:+$cpu_backends,}podman
	fio_backends=${fio_backends:+$fio_backends,}podman
fi
run_density cpu "$cpu_backends"
run_density fileio "$fio_backends"
echo "minibench density on the engines ok ($cpu_backends; fileio: $fio_backends)"
