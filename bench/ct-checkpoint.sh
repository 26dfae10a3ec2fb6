#!/usr/bin/env bash
# Checkpoint and restore against memory size: minict vs runc (Debian's 1.1.5) with the same CRIU
# (the project's, scripts/criu.sh path) on the same container, interleaved run by run in one
# session (issue 10). The container is tests/tools/ct_memhold MIB (MIB MiB of touched xorshift
# data, a checksum, a counter) in a busybox bundle with its own pid, mount, net, ipc and uts
# namespaces (`minict spec`, which runc runs as it is). Per runtime, size and run:
#   cold start   `run -d` until the workload is ready (its memory filled, /tmp/sum1 written)
#   checkpoint   `checkpoint --image-path` (the container ends, as by default with runc)
#   image        the image directory's size
#   restore      `restore -d` until it returns (the container runs, its memory is back)
# then USR1: the restored memory's checksum must equal the first one, else the run fails.
# stdio are pipes the driver holds (runc, unlike minict, can't checkpoint a host file as
# stdio). Prints min/median/max and the minict/runc ratios of the medians, and restore vs cold
# start per runtime; the summary goes to docs/results.md (RECORD=0 skips that).
#
# usage: bench/ct-checkpoint.sh [RUNS (default 5)] [SIZES in MiB (default "0 64 256")]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-5}
SIZES=${2:-0 64 256}
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
MINICT=${MINICT:-$ROOT/build/bin/minict}
TOOLS=${TOOLS:-$ROOT/build/tests/tools}
[ -x "$MINICT" ] || { echo "build minict first (make)" >&2; exit 1; }
[ -x "$TOOLS/ct_memhold" ] || { echo "no $TOOLS/ct_memhold (make test-bins)" >&2; exit 1; }
command -v runc >/dev/null || { echo "no runc (apt-get install runc)" >&2; exit 1; }
CRIU=$("$ROOT/scripts/criu.sh" path) || { echo "no CRIU (make deps)" >&2; exit 1; }
. "$ROOT/bench/lib.sh"
W=$(mktemp -d /tmp/ct-ckpt-bench.XXXXXX)
cleanup() {
	ct_delete_all "$W" "$MINICT"
	# never into a mount (a CRIU cgroup yard left behind)
	grep -q "$W" /proc/self/mountinfo || rm -rf --one-file-system "$W"
}
trap cleanup EXIT
source "$ROOT/tests/host/runtime_lib.bash" 2>/dev/null || true
MINICT=${MINICT_BENCH:-$ROOT/build/bin/minict}
mk_bundle "$W/b" >/dev/null
cp "$TOOLS/ct_memhold" "$W/b/rootfs/bin/ct_memhold"
sum=$W/summary.txt

python3 - "$W" "$RUNS" "$SIZES" "$MINICT" "$CRIU" >"$sum" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time

W, RUNS, SIZES, MINICT, CRIU = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3].split()], sys.argv[4], sys.argv[5]
B, R = W + "/b", W + "/b/rootfs"
PFX = "ckb%d-" % os.getpid()  # cgroup paths are host-wide
tools = {
    "minict": lambda st: [MINICT, "--criu", CRIU, "--root", st],
    "runc": lambda st: ["runc", "--criu", CRIU, "--root", st],
}

def config(mib):
    c = json.load(open(B + "/config.json"))
    c["process"]["args"] = ["/bin/ct_memhold", str(mib), "/tmp"]
    c["process"]["terminal"] = False
    json.dump(c, open(B + "/config.json", "w"), indent=1)

pipes = []  # the containers' stdio: pipes held open here for as long as they run
def stdio():
    fds = [os.pipe() for _ in range(3)]
    pipes.extend(fds)
    return dict(stdin=fds[0][0], stdout=fds[1][1], stderr=fds[2][1])

