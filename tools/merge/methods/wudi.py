"""WUDI merging (Cheng et al., ICML 2025, "Whoever Started the Interference Should End It"):
data-free; each linear layer's merged task vector is optimised against the task vectors.

For a 2-D tensor, with δᵢ = wᵢ·(θᵢ − θ₀), τ starts at Σδᵢ and takes `steps` Adam steps
(learning rate `lr`, betas 0.9/0.999, eps 1e-8, no weight decay, as FusionBench) on

    L(τ) = Σᵢ ‖(τ − δᵢ)·δᵢᵀ‖²_F / ‖δᵢ‖²_F

(the interference τ causes on the inputs each task vector responds to). Its gradient is
2·(τ·A − B) with A = Σᵢ δᵢᵀδᵢ/‖δᵢ‖² (n×n) and B = Σᵢ δᵢ·δᵢᵀδᵢ/‖δᵢ‖² (m×n), formed once, so a
step costs one m×n×n product whatever the number of models (FusionBench differentiates the loss
with autograd; the gradient is the same). A task vector of norm 0 has no term. Any other tensor
gets the mean (1/T)·Σδᵢ. The result is θ₀ + λ·τ (λ = `lambda`, default 1, as FusionBench adds τ).
Float32 (float64 for float64 inputs); deterministic on one device.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask
from tools.merge.methods.spectral import finish, mean, task_vectors

BETAS = (0.9, 0.999)
EPS = 1e-8


def wudi(task: TensorTask) -> torch.Tensor:
    deltas = task_vectors(task)
    if deltas[0].dim() != 2:
        return finish(task, mean(deltas))
    a, b = _normal_equations(deltas)
    tau = sum(deltas).clone()
    first, second = torch.zeros_like(tau), torch.zeros_like(tau)
    lr = task.params["lr"]
    for step in range(1, int(task.params["steps"]) + 1):
        grad = 2 * (tau @ a - b)
        _adam(tau, grad, first, second, step, lr)
    return finish(task, tau)


def _normal_equations(deltas: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    n = deltas[0].shape[1]
    a = torch.zeros(n, n, dtype=deltas[0].dtype, device=deltas[0].device)
    b = torch.zeros_like(deltas[0])
    for delta in deltas:
        norm2 = delta.square().sum()
        if norm2 == 0:
            continue
        gram = (delta.T @ delta) / norm2
        a += gram
        b += delta @ gram
    return a, b


def _adam(param: torch.Tensor, grad: torch.Tensor, first: torch.Tensor, second: torch.Tensor, step: int, lr: float) -> None:
    """One step of torch.optim.Adam (default betas and eps, no weight decay), in place."""
    beta1, beta2 = BETAS
    first.lerp_(grad, 1 - beta1)
    second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denominator = (second.sqrt() / (1 - beta2**step) ** 0.5).add_(EPS)
    param.addcdiv_(first, denominator, value=-lr / (1 - beta1**step))
