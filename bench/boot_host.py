#!/usr/bin/env python3
"""Host boot benchmark (issue 3 6b/6c, issue 13) with tiny guests: works on any /dev/kvm, PVM
included. Every tool is timed from the outside the same way, RUNS interleaved runs each:

  first  spawn -> the guest's first serial byte on the tool's stdout (its console)
  exit   spawn -> the process exited (a pidfd turns readable)
  gone   spawn -> every KVM object released: EOF on stdout and stderr. minivm hands its VM to
         a helper that holds minivm's stdout and stderr until KVM has torn it down, so a
         reader sees EOF only then; the other tools release everything before they exit, so
         their `gone` is their `exit`.

Tools and guests (each with a guest it can load):
  minivm        the tiny PVH test guest (tests/guests) with `hello`: a line on COM1, then the
                ACPI poweroff
  kvm_floor     tests/tools/kvm_floor: only the KVM calls minivm needs (VM, RAM slot,
                irqchip, vCPU, one KVM_RUN to a COM1 write), the floor of any VMM here; its
                own per-step costs are printed too
  kvmtool       (LKVM=path, see docs/boot.md) a flat binary that writes a line to COM1 and
                resets through the i8042 (kvmtool loads a bzImage or a flat binary)
  qemu microvm  the same PVH guest as minivm; an isa-debug-exit at the ACPI PM1a control port
                ends QEMU at the guest's poweroff
  /bin/true     spawn -> exit of a program that does nothing: the process floor

Then minivm's own milestones (--timings json, from main(), gone waited for) and its resident
memory beyond the guest RAM the guest touched (bench/rss_split.py).

MINIVM_BASE=PATH adds "minivm base", an older minivm binary timed the same way in the same
interleaved runs (a change's before and after).
"""
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from rss_split import rss_split

ROOT = os.environ["ROOT"]
RUNS = int(os.environ.get("RUNS", "20"))
GUESTS = os.path.join(ROOT, "build/tests/guests")
PVH = os.path.join(GUESTS, "pvh-guest.elf")
MINIVM = os.path.join(ROOT, "build/bin/minivm")
FLOOR = os.path.join(ROOT, "build/tests/tools/kvm_floor")

# Real mode at 0x1000:0000 (kvmtool's flat-binary entry): "HI\n" on COM1, then the i8042 reset
# (0xfe to port 0x64), then hlt forever.
FLAT = bytes([0xba, 0xf8, 0x03, 0xb0, ord("H"), 0xee, 0xb0, ord("I"), 0xee, 0xb0, 0x0a, 0xee,
              0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd])


