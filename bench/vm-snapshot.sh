#!/usr/bin/env bash
# Snapshot time and restore-to-running time of the tiny counting test guest (issue 14, 10a), on
# this host's /dev/kvm, for 64 and 256 MiB guests, idle (`count`: a few pages touched) and
# with FILL MiB (default 32) written with non-zero words first (`fill N`: slow under PVM, ~0.2 s
# per MiB, hence not all of it), min/median/max of RUNS.
#   snapshot: the API's snapshot of a running guest (pause, state, memory file, resume);
#             total_ms as the reply reports it
#   restore:  exec of `minivm run --restore DIR` to the first "count" line the restored guest
#             prints on the console (its memory file hot in the page cache), and minivm's own
#             milestone "entry" (main() to the first KVM_RUN, --timings json)
#   QEMU (QEMU=1, default when qemu-system-x86_64 exists): the same guest ELF under
#             `-M microvm -kernel`, saved with QMP `migrate exec:cat > FILE`, restored with
#             `-incoming exec:cat FILE` to the first "count" line
# Not a timed test. env: RUNS (default 10), SIZES (default "64 256"), BIN (default build/bin)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BIN:-$ROOT/build/bin}
export RUNS=${RUNS:-10} SIZES=${SIZES:-64 256} FILL=${FILL:-32} MINIVM=$BIN/minivm
export GUEST=${GUEST:-$ROOT/build/tests/guests/pvh-guest.elf}
[ -x "$MINIVM" ] && [ -f "$GUEST" ] || { echo "build first: make all" >&2; exit 1; }
if [ -z "${QEMU+x}" ]; then command -v qemu-system-x86_64 >/dev/null && QEMU=1 || QEMU=0; fi
export QEMU
export WORK ROOT
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - <<'PY'
import json, os, select, signal, socket, statistics, subprocess, sys, time

RUNS, WORK, MINIVM, GUEST = int(os.environ["RUNS"]), os.environ["WORK"], os.environ["MINIVM"], os.environ["GUEST"]
SIZES = [int(s) for s in os.environ["SIZES"].split()]
sys.path.insert(0, os.path.join(os.environ["ROOT"], "bench"))
from migrate_lib import api

def wait_line(p, prefix, timeout=60.0):
    """Read p.stdout until a line starting with prefix; returns the time it came."""
    buf, end = b"", time.monotonic() + timeout
    fd = p.stdout.fileno()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        for line in buf.split(b"\n")[:-1]:
            if line.startswith(prefix):
                return time.monotonic()
        buf = buf[buf.rfind(b"\n") + 1:]
    raise SystemExit(f"no '{prefix.decode()}' line within {timeout} s")

def stat(v):
    v = sorted(v)
    return f"{v[0]:8.2f} {statistics.median(v):8.2f} {v[-1]:8.2f}"

FILL = int(os.environ["FILL"])

def workload(mib, filled):
    return f"fill {min(FILL, mib - 40)}" if filled else "count"

rows = []
for mib in SIZES:
    for filled in (False, True):
        what = f"{mib} MiB " + (f"{min(FILL, mib - 40)} filled" if filled else "idle")
        sock, snap = f"{WORK}/api.sock", f"{WORK}/snap-{mib}-{filled}"
        p = subprocess.Popen([MINIVM, "run", "--kernel", GUEST, "--cmdline", workload(mib, filled),
                              "--mem", f"{mib}M", "--api", sock], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        wait_line(p, b"count 3", 300)
        snaps = []
        for i in range(RUNS):
            r = api(sock, {"cmd": "snapshot", "path": snap}, check=True)
            snaps.append(r)
            time.sleep(0.05)
        api(sock, {"cmd": "stop"}, check=True)
        p.communicate(timeout=30)
        rows.append((what, "minivm snapshot total_ms", [r["total_ms"] for r in snaps]))
        rows.append((what, "minivm   of which memory_ms", [r["memory_ms"] for r in snaps]))
        rows.append((what, "minivm   pause_ms", [r["pause_ms"] for r in snaps]))
        written = snaps[-1]["memory_bytes_written"] >> 20
        wall, entry = [], []
        for i in range(RUNS):
            t0 = time.monotonic()
            q = subprocess.Popen([MINIVM, "run", "--restore", snap, "--timings", "json"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            t1 = wait_line(q, b"count")
            wall.append((t1 - t0) * 1e3)
            q.send_signal(signal.SIGTERM)
            _, err = q.communicate(timeout=30)
            for line in err.decode().splitlines():
                if line.startswith("{"):
                    entry.append(json.loads(line)["entry"])
        rows.append((what, "minivm restore: exec -> first count", wall))
        rows.append((what, "minivm restore: main() -> KVM_RUN", entry))
        rows.append((what, f"(memory file: {written} MiB of data)", [0]))
        if os.environ["QEMU"] != "1":
            continue
        qsave, qrest = [], []
        qfile = f"{WORK}/qemu-{mib}-{filled}"
        base = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", f"{mib}",
                "-kernel", GUEST, "-append", workload(mib, filled), "-nodefaults", "-no-user-config",
                "-display", "none", "-serial", "stdio"]
        qmp = f"{WORK}/qmp.sock"
        q = subprocess.Popen(base + ["-qmp", f"unix:{qmp},server=on,wait=off"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        wait_line(q, b"count 3", 300)
        s = socket.socket(socket.AF_UNIX)
        s.connect(qmp)
        f = s.makefile("rw")
        def cmd(c, **a):
            f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n")
            f.flush()
            while True:
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    return r
        f.readline()
        cmd("qmp_capabilities")
        cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        for i in range(RUNS):
            t0 = time.monotonic()
            cmd("migrate", uri=f"exec:cat > {qfile}")
            while cmd("query-migrate")["return"].get("status") not in ("completed", "failed"):
                time.sleep(0.0005)
            qsave.append((time.monotonic() - t0) * 1e3)
            cmd("cont")
            time.sleep(0.05)
        cmd("quit")
        q.communicate(timeout=30)
        for i in range(RUNS):
            t0 = time.monotonic()
            q = subprocess.Popen(base + ["-incoming", f"exec:cat {qfile}"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            t1 = wait_line(q, b"count")
            qrest.append((t1 - t0) * 1e3)
            q.kill()
            q.communicate(timeout=30)
        rows.append((what, "QEMU migrate exec:cat > file", qsave))
        rows.append((what, "QEMU -incoming exec:cat file -> first count", qrest))
        rows.append((what, f"(QEMU file: {os.path.getsize(qfile) >> 20} MiB)", [0]))

cpus = open("/proc/cpuinfo").read().count("processor")
print(f"snapshot / restore of the tiny PVH guest, 1 vCPU, {RUNS} runs, {cpus} host CPUs, load {os.getloadavg()[0]:.1f}")
print(f"{'guest':18s} {'what':46s} {'min':>8s} {'median':>8s} {'max':>8s}  (ms)")
for what, name, v in rows:
    if name.startswith("("):
        print(f"{what:18s} {name}")
    else:
        print(f"{what:18s} {name:46s} {stat(v)}")
PY
