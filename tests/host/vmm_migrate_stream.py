#!/usr/bin/env python3
"""Hostile migration streams for tests/host/vmm_migrate.sh: vmm_migrate_stream.py CASE PORT
sends one broken stream (docs/migration.md "The stream") to a `minivm run --incoming` on
127.0.0.1:PORT. The framing is lib/migstream's: hello (magic, u32 version), frames (u32 type,
u32 meta_len, u64 data_len, meta, data), end frame (type 0, data: u32 CRC-32 of every byte
before it, u32 frame count)."""
import socket
import struct
import sys
import zlib

case, port = sys.argv[1], int(sys.argv[2])
MEM = 16 << 20


class Stream:
    def __init__(self):
        self.b = bytearray()
        self.frames = 0

    def hello(self, magic=b"MINIVMMG", version=1):
        self.b += magic + struct.pack("<I", version)

    def frame(self, t, meta=b"", data=b"", data_len=None, meta_len=None):
        self.b += struct.pack("<IIQ", t, len(meta) if meta_len is None else meta_len,
                              len(data) if data_len is None else data_len) + meta + data
        self.frames += 1

    def setup(self, mem=MEM, disks=0):
        # disks: copy-storage's image count (no manifest: the destination's devices unchecked)
        self.frame(1, struct.pack("<IIQIIII", 1, 0, mem, 0, 4096, 0, disks))

    def disk(self, disk, kind, off, length, data=b"", data_len=None):
        self.frame(7, struct.pack("<IIQQ", disk, kind, off, length), data, data_len=data_len)

    def pages(self, first, n, data, enc=0):
        self.frame(2, struct.pack("<QII", first, n, enc), data)

    def end(self, crc=None):
        c = zlib.crc32(bytes(self.b)) if crc is None else crc
        self.b += struct.pack("<IIQII", 0, 0, 8, c, self.frames)


s = Stream()
s.hello(**({"magic": b"NOTMINIV"} if case == "magic" else {"version": 2} if case == "version" else {}))
if case == "memsize":
    s.setup(MEM + 4096)
elif case == "first":
    s.pages(0, 1, b"\1" * 4096)
elif case == "disk-unannounced":
    s.setup()
elif case == "disk-many":
    s.setup(disks=99)
elif case.startswith("disk-"):
    s.setup(disks=1)
else:
    s.setup()
page = b"\x5a" * 4096
if case == "outside":
    s.pages(4095, 2, page * 2)
elif case == "wrap":
    s.pages((1 << 64) - 1, 1, page)
elif case == "length":
    s.pages(10, 2, page)
elif case == "toomany":
    s.pages(0, 300, b"")
elif case == "zlib":
    s.pages(10, 1, b"this is not zlib data", enc=1)
elif case == "encoding":
    s.pages(10, 1, page, enc=7)
elif case == "unknown":
    s.frame(99)
elif case == "cut":
    s.pages(10, 1, page)
    s.b = s.b[:-100]
elif case == "crc":
    s.pages(10, 1, page)
    s.frame(5, b"", b"\0" * 64)
    s.end(crc=12345)
elif case == "nostate":
    s.pages(10, 1, page)
    s.end()
elif case == "state":
    s.pages(10, 1, page)
    s.frame(5, b"", b"\0" * 64)
    s.end()
elif case == "disk-outside":  # copy-storage (docs/migration.md "Copy-storage"): a 4 MiB image
    s.disk(0, 0, (4 << 20) - 512, 1024, b"\x5a" * 1024)
elif case == "disk-wrap":
    s.disk(0, 1, (1 << 64) - 512, 1024)
elif case == "disk-sector":
    s.disk(0, 0, 100, 512, b"\x5a" * 512)
elif case == "disk-length":
    s.disk(0, 0, 0, 4096, b"\x5a" * 512)
elif case == "disk-big":
    s.disk(0, 0, 0, 2 << 20, b"", data_len=2 << 20)
elif case == "disk-index":
    s.disk(1, 0, 0, 512, b"\x5a" * 512)
elif case == "disk-kind":
    s.disk(0, 9, 0, 512)
elif case == "disk-zerodata":
    s.disk(0, 1, 0, 512, b"\0" * 512)
elif case in ("disk-unannounced", "disk-many"):
    s.disk(0, 0, 0, 512, b"\x5a" * 512)
elif case == "bigmeta":
    s.frame(2, b"x" * 5000)
c = socket.create_connection(("127.0.0.1", port))
try:
    c.sendall(bytes(s.b))
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
except OSError:
    pass  # the destination may close first: it refused
