#!/usr/bin/env bash
# Container migration per mode (issue 10): `minict migrate` between two network-namespace hosts
# (tests/host/runtime_migrate_lib.bash: the bridges, the link, the observer), the container's
# UDP echo probed every 1 ms by tests/tools/udp_observer from a third namespace. Cases: idle
# (a busybox counter) and MIB MiB of touched memory (tests/tools/ct_memhold); modes interleaved
# run by run. Per run: migrate's own figures (total, frozen = freeze to the destination's
# `restored`, CRIU's dump, the destination's restore, post-copy's page transfer after the
# switch-over) and the observer's downtime (the largest gap between two replies: the echo's
# quiescing, the frozen window, its rebinding at the destination). Prints min/median/max and the
# ratio of each mode's median downtime to stop-and-copy's; the summary goes to docs/results.md
# (RECORD=0 skips that). pre-copy needs soft-dirty tracking (the lab's kernel): MODES there.
# No python (it runs in the lab too): awk.
#
# usage: bench/ct-migrate.sh [RUNS (default 5)] [MIB (default 256; 0: idle only)]
#        MODES="stop-and-copy direct pre-copy post-copy" (default: the modes this kernel can do;
#        direct is stop-and-copy with --direct-pages; MODES=live: pre-copy where the kernel
#        tracks dirty pages, else stop-and-copy)
#        CASES="idle memMIB dirtyMIB-RATE" (default: idle and memMIB; dirtyMIB-RATE: ct_memhold
#        rewriting one word per page of its MIB MiB at RATE MiB/s, the same bytes back, so
#        its checksum holds)
#        JSONL=FILE: one JSON object per run appended to FILE (minibench migrate reads them):
#        {"backend":"ct","case","mode","run","observed_total_ms","observed_downtime_ms" (the
#        observer's total and downtime),"report": minict migrate's own JSON line}
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-5}
MIB=${2:-256}
BIN=${BIN:-$ROOT/build/bin}
TOOLS=${TOOLS:-$ROOT/build/tests/tools}
source "$ROOT/tests/host/runtime_lib.bash"
source "$ROOT/tests/host/runtime_migrate_lib.bash"
CRIU=$("$ROOT/scripts/criu.sh" path 2>&1) || die "no CRIU: $CRIU"
for t in udp_echo udp_observer ct_memhold; do
	[ -x "$TOOLS/$t" ] || die "no $TOOLS/$t (make test-bins)"
done
if [ "${MODES:-}" = live ]; then
	MODES=stop-and-copy
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 && MODES=pre-copy
elif [ -z "${MODES:-}" ]; then
	MODES="stop-and-copy direct"
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 && MODES="$MODES pre-copy"
	"$CRIU" check --feature uffd-noncoop >/dev/null 2>&1 && MODES="$MODES post-copy"
fi
JUMP=${JUMP:-150} # the echo's time-jump threshold (the lab's emulated CPU oversleeps: 60000)
[ -n "${MINI_IN_LAB:-}" ] && JUMP=60000
mig_setup cmb 10.247 10.248
PIPE_MAX=$(cat /proc/sys/fs/pipe-max-size)
# post-copy: CRIU's lazy page server wants a 4 MiB pipe (docs/checkpoint.md "Post-copy")
case $MODES in *post-copy*) [ "$PIPE_MAX" -ge 4194304 ] || echo 4194304 >/proc/sys/fs/pipe-max-size ;; esac
trap '[ "$(cat /proc/sys/fs/pipe-max-size)" != "$PIPE_MAX" ] && echo "$PIPE_MAX" >/proc/sys/fs/pipe-max-size; mig_cleanup' EXIT
mkdir -p "$T/b"
mk_rootfs "$T/b/rootfs" sh usleep echo cat kill >/dev/null
cp "$TOOLS/ct_memhold" "$T/b/rootfs/bin/ct_memhold" || die "copy ct_memhold"
REC=$T/records # case mode total frozen dump restore post_copy downtime
: >"$REC"
if [ -z "${CASES:-}" ]; then
	CASES=idle
	[ "$MIB" -gt 0 ] && CASES="idle mem$MIB"
