"""The second set of methods (sce, multislerp, arcee_fusion, nearswap, karcher, ram, ramplus_tl)
against their formulas written out plainly in float64, hand-computed cases and their errors."""

from __future__ import annotations

import math

import pytest
import torch

from tests.merge.test_methods import TOL, run
from tools.errors import BadInput


@pytest.fixture
def models():
    g = torch.Generator().manual_seed(3)
    base = torch.randn(12, 10, generator=g)
    return base, [base + 0.1 * torch.randn(12, 10, generator=g) for _ in range(3)]


def test_sce_weights_by_task_vector_energy_and_erases_minority_signs(models):
    base, ts = models
    deltas = [t.double() - base.double() for t in ts]
    energy = torch.tensor([float((d**2).mean()) for d in deltas])
    weights = energy / energy.sum()
    elected = torch.where(sum(deltas) >= 0, 1.0, -1.0).double()
    num, den = torch.zeros_like(deltas[0]), torch.zeros_like(deltas[0])
    for w, d in zip(weights, deltas):
        agree = (torch.sign(d) == elected).double()
        num += w * agree * d
        den += w * agree
    expected = base.double() + num / den.clamp(min=1e-6)
    torch.testing.assert_close(run("sce", ts, base).double(), expected, **TOL)


def test_sce_select_topk_keeps_the_highest_variance_entries(models):
    base, ts = models
    deltas = torch.stack([t - base for t in ts])
    variance = deltas.double().var(dim=0, unbiased=False).reshape(-1)
    keep = torch.zeros_like(variance, dtype=torch.bool)
    keep[variance.argsort(descending=True)[: int(0.25 * variance.numel())]] = True
    out = run("sce", ts, base, select_topk=0.25)
    assert torch.equal((out != base).reshape(-1), keep)


def _multislerp_reference(points, weights):
    points = [p.double().reshape(-1) for p in points]
    w = torch.tensor(weights, dtype=torch.float64) / sum(weights)
    norms = [p.norm() for p in points]
    units = [p / (n + 1e-8) for p, n in zip(points, norms)]
    mean = sum(wi * u for wi, u in zip(w, units))
    mean = mean / mean.norm()
    tangent = sum(wi * (u - (u @ mean) * mean) for wi, u in zip(w, units))
    length = tangent.norm() + 1e-8
    return (mean * math.cos(length) + tangent * math.sin(length) / length) * sum(wi * n for wi, n in zip(w, norms))


def test_multislerp_with_and_without_base(models):
    base, ts = models
    weights = [0.5, 0.3, 0.2]
    plain = run("multislerp", ts, None, [{"weight": w} for w in weights])
    torch.testing.assert_close(plain.double().reshape(-1), _multislerp_reference(ts, weights), **TOL)
    with_base = run("multislerp", ts, base, [{"weight": w} for w in weights])
    expected = _multislerp_reference([t - base for t in ts], weights) + base.double().reshape(-1)
    torch.testing.assert_close(with_base.double().reshape(-1), expected, **TOL)


def test_multislerp_of_orthogonal_unit_vectors_is_their_geodesic_midpoint():
    out = run("multislerp", [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])], None, [{"weight": 1.0}, {"weight": 1.0}])
    torch.testing.assert_close(out, torch.tensor([1.0, 1.0]) / math.sqrt(2), **TOL)


def test_multislerp_refuses_balanced_out_inputs_and_zero_weight_sums():
    a = torch.tensor([1.0, 2.0])
    with pytest.raises(BadInput, match="tensor w: multislerp inputs balance out"):
        run("multislerp", [a, -a, a * 0 + torch.tensor([2.0, -1.0]), -torch.tensor([2.0, -1.0])], None, [{"weight": 1.0}] * 4)
    lerped = run("multislerp", [a, -a], None, [{"weight": 1.0}, {"weight": 1.0}])
    torch.testing.assert_close(lerped, torch.zeros(2))
    with pytest.raises(BadInput, match="sum to 0 with normalize_weights"):
        run("multislerp", [a, 2 * a], None, [{"weight": 1.0}, {"weight": -1.0}])


