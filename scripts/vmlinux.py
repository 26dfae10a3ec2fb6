#!/usr/bin/env python3
"""vmlinux.py BZIMAGE OUT: write the uncompressed ELF vmlinux inside a bzImage.

The payload (offset and length in the setup header at 0x248/0x24c, counted from the end of the
real-mode setup, (setup_sects + 1) * 512 bytes) is compressed with whatever the kernel was
built with; its last 4 bytes are the uncompressed size (little-endian). Recognised: gzip, xz,
lzma, bzip2 (Python's own modules), LZ4 legacy and zstd (Debian's lz4 and zstd tools).
Exit 1 with one line on stderr when the format is unknown or the result is no ELF.
"""
import bz2
import gzip
import lzma
import os
import struct
import subprocess
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    d = open(src, 'rb').read()
    if d[0x202:0x206] != b'HdrS':
        sys.exit('vmlinux: %s is not a bzImage (no HdrS magic)' % src)
    start = (d[0x1f1] + 1) * 512
    off, length = struct.unpack('<II', d[0x248:0x250])
    p = d[start + off:start + off + length]
    want = struct.unpack('<I', p[-4:])[0]
    if p[:2] == b'\x1f\x8b':
        raw = gzip.decompress(p)
    elif p[:6] == b'\xfd7zXZ\x00':
        raw = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(p)
    elif p[:3] == b'\x5d\x00\x00':
        raw = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(p)
    elif p[:3] == b'BZh':
        raw = bz2.BZ2Decompressor().decompress(p)
    elif p[:4] == b'\x02\x21\x4c\x18':
        raw = subprocess.run(['lz4', '-dcq'], input=p[:-4], stdout=subprocess.PIPE,
                             check=True).stdout
    elif p[:4] == b'\x28\xb5\x2f\xfd':
        raw = subprocess.run(['zstd', '-dcq'], input=p[:-4], stdout=subprocess.PIPE,
                             check=True).stdout
    else:
        sys.exit('vmlinux: unknown payload format in %s (starts %s)' % (src, p[:6].hex()))
    if raw[:4] != b'\x7fELF':
        sys.exit('vmlinux: the payload of %s is no ELF file' % src)
    if len(raw) != want:
        # gzip/xz may stop at their own end; the size word is the authority
        raw = raw[:want]
    with open(out + '.tmp', 'wb') as f:
        f.write(raw)
    os.rename(out + '.tmp', out)


if __name__ == '__main__':
    main()
