# Shared by tests/lab/bench_latency_vm.sh and bench_density_vm.sh (sourced; not a test:
# run-tests.sh runs tests/lab/*.sh only): the checks of a minibench run with the vm and qemu
# backends. Needs TMP (the test's directory) and tests/lib.sh.

# vm_bench_ran WHAT RC OUT CONSOLES GUESTS: minibench exited 0 (else the tails of the guests'
# CONSOLES/g*/console.log first: they say why a VM ended) and its table OUT has a row for vm and
# for qemu at each guest count of GUESTS (1,2).
vm_bench_ran() {
	local what=$1 rc=$2 out=$3 consoles=$4 guests=$5 c b g
	if [ "$rc" -ne 0 ]; then
		for c in "$consoles"/g*/console.log; do
			[ -f "$c" ] && echo "== $c" && tail -n 40 "$c"
		done
	fi
	expect_eq "$what ($out)" "$rc" 0
	echo "$out"
	for b in vm qemu; do
		for g in ${guests//,/ }; do
			grep -Eq "^ *$b +$g +[0-9]" <<<"$out" || fail "$what: no table row for $b, $g guests: $out"
		done
	done
	return 0
}

# no_vm_left WHAT: no process runs with TMP/ in its command line, nothing is mounted under TMP.
no_vm_left() {
	local p
	p=$(pids_matching "$TMP/")
	[ -z "$p" ] || fail "$1: processes left: $(for x in $p; do tr '\0' ' ' <"/proc/$x/cmdline"; echo; done)"
	grep -q " $TMP/" /proc/self/mountinfo && fail "$1: mounts left under $TMP"
	return 0
}
