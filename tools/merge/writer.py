"""A streaming writer of (sharded) safetensors: headers first, then tensor data in plan order."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tools.errors import CladeError
from tools.merge.tensorfile import OutSpec, assign_shards, header_bytes, shard_names

DEFAULT_SHARD_BYTES = 5 * 1024**3


class ShardedWriter:
    """Writes the planned tensors, in the planned order, into `out_dir`.

    `write(name, tensor)` must be called once per planned tensor in plan order; `close()` checks
    every tensor arrived and writes the index when there is more than one shard.
    """

    def __init__(self, out_dir: Path, specs: list[OutSpec], max_shard_bytes: int = DEFAULT_SHARD_BYTES):
        self.out_dir = out_dir
        self.shards = assign_shards(specs, max_shard_bytes)
        self.names = shard_names(len(self.shards))
        self._queue = [(i, spec) for i, shard in enumerate(self.shards) for spec in shard]
        self._next = 0
        self._file = None
        self._file_index = -1

    def write(self, name: str, tensor: torch.Tensor) -> None:
        shard_index, spec = self._expect(name)
        if tuple(tensor.shape) != spec.shape or tensor.dtype != spec.dtype:
            raise CladeError(f"tensor {name}: produced {tensor.dtype} {tuple(tensor.shape)}, planned {spec.dtype} {spec.shape}")
        self._open(shard_index)
        data = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
        self._file.write(memoryview(data.numpy()))

    def _expect(self, name: str) -> tuple[int, OutSpec]:
        if self._next >= len(self._queue) or self._queue[self._next][1].name != name:
            expected = self._queue[self._next][1].name if self._next < len(self._queue) else "nothing"
            raise CladeError(f"writer got tensor {name} out of order (expected {expected})")
        self._next += 1
        return self._queue[self._next - 1]

    def _open(self, shard_index: int) -> None:
        if shard_index == self._file_index:
            return
        if self._file is not None:
            self._file.close()
        self._file = open(self.out_dir / self.names[shard_index], "wb")
        self._file.write(header_bytes(self.shards[shard_index]))
        self._file_index = shard_index

    def close(self) -> None:
        if self._next != len(self._queue):
            raise CladeError(f"writer closed after {self._next} of {len(self._queue)} tensors")
        if self._file is not None:
            self._file.close()
        if not self._queue:
            (self.out_dir / self.names[0]).write_bytes(header_bytes([]))
        if len(self.shards) > 1:
            self._write_index()

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()

    def _write_index(self) -> None:
        weight_map = {spec.name: self.names[i] for i, shard in enumerate(self.shards) for spec in shard}
        total = sum(spec.nbytes for shard in self.shards for spec in shard)
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (self.out_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
