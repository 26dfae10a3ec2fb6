"""What bench/vm-migrate.sh and bench/vm-postcopy.sh share: starting VMMs and killing what is
left of them, reading a VM's console and its heartbeat, talking to minivm's API and QEMU's QMP,
the heartbeat gap across a migration, the min/median/max columns, and the per-run JSON lines
minibench migrate reads (docs/bench.md). bench/vm-migrate-storage.sh takes api and free_port
from here too."""
import json
import math
import socket
import statistics
import subprocess
import sys
import threading
import time

procs = []  # every VMM spawn() started, for kill_all()


def spawn(argv, stderr=subprocess.DEVNULL):
    """Start a VMM: stdin /dev/null, stdout piped (its console), kept for kill_all()."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
    procs.append(p)
    return p


def kill_all():
    """Kill and reap every VMM spawn() started that still runs (a script's last step, whatever
    happened before)."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


class Console:
    """Reads a VM's console (the Popen's stdout); keeps every line and the time of every
    'count' line (the test guest's heartbeat)."""

    def __init__(self, p):
        self.p, self.counts, self.lines = p, [], []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        buf = b""
        while (b := self.p.stdout.read1(65536)):
            now = time.monotonic()
            *lines, buf = (buf + b).split(b"\n")
            for l in lines:
                self.lines.append(l)
                if l.startswith(b"count "):
                    self.counts.append(now)

    def wait(self, prefix, timeout=300):
        """Until one of the last 50 lines starts with prefix (bytes)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(l.startswith(prefix) for l in self.lines[-50:]):
                return
            time.sleep(0.02)
        raise SystemExit(f"no '{prefix.decode()}' line within {timeout} s")

    def wait_count(self, n, timeout=120):
        """Until n heartbeats have been seen."""
        end = time.monotonic() + timeout
        while len(self.counts) < n:
            if time.monotonic() > end:
                raise SystemExit(f"fewer than {n} count lines within {timeout} s")
            time.sleep(0.02)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def api(sock, req, check=False):
    """One request to minivm's API socket, its JSON reply; check: an error reply exits, naming
    the request."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall((json.dumps(req) + "\n").encode())
    s.shutdown(socket.SHUT_WR)
    out = b""
    while (b := s.recv(65536)):
        out += b
    s.close()
    r = json.loads(out)
    if check and "error" in r:
        sys.exit(f"api {req}: {r['error']}")
    return r


class QMP:
    """A QEMU's QMP socket; check: an error reply to cmd() exits, naming the command."""

    def __init__(self, path, check=False):
        self.check = check
        for _ in range(500):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.01)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, c, **a):
        self.f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                if self.check and "error" in r:
                    raise SystemExit(f"QMP {c}: {r['error']}")
                return r


def gap_ms(src, dst, t_cmd, timeout=30):
    """The heartbeat gap of a migration started at t_cmd: the last heartbeat the source's
    console showed before the destination's first, to that first one (ms; NaN if either is
    missing after timeout s)."""
    end = time.monotonic() + timeout
    while not dst.counts and time.monotonic() < end:
        time.sleep(0.005)
    before = [t for t in src.counts if t_cmd - 5 <= t <= (dst.counts[0] if dst.counts else 0)]
    return (dst.counts[0] - max(before)) * 1e3 if dst.counts and before else float("nan")


def first_ms(dst, t_cmd):
    """From the migrate command to the destination's first heartbeat (ms; NaN: none yet), the
    observer's total time; after gap_ms, which waits for that heartbeat."""
    return (dst.counts[0] - t_cmd) * 1e3 if dst.counts else float("nan")


class QemuRounds:
    """QEMU's per-round series from query-migrate polls: at each rise of dirty-sync-count, the
    pages sent since the last one (normal + duplicate) and the dirty rate QEMU measured."""

    def __init__(self):
        self.sync, self.sent, self.pages, self.dirty = None, 0, [], []

    def poll(self, r):
        ram = r.get("ram", {})
        sync, sent = ram.get("dirty-sync-count"), ram.get("normal", 0) + ram.get("duplicate", 0)
        if sync is None:
            return
        if self.sync is not None and sync > self.sync:
            self.pages.append(sent - self.sent)
            self.dirty.append(ram.get("dirty-pages-rate", 0) * ram.get("page-size", 4096) / 2**20)
            self.sent = sent
        self.sync = sync

    def done(self, r):
        """The final pass (the pages after the last sync)."""
        ram = r.get("ram", {})
        self.pages.append(ram.get("normal", 0) + ram.get("duplicate", 0) - self.sent)


def st(v):
    """min, median, max of v (NaNs left out) as three 8-wide columns."""
    v = sorted(x for x in v if x == x)
    return f"{v[0]:8.1f} {statistics.median(v):8.1f} {v[-1]:8.1f}" if v else "       -        -        -"


def med(v):
    v = [x for x in v if x == x]
    return statistics.median(v) if v else float("nan")


def tsc_mhz():
    """The host's CPU MHz (the test guest paces its writes by the TSC), 2100 if unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return str(round(float(line.split(":")[1])))
    except (OSError, ValueError):
        pass
    return "2100"


def jsonl_row(path, backend, case, run, row):
    """Append one run to path (minibench migrate's input): backend (vm, qemu), case, 0-based
    run, and from row: status (ok: completed or migrated), total_ms and downtime_ms (the VMM's
    own), observed_total_ms (first_ms) and observed_downtime_ms (the heartbeat gap), bytes_sent,
    rounds, round_pages, round_dirty_mibps. NaN becomes null."""
    if not path:
        return

    def num(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    out = {"backend": backend, "case": case, "run": run,
           "status": "ok" if row.get("status", "completed") in ("completed", "migrated")
           else row["status"],
           "total_ms": num(row.get("total_ms")), "downtime_ms": num(row.get("downtime_ms")),
           "observed_total_ms": num(row.get("first_ms")),
           "observed_downtime_ms": num(row.get("gap_ms")),
           "bytes_sent": num(row.get("bytes_sent")), "rounds": num(row.get("rounds")),
           "round_pages": row.get("round_pages", []),
           "round_dirty_mibps": row.get("round_dirty_mibps", [])}
    with open(path, "a") as f:
        f.write(json.dumps(out) + "\n")
