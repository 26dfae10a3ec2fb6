#!/usr/bin/env bash
# An unmodified `runc spec` bundle (only process.args and terminal=false changed) runs under
# minict as under runc: the capability lines, NoNewPrivs and Seccomp of /proc/self/status, id,
# hostname, the mount list (mount point, type, ro/rw) and the exit status are equal.
# (`runc spec --rootless` is not checked: minict does not claim rootless support.)
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_clients.bash"
runc_ok || skip "runc is not installed (the baseline of this test)"
T=$(mktemp -d /tmp/minict-runcspec.XXXXXX)
ID=${P}runcspec
trap 'cleanup_state "$T/mstate"; runc --root "$T/rstate" delete -f $ID >/dev/null 2>&1; rm -rf "$T"' EXIT
mkdir -p "$T/bundle"
mk_rootfs "$T/bundle/rootfs"
(cd "$T/bundle" && runc spec) || die "runc spec"
cp "$T/bundle/config.json" "$T/config.runc-spec"

# run RUNTIME-BINARY STATE-ROOT cmd...: the spec as runc wrote it, with these args, no terminal
run_with() {
	local rt=$1 st=$2
	shift 2
	cp "$T/config.runc-spec" "$T/bundle/config.json"
	set_args "$T/bundle" "$@"
	edit_config "$T/bundle" 'c["process"]["terminal"] = False'
	"$rt" --root "$st" run --bundle "$T/bundle" "$ID"
}

# mount point, type, ro/rw; sorted (the order of the cgroup hierarchies is not compared). Not
# compared either: ro/rw of the tmpfs at /sys/fs/cgroup, which the spec's cgroup mount asks to
# be "ro" and runc leaves writable (read-only is the stricter reading).
MOUNTS_CMD='while read -r src dst type opts rest; do
	[ "$dst $type" = "/sys/fs/cgroup tmpfs" ] && opts=-
	echo "$dst $type ${opts%%,*}"
done </proc/self/mounts | sort'

for what in "security:$SEC_CMD" "id:id" "hostname:hostname" "mounts:$MOUNTS_CMD"; do
	name=${what%%:*}
	cmd=${what#*:}
	r=$(run_with runc "$T/rstate" sh -c "$cmd" 2>"$T/rerr") || bad "$name: runc failed: $(cat "$T/rerr")"
	if m=$(run_with "$MINICT" "$T/mstate" sh -c "$cmd" 2>"$T/merr"); then
		if [ -n "$r" ] && [ "$m" != "$r" ]; then # only the differing lines (the lists are long)
			diff <(echo "$r") <(echo "$m") | grep '^[<>]' | sed 's/^/    (< runc, > minict) /' >&2
			bad "runc spec bundle: $name differs from runc's (lines above)"
		else
			same_as_runc "runc spec bundle: $name" "$m" "$r"
		fi
	else
		bad "$name: minict run failed (exit $?): $(tr '\n' ' ' <"$T/merr")"
	fi
done

run_with runc "$T/rstate" sh -c 'exit 3' >/dev/null 2>&1
rrc=$?
run_with "$MINICT" "$T/mstate" sh -c 'exit 3' >/dev/null 2>"$T/merr"
mrc=$?
[ "$mrc" = "$rrc" ] && echo "ok: exit status $mrc as runc" ||
	bad "exit status: minict $mrc, runc $rrc ($(tr '\n' ' ' <"$T/merr"))"

l=$(leftovers "$ID" "$T/mstate")
[ -z "$l" ] || bad "minict left behind: $l"
finish
