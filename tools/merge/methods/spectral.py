"""Spectral task-vector methods (data-free): TSV-M, ISO-C and ISO-CTS, as FusionBench defines them.

Notation: δᵢ = wᵢ·(θᵢ − θ₀) (per-model `weight`, default 1), T models, λ = `lambda`.
Every 2-D tensor (weight matrices, and the embeddings and head, as in FusionBench where
`exclude_keys` is empty) is merged in its singular-value basis; any other tensor gets the mean
of the task vectors, (1/T)·Σδᵢ. The result is θ₀ + λ·Δ. For a matrix of shape m×n, r = min(m, n):

TSV-M (Gargiulo et al., CVPR 2025, "Task Singular Vectors"): each δᵢ = UᵢSᵢVᵢᵀ keeps its top
  k = ⌊r/T⌋ components; the kept U's are concatenated [U₁..U_T] (m×Tk) and so are the V's, each
  concatenation is replaced by its nearest orthonormal matrix (the polar factor PQᵀ of its SVD
  PΣQᵀ), and Δ = U⊥·diag(S₁..S_T)·V⊥ᵀ. When k = 0 (r < T) the tensor is averaged instead.
ISO-C (Marczak et al., ICML 2025, "No Task Left Behind"): Σδᵢ = USVᵀ; Δ = σ̄·UVᵀ with σ̄ the mean
  of all r singular values (an isotropic spectrum).
ISO-CTS: the common subspace is the top k_c singular directions of Σδᵢ, with
  k_c = r − round((r − ⌊r·f⌋)/T)·T (f = `common_space_fraction`); each task adds the top
  (r − k_c)/T directions of its residual δᵢ − U_cU_cᵀδᵢ; the r directions are orthonormalised as in
  TSV-M and given the mean of their r singular values: Δ = σ̄·U⊥V⊥ᵀ.

Computed in float32 (float64 for float64 inputs): torch's SVD takes no half types.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask


def work_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def task_vectors(task: TensorTask) -> list[torch.Tensor]:
    """wᵢ·(θᵢ − θ₀) in the working precision."""
    dtype = work_dtype(task.base)
    base = task.base.to(dtype)
    return [(t.to(dtype) - base) * p["weight"] for t, p in zip(task.tensors, task.model_params)]


def finish(task: TensorTask, delta: torch.Tensor) -> torch.Tensor:
    """θ₀ + λ·Δ in the compute dtype."""
    base = task.base.to(delta.dtype)
    return (base + task.params["lambda"] * delta).to(task.base.dtype)


def mean(deltas: list[torch.Tensor]) -> torch.Tensor:
    return sum(deltas) / len(deltas)


def polar(matrix: torch.Tensor) -> torch.Tensor:
    """The orthonormal matrix nearest to `matrix` (Frobenius): PQᵀ of its SVD PΣQᵀ."""
    p, _, qh = torch.linalg.svd(matrix, full_matrices=False)
    return p @ qh


def tsvm(task: TensorTask) -> torch.Tensor:
    deltas = task_vectors(task)
    k = min(deltas[0].shape) // len(deltas) if deltas[0].dim() == 2 else 0
    if k == 0:
        return finish(task, mean(deltas))
    us, ss, vhs = [], [], []
    for delta in deltas:
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
        us.append(u[:, :k])
        ss.append(s[:k])
        vhs.append(vh[:k])
    merged = polar(torch.cat(us, dim=1)) @ torch.diag(torch.cat(ss)) @ polar(torch.cat(vhs, dim=0))
    return finish(task, merged)


def iso_c(task: TensorTask) -> torch.Tensor:
    deltas = task_vectors(task)
    if deltas[0].dim() != 2:
        return finish(task, mean(deltas))
    u, s, vh = torch.linalg.svd(sum(deltas), full_matrices=False)
    return finish(task, s.mean() * (u @ vh))


def common_size(rank: int, fraction: float, count: int) -> int:
    """k_c: the common subspace's size, so that the rest divides evenly among the tasks."""
    common = int(rank * fraction)
    return rank - round((rank - common) / count) * count


def iso_cts(task: TensorTask) -> torch.Tensor:
    deltas = task_vectors(task)
    if deltas[0].dim() != 2:
        return finish(task, mean(deltas))
    rank = min(deltas[0].shape)
    common = common_size(rank, task.params["common_space_fraction"], len(deltas))
    per_task = (rank - common) // len(deltas)
    u, s, vh = torch.linalg.svd(sum(deltas), full_matrices=False)
    us, ss, vhs = [u[:, :common]], [s[:common]], [vh[:common]]
    for delta in deltas:
        residual = delta - us[0] @ (us[0].T @ delta)
        ut, st, vht = torch.linalg.svd(residual, full_matrices=False)
        us.append(ut[:, :per_task])
        ss.append(st[:per_task])
        vhs.append(vht[:per_task])
    sigma = torch.cat(ss).mean()
    return finish(task, sigma * (polar(torch.cat(us, dim=1)) @ polar(torch.cat(vhs, dim=0))))
