#!/usr/bin/env bash
# The guest's exit status (debug port) becomes minivm's; poweroff and both reboot paths end
# minivm; --timings json reports every milestone in order.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	for s in 0 1 42 255; do
		run_capture out rc guest "$k" "exit $s"
		expect_eq "$n exit $s" "$rc" "$s"
	done
	for how in reboot acpireset; do
		guest "$k" "$how" --timings json 2>"$TMP/t.json" >/dev/null
		rc=$?
		expect_eq "$n $how: exit status" "$rc" 0
		expect_contains "$n $how: end reason" "$(cat "$TMP/t.json")" '"end":"reboot"'
	done
	guest "$k" "exit 3" --timings json 2>"$TMP/t.json" >/dev/null
	expect_eq "$n exit 3 with timings" "$?" 3
	python3 - "$TMP/t.json" <<'PY' || fail "$n: bad timings: $(cat "$TMP/t.json")"
import json, sys
t = json.loads(open(sys.argv[1]).read())
names = ["start", "setup", "entry", "init", "ready", "exit", "gone"]
vals = [t[n] for n in names]
assert all(isinstance(v, (int, float)) for v in vals), vals
assert vals == sorted(vals), vals
assert t["end"] == "poweroff" and t["status"] == 3, t
PY
	echo "$n: exit statuses, poweroff, reboot, timings ok"
done
