#!/usr/bin/env bash
# Restore-to-running of the tiny PVH test guest (issue 14 item 10, issue 11 item 4), minivm vs
# QEMU (`-M microvm -kernel` the same ELF) on this host's /dev/kvm, in the same run, against
# a cold boot of the same guest. One guest of MEM MiB (default 256), 1 vCPU, running `count`
# (a "count N" line every 2^22 TSC cycles, ~2 ms here). Cases:
#   idle   restore from a saved state of the running guest (a few pages touched)
#   full   the same guest with FULL MiB (default 200) of random bytes from 32 MiB up: minivm's
#          snapshot memory file gets them written in (the guest never reads them), QEMU runs on a
#          memory-backend-file holding the same bytes when it saves; both then restore into
#          plain anonymous RAM
#   boot   a cold boot of the same guest (`minivm run --kernel`, `qemu -kernel`)
# to running: from just before the VMM's posix_spawn to the first line starting with "count" on
#          its console (the heartbeat after a restore comes 0-2 ms after the vCPU runs again,
#          where the saved TSC left it in its wait)
# minivm's own: "entry", main() to the first KVM_RUN (--timings json)
# Saved states: minivm `snapshot` through the API (then `stop`), QEMU QMP `migrate
# exec:cat > FILE` (max-bandwidth unlimited) and `-incoming exec:cat FILE`. They are made once
# per SNAPS directory (default: a temporary one) and reused: minibench latency --from-snapshot
# calls this once per backend and run with SNAPS in its work directory. The memory files stay in
# the page cache (the previous run read them).
# STOCK=1: Debian's stock kernel and our initramfs instead (make images-env: MINIVM_KERNEL,
# MINIVM_INITRD), where a stock kernel boots (the lab: run it through `minilab run`), the guest
# command a shell loop printing "@hb N" every 20 ms (QEMU: -M microvm, the command on the kernel
# command line, its output on the serial console); cases idle and boot only; the table goes to
# section vm-restore-lab with --record in the lab.
# Not a timed test. env: RUNS (default 10), CASES ("idle full boot"), VMMS ("minivm qemu", or
# minivm alone without QEMU), MEM, FULL, BIN (build/bin), GUEST, SNAPS, WARMUP (1: one untimed
# run of each VMM and case first; 0: none, minibench makes its own), JSONL=FILE (one JSON
# object per run and case appended: backend vm|qemu, case, run, status, to_running_ms,
# entry_ms, saved_mib), RECORD=1 or --record: the table into docs/results.md (section
# vm-restore, through bench/record.py).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "${1:-}" = --record ] && RECORD=1
BIN=${BIN:-$ROOT/build/bin}
export STOCK=${STOCK:-0}
DEFAULT_CASES="idle full boot"
[ "$STOCK" = 1 ] && DEFAULT_CASES="idle boot"
export RUNS=${RUNS:-10} CASES=${CASES:-$DEFAULT_CASES} MEM=${MEM:-256} FULL=${FULL:-200}
export WARMUP=${WARMUP:-1}
export MINIVM=$BIN/minivm RECORD=${RECORD:-0} ROOT JSONL=${JSONL:-}
export GUEST=${GUEST:-$ROOT/build/tests/guests/pvh-guest.elf}
[ -x "$MINIVM" ] && [ -f "$GUEST" ] || { echo "build first: make all" >&2; exit 1; }
if [ "$STOCK" = 1 ]; then
	eval "$(make -s images-env)"
	export MINIVM_KERNEL MINIVM_INITRD
	[ -f "${MINIVM_KERNEL:-}" ] && [ -f "${MINIVM_INITRD:-}" ] || {
		echo "STOCK=1: no stock kernel or initramfs (make images)" >&2
		exit 1
	}
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # the lab's python3 on PATH is a slow shim
if [ -z "${VMMS:-}" ]; then
	VMMS=minivm
	command -v qemu-system-x86_64 >/dev/null && VMMS="minivm qemu"
