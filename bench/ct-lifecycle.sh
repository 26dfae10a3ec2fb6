#!/usr/bin/env bash
# Container lifecycle latency: `RUNTIME run` of /bin/true on the same busybox bundle, minict
# against crun and runc from Debian, interleaved run by run in one session. Also the peak RSS
# of the runtime process and the time to start 32 containers at once (run -d, then delete).
#
# crun 1.8 refuses hybrid cgroups, so it runs inside a private mount namespace where the
# cgroup2 mount at /sys/fs/cgroup/unified is unmounted (that namespace only): a helper
# process forked by the driver does unshare(CLONE_NEWNS) + umount there and times crun.
#
# The summary goes to docs/results.md (RECORD=0 skips that).
#
# usage: bench/ct-lifecycle.sh [RUNS (default 40)] [CONCURRENT (default 32)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-40}
CONC=${2:-32}
MINICT=${MINICT:-$ROOT/build/bin/minict}
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$MINICT" ] || { echo "build minict first (make)" >&2; exit 1; }
. "$ROOT/bench/lib.sh"
W=$(mktemp -d /tmp/ct-bench.XXXXXX)
# containers a failed run left behind (the Python side deletes its own, this is the backstop):
# a detached `sleep 600` would otherwise keep its cgroups for ten minutes, and any stdio of
# ours it still held would keep a caller that reads our output ($(...)) waiting that long
cleanup() {
	ct_delete_all "$W" "$MINICT"
	rm -rf "$W"
}
trap cleanup EXIT
sum=$W/summary.txt
source "$ROOT/tests/host/runtime_lib.bash" 2>/dev/null || true
MINICT=${MINICT_BENCH:-$ROOT/build/bin/minict}
mk_bundle "$W/true"
set_args "$W/true" /bin/true
mkdir -p "$W/sleep"
cp "$W/true/config.json" "$W/sleep/"
edit_config "$W/sleep" "c['root']['path'] = '$W/true/rootfs'"
set_args "$W/sleep" sleep 600

python3 - "$W" "$RUNS" "$CONC" "$MINICT" >"$sum" <<'PY'
import ctypes, os, statistics, subprocess, sys, time, json, shutil

W, RUNS, CONC, MINICT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# container ids name cgroups (minict/<id>, /<id>), which are host-wide: another run at the same
# time must not collide with ours
PFX = "ctb%d-" % os.getpid()
tools = [("minict", MINICT), ("runc", shutil.which("runc")), ("crun", shutil.which("crun"))]
tools = [(n, p) for n, p in tools if p]
devnull = os.open(os.devnull, os.O_RDWR)

TIME = shutil.which("time") or "/usr/bin/time"

def timed(cmd, cwd, rss=False):
    """wall time (s) of one runtime invocation; with rss, its peak RSS in KiB from GNU time
    (os.wait4's ru_maxrss would count the forked Python before exec)"""
    if rss:
        out = "%s/rss.txt" % W
        timed([TIME, "-f", "%M", "-o", out] + cmd, cwd)
        return 0, int(open(out).read().split()[-1])
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.chdir(cwd)
        os.dup2(devnull, 0); os.dup2(devnull, 1)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)   # never go on as a second copy of this script
    _, status, ru = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("failed: %s (status %d)" % (" ".join(cmd), status))
    return dt, ru.ru_maxrss

def concurrent(cmds, cwd, cleanup):
    """start cmds at once (detached containers); cleanup runs whatever happened: a container
    left running holds its cgroups, and its init would hold whatever stdio it was given, so it
    gets /dev/null and a log file, never our stdout/stderr"""
    log = "%s/concurrent.log" % W
    try:
        with open(log, "w") as err:
            t0 = time.perf_counter()
            procs = [subprocess.Popen(c, cwd=cwd, stdin=devnull, stdout=devnull, stderr=err)
                     for c in cmds]
            rcs = [p.wait() for p in procs]
            dt = time.perf_counter() - t0
        if any(rcs):
            raise SystemExit("concurrent start failed: %s: %s" %
                             (rcs, open(log).read().strip().replace("\n", "; ")))
        return dt
    finally:
        for c in cleanup:
            subprocess.run(c, stdout=devnull, stderr=devnull)

