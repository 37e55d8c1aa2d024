"""Reading and writing safetensors files one tensor at a time.

`clade merge` parses the header and reads each tensor's bytes with a positioned read into a fresh
buffer, instead of memory-mapping the file: mapped pages count toward the process's resident
memory until the file is closed, which would make peak RSS grow with model size. The resident
merger, which keeps sources for many recipes, does the opposite on purpose (`MappedFiles`): one
read-only shared map per file, tensors are views of it, so the page cache holds each source
once for every worker process on the machine and no worker keeps a private copy. Writing knows
every output tensor's name, dtype and shape before the first byte of data (the plan says so),
so it writes each shard's header first and then streams tensor data in plan order: memory is
bounded by the tensors in flight, never by the shard size.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from tools.errors import BadInput

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
DTYPE_NAMES: dict[torch.dtype, str] = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor's bytes lie: absolute byte offsets in `file`."""

    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    def read(self) -> torch.Tensor:
        return read_tensor(self)


def read_header(path: Path) -> dict[str, TensorRef]:
    """Name -> TensorRef for every tensor of one safetensors file."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise BadInput(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (size,) = struct.unpack("<Q", raw)
        if size > MAX_HEADER:
            raise BadInput(f"{path}: not a safetensors file (header size {size} is implausible)")
        try:
            header = json.loads(f.read(size))
        except ValueError:
            raise BadInput(f"{path}: not a safetensors file (header is not JSON)") from None
        file_size = os.fstat(f.fileno()).st_size
    if not isinstance(header, dict):
        raise BadInput(
            f"{path}: not a safetensors file (header is {type(header).__name__ if header is not None else 'null'}, not a mapping of tensors)"
        )
    header.pop("__metadata__", None)
    refs = {name: _ref(path, name, info, 8 + size) for name, info in header.items()}
    past = next((r for r in refs.values() if r.end > file_size), None)
    if past is not None:
        name = next(n for n, r in refs.items() if r is past)
        raise BadInput(f"{path}: truncated or damaged: tensor {name} ends at byte {past.end}, the file has {file_size} bytes")
    return refs


def _ref(path: Path, name: str, info: dict, data_start: int) -> TensorRef:
    if not isinstance(info, dict):
        raise BadInput(f"{path}: tensor {name} has a malformed header entry (damaged file?)")
    if info.get("dtype") not in DTYPES:
        raise BadInput(f"{path}: tensor {name} has unsupported dtype {info.get('dtype')!r}")
    try:
        begin, end = (int(v) for v in info["data_offsets"])
        shape = tuple(int(d) for d in info["shape"])
    except (KeyError, TypeError, ValueError):
        raise BadInput(f"{path}: tensor {name} has no valid shape and data_offsets in the header (damaged file?)") from None
    if any(d < 0 for d in shape):
        raise BadInput(f"{path}: tensor {name} has a negative dimension in shape {list(shape)} (damaged file?)")
    expected = math.prod(shape) * DTYPES[info["dtype"]].itemsize
    if begin < 0 or end - begin != expected:
        raise BadInput(
            f"{path}: tensor {name} spans bytes {begin}..{end} but shape {list(shape)} in {info['dtype']} needs {expected} (damaged file?)"
        )
    return TensorRef(path, info["dtype"], shape, data_start + begin, data_start + end)


def read_tensor(ref: TensorRef) -> torch.Tensor:
    """The tensor's data, read into a new CPU tensor."""
    nbytes = ref.end - ref.start
    buf = torch.empty(nbytes, dtype=torch.uint8)
    view = memoryview(buf.numpy())
    with open(ref.file, "rb", buffering=0) as f:
        f.seek(ref.start)
        done = 0
        while done < nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise BadInput(f"{ref.file}: truncated (a tensor ends at byte {ref.end}, the file is shorter)")
            done += got
    return buf.view(ref.torch_dtype).reshape(ref.shape)


class MappedFiles:
    """Read-only shared memory maps of weight files (MAP_SHARED, PROT_READ), one per file, kept
    open for the object's life. `tensor(ref)` is a view of the map in the file's own dtype: no
    copy, no upcast; its pages are the page cache's, shared by every process mapping the file,
    and writing to it faults (a source is never changed in place)."""

    def __init__(self):
        self._maps: dict[Path, mmap.mmap] = {}
        self._lock = threading.Lock()

    def tensor(self, ref: TensorRef) -> torch.Tensor:
        count = math.prod(ref.shape)
        itemsize = ref.torch_dtype.itemsize
        if count == 0 or ref.start % itemsize:  # nothing to map, or a misaligned span: a private copy
            return read_tensor(ref)
        mapped = self._map(ref.file)
        if ref.end > len(mapped):
            raise BadInput(f"{ref.file}: truncated (a tensor ends at byte {ref.end}, the file is shorter)")
        with warnings.catch_warnings():  # torch warns that the buffer is not writable: that is the point
            warnings.simplefilter("ignore", UserWarning)
            flat = torch.frombuffer(mapped, dtype=ref.torch_dtype, count=count, offset=ref.start)
        return flat.reshape(ref.shape)

    def span(self, file: Path) -> tuple[int, int]:
        """(first address, length) of the file's map, for checking that a tensor lies in it."""
        mapped = self._map(file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.frombuffer(mapped, dtype=torch.uint8).data_ptr(), len(mapped)

    def _map(self, file: Path) -> mmap.mmap:
        with self._lock:
            if file not in self._maps:
                with open(file, "rb") as f:
                    self._maps[file] = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
            return self._maps[file]

    def close(self) -> None:
        """Drop the maps (tensors still viewing them keep their pages until they are freed)."""
        with self._lock:
            self._maps.clear()


@dataclass(frozen=True)
class OutSpec:
    """One output tensor as planned: name, dtype and shape."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count * torch.empty((), dtype=self.dtype).element_size()


def assign_shards(specs: list[OutSpec], max_shard_bytes: int) -> list[list[OutSpec]]:
    """Split the tensors, in order, into shards of at most max_shard_bytes (a larger tensor gets its own)."""
    shards: list[list[OutSpec]] = [[]]
    size = 0
    for spec in specs:
        if shards[-1] and size + spec.nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(spec)
        size += spec.nbytes
    return shards


def shard_names(count: int) -> list[str]:
    if count == 1:
        return ["model.safetensors"]
    return [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]


def header_bytes(shard: list[OutSpec]) -> bytes:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for spec in shard:
        header[spec.name] = {"dtype": DTYPE_NAMES[spec.dtype], "shape": list(spec.shape), "data_offsets": [offset, offset + spec.nbytes]}
        offset += spec.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw
