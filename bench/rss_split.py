#!/usr/bin/env python3
"""Resident memory of a minivm process, split into guest RAM and minivm itself.

usage: bench/rss_split.py PID GUEST_BYTES   -> prints "TOTAL_KIB GUEST_KIB"

Both come from /proc/PID/smaps: the total is the sum of every mapping's Rss (VmRSS in
/proc/PID/status lags behind, its counters are kept per thread and folded in now and then),
the guest part is the Rss of the guest-RAM mappings: adjacent ones spanning exactly GUEST_BYTES.
"""
import sys


def rss_split(pid, guest_bytes):
    maps = []  # (lo, hi, rss KiB)
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                maps.append([lo, hi, 0])
            elif parts[0] == "Rss:" and maps:
                maps[-1][2] += int(parts[1])
    total = sum(m[2] for m in maps)
    # Guest RAM: adjacent mappings spanning exactly GUEST_BYTES (minivm splits it in two: the
    # first 2 MiB without huge pages, the rest with them).
    for i in range(len(maps)):
        rss, j = 0, i
        while j < len(maps) and (j == i or maps[j][0] == maps[j - 1][1]):
            rss += maps[j][2]
            if maps[j][1] - maps[i][0] == guest_bytes:
                return total, rss
            j += 1
    return total, 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench/rss_split.py PID GUEST_BYTES")
    print(*rss_split(int(sys.argv[1]), int(sys.argv[2])))
