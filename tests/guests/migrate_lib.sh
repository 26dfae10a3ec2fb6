# Helpers for the live-migration tests with the tiny test guests (sourced after
# tests/guests/lib.sh): a destination and a source in the background, a field of the migrate
# report, and checks of the guest memory in a snapshot's memory file.

dst() { # NAME [options]: pid in $dpid, port in $dport
	local n=$1
	shift
	rm -f "$TMP/$n.err"
	vm_start "$n" --incoming tcp:127.0.0.1:0 "$@"
	dpid=$VM_PID
	wait_until "$n listening" grep -qs 'waiting for an incoming migration' "$TMP/$n.err"
	dport=$(grep -o 'tcp:127.0.0.1:[0-9]*' "$TMP/$n.err" | cut -d: -f3)
}
src() { # NAME CMDLINE [options]: pid in $spid (the guest: $K, else the PVH test guest)
	local n=$1 c=$2
	shift 2
	vm_start "$n" --kernel "${K:-$GUESTS/pvh-guest.elf}" --cmdline "$c" "$@"
	spid=$VM_PID
}
goes_on() { # NAME: the guest counts at least 3 more
	local c
	c=$(last_count "$TMP/$1.out")
	wait_until "$1 counts on after $c" counted "$TMP/$1.out" $((c + 3))
}
field() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -n 1 | cut -d: -f2 | tr -d '"'; }
# region FILE MIB: sha256 of [32 MiB, 32+MIB MiB) of a snapshot's memory file
region() { dd if="$1" bs=1M skip=32 count="$2" status=none | sha256sum | cut -d' ' -f1; }

# workset FILE MIB: the dirty guest's working set in a snapshot's memory file is consistent
workset() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, mib = sys.argv[1], int(sys.argv[2])
n = mib * 256
with open(path, "rb") as f:
    f.seek(32 << 20)
    data = f.read(mib << 20)
# tests/guests/guest.c fill_pages(mib, 0): every word of the MiB at address a is
# (a >> 20) * 2654435761 | 1; the dirty loop then writes ++gen into word 0 of page after page
fill = [(((((32 << 20) + i * 4096) >> 20) * 2654435761) | 1) & 0xffffffff for i in range(n)]
bad = [i for i in range(n) if data[i * 4096 + 4:(i + 1) * 4096] != struct.pack("<I", fill[i]) * 1023]
if bad:
    sys.exit(f"{len(bad)} pages lost their fill (first {bad[:5]})")
w0 = [struct.unpack_from("<I", data, i * 4096)[0] for i in range(n)]
unwritten = [i for i in range(n) if w0[i] == fill[i]]
if unwritten:  # still in the first pass: pages 0..L written in order, none after
    last = unwritten[0] - 1
    if last < 0 or unwritten != list(range(last + 1, n)):
        sys.exit(f"{len(unwritten)} pages never written amid written ones")
    order = range(last + 1)
else:
    last = max(range(n), key=lambda i: w0[i])
    order = range(n)
gen = w0[last]
breaks = [i for i in order if w0[(last - i) % n] != (gen - i) & 0xffffffff]
if breaks:
    sys.exit(f"word 0 of {len(breaks)} pages out of sequence (a write the tracker missed?): "
             f"{[(last - i) % n for i in breaks[:5]]}, last page written {last}, number {gen}")
print(f"{n} pages consistent, last written {last}")
PY
}

# fillpages FILE MIB: tests/guests/guest.c fill_pages(mib, 1), byte for byte
fillpages() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    f.seek(32 << 20)
    data = f.read(mib << 20)
for i in range(mib * 256):
    p = (32 << 20) + i * 4096
    v = ((p >> 12) * 2246822519 + 0x9e3779b9) & 0xffffffff | 1
    want = struct.pack("<I", p >> 12) + struct.pack("<I", v) * 1023
    if data[i * 4096:(i + 1) * 4096] != want:
        sys.exit(f"page {i} of the region differs")
PY
}
