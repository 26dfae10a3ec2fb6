# The set-up the minict migration tests share (sourced after runtime_lib.bash; used by
# tests/host/runtime_migrate*.sh, tests/lab/runtime_migrate_precopy.sh and bench/ct-migrate.sh).
# Two network namespaces play the hosts, "src" and "dst", each with a bridge br0 holding the same
# subnet's gateway ($N.1/24); a veth joins the two bridges, so one L2 segment spans both hosts
# and the container keeps $N.2 (and its MAC) wherever it runs. A second veth carries the
# migration stream and CRIU's page-server connections ($M.1 <-> $M.2). The observer
# (tests/tools/udp_observer) runs in a third namespace, "obs", plugged into src's bridge as
# $N.200: its probes reach the container through src's bridge, and after the migration through
# the link to dst's bridge. minict runs in a host's namespace through `nsenter --net` (not
# `ip netns exec`, which remounts /sys and would hide the cgroup hierarchies).
#
#   mig_setup TAG NET1 NET2   T (a temporary directory), SRC DST OBS (namespaces TAGs$$...),
#                             N=NET1.x, M=NET2.x (x from $$), PORT, PIDS (killed at exit),
#                             the hosts and links, their bridge ports forwarding; an EXIT trap
#                             (mig_cleanup) undoes all of it
#   NS ns                     "--net=/run/netns/ns", for `nsenter $(NS ns) prog &` ($! is prog)
#   src ARGS / dst ARGS       minict with the state root $T/src / $T/dst in that namespace
#   has FILE RE, is_state FILE WORD, field NAME FILE (a number or word from one-line JSON)
#   mig_receiver ID [TIMEOUT] receive in dst in the background, until it listens; sets RPID
#   mig_container ID JUMP_MS [WORK [APPLETS]]
#                             the bundle $T/b (rootfs $R) with the echo (udp_echo 7; JUMP_MS its
#                             time-jump threshold) and WORK (a shell command, default $MIG_COUNTER:
#                             1, 2, 3... into /tmp/log every 20 ms), on src's br0 as $N.2; run in
#                             src until /tmp/log has 5 lines and the echo serves (mig_serving).
#                             config.json is edited with sed (no python in the lab): no |, & or "
#                             in WORK. mig_bundle JUMP_MS [WORK [APPLETS]] makes the bundle only.
#   mig_observe SECONDS       the observer in obs (SCHED_FIFO where chrt can), until its first
#                             reply; sets OPID, signals it "migrate now" (SIGUSR1)
#   mig_quiesce ID [INIT_PID] sets QUIESCE: the --pre-freeze command that closes the echo's socket
#                             (the echo is a child of the init, src's state's pid by default)
#   mig_check_dst ID SECONDS [ROOTFS [RUNTIME]]
#                             after a migration: in dst's copy of the rootfs ($DR, or ROOTFS) the
#                             count goes on without a restart or a gap, ct_memhold's checksum (if
#                             it ran; SIGUSR1 by `RUNTIME kill ID USR1`, default dst) is the same,
#                             the echo serves again and the observer got a reply after its gap
#                             (then it is stopped, its JSON in $T/obs.json), and a new observer
#                             gets replies; waits at most SECONDS for each