fi
export VMMS WORK
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SNAPS=${SNAPS:-$WORK/snaps}
mkdir -p "$SNAPS"
$PY - <<'PY'
import json, os, select, shutil, signal, statistics, subprocess, sys, time

sys.path.insert(0, os.path.join(os.environ["ROOT"], "bench"))
from migrate_lib import QMP, api, kill_all, med, spawn, st, Console

RUNS, WORK, SNAPS = int(os.environ["RUNS"]), os.environ["WORK"], os.environ["SNAPS"]
MINIVM, GUEST, JSONL = os.environ["MINIVM"], os.environ["GUEST"], os.environ["JSONL"]
MEM, FULL = int(os.environ["MEM"]), int(os.environ["FULL"])
WARMUP = os.environ["WARMUP"] != "0"
STOCK = os.environ["STOCK"] == "1"
# the line that says the guest runs: the test guest's heartbeat, or the stock guest's loop
BEAT = b"@hb" if STOCK else b"count"
LOOP = "i=0; while :; do i=$((i+1)); echo @hb $i; sleep 0.02; done"
TIMEOUT = 600.0 if STOCK else 30.0
CASES, VMMS = os.environ["CASES"].split(), os.environ["VMMS"].split()
if STOCK and "full" in CASES:
    sys.exit("CASES: full is the test guest's (STOCK=1: idle, boot)")
for c in CASES:
    if c not in ("idle", "full", "boot"):
        sys.exit(f"CASES: unknown case '{c}' (idle, full, boot)")
for v in VMMS:
    if v not in ("minivm", "qemu"):
        sys.exit(f"VMMS: unknown VMM '{v}' (minivm, qemu)")
if not 16 <= MEM <= 65536 or MEM % 2:
    sys.exit(f"MEM: {MEM} MiB (16-65536, even)")
if not 1 <= FULL <= MEM - 40:
    sys.exit(f"FULL: {FULL} MiB (1 to MEM - 40: the guest's images sit below 32 MiB)")
QEMU_BASE = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host",
             "-m", f"{MEM}", "-kernel", GUEST, "-append", "count", "-nodefaults",
             "-no-user-config", "-display", "none", "-serial", "stdio"]
MINIVM_BOOT = [MINIVM, "run", "--kernel", GUEST, "--cmdline", "count", "--mem", f"{MEM}M"]
if STOCK:
    K, I = os.environ["MINIVM_KERNEL"], os.environ["MINIVM_INITRD"]
    QEMU_BASE = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host",
                 "-m", f"{MEM}", "-kernel", K, "-initrd", I, "-append",
                 f"console=ttyS0 quiet panic=-1 -- /bin/sh -c \"{LOOP}\"", "-nodefaults",
                 "-no-user-config", "-display", "none", "-serial", "stdio"]
    MINIVM_BOOT = [MINIVM, "run", "--kernel", K, "--initrd", I, "--mem", f"{MEM}M", "--",
                   "/bin/sh", "-c", LOOP]


def random_fill(path, offset_mib, mib):
    with open(path, "r+b") as f:
        f.seek(offset_mib << 20)
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


def make_minivm(case):
    """A snapshot of a running `count` guest (full: FULL MiB of random bytes written into its
    memory file from 32 MiB up) in SNAPS/minivm-CASE, unless one is there."""
    d = f"{SNAPS}/minivm-{case}"
    if os.path.exists(f"{d}/.done"):
        return d
    shutil.rmtree(d, ignore_errors=True)
    sock = f"{WORK}/make.sock"
    p = spawn(MINIVM_BOOT[:2] + ["--api", sock] + MINIVM_BOOT[2:])
    Console(p).wait(BEAT + b" 3", TIMEOUT)
    api(sock, {"cmd": "snapshot", "path": d, "stop": True}, check=True)
    if p.wait(timeout=30) != 0:
        sys.exit(f"minivm: the VM saved into {d} exited {p.returncode}")
    if case == "full":
        random_fill(f"{d}/memory", 32, FULL)
    open(f"{d}/.done", "w").close()
    return d


