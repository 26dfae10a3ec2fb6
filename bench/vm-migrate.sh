#!/usr/bin/env bash
# Live migration over loopback of the tiny PVH test guest (issue 14, 10a), minivm vs QEMU
# (`-M microvm -kernel` the same ELF, QMP `migrate` to `-incoming tcp:`), same run, same host.
# Cases (1 vCPU):
#   idle-256, idle-512   `count` in a 256 / 512 MiB guest (a few pages touched)
#   nonzero-256          `count` in a 256 MiB guest whose RAM from 32 MiB up to 248 MiB holds
#                        random bytes (minivm: restored from a snapshot whose memory file was
#                        filled; QEMU: memory-backend-file on a copy of the same bytes): 216 MiB
#                        of pages that are not zero, no compression helps
#   dirty-WS             `dirty WS 0 MHZ` in a 256 MiB guest: one word per page rewritten over a
#                        WS MiB working set as fast as the guest goes (PVM makes each write
#                        after a write-protect a trap: the rate is what the guest reaches)
#   dirty-ring           the same with minivm's dirty ring (--dirty-track ring; QEMU: its dirty
#                        bitmap, as in dirty)
#   converge             `dirty CWS 0 MHZ` over a link capped at CBW MiB/s (both VMMs), slower
#                        than the guest dirties: auto-converge on in both (minivm
#                        --auto-converge, QEMU's auto-converge capability, its defaults)
#   converge-ring        the same with minivm's dirty ring
#   hold-W               `fill W` in a (W + 64) MiB guest: W MiB of non-zero pages, nothing
#                        dirtied (minibench migrate --workload idle; its container twin is
#                        ct-migrate.sh's memW)
#   dirty-W-R            `dirty W R MHZ` in a (W + 64) MiB guest: W MiB rewritten at R MiB/s
#                        (minibench migrate --workload dirty:R; ct-migrate.sh's dirtyW-R)
# nonzero-256 also times a raw loopback TCP pipe in the same run (RUNS times): 216 MiB from one
# process to another, read into one reused 1 MiB buffer and into fresh memory (MADV_HUGEPAGE, as
# a destination's guest RAM), the baselines the migration's total time is compared with.
# Each case migrates the guest RUNS times in a chain (A -> B -> C ...: the fill is done once).
#   total_ms, downtime_ms   what each VMM reports (minivm: migrate command to the destination's
#                           ack / pause to ack; QEMU: query-migrate total-time / downtime)
#   heartbeat gap           the last "count" line the source printed to the first the
#                           destination printed, read from both consoles (both VMMs)
#   stop to last byte       minivm's pause to its last byte sent (final_send_ms): what QEMU's
#                           downtime measures, beside it as a ratio
# Both: the same downtime target MAXDOWN ms (default 50: minivm's default; QEMU's own default
# is 300), no bandwidth cap but in the converge cases (QEMU: max-bandwidth 1 TiB/s); a QEMU migration not done after 60 s
# is cancelled ("no convergence"). Not a timed test. env: RUNS (5), CASES, WS (64), MHZ (TSC MHz for
# the guest's pacing, unused at rate 0; default: /proc/cpuinfo's), BIN (build/bin), QEMU (1 when
# installed), VMMS ("minivm qemu": which to run; default minivm, and qemu when QEMU=1), JSONL=FILE
# (one JSON object per run appended to FILE, for minibench migrate: bench/migrate_lib.py
# jsonl_row), RECORD=1 or --record: the table into docs/results.md (section vm-migrate, through
# bench/record.py). The helpers it shares with vm-postcopy.sh: bench/migrate_lib.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "${1:-}" = --record ] && RECORD=1
BIN=${BIN:-$ROOT/build/bin}
export MAXDOWN=${MAXDOWN:-50} RUNS=${RUNS:-5} WS=${WS:-64} CWS=${CWS:-64} CBW=${CBW:-32}
export CASES=${CASES:-idle-256 idle-512 nonzero-256 dirty dirty-ring converge converge-ring}
export MINIVM=$BIN/minivm RECORD=${RECORD:-0} ROOT
export GUEST=${GUEST:-$ROOT/build/tests/guests/pvh-guest.elf}
[ -x "$MINIVM" ] && [ -f "$GUEST" ] || { echo "build first: make all" >&2; exit 1; }
if [ -z "${QEMU+x}" ]; then command -v qemu-system-x86_64 >/dev/null && QEMU=1 || QEMU=0; fi
if [ -z "${VMMS:-}" ]; then
	VMMS=minivm
	[ "$QEMU" = 1 ] && VMMS="minivm qemu"