fi
for c in $CASES; do
	[[ $c =~ ^(idle|mem[0-9]+|dirty[0-9]+-[0-9]+)$ ]] || die "unknown case '$c' (idle, memMIB, dirtyMIB-RATE)"
done
n=0
for c in $CASES; do
	for i in $(seq 1 "$RUNS"); do
		for mode in $MODES; do
			n=$((n + 1))
			ID=${P}m$n
			case $c in
			idle) mig_container $ID $JUMP ;;
			mem*) mig_container $ID $JUMP "exec ct_memhold ${c#mem} /tmp" ;;
			dirty*)
				w=${c#dirty}
				mig_container $ID $JUMP "exec ct_memhold ${w%-*} /tmp ${w#*-}"
				;;
			esac
			mig_receiver $ID 60
			mig_observe 600
			mig_quiesce $ID
			args="--mode $mode"
			[ "$mode" = direct ] && args="--mode stop-and-copy --direct-pages"
			MINICT_CRIU_TIMEOUT=600 src migrate $args --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT \
				>"$T/mig.json" 2>"$T/err" || die "$c $mode run $i: migrate: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
			wait $RPID || die "$c $mode run $i: receive: $(cat "$T/rcv.err")"
			mig_check_dst $ID 120
			echo "$c $mode $(field total_ms "$T/mig.json") $(field frozen_ms "$T/mig.json") $(field dump_ms "$T/mig.json")" \
				"$(field restore_ms "$T/mig.json") $(field post_copy_ms "$T/mig.json") $(field downtime_ms "$T/obs.json")" >>"$REC"
			echo "$c $mode run $i: $(tail -n 1 "$REC")" >&2
			if [ -n "${JSONL:-}" ]; then
				printf '{"backend":"ct","case":"%s","mode":"%s","run":%d,"observed_total_ms":%s,"observed_downtime_ms":%s,"report":%s}\n' \
					"$c" "$mode" $((i - 1)) "$(field total_ms "$T/obs.json")" "$(field downtime_ms "$T/obs.json")" \
					"$(head -n 1 "$T/mig.json")" >>"$JSONL"
			fi
			dst delete -f $ID >/dev/null || die "delete in dst"
			rm -rf --one-file-system "${T:?}/dstwork/$ID"
		done
	done
done

# min/median/max of column COL for case C, mode MODE
stat() {
	awk -v c="$1" -v m="$2" -v k="$3" '$1 == c && $2 == m { print $k }' "$REC" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) exit; md = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.0f/%.0f/%.0f", v[1], md, v[NR] }'
}
sum=$T/summary.txt
{
	echo "ct-migrate: minict migrate between two netns hosts over a veth, $RUNS runs per case and mode (interleaved)," \
		"busybox rootfs, UDP echo probed every 1 ms; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg) at the end"
	echo "ms, min/median/max; downtime = the observer's largest gap between replies; frozen = freeze to the destination's restored"
	printf '%-8s %-14s %-16s %-16s %-16s %-16s %-16s %-18s %s\n' case mode total frozen "CRIU dump" restore "post-copy pages" downtime "downtime/stop-and-copy"
	for c in $CASES; do
		base=$(stat $c stop-and-copy 8 | cut -d/ -f2)
		for mode in $MODES; do
			dt=$(stat $c $mode 8)
			ratio=$(awk -v a="$(echo "$dt" | cut -d/ -f2)" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
			printf '%-8s %-14s %-16s %-16s %-16s %-16s %-16s %-18s %s\n' $c $mode "$(stat $c $mode 3)" "$(stat $c $mode 4)" \
				"$(stat $c $mode 5)" "$(stat $c $mode 6)" "$(stat $c $mode 7)" "$dt" "$ratio"
		done
	done
} >"$sum"
cat "$sum"
where="on this host"
[ -n "${MINI_IN_LAB:-}" ] && where="in the lab"
id=ct-migrate
[ -n "${MINI_IN_LAB:-}" ] && id=ct-migrate-lab
if [ "${RECORD:-1}" != 0 ] && [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 "$ROOT/bench/record.py" $id "Container migration: total and downtime per mode (issue 10)" \
		"bench/ct-migrate.sh $RUNS $MIB" "$where" <"$sum"
fi
