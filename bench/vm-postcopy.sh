#!/usr/bin/env bash
# Post-copy live migration vs pre-copy with auto-converge, minivm vs QEMU 7.2 (issue 14, item 7),
# over loopback, same run, same host: the tiny PVH test guest (`dirty WS 0 MHZ` in a 256 MiB
# guest, 1 vCPU: one word per page rewritten over a WS MiB working set as fast as the guest
# goes) migrated over a link capped at BW MiB/s, slower than the guest dirties, so pre-copy
# alone does not converge. Four ways, each RUNS times in a chain (A -> B -> C ...):
#   minivm precopy+ac   --auto-converge (the throttle rises until the rest fits MAXDOWN)
#   minivm postcopy     --postcopy --max-rounds ROUNDS: the full pass and ROUNDS-1 dirty rounds,
#                       then post-copy (vmm/postcopy.c); ROUNDS 1: right after the full pass
#   QEMU precopy+ac     the auto-converge capability, QEMU's defaults
#   QEMU postcopy       postcopy-ram on both sides, migrate-start-postcopy once QEMU's
#                       dirty-sync-count reaches ROUNDS + 1 (one sync at its set-up, then one
#                       after each pass: the full pass and ROUNDS-1 rounds, as minivm), and
#                       max-postcopy-bandwidth = the same cap
# Both VMMs: the same downtime target MAXDOWN ms (default 50), max-bandwidth BW MiB/s for the
# whole migration (minivm: --bandwidth paces post-copy's pages too, the ones asked for included;
# QEMU: max-postcopy-bandwidth). Figures: total_ms and downtime_ms as each VMM reports them
# (minivm: migrate command to PC_DONE / pause to the destination's ACK; QEMU: query-migrate
# total-time / downtime), and the heartbeat gap: the last "count" line the source printed to the
# first the destination printed, read from both consoles. min/median/max and the ratio of the
# medians to minivm's pre-copy in the same run. A QEMU migration not done after 120 s is
# cancelled. env: RUNS (5), WS (64), BW (32), ROUNDS (1), MAXDOWN (50), MHZ (2100), BIN
# (build/bin), QEMU (1 when installed), RECORD=1 or --record: into docs/results.md (section
# vm-postcopy, bench/record.py).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "${1:-}" = --record ] && RECORD=1
BIN=${BIN:-$ROOT/build/bin}
export MAXDOWN=${MAXDOWN:-50} RUNS=${RUNS:-5} WS=${WS:-64} BW=${BW:-32} ROUNDS=${ROUNDS:-1}
export MHZ=${MHZ:-2100} MINIVM=$BIN/minivm RECORD=${RECORD:-0} ROOT
export GUEST=${GUEST:-$ROOT/build/tests/guests/pvh-guest.elf}
[ -x "$MINIVM" ] && [ -f "$GUEST" ] || {
	echo "build first: make all" >&2
	exit 1
}
if [ -z "${QEMU+x}" ]; then command -v qemu-system-x86_64 >/dev/null && QEMU=1 || QEMU=0; fi
export QEMU WORK
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - <<'PY'
import os, subprocess, sys, time

sys.path.insert(0, os.path.join(os.environ["ROOT"], "bench"))
from migrate_lib import Console, QMP, api, free_port, gap_ms, kill_all, med, spawn, st

RUNS, WORK, MINIVM, GUEST = int(os.environ["RUNS"]), os.environ["WORK"], os.environ["MINIVM"], os.environ["GUEST"]
WS, BW, ROUNDS, MAXDOWN = (int(os.environ[k]) for k in ("WS", "BW", "ROUNDS", "MAXDOWN"))
QEMU = os.environ["QEMU"] == "1"
CMD = f"dirty {WS} 0 {os.environ['MHZ']}"

def minivm(way):
    sock = f"{WORK}/m0.sock"
    p = spawn([MINIVM, "run", "--kernel", GUEST, "--cmdline", CMD, "--mem", "256M", "--api", sock])
    con = Console(p)
    con.wait_count(20)
    rows = []
    for i in range(RUNS):
        port, dsock = free_port(), f"{WORK}/m{i + 1}.sock"
        q = spawn([MINIVM, "run", "--incoming", f"tcp:127.0.0.1:{port}", "--api", dsock],
                  stderr=subprocess.PIPE)
        if b"waiting for an incoming migration" not in q.stderr.readline():
            raise SystemExit("minivm destination did not start")
        qc = Console(q)
        req = {"cmd": "migrate", "uri": f"tcp:127.0.0.1:{port}", "wait": True,
               "max_downtime_ms": MAXDOWN, "bandwidth": BW}
        if way == "postcopy":
            req.update(postcopy=True, max_rounds=ROUNDS)
        else:
            req.update(auto_converge=True)
        t = time.monotonic()
        r = api(sock, req)
        if r.get("status") != "migrated":
            raise SystemExit(f"minivm {way} run {i}: {r}")
        p.wait(timeout=30)
        r["gap_ms"] = gap_ms(con, qc, t)
        rows.append(r)
        p, con, sock = q, qc, dsock
        con.wait_count(20)
    api(sock, {"cmd": "stop"}); p.wait(timeout=30)
    return rows