fi
export QEMU WORK VMMS JSONL=${JSONL:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - <<'PY'
import os, re, socket, statistics, subprocess, sys, time

sys.path.insert(0, os.path.join(os.environ["ROOT"], "bench"))
from migrate_lib import (Console, QMP, QemuRounds, api, first_ms, free_port, gap_ms, jsonl_row, kill_all, med,
                         spawn, st, tsc_mhz)

RUNS, WORK, MINIVM, GUEST = int(os.environ["RUNS"]), os.environ["WORK"], os.environ["MINIVM"], os.environ["GUEST"]
WS, CWS, CBW = int(os.environ["WS"]), int(os.environ["CWS"]), int(os.environ["CBW"])
VMMS = os.environ["VMMS"].split()
CASES = os.environ["CASES"].split()
JSONL = os.environ["JSONL"]
for v in VMMS:
    if v not in ("minivm", "qemu"):
        raise SystemExit(f"VMMS: unknown VMM '{v}' (minivm, qemu)")

def mem_file(path, mib, fill):
    """A guest RAM image: zero, with random bytes in [32, 32+fill) MiB."""
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        f.seek(32 << 20)
        for _ in range(fill):
            f.write(os.urandom(1 << 20))

def case_params(case):
    """memory MiB, command line, MiB of random fill, minivm run options, bandwidth cap MiB/s
    (0: none), auto-converge"""
    track = ["--dirty-track", "ring"] if case.endswith("-ring") else []
    mhz = os.environ.get("MHZ") or tsc_mhz()
    if (m := re.fullmatch(r"hold-(\d+)", case)):
        return int(m[1]) + 64, f"fill {m[1]}", 0, track, 0, False
    if (m := re.fullmatch(r"dirty-(\d+)-(\d+)", case)):
        return int(m[1]) + 64, f"dirty {m[1]} {m[2]} {mhz}", 0, track, 0, False
    if case.startswith("idle-"):
        return int(case[5:]), "count", 0, track, 0, False
    if case == "nonzero-256":
        return 256, "count", 216, track, 0, False
    if case.startswith("converge"):
        return 256, f"dirty {CWS} 0 {mhz}", 0, track, CBW, True
    return 256, f"dirty {WS} 0 {mhz}", 0, track, 0, False

def raw_loopback(mib):
    """ms to move mib MiB through a TCP loopback connection from this process to a child that
    reads it into (a) one reused 1 MiB buffer, (b) fresh anonymous memory with MADV_HUGEPAGE, as
    minivm's guest RAM (each first touch faults and zeroes a page)."""
    out = {}
    for fresh in (False, True):
        code = ("import mmap,socket,sys\n"
                f"n={mib}<<20; s=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n"
                + ("b=mmap.mmap(-1,n); b.madvise(mmap.MADV_HUGEPAGE); m=memoryview(b); g=0\n"
                   "while g<n:\n g+=s.recv_into(m[g:],min(n-g,1<<20))\n" if fresh else
                   "b=bytearray(1<<20); m=memoryview(b); g=0\n"
                   "while g<n:\n g+=s.recv_into(m,min(n-g,1<<20))\n")
                + "s.sendall(b'k')\n")
        ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
        rx = subprocess.Popen([sys.executable, "-c", code, str(ls.getsockname()[1])])
        c, _ = ls.accept()
        buf = os.urandom(1 << 20)
        t = time.monotonic()
        for _ in range(mib):
            c.sendall(buf)
        c.recv(1)
        out["fresh" if fresh else "reused"] = (time.monotonic() - t) * 1e3
        c.close(); ls.close(); rx.wait()
    return out

# ---- minivm ----
def minivm_case(case):
    mib, cmd, fill, track, bw, conv = case_params(case)
    env = dict(os.environ)
    sock = f"{WORK}/m0.sock"
    if fill:
        # boot, snapshot --stop, fill the memory file, restore from it
        p = spawn([MINIVM, "run", "--kernel", GUEST, "--cmdline", cmd, "--mem", f"{mib}M", "--api", sock])
        c = Console(p); c.wait(b"count 3")
        api(sock, {"cmd": "snapshot", "path": f"{WORK}/msnap", "stop": True}); p.wait()
        with open(f"{WORK}/msnap/memory", "r+b") as f:
            f.seek(32 << 20)
            for _ in range(fill):
                f.write(os.urandom(1 << 20))
        argv = [MINIVM, "run", "--restore", f"{WORK}/msnap", "--api", sock] + track
    else:
        argv = [MINIVM, "run", "--kernel", GUEST, "--cmdline", cmd, "--mem", f"{mib}M", "--api", sock] + track
    p = spawn(argv)
    con = Console(p)
    con.wait(b"count 3", 600)
    time.sleep(0.5 if "dirty" in cmd else 0.1)
    rows = []
    for i in range(RUNS):
        port = free_port()
        dsock = f"{WORK}/m{i + 1}.sock"
        q = spawn([MINIVM, "run", "--incoming", f"tcp:127.0.0.1:{port}", "--api", dsock] + track,
                  stderr=subprocess.PIPE)
        if b"waiting for an incoming migration" not in q.stderr.readline():
            raise SystemExit("minivm destination did not start")
        qc = Console(q)
        t = time.monotonic()
        req = {"cmd": "migrate", "uri": f"tcp:127.0.0.1:{port}", "wait": True,
               "max_downtime_ms": int(os.environ["MAXDOWN"])}
        if bw:
            req["bandwidth"] = bw
        if conv:
            req["auto_converge"] = True
        r = api(sock, req)
        if r.get("status") != "migrated":
            raise SystemExit(f"minivm {case} run {i}: {r}")
        p.wait(timeout=30)
        r["gap_ms"] = gap_ms(con, qc, t, 10)
        r["first_ms"] = first_ms(qc, t)
        r["round_pages"] = r.get("pages_per_round", [])
        r["round_dirty_mibps"] = r.get("dirty_rate_per_round_mibps", [])
        jsonl_row(JSONL, "vm", case, i, r)
        rows.append(r)
        p, con, sock = q, qc, dsock
        time.sleep(0.3)
    api(sock, {"cmd": "stop"}); p.wait(timeout=30)
    return rows

# ---- QEMU ----
def qemu_case(case):
    mib, cmd, fill, _, bw, conv = case_params(case)
    base = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", f"{mib}",
            "-kernel", GUEST, "-append", cmd, "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio"]
    if fill:
        mem_file(f"{WORK}/qmem", mib, fill)
        base += ["-object", f"memory-backend-file,id=mem0,size={mib}M,mem-path={WORK}/qmem,share=off",
                 "-machine", "memory-backend=mem0"]
    def start(extra, n):
        qs = f"{WORK}/q{n}.qmp"
        p = spawn(base + ["-qmp", f"unix:{qs},server=on,wait=off"] + extra)
        return p, Console(p), QMP(qs)
    p, con, qmp = start([], 0)
    con.wait(b"count 3", 600)
    time.sleep(0.5 if "dirty" in cmd else 0.1)
    rows = []
    for i in range(RUNS):
        port = free_port()
        q, qc, qq = start(["-incoming", f"tcp:127.0.0.1:{port}"], i + 1)
        qmp.cmd("migrate-set-parameters", **{"max-bandwidth": (bw << 20) if bw else 1 << 40,
                                              "downtime-limit": int(os.environ["MAXDOWN"])})
        if conv:
            qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "auto-converge", "state": True}])
        t = time.monotonic()
        qmp.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        throttle, series = 0, QemuRounds()
        while True:
            r = qmp.cmd("query-migrate")["return"]
            throttle = max(throttle, r.get("cpu-throttle-percentage", 0))
            series.poll(r)
            if r.get("status") in ("completed", "failed") or time.monotonic() - t > 60:
                break
            time.sleep(0.001)
        if r.get("status") != "completed":
            qmp.cmd("migrate_cancel")
            rows.append({"status": "no convergence", "total_ms": float("nan"), "downtime_ms": float("nan"),
                         "gap_ms": float("nan"), "rounds": r.get("ram", {}).get("dirty-sync-count")})
            jsonl_row(JSONL, "qemu", case, i, rows[-1])
            qq.cmd("quit"); q.wait(timeout=30)
            break
        series.done(r)
        rows.append({"status": "completed", "total_ms": r["total-time"], "downtime_ms": r["downtime"],
                     "gap_ms": gap_ms(con, qc, t, 10), "first_ms": first_ms(qc, t),
                     "rounds": r["ram"].get("dirty-sync-count"),
                     "bytes_sent": r["ram"].get("transferred"), "round_pages": series.pages,
                     "round_dirty_mibps": series.dirty, "throttle": throttle})
        jsonl_row(JSONL, "qemu", case, i, rows[-1])
        qmp.cmd("quit"); p.wait(timeout=30)
        p, con, qmp = q, qc, qq
        time.sleep(0.3)
    qmp.cmd("quit"); p.wait(timeout=30)
    return rows

