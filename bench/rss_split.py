#!/usr/bin/env python3
"""Resident memory of a minivm process, split into guest RAM and minivm itself.

usage: bench/rss_split.py PID GUEST_BYTES   -> prints "TOTAL_KIB GUEST_KIB"

Both come from /proc/PID/smaps: the total is the sum of every mapping's Rss (VmRSS in
/proc/PID/status lags behind, its counters are kept per thread and folded in now and then),
the guest part is the Rss of the guest-RAM mapping, the one exactly GUEST_BYTES long.
"""
import sys


def rss_split(pid, guest_bytes):
    total = guest = size = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                size = hi - lo
            elif parts[0] == "Rss:":
                total += int(parts[1])
                if size == guest_bytes:
                    guest += int(parts[1])
    return total, guest


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench/rss_split.py PID GUEST_BYTES")
    print(*rss_split(int(sys.argv[1]), int(sys.argv[2])))