def timed(argv, marker):
    """Run argv; ms from spawn to the first stdout byte of marker, to exit, to EOF."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    pidfd = os.pidfd_open(p.pid)
    poll = select.poll()
    fds = {p.stdout.fileno(): "out", p.stderr.fileno(): "err", pidfd: "pid"}
    for fd in fds:
        poll.register(fd, select.POLLIN)
    out, err = b"", b""
    first = exited = None
    open_pipes = 2
    while open_pipes or exited is None:
        for fd, _ in poll.poll():
            now = time.monotonic()
            if fds[fd] == "pid":
                exited = now
                poll.unregister(fd)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                poll.unregister(fd)
                open_pipes -= 1
                gone = now
                continue
            if fds[fd] == "out":
                out += chunk
                if first is None and marker in out:
                    first = now
            else:
                err += chunk
    os.close(pidfd)
    status = p.wait()
    ms = lambda t: None if t is None else (t - t0) * 1000
    return {"first": ms(first), "exit": ms(exited), "gone": ms(max(gone, exited)),
            "status": status, "out": out.decode(errors="replace"),
            "err": err.decode(errors="replace")}


def stats(v):
    v = [x for x in v if x is not None]
    return (min(v), statistics.median(v), max(v)) if v else None


def fmt(s):
    return f"{s[0]:6.1f} / {s[1]:6.1f} / {s[2]:6.1f}" if s else "   n/a /    n/a /    n/a"


def main():
    tmp = tempfile.mkdtemp(prefix="boot-host-")
    flat = os.path.join(tmp, "hi.flat")
    with open(flat, "wb") as f:
        f.write(FLAT)
    tools = {
        "minivm": ([MINIVM, "run", "--kernel", PVH, "--cmdline", "hello", "--mem", "256M"],
                   b"hello", lambda r: r["status"] == 0),
        "kvm_floor": ([FLOOR, "--mem", "256"], b".", lambda r: r["status"] == 0),
    }
    base_vm = os.environ.get("MINIVM_BASE")
    if base_vm:
        tools["minivm base"] = ([base_vm, "run", "--kernel", PVH, "--cmdline", "hello", "--mem",
                                 "256M"], b"hello", lambda r: r["status"] == 0)
    lkvm = os.environ.get("LKVM") or shutil.which("lkvm")
    if lkvm:
        tools["kvmtool"] = ([lkvm, "run", "-k", flat, "-m", "256", "-c", "1", "--console",
                             "serial"], b"HI", lambda r: r["first"] is not None)
    else:
        print("kvmtool: not on this machine (LKVM=path to use one; docs/boot.md says how to "
              "build it)", file=sys.stderr)
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        tools["qemu microvm"] = ([qemu, "-M", "microvm", "-accel", "kvm", "-m", "256",
                                  "-nodefaults", "-no-user-config", "-display", "none",
                                  "-serial", "stdio", "-kernel", PVH, "-append", "hello",
                                  "-device", "isa-debug-exit,iobase=0x604,iosize=2",
                                  "-no-reboot"],
                                 b"hello", lambda r: r["first"] is not None)
    tools["/bin/true"] = (["/bin/true"], b"", lambda r: r["status"] == 0)
    own_argv = [MINIVM, "run", "--kernel", PVH, "--cmdline", "hello", "--mem", "256M",
                "--timings", "json"]

    res = {name: [] for name in tools}
    own, floor_steps, failed = [], [], {}
    for _ in range(RUNS):  # interleaved: drift on the host hits every tool alike
        for name, (argv, marker, ok) in tools.items():
            r = timed(argv, marker)
            if not ok(r):
                failed[name] = failed.get(name, 0) + 1
                if failed[name] == 1:
                    print(f"{name} run failed (status {r['status']}): "
                          f"{(r['err'] + r['out']).strip()[-300:]}", file=sys.stderr)
                continue
            if name == "/bin/true":
                r["first"] = r["exit"]
            res[name].append(r)
            if name == "kvm_floor":
                floor_steps.append(r["err"])
        r = timed(own_argv, b"hello")
        lines = [l for l in r["err"].splitlines() if l.startswith("{")]
        if r["status"] == 0 and lines:
            own.append(json.loads(lines[-1]))
    shutil.rmtree(tmp, ignore_errors=True)

    base_name = "kvmtool" if res.get("kvmtool") else "qemu microvm"
    base = {k: stats([r[k] for r in res.get(base_name, [])]) for k in ("first", "exit", "gone")}
    print(f"tiny guests, {RUNS} interleaved runs, ms from spawn: min / median / max; "
          f"ratios of medians vs {base_name}")
    for name, rs in res.items():
        s = {k: stats([r[k] for r in rs]) for k in ("first", "exit", "gone")}
        if not s["exit"]:
            print(f"  {name:13s} no successful run")
            continue
        line = (f"  {name:13s} first byte {fmt(s['first'])}   exit {fmt(s['exit'])}"
                f"   gone {fmt(s['gone'])}")
        if base["exit"] and name != "/bin/true":
            line += (f"   ratio first {s['first'][1] / base['first'][1]:.2f}, "
                     f"exit {s['exit'][1] / base['exit'][1]:.2f}")
        if failed.get(name):
            line += f"   ({failed[name]} failed)"
        print(line)
    q = stats([r["exit"] for r in res.get("qemu microvm", [])])
    m = stats([r["exit"] for r in res.get("minivm", [])])
    if q and m:
        print(f"  minivm exit ratio vs qemu microvm {m[1] / q[1]:.2f}")
    b = stats([r["exit"] for r in res.get("minivm base", [])])
    bf = stats([r["first"] for r in res.get("minivm base", [])])
    mf = stats([r["first"] for r in res.get("minivm", [])])
    if b and m and bf and mf:
        print(f"  minivm vs minivm base (MINIVM_BASE): first byte {mf[1] / bf[1]:.2f}, "
              f"exit {m[1] / b[1]:.2f}")

    if floor_steps:
        per = {}
        for line in floor_steps:
            words = line.split("(")[0].split()[1:]
            for k, v in zip(words[::2], words[1::2]):
                per.setdefault(k, []).append(float(v))
        print("  kvm_floor's steps (median ms): " +
              ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in per.items()))
    if own:
        parts = []
        for k in ("setup", "entry", "init", "exit", "gone"):
            s = stats([o[k] for o in own if o.get(k) is not None])
            if s:
                parts.append(f"{k} {s[1]:.2f}")
        print("  minivm's own milestones from main() (median ms, --timings json, which waits "
              "for gone): " + ", ".join(parts))

    # minivm's RSS beyond guest memory touched.
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
