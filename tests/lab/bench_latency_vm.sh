#!/usr/bin/env bash
# minibench latency's vm (minivm) and qemu backends end to end, where a stock kernel boots (the
# lab): `latency --quick --backend vm,qemu --guests GUESTS --repeat 1 --no-warmup` (GUESTS 1 by
# default: two L2 guests at once sometimes triple-fault in the lab, docs/lab.md; GUESTS=1,2 where
# the hardware is real). Checks the table's rows, every results.jsonl line against the schema of
# docs/bench.md (with jq: python's start is minutes in a busy lab), that each guest's milestones
# are all there and in order (start < init < ready < exit < gone), that the intervals are
# positive and agree with the milestones (start_gone = start_init + (ready - init) + ready_exit +
# exit_gone), that a boot is plausible (init above 50 ms: a kernel booted, below the barrier's
# 600 s), minivm's own milestones (vmm_*) in order and its init before start_init, that
# report.md compares vm and qemu to the study's VM figures, and that no VM is left.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
[ -f "${MINIVM_ROOTFS_IMG:-}" ] || skip "no rootfs image (make images)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
command -v jq >/dev/null || skip "jq missing"
[ "$(id -u)" -eq 0 ] || skip "needs root"
MB=$BIN/minibench
[ -x "$MB" ] || skip "no minibench binary (run make)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
GUESTS=${GUESTS:-1}
TMP=$(mktemp -d)
trap 'rm -rf --one-file-system "$TMP"' EXIT
. "$ROOT/tests/lab/bench_vm.bash" # vm_bench_ran, no_vm_left

run_capture out rc "$MB" latency --quick --backend vm,qemu --guests "$GUESTS" --repeat 1 \
	--no-warmup --out "$TMP/out"
vm_bench_ran "minibench latency vm,qemu" "$rc" "$out" "$TMP/out/work/vm" "$GUESTS"
no_vm_left "latency vm,qemu"

J=$TMP/out/results.jsonl
[ -s "$J" ] || fail "no $J"
# the schema: every line's fields and types
bad=$(jq -c 'select((.experiment != "latency") or (.workload != "true") or
	((.backend | IN("vm", "qemu")) | not) or (.guests | type) != "number" or
	(.run | type) != "number" or (.metric | type) != "string" or
	(.value | type) != "number" or .unit != "ms")' "$J") || fail "results.jsonl is not JSON lines"
[ -z "$bad" ] || fail "lines off the schema: $bad"
# per backend, guest count and guest: the milestones and intervals
for b in vm qemu; do
	for g in ${GUESTS//,/ }; do
		for ((k = 0; k < g; k++)); do
			v=$(jq -r --arg b "$b" --argjson g "$g" --argjson k "$k" -s '
				[.[] | select(.backend == $b and .guests == $g and .guest == $k)] |
				map({key: .metric, value: .value}) | from_entries |
				[.t_start, .t_init, .t_ready, .t_exit, .t_gone, .start_init,
				 .start_ready, .ready_exit, .exit_gone, .start_gone] |
				map(tostring) | join(" ")' "$J")
			echo "$b $g guests, guest $k: t start/init/ready/exit/gone, start_init start_ready ready_exit exit_gone start_gone: $v"
			awk -v what="$b, $g guests, guest $k" '{
				for (i = 1; i <= 10; i++)
					if ($i !~ /^[0-9.]+$/) { print what ": field " i " missing: " $0; exit 1 }
				if (!($1 >= 0 && $1 < $2 && $2 <= $3 && $3 < $4 && $4 < $5)) {
					print what ": milestones out of order: " $0; exit 1 }
				for (i = 6; i <= 10; i++)
					if ($i <= 0) { print what ": interval " i " not positive: " $0; exit 1 }
				if ($6 < 50 || $6 > 600000) { print what ": start_init implausible: " $6; exit 1 }
				d = $6 + ($3 - $2) + $8 + $9 - $10
				if (d > 0.01 || d < -0.01) { print what ": intervals do not add up: " $0; exit 1 }
			}' <<<"$v" || fail "latency $b: the figures do not hold (above)"
		done
		# vm: minivm's own milestones (--timings json), since its start: in order, and its
		# init before the relay saw the guest up (start_init counts from before minivm's fork)
		for ((k = 0; k < g; k++)); do
			[ "$b" = vm ] || break
			v=$(jq -r --argjson g "$g" --argjson k "$k" -s '
				[.[] | select(.backend == "vm" and .guests == $g and .guest == $k)] |
				map({key: .metric, value: .value}) | from_entries |
				[.vmm_setup, .vmm_entry, .vmm_init, .vmm_ready, .vmm_exit, .vmm_gone,
				 .start_init] | map(tostring) | join(" ")' "$J")
			echo "vm $g guests, guest $k: minivm's setup/entry/init/ready/exit/gone, start_init: $v"
			awk -v what="vm, $g guests, guest $k" '{
				for (i = 1; i <= 7; i++)
					if ($i !~ /^[0-9.]+$/) { print what ": field " i " missing: " $0; exit 1 }
				if (!($1 > 0 && $1 <= $2 && $2 < $3 && $3 <= $4 && $4 < $5 && $5 <= $6)) {
					print what ": minivm milestones out of order: " $0; exit 1 }
				if ($3 >= $7) { print what ": minivm init after the relay saw the guest up: " $0; exit 1 }
			}' <<<"$v" || fail "latency vm: minivm's timings do not hold (above)"
		done
		w=$(jq -s --arg b "$b" --argjson g "$g" \
			'[.[] | select(.backend == $b and .guests == $g and .metric == "batch_wall")] | length' "$J")
		[ "$w" -ge 1 ] || fail "$b, $g guests: no batch_wall"
	done
done
for f in latency latency-init latency-ready latency-exit latency-gone latency-batch; do
	[ -s "$TMP/out/$f.csv" ] || fail "no $f.csv"
	[ -s "$TMP/out/$f.svg" ] || fail "no $f.svg"
done
grep -q "vm (x study VM)" "$TMP/out/report.md" || fail "report.md: no vm column against the study's VM"
grep -q "qemu (x study VM)" "$TMP/out/report.md" || fail "report.md: no qemu column against the study's VM"
echo "minibench latency vm and qemu ok"
