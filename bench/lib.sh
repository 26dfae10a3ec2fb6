# Shared by the benchmark scripts (sourced; ROOT set).

# run_where_stock_kernels_boot ID TITLE SCRIPT: run SCRIPT again with MINI_IN_LAB=1 where a stock
# kernel can boot (in the lab when this host's /dev/kvm is PVM or missing, else right here),
# passing RUNS and TOOLS on; print its summary (its stdout) and record it in docs/results.md.
run_where_stock_kernels_boot() {
	local id=$1 title=$2 script=$3 where out rc=0
	local envs=(MINI_IN_LAB=1)
	[ -n "${RUNS:-}" ] && envs+=(RUNS="$RUNS")
	[ -n "${TOOLS:-}" ] && envs+=(TOOLS="$TOOLS")
	out=$(mktemp)
	if [ -d /sys/module/kvm_pvm ] || [ ! -c /dev/kvm ]; then
		where="in the lab"
		"$ROOT/build/bin/minilab" run -- env "${envs[@]}" "$script" >"$out" || rc=$?
	else
		where="on this host"
		env "${envs[@]}" "$script" >"$out" || rc=$?
	fi
	cat "$out"
	if [ "$rc" -eq 0 ]; then
		"$ROOT/bench/record.py" "$id" "$title" "bench/${script##*/}" "$where" <"$out" || rc=$?
	fi
	rm -f "$out"
	return "$rc"
}

# ct_delete_all DIR MINICT: delete -f every container still in DIR/state-minict (with MINICT) or
# DIR/state-runc, quietly: the backstop of a run that failed half-way (a detached container
# would otherwise keep its cgroups, and any stdio of ours it holds, for as long as it lives).
ct_delete_all() {
	local s d
	for s in "$1"/state-minict "$1"/state-runc; do
		for d in "$s"/*/; do
			[ -d "$d" ] || continue
			case $s in
			*-minict) "$2" --root "$s" delete -f "$(basename "$d")" ;;
			*) runc --root "$s" delete -f "$(basename "$d")" ;;
			esac
		done
	done >/dev/null 2>&1
}
