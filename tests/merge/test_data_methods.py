"""The data-dependent and spectral methods (regmean, regmean_plusplus, fisher, tsvm, iso_c, iso_cts,
wudi) against hand-computed cases, their defining properties, and reference implementations
written the way FusionBench's code reads (zero-padded concatenations, autograd + torch Adam)."""

from __future__ import annotations

import pytest
import torch

from tools.errors import BadInput
from tools.merge.methods import METHODS, TensorTask
from tools.merge.methods.base import Statistic
from tools.merge.methods.spectral import common_size

TOL = {"rtol": 1e-5, "atol": 1e-6}


def run(name, tensors, base=None, model_params=None, stats=(), **params):
    spec = METHODS[name]
    full = {p.name: p.default for p in spec.params} | params
    mps = [{p.name: p.default for p in spec.model_params} | dict(mp) for mp in (model_params or [{}] * len(tensors))]
    spec.check_values(mps, full)
    return spec.fn(TensorTask("w", list(tensors), base, mps, full, None, tuple(stats)))


def grams(*matrices):
    return [Statistic(torch.as_tensor(m, dtype=torch.float32)) for m in matrices]


# ---------------------------------------------------------------- RegMean


def test_regmean_with_identity_grams_is_the_weighted_mean():
    a, b = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    out = run("regmean", [a, b], model_params=[{"weight": 1.0}, {"weight": 3.0}], stats=grams(torch.eye(2), torch.eye(2)))
    torch.testing.assert_close(out, (a + 3 * b) / 4, **TOL)


def test_regmean_alpha_zero_weighs_each_input_feature_by_its_energy():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[5.0, 10.0]])
    g1, g2 = [[3.0, 9.0], [9.0, 1.0]], [[1.0, -9.0], [-9.0, 1.0]]  # off-diagonals vanish at alpha 0
    out = run("regmean", [a, b], stats=grams(g1, g2), alpha=0.0)
    torch.testing.assert_close(out, torch.tensor([[(3 * 1 + 1 * 5) / 4, (2 + 10) / 2]]), **TOL)


def test_regmean_solves_the_least_squares_merge_of_the_layer_outputs():
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(3)]
    xs = [torch.randn(30, 4, generator=g, dtype=torch.float64) for _ in range(3)]
    stats = [Statistic(x.T @ x / 30) for x in xs]
    out = run("regmean", ws, stats=stats, alpha=1.0)
    gradient = sum(x.T @ x @ (out - w).T for x, w in zip(xs, ws))  # d/dW Σ‖XᵢWᵀ − XᵢWᵢᵀ‖²
    assert gradient.abs().max() < 1e-9


def test_regmean_matches_the_explicit_inverse_with_reduced_off_diagonals():
    g = torch.Generator().manual_seed(1)
    ws = [torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(2)]
    xs = [torch.randn(10, 4, generator=g, dtype=torch.float64) for _ in range(2)]
    raw = [x.T @ x for x in xs]
    alpha = 0.7
    reduced = [alpha * m + (1 - alpha) * torch.diag(torch.diagonal(m)) for m in raw]
    expected = (sum(w @ r for w, r in zip(ws, reduced))) @ torch.linalg.inv(sum(reduced))
    torch.testing.assert_close(run("regmean", ws, stats=[Statistic(m) for m in raw], alpha=alpha), expected)


def test_regmean_feature_no_token_activates_gets_the_mean_column():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 8.0]])
    out = run("regmean", [a, b], stats=grams([[2.0, 0.0], [0.0, 0.0]], [[2.0, 0.0], [0.0, 0.0]]), alpha=1.0)
    torch.testing.assert_close(out, torch.tensor([[2.0, 5.0]]), **TOL)


def test_regmean_singular_system_is_refused_naming_the_tensor():
    rank_one = [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(BadInput, match="tensor w: the calibration Gram matrix is singular"):
        run("regmean", [torch.ones(1, 2), torch.zeros(1, 2)], stats=grams(rank_one, rank_one), alpha=1.0)


@pytest.mark.parametrize("method", ["regmean", "regmean_plusplus", "fisher"])
def test_tensors_without_statistics_are_averaged(method):
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])
    out = run(method, [a, b], model_params=[{"weight": 1.0}, {"weight": 3.0}], stats=[None, None])
    torch.testing.assert_close(out, (a + 3 * b) / 4, **TOL)