def run(cmd, **kw):
    t = time.monotonic()
    p = subprocess.run(cmd, cwd=B, capture_output="stdin" not in kw, **kw)
    dt = (time.monotonic() - t) * 1000
    if p.returncode != 0:
        err = p.stderr.decode() if p.stderr else ""
        sys.exit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, err.strip()[-2000:]))
    return dt

def wait_file(path, t0, limit=120):
    while not os.path.exists(path):
        if time.monotonic() - t0 > limit:
            sys.exit("no %s after %d s" % (path, limit))
        time.sleep(0.002)
    return (time.monotonic() - t0) * 1000

def du_kib(d):
    return int(subprocess.run(["du", "-sk", d], capture_output=True, text=True).stdout.split()[0])

res = {}  # (mib, tool, metric) -> [values]
def add(mib, tool, metric, v):
    res.setdefault((mib, tool, metric), []).append(v)

for mib in SIZES:
    config(mib)
    for i in range(RUNS + 1):  # the first round warms up
        for name, base in tools.items():
            st = "%s/state-%s" % (W, name)
            cid = "%s%s%d-%d" % (PFX, name[0], mib, i)
            img = "%s/img-%s-%d-%d" % (W, name, mib, i)
            for f in ("sum1", "sum2", "log"):
                if os.path.exists(R + "/tmp/" + f):
                    os.unlink(R + "/tmp/" + f)
            t0 = time.monotonic()
            run(base(st) + ["run", "-d", "--bundle", B, cid], **stdio())
            cold = wait_file(R + "/tmp/sum1", t0)
            sum1 = open(R + "/tmp/sum1").read()
            ck = run(base(st) + ["checkpoint", "--image-path", img, cid])
            kib = du_kib(img)
            rs = run(base(st) + ["restore", "-d", "--image-path", img, "--bundle", B, cid], **stdio())
            run(base(st) + ["kill", cid, "USR1"])
            wait_file(R + "/tmp/sum2", time.monotonic())
            if open(R + "/tmp/sum2").read() != sum1:
                sys.exit("%s %d MiB: the restored memory's checksum differs" % (name, mib))
            run(base(st) + ["delete", "-f", cid])
            shutil.rmtree(img, ignore_errors=True)
            if i == 0:
                continue
            add(mib, name, "cold", cold)
            add(mib, name, "ckpt", ck)
            add(mib, name, "image", kib)
            add(mib, name, "restore", rs)
    for fds in pipes:
        for fd in fds:
            os.close(fd)
    pipes.clear()

def mmm(v, fmt="%.0f"):
    return "/".join(fmt % x for x in (min(v), statistics.median(v), max(v)))

print("ct-checkpoint: ct_memhold MIB in a busybox bundle, %d runs each (interleaved, after one "
      "warm-up round), CRIU %s for both" % (RUNS, CRIU))
print("min/median/max; ratios of the medians")
print("| MiB | runtime | cold start ms | checkpoint ms | image KiB | restore ms | restore / cold start |")
print("|---|---|---|---|---|---|---|")
for mib in SIZES:
    for name in tools:
        g = lambda m: res[(mib, name, m)]
        print("| %d | %s | %s | %s | %s | %s | %.2f |" % (
            mib, name, mmm(g("cold")), mmm(g("ckpt")), mmm(g("image")), mmm(g("restore")),
            statistics.median(g("restore")) / statistics.median(g("cold"))))
print()
print("| MiB | minict/runc: checkpoint | restore | image |")
print("|---|---|---|---|")
for mib in SIZES:
    med = lambda n, m: statistics.median(res[(mib, n, m)])
    print("| %d | %.2f | %.2f | %.2f |" % (mib, med("minict", "ckpt") / med("runc", "ckpt"),
          med("minict", "restore") / med("runc", "restore"),
          med("minict", "image") / med("runc", "image")))
PY
cat "$sum"
"$ROOT/bench/record.py" ct-checkpoint "Checkpoint/restore against memory size: minict vs runc, same CRIU (issue 10)" \
	"bench/ct-checkpoint.sh $RUNS \"$SIZES\"" "on this host" <"$sum"
