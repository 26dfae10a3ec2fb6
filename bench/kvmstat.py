"""Exits per unit of work for the lab benchmarks (vm-blk.sh, vm-net.sh).

Their guests print `KVMSTAT:begin [numbers...]` and `KVMSTAT:end [numbers...]` around the
measured work, each followed by the guest's /proc/interrupts lines of the device; meanwhile
bench/lab-guest.sh's kvm_stats_watch writes WORK/<config>.kvm, one line per marker with L1's
KVM counters for that VM ("begin exits N irq_injections N ..."). Same for minivm and QEMU.
"""
import re


def read(work, config):
    """(counter deltas, device interrupts, numbers after begin, numbers after end), or None."""
    try:
        rows = {}
        for line in open(f"{work}/{config}.kvm"):
            f = line.split()
            rows[f[0]] = dict(zip(f[1::2], map(int, f[2::2])))
        lines = open(f"{work}/{config}.out", errors="replace").read().replace("\r", "").splitlines()
    except (OSError, ValueError):
        return None
    marks = {}
    for i, line in enumerate(lines):
        m = re.search(r"KVMSTAT:(begin|end)((?: +[0-9]+)*)", line)
        if not m:
            continue
        irqs = 0
        for dev in lines[i + 1:i + 12]:
            d = re.match(r"\s*\d+:\s+(\d+)\s.*virtio\d+-", dev)
            if not d:
                break
            irqs += int(d.group(1))
        marks[m.group(1)] = ([int(x) for x in m.group(2).split()], irqs)
    if set(marks) != {"begin", "end"} or not {"begin", "end"} <= set(rows):
        return None
    delta = {k: v - rows["begin"].get(k, 0) for k, v in rows["end"].items()}
    return delta, marks["end"][1] - marks["begin"][1], marks["begin"][0], marks["end"][0]


def table(title, unit, device, rows, width):
    """Print per-unit figures. rows: (name, amount of work or None, read() result or None)."""
    if not any(r for _, _, r in rows):
        return
    print(title)
    print(f"  {'where':{width}s} {unit:>9s} {'exits':>7s} {'injected':>8s} {'emulated':>8s} "
          f"{device + ' irqs':>9s}")
    for name, n, r in rows:
        if not r or not n:
            print(f"  {name:{width}s} no counters")
            continue
        d, irqs = r[0], r[1]
        print(f"  {name:{width}s} {n:9.0f} {d.get('exits', 0) / n:7.2f} "
              f"{d.get('irq_injections', 0) / n:8.2f} {d.get('insn_emulation', 0) / n:8.2f} "
              f"{irqs / n:9.2f}")