# ---------------------------------------------------------------- Fisher


def fishers(*pairs):
    return [Statistic(torch.tensor(f), norm=n) for f, n in pairs]


def test_fisher_picks_each_entry_from_the_model_that_knows_it():
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([10.0, 20.0])
    out = run("fisher", [a, b], stats=fishers(([1.0, 0.0], 1.0), ([0.0, 1.0], 1.0)), normalize=False, minimal_fisher_weight=0.0)
    torch.testing.assert_close(out, torch.tensor([1.0, 20.0]))


def test_fisher_epsilon_and_normalisation_by_the_models_total_norm():
    a, b = torch.tensor([1.0]), torch.tensor([4.0])
    eps = 0.5
    # c₁ ∝ 1/(2+ε) = 0.4, c₂ ∝ 1/(1+ε) = 2/3; θ = Σcᵢ(Fᵢ+ε)θᵢ / Σcᵢ(Fᵢ+ε) with F = 1 and 0.5
    out = run("fisher", [a, b], stats=fishers(([1.0], 2.0), ([0.5], 1.0)), minimal_fisher_weight=eps)
    c1, c2 = 0.4, 2 / 3
    expected = (c1 * 1.5 * 1 + c2 * 1.0 * 4) / (c1 * 1.5 + c2 * 1.0)
    torch.testing.assert_close(out, torch.tensor([expected]), **TOL)


def test_fisher_per_model_weights_scale_the_coefficients():
    a, b = torch.tensor([0.0]), torch.tensor([1.0])
    out = run("fisher", [a, b], model_params=[{"weight": 1.0}, {"weight": 3.0}], stats=fishers(([1.0], 1.0), ([1.0], 1.0)), normalize=False)
    torch.testing.assert_close(out, torch.tensor([0.75]), **TOL)


# ---------------------------------------------------------------- TSV-M


def test_tsvm_of_task_vectors_in_orthogonal_subspaces_is_their_sum():
    base = torch.full((4, 4), 0.5)
    e = torch.eye(4)
    d1 = 3 * torch.outer(e[0], e[1]) + torch.outer(e[1], e[0])  # rank 2 = k = ⌊4/2⌋: nothing is cut
    d2 = 2 * torch.outer(e[2], e[3]) + 0.5 * torch.outer(e[3], e[2])
    out = run("tsvm", [base + d1, base + d2], base)
    torch.testing.assert_close(out, base + d1 + d2, **TOL)


def fusionbench_tsvm(deltas):
    """TSV-M as FusionBench writes it: zero-padded r-column concatenations, polar factors of those."""
    r = min(deltas[0].shape)
    k = int(r * (1 / len(deltas)))
    su, ss, sv = (
        torch.zeros(deltas[0].shape[0], r, dtype=torch.float64),
        torch.zeros(r, dtype=torch.float64),
        torch.zeros(r, deltas[0].shape[1], dtype=torch.float64),
    )
    for i, d in enumerate(deltas):
        u, s, vh = torch.linalg.svd(d, full_matrices=False)
        su[:, i * k : (i + 1) * k], ss[i * k : (i + 1) * k], sv[i * k : (i + 1) * k] = u[:, :k], s[:k], vh[:k]
    uu, _, vu = torch.linalg.svd(su, full_matrices=False)
    uv, _, vv = torch.linalg.svd(sv, full_matrices=False)
    return torch.linalg.multi_dot((uu, vu, torch.diag(ss), uv, vv))


@pytest.mark.parametrize("shape,count", [((7, 5), 2), ((6, 9), 3), ((8, 8), 3)])
def test_tsvm_matches_the_zero_padded_reference(shape, count):
    g = torch.Generator().manual_seed(2)
    base = torch.randn(*shape, generator=g, dtype=torch.float64)
    ts = [base + 0.1 * torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(count)]
    out = run("tsvm", ts, base, **{"lambda": 0.7})
    torch.testing.assert_close(out, base + 0.7 * fusionbench_tsvm([t - base for t in ts]))


