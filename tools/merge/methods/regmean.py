"""RegMean (Jin et al., ICLR 2023) and Fisher-weighted averaging (Matena & Raffel, NeurIPS 2022):
the data-dependent methods, over statistics gathered from calibration data before merging
(tools/merge/calibrate.py). No base: every listed model is an input.

RegMean, for the weight W (out×in; GPT-2's Conv1D stores in×out and is handled transposed) of a
linear layer whose inputs x have the Gram matrix
Gᵢ = mean over calibration tokens of x·xᵀ in model i (in×in):

    G̃ᵢ = α·Gᵢ + (1 − α)·diag(Gᵢ)          (off-diagonal entries scaled by α = `alpha`)
    W  = (Σ wᵢ·Wᵢ·G̃ᵢ) · (Σ wᵢ·G̃ᵢ)⁻¹       (the least-squares merge of the layers' outputs)

solved as a linear system (not an explicit inverse). An input feature that is zero on every
calibration token (a zero row and column of ΣG̃) leaves its column undetermined: it gets the
weighted mean of the models' columns. A singular system otherwise (α = 1 with fewer tokens than
inputs) is refused, naming the tensor. Every other tensor (embeddings, norms, biases, any
weight without a Gram) is the weighted mean Σwᵢθᵢ/Σwᵢ. FusionBench's RegMean is wᵢ = 1.
RegMean++ (Nguyen et al., 2025) is the same formula; only its Grams differ (inputs that went
through the already merged layers, see calibrate.py).

Fisher, with Fᵢ the diagonal Fisher of model i for this tensor, ‖Fᵢ‖ the L2 norm of model i's
whole Fisher over every tensor, and ε = `minimal_fisher_weight` (FusionBench's defaults):

    cᵢ = wᵢ · (1/(‖Fᵢ‖ + ε)) / Σⱼ 1/(‖Fⱼ‖ + ε)   (cᵢ = wᵢ when `normalize` is false)
    θ  = Σ cᵢ·(Fᵢ + ε)·θᵢ / Σ cᵢ·(Fᵢ + ε)

Float32 (float64 for float64 inputs).
"""

from __future__ import annotations

import torch

from tools.errors import BadInput
from tools.merge.methods.base import TensorTask
from tools.merge.methods.spectral import work_dtype


def weighted_mean(task: TensorTask) -> torch.Tensor:
    dtype = work_dtype(task.tensors[0])
    weights = [p["weight"] for p in task.model_params]
    total = sum(w * t.to(dtype) for w, t in zip(weights, task.tensors))
    return (total / sum(weights)).to(task.tensors[0].dtype)


def regmean(task: TensorTask) -> torch.Tensor:
    first = task.tensors[0]
    if first.dim() != 2 or not task.stats or any(s is None for s in task.stats):
        return weighted_mean(task)
    dtype = work_dtype(first)
    alpha = task.params["alpha"]
    flip = task.stats[0].inputs_first  # GPT-2's Conv1D keeps W as [in, out]
    system = torch.zeros(first.shape[0 if flip else 1], first.shape[0 if flip else 1], dtype=dtype, device=first.device)
    rhs = torch.zeros(system.shape[0], first.shape[1 if flip else 0], dtype=dtype, device=first.device)
    for tensor, stat, p in zip(task.tensors, task.stats, task.model_params):
        gram = _reduced(stat.tensor.to(dtype), alpha) * p["weight"]
        system += gram
        rhs += gram @ (tensor.to(dtype) if flip else tensor.to(dtype).T)
    solution = _solve(task, system, rhs, flip)
    return (solution if flip else solution.T).to(first.dtype)


def _reduced(gram: torch.Tensor, alpha: float) -> torch.Tensor:
    diagonal = torch.diag(torch.diagonal(gram))
    return alpha * gram + (1 - alpha) * diagonal


def _solve(task: TensorTask, system: torch.Tensor, rhs: torch.Tensor, flip: bool) -> torch.Tensor:
    """system·X = rhs; a feature no calibration token activates gets the weighted mean column."""
    dead = (system == 0).all(dim=1)
    if dead.any():
        system = system.clone()
        system[dead, dead] = 1
        rhs = rhs.clone()
        mean = weighted_mean(task).to(rhs.dtype)
        rhs[dead] = (mean if flip else mean.T)[dead]
    solution, info = torch.linalg.solve_ex(system, rhs)
    if info.item() != 0 or not torch.isfinite(solution).all():
        raise BadInput(
            f"tensor {task.name}: the calibration Gram matrix is singular (too few calibration tokens for {system.shape[0]} inputs?); "
            "lower alpha below 1 or add calibration examples"
        )
    return solution


def fisher(task: TensorTask) -> torch.Tensor:
    if not task.stats or any(s is None for s in task.stats):
        return weighted_mean(task)
    dtype = work_dtype(task.tensors[0])
    eps = task.params["minimal_fisher_weight"]
    coefficients = _fisher_coefficients(task, eps)
    numerator = torch.zeros_like(task.tensors[0], dtype=dtype)
    denominator = torch.zeros_like(numerator)
    for tensor, stat, c in zip(task.tensors, task.stats, coefficients):
        weight = (stat.tensor.to(dtype) + eps) * c
        numerator += weight * tensor.to(dtype)
        denominator += weight
    return (numerator / denominator).to(task.tensors[0].dtype)


def _fisher_coefficients(task: TensorTask, eps: float) -> list[float]:
    weights = [p["weight"] for p in task.model_params]
    if not task.params["normalize"]:
        return weights
    inverse = [1 / (s.norm + eps) for s in task.stats]
    return [w * i / sum(inverse) for w, i in zip(weights, inverse)]
