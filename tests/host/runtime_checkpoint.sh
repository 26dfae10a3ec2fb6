#!/usr/bin/env bash
# minict checkpoint/restore with CRIU (docs/checkpoint.md): a counting container stops at the
# checkpoint and continues its count after restore, in its cgroups, with its veth back on the
# bridge, its tmpfs mounts as they were (/dev and the cgroup tmpfs made again by minict,
# /dev/shm with data dumped by CRIU; a crafted record of them refused); --leave-running keeps it running; 64 MiB of touched memory comes back with the same
# checksum; --pre-dump without soft-dirty tracking, a corrupted image and a missing CRIU each
# give one clear line and leave nothing behind. Prints the figures (times, image sizes).
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
CRIU=$("$ROOT/scripts/criu.sh" path 2>&1) || skip "no CRIU: $CRIU"
command -v gcc >/dev/null || skip "no gcc (the memory test program)"
T=$(mktemp -d /tmp/minict-ckpt.XXXXXX)
S=$T/state
BR=mctck$(($$ % 100000))
N=10.233.$(($$ % 250))
trap 'cleanup_state "$S"; ip link del $BR 2>/dev/null; rm -rf "$T"' EXIT
m() { "$MINICT" --root "$S" "$@"; }
status() { m state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
kib() { du -sk "$1" | cut -f1; }

mk_bundle "$T/b"
R=$T/b/rootfs
# the counter appends its count: a restart or a gap shows in the log; its veth on a bridge
edit_config "$T/b" "
c['process']['args'] = ['sh', '-c', 'i=0; while :; do i=\$((i+1)); echo \$i >> /tmp/log; usleep 20000; done']
c['minict'] = {'netBridge': '$BR', 'netAddress': '$N.2/24'}
"
ip link del $BR 2>/dev/null
cd "$T/b" || die "cd"
m run -d ${P}cnt </dev/null >/dev/null 2>&1 || die "run the counter"
wait_secs 10 lines "$R/tmp/log" 10 || die "the counter does not count"

# the tmpfs mounts: /dev (with an empty file of the container's) and the cgroup tmpfs are
# recreated by minict, /dev/shm holding data goes through CRIU; both come back as they were
m exec ${P}cnt sh -c 'touch /dev/mine && chmod 640 /dev/mine && echo shared > /dev/shm/data' ||
	die "write into /dev and /dev/shm"
# (the times of what is not a directory: those that are are mount points, fresh after restore)
tmpfs_view() { m exec ${P}cnt sh -c 'for f in /dev/* /sys/fs/cgroup/*; do [ -d "$f" ] && stat -c "%N %A %u %g" "$f" || stat -c "%N %A %u %g %t:%T %s %Y" "$f"; done; cat /dev/shm/data; awk "\$5 ~ /^\/(dev|sys\/fs\/cgroup)/" /proc/self/mountinfo | cut -d" " -f5,6,9-'; }
view1=$(tmpfs_view) || die "list /dev"
# the checkpoint stops it (runc's behaviour: the container is gone)
t0=$(now_ms)
m checkpoint --image-path "$T/img" ${P}cnt 2>"$T/err" || die "checkpoint: $(cat "$T/err")"
t_ckpt=$(($(now_ms) - t0))
[ -f "$T/img/inventory.img" ] || die "no image"
tmpfs_mnts=$(python3 -c 'import json,sys; print(" ".join(m["mnt"] for m in json.load(open(sys.argv[1]))))' "$T/img/minict-tmpfs.json") ||
	die "no minict-tmpfs.json in the image: $(cat "$T/err")"
[[ " $tmpfs_mnts " == *" /dev "* ]] || die "/dev is not recreated by minict: $tmpfs_mnts"
[[ " $tmpfs_mnts " == *" /dev/shm "* ]] && die "/dev/shm holds data but minict recreates it"
# CRIU ran in the container's network namespace: it dumped none (restore gives a new one)
ls "$T"/img/netns-*.img >/dev/null 2>&1 && die "CRIU dumped the network namespace"
m state ${P}cnt >/dev/null 2>&1 && die "the container is still there after checkpoint"
[ -z "$(leftovers ${P}cnt "$S")" ] || die "checkpoint left behind: $(leftovers ${P}cnt "$S")"
n1=$(wc -l <"$R/tmp/log")
sleep 0.3
[ "$(wc -l <"$R/tmp/log")" = "$n1" ] || die "still counting after checkpoint"

# restore: running again, where it was, in its own cgroups, with its network
t0=$(now_ms)
m restore -d --image-path "$T/img" --pid-file "$T/pid" ${P}cnt </dev/null >/dev/null 2>"$T/err" ||
	die "restore: $(cat "$T/err")"
t_rst=$(($(now_ms) - t0))
[ "$(status ${P}cnt)" = running ] || die "status after restore: $(status ${P}cnt)"
pid=$(m state ${P}cnt | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
[ "$pid" = "$(cat "$T/pid")" ] || die "state pid $pid, pid file $(cat "$T/pid")"
wait_secs 10 lines "$R/tmp/log" $((n1 + 10)) || die "the restored counter does not count"
continuous "$R/tmp/log" || die "the count restarted or jumped: $(tr '\n' ' ' <"$R/tmp/log" | cut -c1-400)"
grep -q "^0::.*/${P}cnt\$" /proc/"$pid"/cgroup || die "restored init not in its cgroup: $(cat /proc/"$pid"/cgroup)"
grep -q "^[0-9]*:memory:.*/${P}cnt\$" /proc/"$pid"/cgroup || die "restored init not in its memory cgroup"
[ "$(m exec ${P}cnt sh -c 'echo $$')" != "" ] || die "exec into the restored container"
[ "$(m exec ${P}cnt cat /proc/1/cmdline | tr '\0' ' ')" != "" ] || die "no pid 1 in the restored pid namespace"
# the tmpfs mounts as they were (entries, modes, owners, flags, /dev/shm's data); the device
# nodes work; minict's staging of them is not in the host's mount table
view2=$(tmpfs_view) || die "list /dev after restore"
[ "$view1" = "$view2" ] || die "the tmpfs mounts changed: $(diff <(echo "$view1") <(echo "$view2"))"
[ "$(m exec ${P}cnt sh -c 'echo x > /dev/null && head -c 5 /dev/zero | wc -c')" = 5 ] ||
	die "/dev/null or /dev/zero do not work after restore"
m exec ${P}cnt touch /dev/again || die "/dev is not writable after restore"
grep -q minict/ext /proc/self/mountinfo && die "minict's tmpfs staging is in the host's mounts"
for d in /proc/acpi /sys/firmware; do
	[ -d "$d" ] || continue
	[ -z "$(m exec ${P}cnt ls -A $d)" ] || die "$d is not masked after restore"
	m exec ${P}cnt touch $d/x 2>/dev/null && die "$d is writable after restore"
done
ip -o link show master $BR | grep -q "$(veth_name ${P}cnt)" || die "veth not back on the bridge"
m exec ${P}cnt ip -o -4 addr show eth0 | grep -q "$N.2/24" || die "eth0 lost its address"
busybox ping -c 1 -W 2 $N.2 >/dev/null || die "the restored container does not answer ping"
img_cnt=$(kib "$T/img")

# --leave-running: the image is written and the container goes on
t0=$(now_ms)
m checkpoint --leave-running --image-path "$T/img2" ${P}cnt 2>"$T/err" || die "checkpoint --leave-running: $(cat "$T/err")"
t_ckpt_lr=$(($(now_ms) - t0))
[ "$(status ${P}cnt)" = running ] || die "status after --leave-running: $(status ${P}cnt)"
n2=$(wc -l <"$R/tmp/log")
wait_secs 10 lines "$R/tmp/log" $((n2 + 5)) || die "not counting after --leave-running"
[ -f "$T/img2/inventory.img" ] || die "--leave-running wrote no image"

# --pre-dump: CRIU needs soft-dirty tracking; without it one clear line, container untouched
if ! m checkpoint --pre-dump --image-path "$T/pre" ${P}cnt 2>"$T/err"; then
	[ "$(wc -l <"$T/err")" = 1 ] || die "pre-dump error is not one line: $(cat "$T/err")"
	grep -q 'soft-dirty' "$T/err" || die "pre-dump error does not say why: $(cat "$T/err")"
	echo "pre-dump here: $(cat "$T/err")"
fi
[ "$(status ${P}cnt)" = running ] || die "status after --pre-dump: $(status ${P}cnt)"

# a missing CRIU: one line naming it and where it came from; the container is untouched
MINICT_CRIU=/nonexistent m checkpoint --image-path "$T/img3" ${P}cnt 2>"$T/err" && die "checkpoint with MINICT_CRIU=/nonexistent succeeded"
grep -q '/nonexistent.*MINICT_CRIU.*missing' "$T/err" || die "missing criu message: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || die "missing criu: not one line: $(cat "$T/err")"
mkdir -p "$T/nocache"
MINICT_CRIU='' MINI_CACHE=$T/nocache m checkpoint --image-path "$T/img3" ${P}cnt 2>"$T/err" && die "checkpoint without any CRIU succeeded"
grep -q 'run make deps' "$T/err" || die "no-CRIU message: $(cat "$T/err")"
[ "$(status ${P}cnt)" = running ] || die "status after the failed checkpoints: $(status ${P}cnt)"
m delete -f ${P}cnt || die "delete -f the restored container"
[ -z "$(leftovers ${P}cnt "$S")" ] || die "delete -f left behind: $(leftovers ${P}cnt "$S")"
MINICT_CRIU=/nonexistent m restore -d --image-path "$T/img" ${P}cnt </dev/null 2>"$T/err" && die "restore with MINICT_CRIU=/nonexistent succeeded"
grep -q '/nonexistent' "$T/err" || die "restore: missing criu message: $(cat "$T/err")"
[ -z "$(leftovers ${P}cnt "$S")" ] || die "restore without CRIU left behind: $(leftovers ${P}cnt "$S")"

# a corrupted image: CRIU's reason in one line, nothing left (state, cgroups, veth, tasks)
cp -a "$T/img" "$T/bad"
printf 'not-a-core-image-at-all' | dd of="$T/bad/core-1.img" bs=1 seek=8 conv=notrunc status=none
m restore -d --image-path "$T/bad" ${P}cnt </dev/null >/dev/null 2>"$T/err" && die "restore of a corrupted image succeeded"
[ "$(wc -l <"$T/err")" = 1 ] || die "corrupted image: not one line: $(cat "$T/err")"
grep -q 'criu restore failed: .*core-1.img' "$T/err" || die "corrupted image message: $(cat "$T/err")"
[ -z "$(leftovers ${P}cnt "$S")" ] || die "corrupted restore left behind: $(leftovers ${P}cnt "$S")"
n3=$(wc -l <"$R/tmp/log")
sleep 0.2
[ "$(wc -l <"$R/tmp/log")" = "$n3" ] || die "something from the corrupted restore is counting"
# a truncated pages image: CRIU 4.1.1's restorer spins on it; minict's watchdog kills it and
# cleans up, CRIU's cgroup yard included
cp -a "$T/img" "$T/trunc"
for f in "$T"/trunc/pages-*.img; do truncate -s 100 "$f"; done
MINICT_CRIU_TIMEOUT=3 m restore -d --image-path "$T/trunc" ${P}cnt </dev/null >/dev/null 2>"$T/err" && die "restore of a truncated image succeeded"
grep -q 'no answer after 3 s, killed it' "$T/err" || die "truncated image message: $(cat "$T/err")"
[ -z "$(leftovers ${P}cnt "$S")" ] || die "truncated restore left behind: $(leftovers ${P}cnt "$S")"
grep -q cgyard /proc/self/mountinfo && die "CRIU's cgroup yard is still mounted: $(grep cgyard /proc/self/mountinfo | head -n 3)"
# a crafted tmpfs record (a path out of the mount): one line naming it, nothing made or left
cp -a "$T/img" "$T/craft"
python3 - "$T/craft/minict-tmpfs.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
a[0]["entries"].append({"p": "../escaped", "t": "f", "m": 420, "u": 0, "g": 0, "s": 0, "n": 0})
json.dump(a, open(sys.argv[1], "w"))
PY
m restore -d --image-path "$T/craft" ${P}cnt </dev/null >/dev/null 2>"$T/err" && die "restore of a crafted tmpfs record succeeded"
[ "$(wc -l <"$T/err")" = 1 ] || die "crafted tmpfs record: not one line: $(cat "$T/err")"
grep -q 'minict-tmpfs.json.*bad entry' "$T/err" || die "crafted tmpfs record message: $(cat "$T/err")"
[ -z "$(leftovers ${P}cnt "$S")" ] || die "crafted restore left behind: $(leftovers ${P}cnt "$S")"
[ -e /run/minict/escaped ] && die "the crafted record wrote outside its mount"
mkdir -p "$T/nothing"
m restore -d --image-path "$T/nothing" ${P}cnt 2>"$T/err" && die "restore from an empty path succeeded"
grep -q 'no checkpoint' "$T/err" || die "empty image path message: $(cat "$T/err")"

# 64 MiB of touched memory: the same checksum after restore
cat >"$T/mem.c" <<'C'
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#define SZ (64u << 20)
static volatile sig_atomic_t again;
static void on_usr1(int s) { (void)s; again = 1; }
static uint64_t sum(const uint64_t *p)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < SZ / 8; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}
static void put(const char *f, uint64_t h)
{
	FILE *o = fopen(f, "w");
	fprintf(o, "%016llx\n", (unsigned long long)h);
	fclose(o);
}
int main(void)
{
	uint64_t *p = malloc(SZ), x = 88172645463325252ull;
	signal(SIGUSR1, on_usr1);
	for (size_t i = 0; i < SZ / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x;
	}
	put("/tmp/sum1", sum(p));
	for (;;) {
		pause();
		if (again)
			put("/tmp/sum2", sum(p)), again = 0;
	}
}
C
gcc -O2 -static -o "$R/bin/memhog" "$T/mem.c" || die "build the memory program"
set_args "$T/b" /bin/memhog
m run -d ${P}mem </dev/null >/dev/null 2>&1 || die "run the memory container"
wait_secs 20 test -s "$R/tmp/sum1" || die "the memory program did not fill its memory"
t0=$(now_ms)
m checkpoint --image-path "$T/imgm" ${P}mem 2>"$T/err" || die "checkpoint 64 MiB: $(cat "$T/err")"
t_ckpt_m=$(($(now_ms) - t0))
t0=$(now_ms)
m restore -d --image-path "$T/imgm" ${P}mem </dev/null >/dev/null 2>"$T/err" || die "restore 64 MiB: $(cat "$T/err")"
t_rst_m=$(($(now_ms) - t0))
m kill ${P}mem USR1 || die "kill USR1"
wait_secs 20 test -s "$R/tmp/sum2" || die "no checksum after restore"
[ "$(cat "$R/tmp/sum1")" = "$(cat "$R/tmp/sum2")" ] || die "checksum $(cat "$R/tmp/sum1") before, $(cat "$R/tmp/sum2") after"
img_mem=$(kib "$T/imgm")
m delete -f ${P}mem || die "delete -f the memory container"
[ -z "$(leftovers ${P}mem "$S")" ] || die "left behind: $(leftovers ${P}mem "$S")"

echo "counter: checkpoint ${t_ckpt} ms, restore ${t_rst} ms, image ${img_cnt} KiB; checkpoint --leave-running ${t_ckpt_lr} ms"
echo "64 MiB:  checkpoint ${t_ckpt_m} ms, restore ${t_rst_m} ms, image ${img_mem} KiB"
echo "ok"
