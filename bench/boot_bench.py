#!/usr/bin/env python3
"""Boot benchmark for issue 3 (6a): the same stock kernel and initramfs, 1 vCPU, 256 MiB,
RUNS boots each, timed from the outside the same way for every tool: process start -> the
guest command's console marker ("ready"), and -> process exit. minivm's own --timings
(debug-port milestones) are reported beside. Run where /dev/kvm has hardware virtualization:
in the lab here (bench/boot.sh does that). Numbers from the lab compare tools side by side in
the lab; they are not absolute figures for real hardware.
"""
import json
import os
import statistics
import subprocess
import sys
import time

MARKER = b"MINIBENCH-READY"
# minivm runs with its own default command line (BOOT_DEFAULT_CMDLINE: what it gives a guest is
# part of what is measured); QEMU with the usual serial-console line (-M pc needs its PCI bus).
QEMU_CMDLINE = "console=ttyS0 quiet panic=-1"


def measure(argv, kill_at_marker=False):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    ready, tail = None, b""
    while True:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        if ready is None:
            tail += chunk
            if MARKER in tail:
                ready = time.monotonic()
                if kill_at_marker:  # kvmtool does not exit on guestinit's ACPI poweroff
                    p.kill()
            tail = tail[-len(MARKER):]
    err = p.stderr.read().decode(errors="replace")
    status = p.wait()
    t_exit = time.monotonic()
    own = None
    for line in err.splitlines():
        if line.startswith("{") and '"gone"' in line:
            own = json.loads(line)
    if kill_at_marker and ready is not None:
        status = 0
    if status != 0 or ready is None:
        sys.stderr.write(f"run failed (status {status}): {' '.join(argv)}\n{err[-2000:]}\n")
    return {"ready": None if ready is None else (ready - t0) * 1000,
            "exit": (t_exit - t0) * 1000, "status": status, "own": own}


def stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return (min(vals), statistics.median(vals), max(vals))


def main():
    runs = int(os.environ.get("RUNS", "10"))
    root = os.environ["ROOT"]
    kernel, vmlinux, initrd = (os.environ[k] for k in ("MINIVM_KERNEL", "MINIVM_VMLINUX",
                                                        "MINIVM_INITRD"))
    minivm = os.path.join(root, "build/bin/minivm")
    guest_cmd = ["--", "/bin/sh", "-c", "echo " + MARKER.decode()]
    append = QEMU_CMDLINE + " -- /bin/sh -c \"echo " + MARKER.decode() + "\""
    qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", append]
    tools = {
        "minivm bzImage": [minivm, "run", "--kernel", kernel, "--initrd", initrd, "--cpus", "1",
                           "--mem", "256M", "--timings", "json"] + guest_cmd,
        "minivm PVH": [minivm, "run", "--kernel", vmlinux, "--initrd", initrd, "--cpus", "1",
                       "--mem", "256M", "--timings", "json"] + guest_cmd,
        "qemu microvm": qemu[:1] + ["-M", "microvm"] + qemu[1:],
        "qemu pc": qemu[:1] + ["-M", "pc"] + qemu[1:],
    }
    lkvm = os.environ.get("LKVM")
    if lkvm:  # kvmtool (docs/boot.md says how to build it): bzImage, no PCI, serial console
        tools["kvmtool"] = [lkvm, "run", "-k", kernel, "-i", initrd, "-m", "256", "-c", "1",
                            "--console", "serial", "-p", QEMU_CMDLINE + " pci=off -- /bin/sh -c \"echo "
                            + MARKER.decode() + "\""]
    else:
        print("kvmtool: not on this machine (LKVM=path to use one)", file=sys.stderr)
    only = os.environ.get("TOOLS")
    if only:
        tools = {k: v for k, v in tools.items() if any(o in k for o in only.split(","))}
    results = {name: [] for name in tools}
    for i in range(runs):  # interleaved, so slow drift in the lab hits every tool alike
        for name, argv in tools.items():
            r = measure(argv, kill_at_marker=name == "kvmtool")
            results[name].append(r)
            print(f"run {i + 1}/{runs} {name}: ready {r['ready'] and round(r['ready'])} ms, "
                  f"exit {round(r['exit'])} ms, status {r['status']}", file=sys.stderr)
    base_name = "kvmtool" if results.get("kvmtool") else "qemu microvm"
    base = stats([r["ready"] for r in results.get(base_name, [])])
    base_exit = stats([r["exit"] for r in results.get("qemu microvm", [])])
    print(f"\nboot, {runs} runs each, 1 vCPU, 256 MiB, ms: min / median / max "
          f"(ratio of medians: ready vs {base_name}, exit vs qemu microvm); QEMU cmdline "
          f"`{QEMU_CMDLINE}`, minivm its default" + ("; kvmtool is killed at the marker (it does not "
          "exit on ACPI poweroff), so its exit is n/a" if lkvm else ""))
    for name, rs in results.items():
        ok = [r for r in rs if r["status"] == 0 and r["ready"] is not None]
        rd, ex = stats([r["ready"] for r in ok]), stats([r["exit"] for r in ok])
        if not rd:
            print(f"  {name:15s} no successful run")
            continue
        line = (f"  {name:15s} to ready {rd[0]:7.0f} / {rd[1]:7.0f} / {rd[2]:7.0f}"
                f"   to exit {ex[0]:7.0f} / {ex[1]:7.0f} / {ex[2]:7.0f}")
        if base and base_exit:
            line += f"   ratio ready {rd[1] / base[1]:.2f}, exit {ex[1] / base_exit[1]:.2f}"
        if len(ok) < len(rs):
            line += f"   ({len(rs) - len(ok)} failed)"
        print(line)
        own = [r["own"] for r in ok if r["own"]]
        if own:
            parts = []
            for m in ("setup", "entry", "init", "ready", "exit", "gone"):
                s = stats([o[m] for o in own if o.get(m) is not None])
                if s:
                    parts.append(f"{m} {s[1]:.0f}")
            print(f"  {'':15s} minivm's own milestones (median ms): " + ", ".join(parts))


main()