# crun helper: private mount namespace without the cgroup2 mount
def crun_helper():
    r1, w1 = os.pipe(); r2, w2 = os.pipe()
    pid = os.fork()
    if pid:
        os.close(r1); os.close(w2)
        return pid, os.fdopen(w1, "w"), os.fdopen(r2)
    os.close(w1); os.close(r2)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:                   # CLONE_NEWNS
        os._exit(2)
    libc.mount(None, b"/", None, 0x4000 | 0x40000, None)  # MS_REC|MS_PRIVATE
    if libc.umount2(b"/sys/fs/cgroup/unified", 2) != 0:   # MNT_DETACH
        os._exit(3)
    inp, out = os.fdopen(r1), os.fdopen(w2, "w")
    for line in inp:
        req = json.loads(line)
        try:
            if req["kind"] == "one":
                res = timed(req["cmd"], req["cwd"], req.get("rss", False))
            else:
                res = (concurrent(req["cmds"], req["cwd"], req["cleanup"]), 0)
            out.write(json.dumps({"ok": res}) + "\n")
        except SystemExit as e:
            out.write(json.dumps({"err": str(e)}) + "\n")
        out.flush()
    os._exit(0)

helper = crun_helper() if any(n == "crun" for n, _ in tools) else None

def run_tool(name, kind, **kw):
    if name == "crun":
        helper[1].write(json.dumps(dict(kind=kind, **kw)) + "\n"); helper[1].flush()
        rep = json.loads(helper[2].readline())
        if "err" in rep:
            raise SystemExit(rep["err"])
        return rep["ok"]
    if kind == "one":
        return timed(kw["cmd"], kw["cwd"], kw.get("rss", False))
    return (concurrent(kw["cmds"], kw["cwd"], kw["cleanup"]), 0)

lat = {n: [] for n, _ in tools}
rss = {n: [] for n, _ in tools}
for i in range(RUNS + 2):
    for name, path in tools:
        cmd = [path, "--root", "%s/state-%s" % (W, name), "run", "--bundle", W + "/true", PFX + "b%d" % i]
        dt, _ = run_tool(name, "one", cmd=cmd, cwd=W)
        if i >= 2:                      # two warm-up rounds
            lat[name].append(dt * 1000)
if os.path.exists(TIME):
    for i in range(5):
        for name, path in tools:
            cmd = [path, "--root", "%s/state-%s" % (W, name), "run", "--bundle", W + "/true", PFX + "m%d" % i]
            rss[name].append(run_tool(name, "one", cmd=cmd, cwd=W, rss=True)[1])

conc = {}
for name, path in tools:
    st = "%s/state-%s" % (W, name)
    cmds = [[path, "--root", st, "run", "-d", "--bundle", W + "/sleep", PFX + "c%d" % k]
            for k in range(CONC)]
    cleanup = [[path, "--root", st, "delete", "-f", PFX + "c%d" % k] for k in range(CONC)]
    conc[name] = run_tool(name, "many", cmds=cmds, cwd=W, cleanup=cleanup)[0] * 1000

print("ct-lifecycle: `run` of /bin/true, %d runs each (interleaved), busybox bundle" % RUNS)
print("%-8s %9s %9s %9s %12s %16s" % ("runtime", "min ms", "median", "max ms", "peak RSS KiB",
                                       "%d concurrent ms" % CONC))
med = {n: statistics.median(v) for n, v in lat.items()}
for name, _ in tools:
    v = lat[name]
    print("%-8s %9.1f %9.1f %9.1f %12d %16.0f" % (name, min(v), med[name], max(v),
          max(rss[name]) if rss[name] else -1, conc[name]))
for base in ("crun", "runc"):
    if base in med:
        print("minict/%s median ratio: %.2f   %d-concurrent ratio: %.2f" %
              (base, med["minict"] / med[base], CONC, conc["minict"] / conc[base]))
if helper:
    helper[1].close(); os.waitpid(helper[0], 0)
PY
cat "$sum"
"$ROOT/bench/record.py" ct-lifecycle "Container lifecycle: minict vs crun and runc (issue 4, 8)" \
	"bench/ct-lifecycle.sh $RUNS $CONC" "on this host" <"$sum"
