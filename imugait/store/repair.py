"""Clear the "open for writing" marks a killed SWMR writer leaves in an HDF5 file.

A recording killed with ``kill -9`` leaves a valid file (SWMR keeps the file consistent at
every flush), but its superblock still says "open for write / SWMR write". HDF5 then refuses
every open except a SWMR read ("file is already open for write (may use <h5clear file> ...)").
This module does what ``h5clear -s`` does — reset the consistency-flags byte of a version 2/3
superblock and recompute its checksum — so the file can be finalised and processed without
the HDF5 command-line tools. Nothing else in the file is touched.

Superblock v2/v3 layout (HDF5 file format specification, section II.A)::

    signature(8) version(1) size_of_offsets(1) size_of_lengths(1) consistency_flags(1)
    base_address(O) superblock_extension_address(O) end_of_file_address(O)
    root_group_object_header_address(O) checksum(4)

The checksum is Bob Jenkins' lookup3 ``hashlittle`` with initial value 0.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` (the checksum HDF5 uses for metadata)."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _MASK
    i = 0
    while length > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & _MASK
        # mix
        a = (a - c) & _MASK; a ^= _rot(c, 4); c = (c + b) & _MASK
        b = (b - a) & _MASK; b ^= _rot(a, 6); a = (a + c) & _MASK
        c = (c - b) & _MASK; c ^= _rot(b, 8); b = (b + a) & _MASK
        a = (a - c) & _MASK; a ^= _rot(c, 16); c = (c + b) & _MASK
        b = (b - a) & _MASK; b ^= _rot(a, 19); a = (a + c) & _MASK
        c = (c - b) & _MASK; c ^= _rot(b, 4); b = (b + a) & _MASK
        length -= 12
        i += 12
    if length == 0:
        return c
    tail = data[i:] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK
    # final
    c ^= b; c = (c - _rot(b, 14)) & _MASK
    a ^= c; a = (a - _rot(c, 11)) & _MASK
    b ^= a; b = (b - _rot(a, 25)) & _MASK
    c ^= b; c = (c - _rot(b, 16)) & _MASK
    a ^= c; a = (a - _rot(c, 4)) & _MASK
    b ^= a; b = (b - _rot(a, 14)) & _MASK
    c ^= b; c = (c - _rot(b, 24)) & _MASK
    return c


def _find_superblock(fh) -> int:
    for off in (0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
        fh.seek(off)
        if fh.read(8) == SIGNATURE:
            return off
    raise ValueError("no HDF5 superblock signature found")


def superblock_info(path) -> dict:
    """version, consistency flags (v2/v3, else None) and stored end-of-file address
    (v2/v3, else None) of an HDF5 file's superblock."""
    with open(path, "rb") as fh:
        off = _find_superblock(fh)
        fh.seek(off + 8)
        version, size_off, _sl, flags = fh.read(4)
        if version not in (2, 3):
            return {"version": version, "flags": None, "eof": None, "offset": off}
        fields = fh.read(4 * size_off)
        eof = int.from_bytes(fields[2 * size_off:3 * size_off], "little")
        return {"version": version, "flags": flags, "eof": eof + off, "offset": off}


def read_consistency_flags(path) -> int | None:
    """The superblock's consistency flags (v2/v3), or None for older superblocks."""
    with open(path, "rb") as fh:
        off = _find_superblock(fh)
        fh.seek(off + 8)
        version, _so, _sl, flags = fh.read(4)
        return flags if version in (2, 3) else None


def clear_write_flags(path) -> bool:
    """Reset the "open for write" flags (like ``h5clear -s``). Returns True if changed.

    Call only when no process is writing the file. Verifies the old checksum first so a
    damaged superblock is never "repaired" into something else.
    """
    path = Path(path)
    with open(path, "r+b") as fh:
        off = _find_superblock(fh)
        fh.seek(off)
        head = fh.read(12)
        version, size_off = head[8], head[9]
        if version not in (2, 3):
            return False
        body_len = 12 + 4 * size_off
        fh.seek(off)
        body = fh.read(body_len)
        (stored,) = struct.unpack("<I", fh.read(4))
        if lookup3(body) != stored:
            raise ValueError("superblock checksum does not match; not touching the file")
        if body[11] == 0:
            return False
        new = bytearray(body)
        new[11] = 0
        fh.seek(off)
        fh.write(bytes(new) + struct.pack("<I", lookup3(bytes(new))))
        fh.flush()
        os.fsync(fh.fileno())
    return True