def qemu(way):
    base = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "256",
            "-kernel", GUEST, "-append", CMD, "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio"]
    pc = way == "postcopy"
    caps = [{"capability": "postcopy-ram" if pc else "auto-converge", "state": True}]
    def start(extra, n):
        qs = f"{WORK}/q{n}.qmp"
        p = spawn(base + ["-qmp", f"unix:{qs},server=on,wait=off"] + extra)
        return p, Console(p), QMP(qs)
    p, con, qmp = start([], 0)
    con.wait_count(20)
    rows = []
    for i in range(RUNS):
        port = free_port()
        q, qc, qq = start(["-incoming", "defer"], i + 1)
        if pc:
            r = qq.cmd("migrate-set-capabilities", capabilities=caps)
            if "error" in r:
                raise SystemExit(f"QEMU destination: {r}")
        qq.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
        r = qmp.cmd("migrate-set-capabilities", capabilities=caps)
        if "error" in r:
            raise SystemExit(f"QEMU: {r}")
        qmp.cmd("migrate-set-parameters", **{"max-bandwidth": BW << 20, "downtime-limit": MAXDOWN,
                                              "max-postcopy-bandwidth": BW << 20})
        t = time.monotonic()
        qmp.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        started, throttle = False, 0
        while True:
            r = qmp.cmd("query-migrate")["return"]
            throttle = max(throttle, r.get("cpu-throttle-percentage", 0))
            if pc and not started and r.get("ram", {}).get("dirty-sync-count", 0) >= ROUNDS + 1:
                qmp.cmd("migrate-start-postcopy")
                started = True
            if r.get("status") in ("completed", "failed") or time.monotonic() - t > 120:
                break
            time.sleep(0.002)
        if r.get("status") != "completed":
            qmp.cmd("migrate_cancel")
            raise SystemExit(f"QEMU {way} run {i}: {r.get('status')} after {time.monotonic() - t:.0f} s")
        rows.append({"total_ms": r["total-time"], "downtime_ms": r["downtime"],
                     "gap_ms": gap_ms(con, qc, t), "rounds": r["ram"].get("dirty-sync-count"),
                     "bytes_sent": r["ram"].get("transferred"), "throttle": throttle,
                     "postcopy_requests": r["ram"].get("postcopy-requests")})
        qmp.cmd("quit"); p.wait(timeout=30)
        p, con, qmp = q, qc, qq
        con.wait_count(20)
    qmp.cmd("quit"); p.wait(timeout=30)
    return rows

try:
    ways = [("minivm precopy+ac", minivm, "precopy"), ("minivm postcopy", minivm, "postcopy")]
    if QEMU:
        ways += [("QEMU precopy+ac", qemu, "precopy"), ("QEMU postcopy", qemu, "postcopy")]
    res = {}
    for name, fn, way in ways:
        res[name] = fn(way)
        print(f"{name}: done", flush=True)
    out = [f"post-copy vs pre-copy with auto-converge over loopback, tiny PVH guest, 1 vCPU, 256 MiB, "
           f"dirty {WS} MiB working set over a {BW} MiB/s cap, downtime target {MAXDOWN} ms, post-copy "
           f"after {ROUNDS} passes, {RUNS} chained runs per way, {os.cpu_count()} host CPUs, "
           f"load {os.getloadavg()[0]:.1f} at the end",
           f"{'what':42s} {'min':>8s} {'median':>8s} {'max':>8s}   median / minivm precopy+ac"]
    base = res["minivm precopy+ac"]
    for key, what in (("total_ms", "total ms"), ("downtime_ms", "downtime ms (own measure)"),
                      ("gap_ms", "heartbeat gap ms")):
        b = med([float(r[key]) for r in base])
        for name, rows in res.items():
            v = [float(r[key]) for r in rows]
            out.append(f"{name + ' ' + what:42s} {st(v)}   {med(v) / b:6.2f}x")
    for name, rows in res.items():
        if name.startswith("minivm"):
            extra = (f", post-copy ms {[r.get('postcopy_ms') for r in rows]}, pages after "
                     f"{[r.get('postcopy_pages') for r in rows]}, requests {[r.get('postcopy_requests') for r in rows]}"
                     if "postcopy" in name else f", throttle % {[r['throttle_pct'] for r in rows]}")
            out.append(f"{name}: rounds {[r['rounds'] for r in rows]}, MiB sent "
                       f"{med([r['bytes_sent'] / 2**20 for r in rows]):.1f}" + extra)
        else:
            extra = (f", postcopy requests {[r['postcopy_requests'] for r in rows]}" if "postcopy" in name
                     else f", throttle % {[r['throttle'] for r in rows]}")
            out.append(f"{name}: dirty syncs {[r['rounds'] for r in rows]}, MiB sent "
                       f"{med([r['bytes_sent'] / 2**20 for r in rows]):.1f}" + extra)
    text = "\n".join(out)
    print("\n" + text)
    if os.environ["RECORD"] == "1":
        subprocess.run([os.path.join(os.environ["ROOT"], "bench/record.py"), "vm-postcopy",
                        "Post-copy live migration: minivm vs QEMU (issue 14, 7)",
                        "bench/vm-postcopy.sh --record", "on this host"],
                       input=text, text=True, check=True)
finally:
    kill_all()  # every VMM started
PY