def conv_case(case):
    return case_params(case)[5]

out = []
cpus = os.cpu_count()
out.append(f"live migration over loopback, tiny PVH guest, 1 vCPU, {RUNS} chained runs per case, "
           f"downtime target {os.environ['MAXDOWN']} ms for both, dirty WS {WS} MiB, "
           f"converge: WS {CWS} MiB over {CBW} MiB/s, auto-converge on in both, "
           f"{cpus} host CPUs, load {os.getloadavg()[0]:.1f} at the end")
out.append(f"{'case':12s} {'what':28s} {'min':>8s} {'median':>8s} {'max':>8s}   ratio minivm/QEMU (medians)")
try:
    for case in CASES:
        first = len(out)
        raw = [raw_loopback(216) for _ in range(RUNS)] if case == "nonzero-256" and "minivm" in VMMS else []
        m = minivm_case(case) if "minivm" in VMMS else []
        q = qemu_case(case) if "qemu" in VMMS else []
        if raw and m:
            for k, name in (("reused", "raw loopback ms, reused buf"), ("fresh", "raw loopback ms, fresh mem")):
                rv = [r[k] for r in raw]
                out.append(f"{case:12s} {name:28s} {st(rv)}   minivm/raw {med([float(r['total_ms']) for r in m]) / med(rv):5.2f}x")
        for key, name in (("total_ms", "total ms"), ("downtime_ms", "downtime ms (own measure)"),
                          ("gap_ms", "heartbeat gap ms")):
            mv = [float(r[key]) for r in m]
            qv = [float(r[key]) for r in q]
            ratio = med(mv) / med(qv) if mv and qv and med(qv) == med(qv) and med(qv) > 0 else float("nan")
            if m:
                out.append(f"{case:12s} {'minivm ' + name:28s} {st(mv)}   {ratio:6.2f}x" if ratio == ratio else
                           f"{case:12s} {'minivm ' + name:28s} {st(mv)}")
            if q:
                out.append(f"{case:12s} {'QEMU   ' + name:28s} {st(qv)}")
        if m:
            # QEMU's `downtime` ends at its last byte sent; minivm's own ends at the ACK (the
            # destination's load and start included): minivm's pause to its last byte sent
            # is the figure measured as QEMU measures.
            fv = [float(r["final_send_ms"]) for r in m]
            qv = [float(r["downtime_ms"]) for r in q]
            fr = f"   {med(fv) / med(qv):6.2f}x (QEMU's downtime)" if qv and med(qv) > 0 else ""
            out.append(f"{case:12s} {'minivm stop to last byte ms':28s} {st(fv)}{fr}")
            mb = [r["bytes_sent"] / 2**20 for r in m]
            out.append(f"{case:12s} minivm: rounds {[r['rounds'] for r in m]}, MiB sent {statistics.median(mb):.1f}, "
                       f"bandwidth MiB/s {[r['bandwidth_mibps'] for r in m]}, dirty MiB/s {[r['dirty_rate_mibps'] for r in m]}, "
                       f"setup ms {[r['setup_ms'] for r in m]}"
                       + (f", throttle % {[r['throttle_pct'] for r in m]}" if conv_case(case) else ""))
        if q:
            qb = [r.get("bytes_sent", 0) / 2**20 for r in q]
            out.append(f"{case:12s} QEMU: status {sorted(set(r['status'] for r in q))}, rounds (dirty syncs) "
                       f"{[r['rounds'] for r in q]}, MiB sent {statistics.median(qb):.1f}"
                       + (f", throttle % {[r.get('throttle') for r in q]}" if conv_case(case) else ""))
        print("\n".join(out[first:]), flush=True)
finally:
    kill_all()  # every VMM started, whatever happened
text = "\n".join(out)
print("\n" + text)
if os.environ["RECORD"] == "1":
    import subprocess
    subprocess.run([os.path.join(os.environ["ROOT"], "bench/record.py"), "vm-migrate",
                    "Live migration: minivm vs QEMU (issue 14, 3 and 10a)",
                    "bench/vm-migrate.sh --record", "on this host"],
                   input=text, text=True, check=True)
PY