mig_setup() {
	local tag=$1
	T=$(mktemp -d /tmp/minict-$tag.XXXXXX)
	SRC=${tag}s$$ DST=${tag}d$$ OBS=${tag}o$$
	N=$2.$(($$ % 250))
	M=$3.$(($$ % 250))
	PORT=$((20000 + $$ % 20000))
	PIDS=()
	trap mig_cleanup EXIT
	ip netns add $SRC && ip netns add $DST && ip netns add $OBS || die "ip netns add"
	local ns
	for ns in $SRC $DST; do
		ip -n $ns link set lo up &&
			ip -n $ns link add br0 type bridge &&
			ip -n $ns addr add $N.1/24 dev br0 &&
			ip -n $ns link set br0 up || die "bridge in $ns"
	done
	ip link add lk netns $SRC type veth peer name lk netns $DST &&
		ip -n $SRC link set lk master br0 up && ip -n $DST link set lk master br0 up ||
		die "bridge link"
	ip link add ob netns $OBS type veth peer name ob netns $SRC &&
		ip -n $SRC link set ob master br0 up && ip -n $OBS addr add $N.200/24 dev ob &&
		ip -n $OBS link set ob up && ip -n $OBS link set lo up || die "observer link"
	ip link add mg netns $SRC type veth peer name mg netns $DST &&
		ip -n $SRC addr add $M.1/30 dev mg && ip -n $DST addr add $M.2/30 dev mg &&
		ip -n $SRC link set mg up && ip -n $DST link set mg up || die "migration link"
	# a bridge forwards over a new port only once the kernel's link watch has seen its carrier
	# (a work item under the rtnl lock: seconds on a busy host); the first migration after the
	# set-up found dst's end of lk still "disabled", and the probes reached the restored
	# container only when it was enabled, up to ~0.5 s after the restore
	local port
	for port in "$SRC lk" "$DST lk" "$SRC ob"; do
		wait_secs 60 port_forwards $port || die "bridge port $port does not forward: $(bridge -n ${port% *} link show)"
	done
}

# port_forwards NS PORT: PORT of NS's bridge is forwarding
port_forwards() { bridge -n "$1" link show dev "$2" 2>/dev/null | grep -q 'state forwarding'; }

mig_cleanup() {
	local p d ns
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	nsenter --net=/run/netns/$SRC true 2>/dev/null && cleanup_state "$T/src"
	nsenter --net=/run/netns/$DST true 2>/dev/null && cleanup_state "$T/dst"
	for d in "$T"/src/*/ "$T"/dst/*/; do
		[ -d "$d" ] && for ns in $SRC $DST; do
			nsenter --net=/run/netns/$ns "$MINICT" --root "${d%/*/}" delete -f "$(basename "$d")" >/dev/null 2>&1
		done
	done
	ip netns del $SRC 2>/dev/null
	ip netns del $DST 2>/dev/null
	ip netns del $OBS 2>/dev/null
	# never into a mount (a CRIU cgroup yard left behind)
	grep -q cgyard /proc/self/mountinfo || rm -rf --one-file-system "$T"
}

NS() { echo "--net=/run/netns/$1"; }
src() { nsenter $(NS $SRC) "$MINICT" --root "$T/src" "$@"; }
dst() { nsenter $(NS $DST) "$MINICT" --root "$T/dst" "$@"; }
has() { grep -q "$2" "$1" 2>/dev/null; }
is_state() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" "$2" | head -n 1; }

mig_receiver() {
	: >"$T/rcv.out"
	setsid nsenter $(NS $DST) "$MINICT" --root "$T/dst" receive --listen $M.2:$PORT \
		--work-dir "$T/dstwork" --cgroups-path "minict/$1-dst" </dev/null >"$T/rcv.out" 2>"$T/rcv.err" &
	RPID=$!
	PIDS+=($RPID)
	wait_secs "${2:-20}" has "$T/rcv.out" listening || die "the receiver does not listen: $(cat "$T/rcv.err")"
}

MIG_COUNTER='i=0; while :; do i=$((i+1)); echo $i >> /tmp/log; usleep 20000; done'
# mig_bundle JUMP_MS [WORK [APPLETS]]: the bundle $T/b as mig_container runs it, not started
mig_bundle() {
	local jump=$1 work=${2:-$MIG_COUNTER}
	shift
	shift || true
	mkdir -p "$T/b"
	R=$T/b/rootfs
	[ -d "$R" ] || mk_rootfs "$R" "$@"
	cp "$TOOLS/udp_echo" "$R/bin/udp_echo" || die "no udp_echo"
	rm -f "$T/b/config.json" "$R/tmp/log" "$R/tmp/echo.state" "$R/tmp/sum1" "$R/tmp/sum2"
	(cd "$T/b" && "$MINICT" spec) || die "minict spec"
	local script='udp_echo 7 /tmp/echo.state '$jump' \& echo $! > /tmp/echo.pid; '$work
	sed -i -e "0,/^ *\"sh\"\$/s||      \"sh\", \"-c\", \"$script\"|" \
		-e "s|^  \"ociVersion\":\"\\([^\"]*\\)\",|&\\n  \"minict\":{\"netBridge\":\"br0\",\"netAddress\":\"$N.2/24\"},|" \
		"$T/b/config.json"
	grep -q '"netBridge":"br0"' "$T/b/config.json" && grep -q 'udp_echo 7' "$T/b/config.json" ||
		die "config.json: $(head -20 "$T/b/config.json")"
}

