#!/usr/bin/env python3
"""Host boot benchmark for issue 3 (6b, 6c) with the tiny PVH test guest (tests/guests/),
which writes the debug port and powers off: works on any /dev/kvm, PVM included.

(b) process start -> the guest's first port write, and -> process exit, RUNS times:
    minivm (first write = its own `init` milestone) vs QEMU -M microvm with an isa-debug-exit
    device on the debug port (QEMU exits at the first write, so its two figures coincide) and
    kvmtool (lkvm) when installed.
(c) minivm's resident memory beyond the guest RAM the guest touched, sampled while the guest
    spins: the Rss of all its mappings minus that of the guest-memory mapping
    (bench/rss_split.py).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from rss_split import rss_split

ROOT = os.environ["ROOT"]
RUNS = int(os.environ.get("RUNS", "20"))
GUESTS = os.path.join(ROOT, "build/tests/guests")
PVH = os.path.join(GUESTS, "pvh-guest.elf")
MINIVM = os.path.join(ROOT, "build/bin/minivm")


def timed(argv):
    t0 = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return (time.monotonic() - t0) * 1000, p.returncode, p.stderr.decode(errors="replace")


def stats(v):
    return (min(v), statistics.median(v), max(v)) if v else None


def fmt(s):
    return f"{s[0]:6.1f} / {s[1]:6.1f} / {s[2]:6.1f}" if s else "   n/a"


def main():
    mv_first, mv_exit = [], []
    for _ in range(RUNS):
        ms, rc, err = timed([MINIVM, "run", "--kernel", PVH, "--cmdline", "exit 0",
                             "--mem", "256M", "--console", "none", "--timings", "json"])
        t = json.loads([l for l in err.splitlines() if l.startswith("{")][-1])
        if rc != 0:
            sys.exit(f"minivm failed: {err}")
        mv_first.append(t["init"])
        mv_exit.append(ms)
    rows = [("minivm", stats(mv_first), stats(mv_exit))]

    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        q = []
        for _ in range(RUNS):
            ms, rc, err = timed([qemu, "-M", "microvm", "-accel", "kvm", "-m", "256",
                                 "-nodefaults", "-no-user-config", "-display", "none",
                                 "-kernel", PVH, "-append", "exit 0", "-device",
                                 "isa-debug-exit,iobase=0xee0,iosize=4", "-no-reboot"])
            if rc == 0 or rc > 255 or "error" in err.lower():
                print(f"qemu microvm run failed (status {rc}): {err.strip()[:300]}",
                      file=sys.stderr)
                break
            q.append(ms)
        rows.append(("qemu microvm", stats(q), stats(q)))
    lkvm = shutil.which("lkvm") or shutil.which("kvmtool")
    if not lkvm:
        print("kvmtool: not installed (and it refuses to start without vmx/svm in CPUID)",
              file=sys.stderr)

    print(f"\ntiny PVH guest, {RUNS} runs, ms from process start: min / median / max")
    base = rows[1][2] if len(rows) > 1 and rows[1][2] else None
    for name, first, ex in rows:
        line = f"  {name:13s} first port write {fmt(first)}   exit {fmt(ex)}"
        if base and ex:
            line += f"   exit ratio vs qemu microvm {ex[1] / base[1]:.2f}"
        print(line)

    # (c) RSS beyond guest memory touched.
    p = subprocess.Popen([MINIVM, "run", "--kernel", PVH, "--cmdline", "spin", "--mem", "256M",
                          "--console", "none"], stdin=subprocess.DEVNULL)
    time.sleep(0.5)
    rss, guest = rss_split(p.pid, 256 << 20)
    p.terminate()
    p.wait()
    print(f"\nminivm RSS with a 256 MiB guest (tiny guest spinning): {rss} KiB total, "
          f"{guest} KiB guest RAM touched, {rss - guest} KiB minivm itself "
          f"({(rss - guest) / 1024:.1f} MiB; target <= 5 MiB)")


main()