def make_qemu(case):
    """QEMU's saved state of the same guest (full: its RAM a memory-backend-file holding FULL
    MiB of random bytes from 32 MiB up) in SNAPS/qemu-CASE.state, unless one is there."""
    path = f"{SNAPS}/qemu-{case}.state"
    if os.path.exists(path):
        return path
    mem = ["-object", f"memory-backend-ram,id=mem0,size={MEM}M"]
    if case == "full":
        qmem = f"{WORK}/qemu-full.mem"
        with open(qmem, "wb") as f:
            f.truncate(MEM << 20)
        random_fill(qmem, 32, FULL)
        mem = ["-object", f"memory-backend-file,id=mem0,size={MEM}M,mem-path={qmem},share=off"]
    qmp = f"{WORK}/make.qmp"
    p = spawn(QEMU_BASE + mem + ["-machine", "memory-backend=mem0",
                                 "-qmp", f"unix:{qmp},server=on,wait=off"])
    Console(p).wait(BEAT + b" 3", TIMEOUT)
    q = QMP(qmp, check=True)
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
    q.cmd("migrate", uri=f"exec:cat > {path}.tmp")
    end = time.monotonic() + TIMEOUT
    while (s := q.cmd("query-migrate")["return"].get("status")) not in ("completed", "failed"):
        if time.monotonic() > end:
            sys.exit(f"QEMU: its save did not end within {TIMEOUT} s")
        time.sleep(0.005)
    q.cmd("quit")
    p.wait(timeout=30)
    if s != "completed":
        sys.exit(f"QEMU: its save into {path}.tmp {s}")
    os.rename(f"{path}.tmp", path)
    if case == "full":
        os.unlink(qmem)
    return path