def test_spectral_methods_average_vectors_and_too_small_matrices():
    base = torch.zeros(3)
    ts = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0])]
    for method in ("tsvm", "iso_c", "iso_cts", "wudi"):
        torch.testing.assert_close(run(method, ts, base, **{"lambda": 2.0}), torch.tensor([4.0, 4.0, 4.0]), **TOL)
    narrow = [torch.ones(1, 3), 3 * torch.ones(1, 3)]  # rank 1 < 2 models: ⌊r/T⌋ = 0 components each
    torch.testing.assert_close(run("tsvm", narrow, torch.zeros(1, 3)), 2 * torch.ones(1, 3), **TOL)


# ---------------------------------------------------------------- ISO-C / ISO-CTS


def test_iso_c_flattens_the_spectrum_of_the_sum():
    base = torch.eye(2)
    out = run("iso_c", [base + torch.diag(torch.tensor([2.0, 0.0])), base + torch.diag(torch.tensor([0.0, 4.0]))], base, **{"lambda": 0.5})
    torch.testing.assert_close(out, base + 0.5 * 3 * torch.eye(2), **TOL)


def test_iso_c_keeps_the_singular_vectors_of_the_sum():
    g = torch.Generator().manual_seed(3)
    base = torch.randn(6, 4, generator=g, dtype=torch.float64)
    ts = [base + torch.randn(6, 4, generator=g, dtype=torch.float64) for _ in range(2)]
    delta = run("iso_c", ts, base) - base
    s = torch.linalg.svdvals(delta)
    torch.testing.assert_close(s, torch.full_like(s, torch.linalg.svdvals(sum(t - base for t in ts)).mean().item()))


@pytest.mark.parametrize("rank,fraction,count,expected", [(4, 0.8, 3, 4), (10, 0.8, 2, 8), (768, 0.8, 8, 616), (5, 0.0, 2, 1)])
def test_common_subspace_size_leaves_an_equal_share_per_task(rank, fraction, count, expected):
    assert common_size(rank, fraction, count) == expected
    assert (rank - expected) % count == 0


def fusionbench_iso_cts(deltas, fraction):
    shape, t = deltas[0].shape, len(deltas)
    r = min(shape)
    kc = r - round((r - int(r * fraction)) / t) * t
    n = (r - kc) // t
    u, s, v = torch.linalg.svd(sum(deltas), full_matrices=False)
    cu, cs, cv = torch.zeros(shape[0], r, dtype=u.dtype), torch.zeros(r, dtype=u.dtype), torch.zeros(r, shape[1], dtype=u.dtype)
    for i, d in enumerate(deltas):
        ut, st, vt = torch.linalg.svd(d - u[:, :kc] @ u[:, :kc].T @ d, full_matrices=False)
        cu[:, i * n : (i + 1) * n], cs[i * n : (i + 1) * n], cv[i * n : (i + 1) * n] = ut[:, :n], st[:n], vt[:n]
    cu[:, t * n :], cs[t * n :], cv[t * n :] = u[:, :kc], s[:kc], v[:kc]
    a, _, b = torch.linalg.svd(cu, full_matrices=False)
    c, _, d = torch.linalg.svd(cv, full_matrices=False)
    return (a @ b) @ torch.diag(torch.full_like(cs, cs.mean().item())) @ (c @ d)


@pytest.mark.parametrize("fraction", [0.5, 0.8])
def test_iso_cts_matches_the_reference(fraction):
    g = torch.Generator().manual_seed(4)
    base = torch.randn(9, 8, generator=g, dtype=torch.float64)
    ts = [base + torch.randn(9, 8, generator=g, dtype=torch.float64) for _ in range(3)]
    out = run("iso_cts", ts, base, common_space_fraction=fraction)
    torch.testing.assert_close(out, base + fusionbench_iso_cts([t - base for t in ts], fraction))


