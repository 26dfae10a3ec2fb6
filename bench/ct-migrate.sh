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
#        observer's total and downtime),"report": minict migrate's own JSON line}; mode runc:
#        "backend":"runc" and the report runc_migrate makes (below)
# Mode runc, the baseline (in the default MODES where runc is installed): the same bundle, the
# same observer and hosts, runc (with the same CRIU) instead of minict: runc_migrate below.
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
	command -v runc >/dev/null && MODES="$MODES runc"
fi
for mode in $MODES; do
	case $mode in
	stop-and-copy | direct | pre-copy | post-copy) ;;
	runc) command -v runc >/dev/null || die "mode runc: runc is not installed (apt-get install runc)" ;;
	*) die "unknown mode '$mode' (stop-and-copy, direct, pre-copy, post-copy, runc)" ;;
	esac
done
JUMP=${JUMP:-150} # the echo's time-jump threshold (the lab's emulated CPU oversleeps: 60000)
[ -n "${MINI_IN_LAB:-}" ] && JUMP=60000
mig_setup cmb 10.247 10.248
PIPE_MAX=$(cat /proc/sys/fs/pipe-max-size)
# post-copy: CRIU's lazy page server wants a 4 MiB pipe (docs/checkpoint.md "Post-copy")
case $MODES in *post-copy*) [ "$PIPE_MAX" -ge 4194304 ] || echo 4194304 >/proc/sys/fs/pipe-max-size ;; esac
trap '[ "$(cat /proc/sys/fs/pipe-max-size)" != "$PIPE_MAX" ] && echo "$PIPE_MAX" >/proc/sys/fs/pipe-max-size; runc_cleanup; mig_cleanup' EXIT
mkdir -p "$T/b"
mk_rootfs "$T/b/rootfs" sh usleep echo cat kill >/dev/null
cp "$TOOLS/ct_memhold" "$T/b/rootfs/bin/ct_memhold" || die "copy ct_memhold"
REC=$T/records # case mode total frozen dump restore post_copy downtime