def to_running(argv, timings=False, timeout=TIMEOUT):
    """Start argv (stdout a pipe, stderr a file), ms until the first BEAT line on stdout;
    then stop it (SIGTERM: minivm prints its --timings line; SIGKILL for QEMU) and return
    (ms, minivm's "entry" ms or None)."""
    r, w = os.pipe()
    err = os.open(f"{WORK}/vmm.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fa = [(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, err, 2),
          (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
    t0 = time.monotonic()
    pid = os.posix_spawn(argv[0] if argv[0].startswith("/") else shutil.which(argv[0]),
                         argv, os.environ, file_actions=fa)
    os.close(w)
    os.close(err)
    buf, t1, end = b"", None, t0 + timeout
    try:
        while t1 is None and time.monotonic() < end:
            if not select.select([r], [], [], 0.5)[0]:
                continue
            b = os.read(r, 65536)
            if not b:
                break
            buf += b
            for line in buf.split(b"\n")[:-1]:
                if line.startswith(BEAT):
                    t1 = time.monotonic()
                    break
            buf = buf[buf.rfind(b"\n") + 1:]
    finally:
        os.kill(pid, signal.SIGTERM if timings else signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
    if t1 is None:
        tail = open(f"{WORK}/vmm.err", errors="replace").read().strip().splitlines()[-1:]
        sys.exit(f"{' '.join(argv)}: no '{BEAT.decode()}' line within {timeout} s"
                 + (f" ({tail[0]})" if tail else ""))
    entry = None
    if timings:
        for line in open(f"{WORK}/vmm.err"):
            if line.startswith("{"):
                entry = json.loads(line).get("entry")
    return (t1 - t0) * 1e3, entry


def saved_mib(vmm, case):
    if case == "boot":
        return 0.0
    if vmm == "minivm":  # the memory file's data (its holes are zero pages) + the state
        d = f"{SNAPS}/minivm-{case}"
        return sum(os.stat(f"{d}/{f}").st_blocks * 512 for f in ("memory", "state")) / 2**20
    return os.path.getsize(f"{SNAPS}/qemu-{case}.state") / 2**20


def one(vmm, case):
    if vmm == "minivm":
        if case == "boot":
            argv = MINIVM_BOOT[:2] + MINIVM_BOOT[2:]
        else:
            argv = [MINIVM, "run", "--restore", make_minivm(case)]
        return to_running(argv[:2] + ["--timings", "json"] + argv[2:], timings=True)
    if case == "boot":
        return to_running(QEMU_BASE)
    state = make_qemu(case)
    return to_running(QEMU_BASE + ["-object", f"memory-backend-ram,id=mem0,size={MEM}M",
                                   "-machine", "memory-backend=mem0",
                                   "-incoming", f"exec:cat {state}"])


def jsonl(vmm, case, run, ms, entry):
    if not JSONL:
        return
    with open(JSONL, "a") as f:
        f.write(json.dumps({"backend": "vm" if vmm == "minivm" else "qemu", "case": case,
                            "run": run, "status": "ok", "to_running_ms": ms, "entry_ms": entry,
                            "saved_mib": saved_mib(vmm, case)}) + "\n")


try:
    # the saved states first, then one untimed run of each (the page cache, the tools' first
    # start), then RUNS timed runs, the VMMs and cases interleaved in a rotating order
    pairs = [(v, c) for c in CASES for v in VMMS]
    for v, c in pairs:
        if WARMUP:
            one(v, c)
        elif c != "boot":
            make_minivm(c) if v == "minivm" else make_qemu(c)
    res = {p: ([], []) for p in pairs}
    for i in range(RUNS):
        for k in range(len(pairs)):
            v, c = pairs[(k + i) % len(pairs)]
            ms, entry = one(v, c)
            res[(v, c)][0].append(ms)
            if entry is not None:
                res[(v, c)][1].append(entry)
            jsonl(v, c, i, ms, entry)
finally:
    kill_all()

names = {"idle": f"restore, {MEM} MiB idle", "full": f"restore, {MEM} MiB, {FULL} filled",
         "boot": f"cold boot, {MEM} MiB"}
what = ("Debian's stock kernel + initramfs, a shell loop printing a line every 20 ms (QEMU "
        "-M microvm)" if STOCK else "the tiny PVH guest (`count`)")
out = [f"restore-to-running of {what}, 1 vCPU, {RUNS} runs, VMMs and "
       f"cases interleaved, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end",
       "to running = the VMM's spawn to the guest's first heartbeat line on its console "
       f"({'0-20' if STOCK else '0-2'} ms of it the guest's own wait)",
       f"{'case':28s} {'what':30s} {'min':>8s} {'median':>8s} {'max':>8s}  saved MiB  "
       f"ratio minivm/QEMU (medians)"]
for c in CASES:
    for v in VMMS:
        ms, entry = res[(v, c)]
        ratio = ""
        if v == "minivm" and ("qemu", c) in res:
            q = med(res[("qemu", c)][0])
            ratio = f"{med(ms) / q:.3f}" if q == q and q > 0 else ""
        out.append(f"{names[c]:28s} {v + ' to running':30s} {st(ms)}  {saved_mib(v, c):9.1f}  "
                   f"{ratio}")
        if entry:
            out.append(f"{names[c]:28s} {'minivm   main() -> KVM_RUN':30s} {st(entry)}")
if "minivm" in VMMS and "boot" in CASES:
    b = med(res[("minivm", "boot")][0])
    for c in ("idle", "full"):
        if c in CASES:
            out.append(f"minivm restore ({c}) / its cold boot: {med(res[('minivm', c)][0]) / b:.3f}")
text = "\n".join(out)
print(text)
if os.environ["RECORD"] == "1":
    lab = bool(os.environ.get("MINI_IN_LAB"))
    subprocess.run([os.path.join(os.environ["ROOT"], "bench/record.py"),
                    "vm-restore-lab" if STOCK else "vm-restore",
                    "Restore-to-running: minivm vs QEMU vs cold boot (issue 14, 10"
                    + (", stock kernel)" if STOCK else ")"),
                    ("STOCK=1 " if STOCK else "") + "bench/vm-restore.sh --record",
                    "in the lab" if lab else "on this host"],
                   input=text, text=True, check=True)
PY