def test_arcee_fusion_keeps_the_outliers_of_its_importance_scores(models):
    base, (other, *_) = models
    p, q = torch.softmax(other.double(), -1) + 1e-8, torch.softmax(base.double(), -1) + 1e-8
    importance = (other.double() - base.double()).abs() * (p * (p / q).log()).sum(-1, keepdim=True)
    ordered = importance.reshape(-1).sort().values
    q1, q2, q3 = (ordered[int(f * (ordered.numel() - 1))] for f in (0.25, 0.5, 0.75))
    keep = importance >= q2 + 1.5 * (q3 - q1)
    out = run("arcee_fusion", [other], base)
    assert 0 < int(keep.sum()) < keep.numel()
    torch.testing.assert_close(out, torch.where(keep, other, base), rtol=0, atol=0)


def test_nearswap_takes_the_other_value_where_it_is_within_t():
    base, other = torch.tensor([0.0, 0.0, 0.0, 1.0]), torch.tensor([0.005, 0.02, -0.5, 1.0])
    out = run("nearswap", [other], base, t=0.01)
    # weights clamp(t/|diff|, 0, 1): 1, 0.5, 0.02, 1 (equal entries: t/1e-6, clamped to 1)
    torch.testing.assert_close(out, torch.tensor([0.005, 0.01, -0.01, 1.0]), **TOL)


def test_karcher_of_two_orthogonal_vectors_is_the_midpoint_at_the_mean_norm():
    out = run("karcher", [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])], max_iter=20)
    torch.testing.assert_close(out, torch.tensor([1.5, 1.5]) / math.sqrt(2), **TOL)


def test_karcher_converges_to_the_point_minimising_squared_geodesic_distance(models):
    _, ts = models
    out = run("karcher", ts, max_iter=100, tol=1e-9)
    mean = out.double().reshape(-1) / out.double().norm()
    units = [t.double().reshape(-1) / t.double().norm() for t in ts]
    gradient = sum(
        torch.acos((mean @ u).clamp(-1, 1)) / torch.sin(torch.acos((mean @ u).clamp(-1, 1))) * (u - (mean @ u) * mean) for u in units
    )
    assert float(gradient.norm()) < 1e-4
    assert math.isclose(float(out.double().norm()), sum(float(t.double().norm()) for t in ts) / 3, rel_tol=1e-5)


def test_ram_averages_shared_changes_and_keeps_unique_ones():
    base = torch.zeros(5)
    a = torch.tensor([0.4, 0.2, 0.0, 1e-6, 0.3])
    b = torch.tensor([0.0, 0.6, 0.0, 0.0, -0.1])
    out = run("ram", [a, b], base, epsilon=1e-5)
    torch.testing.assert_close(out, torch.tensor([0.4, 0.4, 0.0, 0.0, 0.1]), **TOL)


def test_ramplus_tl_boosts_unique_changes_by_the_shared_to_unique_ratio():
    base = torch.zeros(5)
    a = torch.tensor([0.4, 0.2, 0.1, 0.0, 0.0])  # unique: 2 entries, shared: 1
    b = torch.tensor([0.0, 0.6, 0.0, 0.5, 0.0])  # unique: 1, shared: 1
    out = run("ramplus_tl", [a, b], base, r=0.5, alpha=0.8)
    boost_a, boost_b = 1 + 0.5 * min(1 / 2, 0.8), 1 + 0.5 * min(1 / 1, 0.8)
    torch.testing.assert_close(out, torch.tensor([0.4 * boost_a, 0.4, 0.1 * boost_a, 0.5 * boost_b, 0.0]), **TOL)


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("sce", {"select_topk": 1.5}, "select_topk = 1.5"),
        ("sce", {"select_topk": 0.0}, "select_topk = 0.0"),
        ("karcher", {"max_iter": -1}, "max_iter = -1"),
        ("ramplus_tl", {"epsilon": 0.0}, "epsilon = 0.0"),
        ("nearswap", {}, "parameter t is missing"),
    ],
)
def test_out_of_range_and_missing_values_are_refused(models, name, params, message):
    base, ts = models
    with pytest.raises(BadInput, match=message):
        run(name, ts[:1], base, **params)