# The runc baseline. runc makes no network (a CNI plugin would): the container's namespace and
# veth are made here, src's on src's bridge as $N.2 with minict's MAC for that address (02:4d: +
# its bytes), dst's with its host end up but off dst's bridge; config.json names the namespace
# (`linux.namespaces` path: runc dumps it as external and hands the one config.json names to the
# restore). dst's bundle is $T/rb: the same config but for that path, root.path $T/b/rootfs, the
# same rootfs (one machine: no rootfs to copy, which minict's stream does). stdio are pipes
# (runc can't checkpoint a host file as stdio), their reader appending to $T/rout.
RNS=${SRC}c RND=${DST}c # the container's namespaces: cmb... as the hosts', for the leak checks
RMAC=$(printf '02:4d:%02x:%02x:%02x:%02x' ${N//./ } 2) # minict's MAC for $N.2 (network.c)
runc_src() { runc --criu "$CRIU" --root "$T/rsrc" "$@"; }
runc_dst() { runc --criu "$CRIU" --root "$T/rdst" "$@"; }
runc_cleanup() {
	[ -n "${RUNC_ID:-}" ] || return 0
	runc_src delete -f "$RUNC_ID" >/dev/null 2>&1
	runc_dst delete -f "$RUNC_ID" >/dev/null 2>&1
	ip netns del $RNS 2>/dev/null
	ip netns del $RND 2>/dev/null
	rm -rf --one-file-system "${T:?}/rimg" "${T:?}/rimgd"
	RUNC_ID=
}
# runc_netns NS HOST ON|OFF: the namespace NS with eth0, its peer rv up in HOST, on HOST's br0 or
# not yet
runc_netns() {
	ip netns add $1 && ip link add rv netns $2 type veth peer name eth0 netns $1 &&
		{ [ $3 = OFF ] || ip -n $2 link set rv master br0; } && ip -n $2 link set rv up &&
		ip -n $1 link set eth0 address $RMAC && ip -n $1 addr add $N.2/24 dev eth0 &&
		ip -n $1 link set lo up && ip -n $1 link set eth0 up && ip -n $1 route add default via $N.1 ||
		die "runc: the container's network namespace $1"
}
ms_since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
# runc_migrate ID WORK: one migration by runc, the report in $T/mig.json:
#   total_ms    the echo's quiescing to `runc restore -d`'s return
#   frozen_ms   `runc checkpoint`'s start to `runc restore -d`'s return (the container stopped)
#   dump_ms     `runc checkpoint`; restore_ms: `runc restore -d`
#   bytes_sent  the image directory (what the copy carried)
# Between the two: src's veth down, the images copied (cp -a, a local copy: the cheapest
# transfer there is, so runc's downtime is a lower bound for a migration by runc), dst's veth
# onto dst's bridge and the MAC's stale entry there removed (what minict does at its freeze and
# its restore with its gratuitous ARP, docs/checkpoint.md).
runc_migrate() {
	local id=$1 init t0 t1 t2 t3 t4 bytes
	RUNC_ID=$id
	runc_netns $RNS $SRC ON
	runc_netns $RND $DST OFF
	mig_bundle $JUMP "$2"
	sed -i -e '/"minict":{"netBridge"/d' -e "s|\"type\":\"network\"|&,\"path\":\"/run/netns/$RNS\"|" "$T/b/config.json"
	mkdir -p "$T/rb"
	sed -e "s|\"path\":\"rootfs\"|\"path\":\"$T/b/rootfs\"|" -e "s|/run/netns/$RNS|/run/netns/$RND|" \
		"$T/b/config.json" >"$T/rb/config.json"
	grep -q "/run/netns/$RND" "$T/rb/config.json" || die "runc: config.json: $(head -30 "$T/b/config.json")"
	: >"$T/rout"
	runc_src run -d --bundle "$T/b" $id < <(:) > >(exec cat >>"$T/rout") 2>&1 ||
		die "runc run: $(cat "$T/rout")"
	mig_serving
	mig_observe 600
	init=$(runc_src state $id | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	mig_quiesce $id "$init"
	t0=$EPOCHREALTIME
	sh -c "$QUIESCE" || die "runc: the echo does not close its socket"
	t1=$EPOCHREALTIME
	runc_src checkpoint --image-path "$T/rimg" $id >>"$T/rout" 2>&1 || die "runc checkpoint: $(tail -n 5 "$T/rout")"
	t2=$EPOCHREALTIME
	ip -n $SRC link set rv down && cp -a "$T/rimg" "$T/rimgd" && ip -n $DST link set rv master br0 ||
		die "runc: the copy between the checkpoint and the restore"
	# what minict's gratuitous ARP does: dst's bridge forgets the MAC it learned on the link
	# from the source's broadcasts (else it drops the probes for it that come in over the
	# link until the restored container sends something of its own)
	bridge -n $DST fdb del $RMAC dev lk master 2>/dev/null
	t3=$EPOCHREALTIME
	runc_dst restore -d --image-path "$T/rimgd" --bundle "$T/rb" $id < <(:) > >(exec cat >>"$T/rout") 2>&1 ||
		die "runc restore: $(tail -n 5 "$T/rout")"
	t4=$EPOCHREALTIME
	bytes=$(du -sb "$T/rimg" | cut -f1)
	printf '{"status":"ok","total_ms":%s,"frozen_ms":%s,"dump_ms":%s,"restore_ms":%s,"post_copy_ms":0,"bytes_sent":%s}\n' \
		"$(ms_since $t0 $t4)" "$(ms_since $t1 $t4)" "$(ms_since $t1 $t2)" "$(ms_since $t3 $t4)" "$bytes" >"$T/mig.json"
}

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
			idle) work=$MIG_COUNTER ;;
			mem*) work="exec ct_memhold ${c#mem} /tmp" ;;
			dirty*)
				w=${c#dirty}
				work="exec ct_memhold ${w%-*} /tmp ${w#*-}"
				;;
			esac
			if [ $mode = runc ]; then
				runc_migrate $ID "$work"
				mig_check_dst $ID 120 "$T/b/rootfs" runc_dst
			else
				mig_container $ID $JUMP "$work"
				mig_receiver $ID 60
				mig_observe 600
				mig_quiesce $ID
				args="--mode $mode"
				[ "$mode" = direct ] && args="--mode stop-and-copy --direct-pages"
				MINICT_CRIU_TIMEOUT=600 src migrate $args --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT \
					>"$T/mig.json" 2>"$T/err" || die "$c $mode run $i: migrate: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
				wait $RPID || die "$c $mode run $i: receive: $(cat "$T/rcv.err")"
				mig_check_dst $ID 120
			fi
			echo "$c $mode $(field total_ms "$T/mig.json") $(field frozen_ms "$T/mig.json") $(field dump_ms "$T/mig.json")" \
				"$(field restore_ms "$T/mig.json") $(field post_copy_ms "$T/mig.json") $(field downtime_ms "$T/obs.json")" >>"$REC"
			echo "$c $mode run $i: $(tail -n 1 "$REC")" >&2
			if [ -n "${JSONL:-}" ]; then
				printf '{"backend":"%s","case":"%s","mode":"%s","run":%d,"observed_total_ms":%s,"observed_downtime_ms":%s,"report":%s}\n' \
					"$([ $mode = runc ] && echo runc || echo ct)" "$c" "$mode" $((i - 1)) "$(field total_ms "$T/obs.json")" "$(field downtime_ms "$T/obs.json")" \
					"$(head -n 1 "$T/mig.json")" >>"$JSONL"
			fi
			if [ $mode = runc ]; then
				runc_dst delete -f $ID >/dev/null || die "runc delete in dst"
				runc_cleanup
			else
				dst delete -f $ID >/dev/null || die "delete in dst"
				rm -rf --one-file-system "${T:?}/dstwork/$ID"
			fi
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
	case " $MODES " in *" runc "*)
		echo "minict vs runc (the same container and CRIU; runc: checkpoint, a local copy, restore), downtime medians:"
		for c in $CASES; do
			rb=$(stat $c runc 8 | cut -d/ -f2)
			for mode in $MODES; do
				[ $mode = runc ] && continue
				awk -v c=$c -v m=$mode -v a="$(stat $c $mode 8 | cut -d/ -f2)" -v b="$rb" \
					'BEGIN { if (a != "" && b > 0) printf "  %s %s: %.0f vs %.0f ms, %.2fx\n", c, m, a, b, a / b }'
			done
		done
		;;
	esac
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
