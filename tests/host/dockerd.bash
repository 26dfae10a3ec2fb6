# A private dockerd for tests and benchmarks (sourced). The caller sets T (its temp dir), SOCK,
# CGP (the cgroup parent of this daemon's containers), MINICT and DOCKER, and defines
# dk() { "$DOCKER" -H "unix://$SOCK" "$@"; }. dockerd_start sets DPID.
# Nothing on the host is touched: no bridge, iptables or ip_forward, the key file and every
# root are under $T, and --pdeathsig stops dockerd (and its containerd) if the caller dies
# before its EXIT trap runs.
dockerd_start() {
	cat >"$T/daemon.json" <<JSON
{"deprecated-key-path": "$T/key.json"}
JSON
	setpriv --pdeathsig TERM dockerd -H "unix://$SOCK" --data-root "$T/data" \
		--exec-root "$T/exec" --pidfile "$T/dockerd.pid" --config-file "$T/daemon.json" \
		--storage-driver vfs --bridge=none --iptables=false --ip6tables=false \
		--ip-forward=false --ip-masq=false --exec-opt native.cgroupdriver=cgroupfs \
		--cgroup-parent "/$CGP" --add-runtime "minict=$MINICT" >"$T/dockerd.log" 2>&1 &
	DPID=$!
	local _
	for _ in $(seq 120); do
		dk version >/dev/null 2>&1 && break
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.5
	done
	if ! dk version >/dev/null 2>&1; then
		tail -n 5 "$T/dockerd.log" >&2
		echo "dockerd did not come up (log above)" >&2
		return 1
	fi
	dk info --format '{{json .Runtimes}}' | grep -q '"minict"' || {
		echo "dockerd does not list the minict runtime" >&2
		return 1
	}
}