def test_iso_cts_with_the_whole_space_common_is_iso_c():
    g = torch.Generator().manual_seed(5)
    base = torch.randn(5, 5, generator=g, dtype=torch.float64)
    ts = [base + torch.randn(5, 5, generator=g, dtype=torch.float64) for _ in range(2)]
    torch.testing.assert_close(run("iso_cts", ts, base, common_space_fraction=1.0), run("iso_c", ts, base))


# ---------------------------------------------------------------- WUDI


def fusionbench_wudi(deltas, steps, lr):
    tvs = torch.stack(deltas)
    tau = torch.nn.Parameter(tvs.sum(0).clone())
    optimizer = torch.optim.Adam([tau], lr=lr, weight_decay=0)
    norms = tvs.reshape(len(deltas), -1).norm(dim=-1).square()
    for _ in range(steps):
        loss = ((tau.unsqueeze(0) - tvs) @ tvs.transpose(1, 2)).square().div(norms[:, None, None]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return tau.detach()


@pytest.mark.parametrize("shape", [(6, 4), (3, 7)])
def test_wudi_matches_autograd_and_torch_adam(shape):
    g = torch.Generator().manual_seed(6)
    base = torch.randn(*shape, generator=g, dtype=torch.float64)
    ts = [base + 0.1 * torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(3)]
    out = run("wudi", ts, base, steps=25.0, lr=0.01)
    torch.testing.assert_close(out, base + fusionbench_wudi([t - base for t in ts], 25, 0.01))


def test_wudi_without_steps_is_task_arithmetic_and_its_steps_lower_the_interference():
    g = torch.Generator().manual_seed(7)
    base = torch.zeros(4, 4, dtype=torch.float64)
    ts = [torch.randn(4, 4, generator=g, dtype=torch.float64) for _ in range(2)]
    torch.testing.assert_close(run("wudi", ts, base, steps=0.0), ts[0] + ts[1])

    def loss(tau):
        return sum(((tau - d) @ d.T).square().sum() / d.square().sum() for d in ts)

    assert loss(run("wudi", ts, base, steps=50.0, lr=0.01)) < loss(ts[0] + ts[1])


def test_spectral_methods_keep_half_precision_and_finish_in_the_compute_dtype():
    base = torch.zeros(4, 4, dtype=torch.bfloat16)
    ts = [torch.eye(4, dtype=torch.bfloat16), 2 * torch.eye(4, dtype=torch.bfloat16)]
    for method in ("tsvm", "iso_c", "iso_cts", "wudi"):
        assert run(method, ts, base).dtype == torch.bfloat16


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "method,params,model_params,match",
    [
        ("regmean", {"alpha": 1.5}, {}, "alpha = 1.5"),
        ("fisher", {}, {"weight": 0.0}, "weight = 0.0"),
        ("iso_cts", {"common_space_fraction": -0.1}, {}, "common_space_fraction"),
        ("wudi", {"steps": -1.0}, {}, "steps"),
        ("tsvm", {}, {"weight": -1.0}, "weight"),
    ],
)
def test_out_of_range_values_are_refused(method, params, model_params, match):
    spec = METHODS[method]
    full = {p.name: p.default for p in spec.params} | params
    with pytest.raises(BadInput, match=match):
        spec.check_values([{"weight": 1.0} | model_params], full, models=["a"])


def test_registry_says_which_methods_learn_from_data():
    assert {m for m, s in METHODS.items() if s.calibration} == {"regmean", "regmean_plusplus", "fisher"}
    assert {m: METHODS[m].base for m in ("tsvm", "iso_c", "iso_cts", "wudi")} == dict.fromkeys(
        ("tsvm", "iso_c", "iso_cts", "wudi"), "required"
    )


def test_regmean_of_a_weight_stored_inputs_first_is_the_same_merge_transposed():
    g = torch.Generator().manual_seed(8)
    ws = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(2)]
    xs = [torch.randn(9, 3, generator=g, dtype=torch.float64) for _ in range(2)]
    gs = [x.T @ x for x in xs]
    linear = run("regmean", ws, stats=[Statistic(m) for m in gs], alpha=0.8)
    conv1d = run("regmean", [w.T for w in ws], stats=[Statistic(m, inputs_first=True) for m in gs], alpha=0.8)
    torch.testing.assert_close(conv1d, linear.T)
