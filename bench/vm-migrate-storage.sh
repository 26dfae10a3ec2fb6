#!/usr/bin/env bash
# Copy-storage live migration over loopback (issue 14, 4; docs/migration.md "Copy-storage"),
# minivm vs QEMU, same run, same host: the tiny PVH test guest (`count`, 1 vCPU, MEM MiB) with
# one disk, a sparse IMG_MIB image holding DATA_MIB of random data in four extents, migrated to
# a destination whose image is a fresh sparse file of the same size. The guest never drives its
# disk: this measures the image's transfer with the memory, not tracking under writes (that is
# tests/lab/vmm_migrate_storage.sh).
#   minivm   `migrate --copy-storage` (SEEK_DATA/SEEK_HOLE, zero blocks as markers)
#   QEMU     7.2 block migration: `-M microvm` with virtio-blk-device on the image, QMP
#            `migrate` with "blk": true and the zero-blocks capability (without it QEMU sends
#            every zero block of the image as data)
# Each VMM migrates RUNS times in a chain (A -> B -> C ..., each destination a fresh image);
# every destination image's sha256 is checked against the first source's (outside the timing).
# Reported, min/median/max and minivm/QEMU ratio of medians: total_ms, downtime_ms (each VMM's
# own: minivm pause to ack, QEMU query-migrate downtime), MiB on the wire (loopback's rx_bytes
# over the migration, headers included, in the benchmark's own network namespace: run as root,
# it re-runs itself under `unshare -n`; the same measure for both VMMs). Also each
# VMM's own count: minivm bytes_sent and disk_bytes (data), QEMU ram transferred + the disk's
# transferred as last polled while active (every 5 ms; QEMU drops the disk figures at the end,
# and counts the image's bytes covered, zero blocks included, not the bytes on the wire). Not a
# timed test. env: RUNS (3), MEM (256), IMG_MIB (1024), DATA_MIB
# (100), BIN (build/bin), VMMS ("minivm qemu" when QEMU is installed).
set -euo pipefail
# Its own network namespace (root): loopback's byte counter then counts this benchmark only.
if [ "${MIGSTOR_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	MIGSTOR_NETNS=1 exec unshare -n "$0" "$@"
fi
[ "${MIGSTOR_NETNS:-}" = 1 ] && ip link set lo up
export MIGSTOR_NETNS=${MIGSTOR_NETNS:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BIN:-$ROOT/build/bin}
export RUNS=${RUNS:-3} MEM=${MEM:-256} IMG_MIB=${IMG_MIB:-1024} DATA_MIB=${DATA_MIB:-100}
export MINIVM=$BIN/minivm GUEST=${GUEST:-$ROOT/build/tests/guests/pvh-guest.elf}
[ -x "$MINIVM" ] && [ -f "$GUEST" ] || { echo "build first: make all" >&2; exit 1; }
if [ -z "${VMMS:-}" ]; then
	VMMS=minivm
	command -v qemu-system-x86_64 >/dev/null && VMMS="minivm qemu"
fi
export VMMS WORK ROOT
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - <<'PY'
import hashlib, json, os, socket, statistics, subprocess, sys, threading, time

sys.path.insert(0, os.path.join(os.environ["ROOT"], "bench"))
from migrate_lib import QMP, api, free_port

RUNS, MEM, IMG, DATA = (int(os.environ[k]) for k in ("RUNS", "MEM", "IMG_MIB", "DATA_MIB"))
WORK, MINIVM, GUEST = os.environ["WORK"], os.environ["MINIVM"], os.environ["GUEST"]

def image(path, data):
    with open(path, "wb") as f:
        f.truncate(IMG << 20)
        for k in range(4) if data else ():
            f.seek(k * (IMG // 4) << 20)
            for _ in range(data // 4):
                f.write(os.urandom(1 << 20))

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while (b := f.read(4 << 20)):
            h.update(b)
    return h.hexdigest()

def lo_bytes():
    """bytes through loopback in this namespace (NaN outside one of our own)"""
    if os.environ["MIGSTOR_NETNS"] != "1":
        return float("nan")
    with open("/proc/self/net/dev") as f:  # this namespace's (sysfs shows the mounter's)
        return next(int(l.split(":")[1].split()[0]) for l in f if l.strip().startswith("lo:"))

class Console:
    def __init__(self, p):
        self.p, self.buf = p, b""
        threading.Thread(target=self.run, daemon=True).start()
    def run(self):
        while (b := self.p.stdout.read1(65536)):
            self.buf = (self.buf + b)[-4096:]
    def wait(self, s, timeout=120):
        end = time.monotonic() + timeout
        while s not in self.buf:
            if time.monotonic() > end or self.p.poll() is not None:
                raise SystemExit(f"no '{s.decode()}' on the console")
            time.sleep(0.02)

def minivm():
    img = f"{WORK}/m0.img"; image(img, DATA); want = sha(img)
    sock = f"{WORK}/m0.sock"
    p = subprocess.Popen([MINIVM, "run", "--kernel", GUEST, "--cmdline", "count", "--mem", f"{MEM}M",
                          "--disk", img, "--api", sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    con = Console(p); con.wait(b"count 3")
    rows = []
    for i in range(RUNS):
        dimg, dsock, port = f"{WORK}/m{i + 1}.img", f"{WORK}/m{i + 1}.sock", free_port()
        image(dimg, 0)
        q = subprocess.Popen([MINIVM, "run", "--incoming", f"tcp:127.0.0.1:{port}", "--disk", dimg,
                              "--api", dsock], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        if b"waiting for an incoming migration" not in q.stderr.readline():
            raise SystemExit("minivm destination did not start")
        rc0 = lo_bytes()
        r = api(sock, {"cmd": "migrate", "uri": f"tcp:127.0.0.1:{port}", "wait": True,
                       "copy_storage": True})
        if r.get("status") != "migrated":
            raise SystemExit(f"minivm run {i}: {r}")
        p.wait(timeout=30)
        qc = Console(q); qc.wait(b"count")
        rx = lo_bytes() - rc0
        if sha(dimg) != want:
            raise SystemExit(f"minivm run {i}: the destination's image differs")
        rows.append({"total": r["total_ms"], "down": r["downtime_ms"], "mib": rx / 2**20,
                     "disk_mib": r["disk_bytes"] / 2**20, "sent_mib": r["bytes_sent"] / 2**20,
                     "rounds": r["rounds"]})
        os.unlink(img)
        p, con, sock, img = q, qc, dsock, dimg
    api(sock, {"cmd": "stop"}); p.wait(timeout=30)
    return rows

def qemu():
    img = f"{WORK}/q0.img"; image(img, DATA); want = sha(img)
    def start(n, im, extra):
        qs = f"{WORK}/q{n}.qmp"
        p = subprocess.Popen(["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host",
                              "-m", f"{MEM}", "-kernel", GUEST, "-append", "count", "-nodefaults",
                              "-no-user-config", "-display", "none", "-serial", "stdio",
                              "-drive", f"file={im},format=raw,if=none,id=d0,cache=none,aio=native",
                              "-device", "virtio-blk-device,drive=d0",
                              "-qmp", f"unix:{qs},server=on,wait=off"] + extra,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return p, Console(p), QMP(qs, check=True)
    p, con, qmp = start(0, img, [])
    con.wait(b"count 3")
    rows = []
    for i in range(RUNS):
        dimg, port = f"{WORK}/q{i + 1}.img", free_port()
        image(dimg, 0)
        q, qc, qq = start(i + 1, dimg, ["-incoming", f"tcp:127.0.0.1:{port}"])
        rc0 = lo_bytes()
        caps = [{"capability": "zero-blocks", "state": True}]
        qmp.cmd("migrate-set-capabilities", capabilities=caps)
        qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40, "downtime-limit": 50})
        qmp.cmd("migrate", uri=f"tcp:127.0.0.1:{port}", blk=True)
        t, disk = time.monotonic(), 0
        while True:
            r = qmp.cmd("query-migrate")["return"]
            # the disk's bytes show only while active: the last figure polled (a lower bound)
            disk = max(disk, r.get("disk", {}).get("transferred", 0))
            if r.get("status") in ("completed", "failed") or time.monotonic() - t > 300:
                break
            time.sleep(0.005)
        if r.get("status") != "completed":
            raise SystemExit(f"QEMU run {i}: {r}")
        qc.wait(b"count")
        rx = lo_bytes() - rc0
        qmp.cmd("quit"); p.wait(timeout=30)
        if sha(dimg) != want:
            raise SystemExit(f"QEMU run {i}: the destination's image differs")
        rows.append({"total": r["total-time"], "down": r["downtime"], "mib": rx / 2**20,
                     "disk_mib": disk / 2**20, "sent_mib": (r["ram"]["transferred"] + disk) / 2**20,
                     "rounds": r["ram"].get("dirty-sync-count")})
        os.unlink(img)
        p, con, qmp, img = q, qc, qq, dimg
    qmp.cmd("quit"); p.wait(timeout=30)
    return rows

def st(v):
    return f"{min(v):9.1f} {statistics.median(v):9.1f} {max(v):9.1f}"

res = {v: (minivm() if v == "minivm" else qemu()) for v in os.environ["VMMS"].split()}
print(f"copy-storage live migration over loopback: tiny PVH guest, {MEM} MiB, a {IMG} MiB image "
      f"with {DATA} MiB of data, {RUNS} chained runs, {os.cpu_count()} host CPUs, load "
      f"{os.getloadavg()[0]:.1f} at the end")
print(f"{'what':24s} {'min':>9s} {'median':>9s} {'max':>9s}   minivm/QEMU (medians)")
for k, name in (("total", "total ms"), ("down", "downtime ms (own)"), ("mib", "MiB on the wire")):
    m = [float(r[k]) for r in res.get("minivm", [])]
    q = [float(r[k]) for r in res.get("qemu", [])]
    for v, vals in (("minivm", m), ("QEMU", q)):
        if vals:
            ratio = (f"   {statistics.median(m) / statistics.median(q):5.2f}x"
                     if v == "minivm" and q and statistics.median(q) > 0 else "")
            print(f"{v + ' ' + name:24s} {st(vals)}{ratio}")
for v, rows in res.items():
    print(f"{v}: rounds {[r['rounds'] for r in rows]}, own MiB sent {[round(r['sent_mib'], 1) for r in rows]}, "
          f"of which disk {[round(r['disk_mib'], 1) for r in rows]}")
PY
