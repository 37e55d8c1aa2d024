"""Each write call's objects as one small git pack, and geometric repacking to keep them few.

A candidate's blobs, trees and commit (or a note's blob, trees and notes commit) go into
one pack of undeltified objects: `tmp_pack_*` and `tmp_idx_*` are written in
`objects/pack/` and renamed into place, pack first, index last (git finds packs by their
index), so a killed writer leaves at most temporaries that git ignores and `git gc`
prunes. Two files per call instead of one per object: on a busy disk that is what makes
ingest fast. Packs are then merged in-process, LSM style: when 32 packs of one size class
exist, their entries are copied into one pack of the next class (no git subprocess, no
recompression) and the old packs removed, index first; every object is kept, reachable
or not, so a concurrent writer's objects are never lost, and the pack count stays under
about a hundred. Packs git wrote (with deltas) are left to `git gc`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import struct
import uuid
import zlib
from collections import defaultdict
from pathlib import Path

from tools.errors import CladeError

TYPE_CODES = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}
MERGE_AT = 32  # this many packs of one size class (< 64 kB, < 2 MB, < 64 MB) are merged into one
SIZE_CLASSES = 3  # packs of 64 MB and more are left alone


def _entry_header(code: int, size: int) -> bytes:
    out = bytearray()
    byte = (code << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def pack_entries(objects: dict[str, tuple[str, bytes]]) -> list[tuple[bytes, bytes, int]]:
    """(binary sha, raw undeltified entry, crc32) for `sha -> (type, body)`."""
    entries = []
    for sha, (kind, body) in objects.items():
        entry = _entry_header(TYPE_CODES[kind], len(body)) + zlib.compress(body, 1)
        entries.append((bytes.fromhex(sha), entry, zlib.crc32(entry)))
    return entries


def assemble(entries: list[tuple[bytes, bytes, int]]) -> tuple[bytes, bytes, str]:
    """Pack and index from (binary sha, raw entry, crc32) triples."""
    pack = bytearray(b"PACK" + struct.pack(">II", 2, len(entries)))
    located = []
    for raw, entry, crc in entries:
        located.append((raw, crc, len(pack)))
        pack += entry
    if len(pack) >= 2**31:
        raise CladeError(f"a pack of {len(pack)} bytes is too large; keep genotypes (recipes, code) under 2 GB")
    checksum = hashlib.sha1(pack).digest()
    located.sort()
    counts = [0] * 256
    for raw, _, _ in located:
        counts[raw[0]] += 1
    idx = bytearray(b"\xfftOc" + struct.pack(">I", 2) + struct.pack(">256I", *itertools.accumulate(counts)))
    idx += b"".join(raw for raw, _, _ in located)
    idx += struct.pack(f">{len(located)}I", *(crc for _, crc, _ in located))
    idx += struct.pack(f">{len(located)}I", *(offset for _, _, offset in located))
    idx += checksum
    idx += hashlib.sha1(idx).digest()
    return bytes(pack + checksum), bytes(idx), checksum.hex()


def write_pack(pack_dir: Path, entries: list[tuple[bytes, bytes, int]], *, fsync: bool = False) -> str:
    """Write entries (from `pack_entries`) as one pack; returns its name. The index appears last."""
    return _install(pack_dir, *assemble(entries), fsync=fsync)


def _install(pack_dir: Path, pack: bytes, idx: bytes, name: str, *, fsync: bool) -> str:
    token = uuid.uuid4().hex
    tmp_pack, tmp_idx = f"{pack_dir}/tmp_pack_{token}", f"{pack_dir}/tmp_idx_{token}"
    for path, data in ((tmp_pack, pack), (tmp_idx, idx)):
        _write_file(path, data, fsync)
    os.replace(tmp_pack, f"{pack_dir}/pack-{name}.pack")
    os.replace(tmp_idx, f"{pack_dir}/pack-{name}.idx")
    return name


def _write_file(path: str, data: bytes, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def maybe_merge(pack_dir: Path, sizes: dict[str, int], known: dict[str, list], *, fsync: bool = False) -> bool:
    """Merge Clade's small packs when a size class holds `MERGE_AT` of them (hold the writer lock).

    `sizes` caches pack name -> size across calls (packs never change), so a call costs one
    listdir; `known` holds the entries of packs this process wrote (not read back)."""
    names = [n[:-4] for n in os.listdir(pack_dir) if n.startswith("pack-") and n.endswith(".idx")]
    if len(names) < MERGE_AT:
        return False
    classes: dict[int, list[str]] = defaultdict(list)
    for name in names:
        if name not in sizes:
            try:
                sizes[name] = os.stat(f"{pack_dir}/{name}.pack").st_size
            except FileNotFoundError:
                continue
        classes[_size_class(sizes[name])].append(name)
    for size_class, group in sorted(classes.items()):
        if size_class < SIZE_CLASSES and len(group) >= MERGE_AT:
            return merge_packs(pack_dir, group, known, fsync=fsync)
    return False


def _size_class(size: int) -> int:
    return 0 if size < 64 * 1024 else min(SIZE_CLASSES, 1 + int(math.log(size / (64 * 1024), 32)))


def merge_packs(pack_dir: Path, names: list[str], known: dict[str, list] | None = None, *, fsync: bool = False) -> bool:
    """Copy the entries of undeltified packs into one pack, then remove them (index first)."""
    entries: dict[bytes, tuple[bytes, bytes, int]] = {}
    merged = []
    for name in names:
        found = (known or {}).pop(name[5:], None) or _entries(pack_dir / f"{name}.idx", pack_dir / f"{name}.pack")
        if found is not None:
            merged.append(name)
            for raw, entry, crc in found:
                entries.setdefault(raw, (raw, entry, crc))
    if len(merged) < 2:
        return False
    _install(pack_dir, *assemble(list(entries.values())), fsync=fsync)
    for name in merged:
        (pack_dir / f"{name}.idx").unlink(missing_ok=True)
        (pack_dir / f"{name}.pack").unlink(missing_ok=True)
    return True


def _entries(idx_path: Path, pack_path: Path) -> list[tuple[bytes, bytes, int]] | None:
    """(sha, raw entry, crc) of every object of a pack, or None if it has deltas or large offsets (not Clade's)."""
    idx, pack = idx_path.read_bytes(), pack_path.read_bytes()
    if idx[:8] != b"\xfftOc\x00\x00\x00\x02":
        return None
    n = struct.unpack_from(">I", idx, 8 + 255 * 4)[0]
    base = 8 + 256 * 4
    shas = [idx[base + 20 * i : base + 20 * i + 20] for i in range(n)]
    crcs = struct.unpack_from(f">{n}I", idx, base + 20 * n)
    offsets = struct.unpack_from(f">{n}I", idx, base + 24 * n)
    if any(o & 0x80000000 for o in offsets):
        return None
    order = sorted(range(n), key=lambda i: offsets[i])
    ends = {i: (offsets[order[k + 1]] if k + 1 < n else len(pack) - 20) for k, i in enumerate(order)}
    out = [(shas[i], pack[offsets[i] : ends[i]], crcs[i]) for i in range(n)]
    return None if any((entry[0] >> 4) & 7 in (6, 7) for _, entry, _ in out) else out