# mig_serving: the container of $T/b counts and its echo serves
mig_serving() {
	wait_secs 60 lines "$R/tmp/log" 5 || die "the container does not count"
	wait_secs 60 is_state "$R/tmp/echo.state" open || die "the echo does not serve"
}

mig_container() {
	local id=$1
	shift
	mig_bundle "$@"
	(cd "$T/b" && src run -d "$id" </dev/null >/dev/null 2>"$T/err") || die "run in src: $(cat "$T/err")"
	mig_serving
}

mig_observe() {
	rm -f "$T/obs.json" "$T/obs.err"
	# SCHED_FIFO where chrt can (it sleeps in poll between its probes): an observer left
	# waiting for a CPU sends no probes, and its own delay would count as the container's
	# downtime (send_gap_ms in its JSON says how late it was)
	local rt=()
	command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null && rt=(chrt -f 1)
	nsenter $(NS $OBS) "${rt[@]}" "$TOOLS/udp_observer" $N.2 7 "$1" >"$T/obs.json" 2>"$T/obs.err" &
	OPID=$!
	PIDS+=($OPID)
	wait_secs 60 has "$T/obs.err" "first reply" || die "the observer gets no reply from the container"
	kill -USR1 $OPID
}

mig_quiesce() {
	local init=${2:-} epid
	[ -n "$init" ] || init=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' <<<"$(src state "$1")")
	epid=$(pgrep -P "$init" -x udp_echo | head -n 1)
	[ -n "$epid" ] || die "no udp_echo process on the host"
	# read, a builtin, not $(cat ...): a fork fewer per round, 1-2 ms each under load, in the
	# observer's gap
	QUIESCE="kill -USR1 $epid && i=0 && while read -r s <$R/tmp/echo.state; [ \"\$s\" != closed ]; do sleep 0.001; i=\$((i+1)); [ \$i -lt 60000 ] || exit 1; done"
}

mig_check_dst() {
	local id=$1 secs=$2 kill=${4:-dst} n0
	DR=${3:-$T/dstwork/$id/bundle/rootfs}
	n0=$(wc -l <"$DR/tmp/log")
	wait_secs "$secs" lines "$DR/tmp/log" $((n0 + 10)) || die "the migrated container does not count"
	continuous "$DR/tmp/log" || die "the count restarted or jumped: $(tr '\n' ' ' <"$DR/tmp/log" | cut -c1-400)"
	if [ -s "$DR/tmp/sum1" ]; then
		$kill kill "$id" USR1 || die "kill USR1 in dst"
		wait_secs "$secs" test -s "$DR/tmp/sum2" || die "no checksum after the migration"
		[ "$(cat "$DR/tmp/sum1")" = "$(cat "$DR/tmp/sum2")" ] ||
			die "checksum $(cat "$DR/tmp/sum1") before, $(cat "$DR/tmp/sum2") after"
	fi
	wait_secs "$secs" is_state "$DR/tmp/echo.state" open || die "the echo does not come back after the restore"
	wait_secs "$secs" has "$T/obs.err" "reply after a gap" || die "no reply after the migration: $(cat "$T/obs.err")"
	kill -TERM $OPID
	wait $OPID
	local d
	d=$(field downtime_ms "$T/obs.json")
	[ -n "$d" ] && [ "$d" != null ] || die "observer: $(cat "$T/obs.json")"
	# a gap over 10 ms is reported: is the echo at dst still answering now?
	nsenter $(NS $OBS) "$TOOLS/udp_observer" $N.2 7 3 >/dev/null 2>"$T/obs2.err"
	has "$T/obs2.err" "first reply" || die "the echo does not answer from dst"
}
