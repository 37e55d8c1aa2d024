"""Reading PyTorch `.bin` checkpoints (torch.save's zip format) without running their pickle.

A `.bin` file is a zip archive: `data.pkl`, a pickle describing the tensors, and one stored
(uncompressed) entry per storage holding the raw bytes. Unpickling it with `pickle` or
`torch.load(weights_only=False)` would run whatever callables the file names, so Clade reads it
with a restricted unpickler that resolves only the names a checkpoint of tensors needs
(`torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`, the typed storage classes,
`collections.OrderedDict`), each to Clade's own stand-in: the result is, per tensor, its dtype,
shape and the byte span of its data inside the zip file. Nothing named by the file is called;
any other name refuses the file, naming it. The bytes are then read with the same positioned
reads as safetensors (tensorfile.py). Not supported, each refused naming the file: the legacy
pre-zip format, compressed entries, and tensors stored non-contiguously.
"""

from __future__ import annotations

import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from tools.errors import BadInput
from tools.merge.tensorfile import TensorRef

STORAGE_DTYPES = {
    "FloatStorage": "F32",
    "HalfStorage": "F16",
    "BFloat16Storage": "BF16",
    "DoubleStorage": "F64",
    "LongStorage": "I64",
    "IntStorage": "I32",
    "ShortStorage": "I16",
    "CharStorage": "I8",
    "ByteStorage": "U8",
    "BoolStorage": "BOOL",
}
ITEM_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: str


@dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> _Tensor:
    return _Tensor(storage, int(offset), tuple(int(d) for d in size), tuple(int(d) for d in stride))


def _rebuild_parameter(tensor, *_ignored) -> _Tensor:
    return tensor


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise BadInput(
            f"{self.path}: its pickle names {module}.{name}, which a checkpoint of tensors does not need; refusing it (nothing in the file was run; convert it to safetensors in a sandbox you trust)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise BadInput(f"{self.path}: unexpected storage reference in its pickle (damaged or not a PyTorch checkpoint)")
        return _Storage(str(pid[2]), pid[1].dtype)


def read_pickle_index(path: Path) -> dict[str, TensorRef]:
    """Name -> TensorRef for every tensor of a torch.save'd state dict (zip format)."""
    if not zipfile.is_zipfile(path):
        raise BadInput(f"{path}: not a zip-format PyTorch checkpoint (the legacy format is not read); convert it to safetensors")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise BadInput(f"{path}: no data.pkl in the archive (not a PyTorch checkpoint)")
        prefix = pickles[0][: -len("data.pkl")]
        try:
            state = _Unpickler(archive.open(pickles[0]), path).load()
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError) as exc:
            raise BadInput(f"{path}: its pickle does not read as a state dict ({type(exc).__name__}: {exc})") from None
        if not isinstance(state, dict) or not all(isinstance(v, _Tensor) for v in state.values()):
            raise BadInput(f"{path}: does not hold a plain mapping of tensor names to tensors")
        return {name: _ref(path, archive, prefix, name, t) for name, t in state.items()}


def _ref(path: Path, archive: zipfile.ZipFile, prefix: str, name: str, t: _Tensor) -> TensorRef:
    if t.stride != _contiguous(t.shape):
        raise BadInput(f"{path}: tensor {name} is stored non-contiguously; convert the checkpoint to safetensors")
    try:
        info = archive.getinfo(f"{prefix}data/{t.storage.key}")
    except KeyError:
        raise BadInput(f"{path}: tensor {name} refers to storage {t.storage.key}, which the archive lacks (damaged file?)") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise BadInput(f"{path}: tensor {name}'s data is compressed in the archive; convert the checkpoint to safetensors")
    size = ITEM_SIZES[t.storage.dtype]
    start = _data_offset(path, info) + t.offset * size
    end = start + size * _numel(t.shape)
    if t.offset * size + size * _numel(t.shape) > info.file_size:
        raise BadInput(f"{path}: tensor {name} reaches past its storage (damaged file?)")
    return TensorRef(path, t.storage.dtype, t.shape, start, end)


def _data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where an entry's bytes start: after its local header (30 bytes + name + extra field)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise BadInput(f"{path}: damaged zip entry {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count
