"""The merge methods against their formulas (tests/merge/methods_reference.py), hand-computed
edge cases, the randomness contract of DARE/DELLA, and every validation error."""

from __future__ import annotations

import math

import pytest
import torch

from tests.merge import methods_reference as ref
from tools.errors import BadInput
from tools.merge.methods import METHODS, TensorTask, get_method
from tools.merge.methods.select import SMALL, rank_window

TOL = dict(rtol=1e-5, atol=1e-5)


def run(name, tensors, base=None, model_params=None, seed=0, **params):
    """Call a registry method the way the executor does: defaults filled in, checked first."""
    spec = METHODS[name]
    full = {p.name: p.default for p in spec.params} | params
    mps = [{p.name: p.default for p in spec.model_params} | dict(mp) for mp in (model_params or [{}] * len(tensors))]
    spec.check_values(mps, full)
    generator = torch.Generator().manual_seed(seed) if spec.random else None
    return spec.fn(TensorTask("w", list(tensors), base, mps, full, generator))


@pytest.fixture
def models():
    """A base and three fine-tune-like models with continuous (tie-free) task vectors."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(24, 16, generator=g, dtype=torch.float64).float()
    return base, [base + 0.1 * torch.randn(24, 16, generator=g) for _ in range(3)]


def deltas_of(base, tensors):
    return [t.double() - base.double() for t in tensors]


# ---------------------------------------------------------------- linear / task arithmetic


def test_linear_is_weighted_mean_and_plain_sum_without_normalize(models):
    _, ts = models
    w = [0.2, 0.5, 1.3]
    expected = sum(wi * t.double() for wi, t in zip(w, ts))
    mp = [{"weight": x} for x in w]
    torch.testing.assert_close(run("linear", ts, model_params=mp).double(), expected / sum(w), **TOL)
    torch.testing.assert_close(run("linear", ts, model_params=mp, normalize=False).double(), expected, **TOL)


@pytest.mark.parametrize("normalize,lam", [(False, 1.0), (True, 1.0), (False, 0.7)])
def test_task_arithmetic(models, normalize, lam):
    base, ts = models
    w = [0.5, -0.25, 1.0]
    out = run("task_arithmetic", ts, base, [{"weight": x} for x in w], normalize=normalize, **{"lambda": lam})
    expected = ref.combine(base.double(), deltas_of(base, ts), w, elect=False, normalize=normalize, lam=lam)
    torch.testing.assert_close(out.double(), expected, **TOL)


# ---------------------------------------------------------------- TIES family


@pytest.mark.parametrize("normalize,lam,rescale", [(True, 1.0, False), (False, 1.3, False), (True, 1.0, True)])
def test_ties_matches_formula(models, normalize, lam, rescale):
    base, ts = models
    mp = [{"weight": 0.7, "density": 0.5}, {"weight": -0.4, "density": 0.3}, {"weight": 1.0, "density": 0.9}]
    out = run("ties", ts, base, mp, normalize=normalize, rescale=rescale, **{"lambda": lam})
    sparse = [ref.top_fraction(d, p["density"]) for d, p in zip(deltas_of(base, ts), mp)]
    if rescale:
        sparse = [ref.l1_rescaled(d, s) for d, s in zip(deltas_of(base, ts), sparse)]
    expected = ref.combine(base.double(), sparse, [p["weight"] for p in mp], elect=True, normalize=normalize, lam=lam)
    torch.testing.assert_close(out.double(), expected, **TOL)


def test_ties_hand_computed():
    base = torch.zeros(4)
    a, b = torch.tensor([3.0, -1.0, 0.5, 0.0]), torch.tensor([-2.0, 2.0, 0.5, 1.0])
    # top-2 |δ|: a keeps (3, -1), b keeps (-2, 2); sums (1, 1, 0, 0) elect + everywhere (0 counts as +);
    # element 0 keeps a's 3, element 1 keeps b's 2, elements 2-3 keep nothing: divisor 0 -> 1.
    out = run("ties", [a, b], base, [{"weight": 1.0, "density": 0.5}] * 2)
    assert out.tolist() == [3.0, 2.0, 0.0, 0.0]


def test_ties_zero_sum_elects_plus_and_drops_zero_deltas():
    base = torch.zeros(1)
    out = run("ties", [torch.tensor([1.0]), torch.tensor([-1.0]), torch.tensor([0.0])], base, [{"weight": 1.0}] * 3)
    assert out.tolist() == [1.0]  # + elected, only the +1 kept: 1 / 1 (the zero's weight is not counted)


def test_ties_keeps_floor_density_n_but_at_least_one():
    base = torch.zeros(10)
    delta = torch.arange(1.0, 11.0)
    kept = run("ties", [delta], base, [{"weight": 1.0, "density": 0.35}], normalize=False)
    assert kept.tolist() == [0.0] * 7 + [8.0, 9.0, 10.0]  # ⌊3.5⌋ = 3
    kept = run("ties", [delta], base, [{"weight": 1.0, "density": 0.01}], normalize=False)
    assert kept.tolist() == [0.0] * 9 + [10.0]


def test_equal_magnitudes_at_the_threshold_keep_exactly_k_later_indices_first():
    base = torch.zeros(6)
    delta = torch.tensor([1.0, -1.0, 2.0, 1.0, -1.0, 0.5])
    kept = run("ties", [delta], base, [{"weight": 1.0, "density": 0.5}], normalize=False)
    # k = 3: the 2, then two of the four 1s: the last two in flat order (indices 3 and 4)
    assert kept.tolist() == [0.0, 0.0, 2.0, 1.0, -1.0, 0.0]


@pytest.mark.parametrize("density,gamma", [(0.5, 0.2), (0.9, 0.2), (0.3, 0.0)])
def test_breadcrumbs_window_by_hand(density, gamma):
    base = torch.zeros(10)
    delta = torch.arange(1.0, 11.0) * torch.tensor([1.0, -1.0] * 5)
    out = run("breadcrumbs", [delta], base, [{"weight": 1.0, "density": density, "gamma": gamma}])
    keep, top = math.floor(density * 10), math.floor(gamma * 10)
    bottom = max(0, 10 - keep - top)
    expected = [v if bottom < i + 1 <= bottom + keep else 0.0 for i, v in enumerate(delta.tolist())]
    assert out.tolist() == expected  # (0.5, 0.2): drops the 2 largest and 3 smallest, keeps |4|..|8|


@pytest.mark.parametrize("name,elect", [("breadcrumbs", False), ("breadcrumbs_ties", True)])
def test_breadcrumbs_matches_formula(models, name, elect):
    base, ts = models
    mp = [{"weight": 0.6, "density": 0.5, "gamma": 0.1}, {"weight": 0.9, "density": 0.8}, {"weight": -0.3, "density": 0.2, "gamma": 0.3}]
    out = run(name, ts, base, mp, normalize=True)
    sparse = [ref.breadcrumb(d, p["density"], p.get("gamma", 0.01)) for d, p in zip(deltas_of(base, ts), mp)]
    expected = ref.combine(base.double(), sparse, [p["weight"] for p in mp], elect=elect, normalize=True)
    torch.testing.assert_close(out.double(), expected, **TOL)


def test_density_one_means_no_sparsification(models):
    base, ts = models
    mp = [{"weight": 0.5, "density": 1.0}] * 3
    expected = ref.combine(base.double(), deltas_of(base, ts), [0.5] * 3, elect=True, normalize=True)
    for name in ("ties", "dare_ties", "della", "breadcrumbs_ties"):
        torch.testing.assert_close(run(name, ts, base, mp, normalize=True).double(), expected, **TOL)


@pytest.mark.parametrize("n", [SMALL + 4099, 3 * SMALL])
def test_threshold_selection_equals_a_stable_sort_on_large_tensors_with_ties(n):
    g = torch.Generator().manual_seed(n)
    w = torch.randint(0, 2000, (n,), generator=g).float()  # many equal values at every threshold
    for start, stop in [(n // 2, n), (n // 10, n - n // 7), (0, 17), (n - 1, n)]:
        order = torch.sort(w, stable=True).indices
        expected = torch.zeros(n, dtype=torch.bool)
        expected[order[start:stop]] = True
        assert torch.equal(rank_window(w, start, stop), expected), (start, stop)


# ---------------------------------------------------------------- slerp / nuslerp


@pytest.mark.parametrize("t", [0.0, 0.3, 0.5, 1.0])
def test_slerp_matches_formula(models, t):
    base, ts = models
    torch.testing.assert_close(run("slerp", ts[:1], base, [{}], t=t).double(), ref.slerp(t, base, ts[0]), **TOL)
    if t == 0.0:
        assert torch.equal(run("slerp", ts[:1], base, [{}], t=t), base)


def test_slerp_falls_back_to_lerp_for_parallel_and_antiparallel_and_keeps_dtype():
    a = torch.linspace(-1, 1, 50)
    for b in (2 * a, -3 * a, a + 1e-4):
        torch.testing.assert_close(run("slerp", [b], a, [{}], t=0.25), 0.75 * a + 0.25 * b, **TOL)
    half = run("slerp", [(2 * a).bfloat16()], a.bfloat16(), [{}], t=0.5)
    assert half.dtype == torch.bfloat16


def test_slerp_orthogonal_vectors_follow_the_arc():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    out = run("slerp", [b], a, [{}], t=0.5)
    torch.testing.assert_close(out, torch.tensor([math.sqrt(0.5)] * 2))


def test_nuslerp_flat_with_and_without_base(models):
    base, ts = models
    mp = [{"weight": 1.0}, {"weight": 3.0}]  # t = 3/4
    torch.testing.assert_close(run("nuslerp", ts[:2], None, mp).double(), ref.slerp(0.75, ts[0], ts[1]), **TOL)
    with_base = run("nuslerp", ts[:2], base, mp).double()
    torch.testing.assert_close(with_base, base.double() + ref.slerp(0.75, ts[0] - base, ts[1] - base), **TOL)


@pytest.mark.parametrize("row_wise", [False, True])
def test_nuslerp_per_row_or_column_when_not_flattened(models, row_wise):
    _, ts = models
    a, b = ts[0], ts[1]
    out = run("nuslerp", [a, b], None, [{"weight": 1.0}, {"weight": 1.0}], nuslerp_flatten=False, nuslerp_row_wise=row_wise)
    if row_wise:  # mergekit's naming: row_wise interpolates columns (vectors along dim 0)
        expected = torch.stack([ref.slerp(0.5, a[:, j], b[:, j]) for j in range(a.shape[1])], dim=1)
    else:
        expected = torch.stack([ref.slerp(0.5, a[i], b[i]) for i in range(a.shape[0])])
    torch.testing.assert_close(out.double(), expected, **TOL)


def test_nuslerp_zero_weight_sum_interpolates_halfway():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    torch.testing.assert_close(run("nuslerp", [a, b], None, [{"weight": 1.0}, {"weight": -1.0}]), torch.tensor([math.sqrt(0.5)] * 2))


# ---------------------------------------------------------------- model_stock / passthrough


def test_model_stock_matches_formula(models):
    base, ts = models
    torch.testing.assert_close(run("model_stock", ts, base, [{}] * 3).double(), ref.model_stock(base, ts), **TOL)


def test_model_stock_hand_cases():
    base = torch.zeros(2)
    # orthogonal task vectors: c = 0, t = 0 -> the base
    assert run("model_stock", [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])], base, [{}] * 2).tolist() == [0.0, 0.0]
    # identical task vectors: c = 1, t = 1 -> their mean
    same = torch.tensor([2.0, 4.0])
    torch.testing.assert_close(run("model_stock", [same, same], base, [{}] * 2), same)
    # opposite task vectors: 1 + (N-1)c = 0 is singular -> the base
    assert run("model_stock", [same, -same], base, [{}] * 2).tolist() == [0.0, 0.0]


def test_model_stock_filter_wise_is_per_row(models):
    base, ts = models
    out = run("model_stock", ts, base, [{}] * 3, filter_wise=True).double()
    expected = torch.stack([ref.model_stock(base[i], [t[i] for t in ts]) for i in range(base.shape[0])])
    torch.testing.assert_close(out, expected, **TOL)


def test_passthrough_scales_only_when_asked(models):
    _, ts = models
    assert run("passthrough", ts[:1], None, [{}]) is ts[0]
    torch.testing.assert_close(run("passthrough", ts[:1], None, [{"scale": 0.5}]), ts[0] * 0.5)


# ---------------------------------------------------------------- DARE / DELLA randomness


def big_delta(n=200_000):
    g = torch.Generator().manual_seed(1)
    return torch.zeros(n), torch.randn(n, generator=g)


@pytest.mark.parametrize("density", [0.1, 0.5, 0.9])
def test_dare_keeps_a_density_fraction_and_rescales_l1(density):
    base, delta = big_delta()
    out = run("dare_linear", [delta], base, [{"weight": 1.0, "density": density}], seed=3)
    kept = out != 0
    n = delta.numel()
    assert abs(int(kept.sum()) - density * n) < 5 * math.sqrt(n * density * (1 - density))
    torch.testing.assert_close(out.abs().sum(), delta.abs().sum(), rtol=1e-4, atol=0)
    torch.testing.assert_close(out[kept], delta[kept] * (delta.abs().sum() / delta[kept].abs().sum()), rtol=1e-5, atol=1e-6)


def test_dare_without_rescale_keeps_values_unchanged():
    base, delta = big_delta(10_000)
    out = run("dare_linear", [delta], base, [{"weight": 1.0, "density": 0.3}], rescale=False)
    kept = out != 0
    assert torch.equal(out[kept], delta[kept])


@pytest.mark.parametrize("name", ["dare_ties", "dare_linear", "della", "della_linear"])
def test_random_methods_are_reproducible_per_seed(models, name):
    base, ts = models
    mp = [{"weight": 0.5, "density": 0.5}] * 3
    first, again, other = (run(name, ts, base, mp, seed=s) for s in (7, 7, 8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_della_keep_probability_rises_with_rank_per_row():
    rows, m = 400, 500
    g = torch.Generator().manual_seed(2)
    magnitude = torch.arange(1.0, m + 1).repeat(rows, 1)
    sign = torch.where(torch.rand(rows, m, generator=g) < 0.5, -1.0, 1.0)
    delta = magnitude[:, torch.randperm(m, generator=g)] * sign  # each row holds every rank once
    out = run("della_linear", [delta], torch.zeros(rows, m), [{"weight": 1.0, "density": 0.5, "epsilon": 0.3}])
    kept = (out != 0).double()
    by_rank = torch.zeros(m, dtype=torch.float64).index_add_(0, delta.abs().long().reshape(-1) - 1, kept.reshape(-1)) / rows
    expected = 0.2 + 0.6 * torch.arange(m, dtype=torch.float64) / (m - 1)
    low, high = by_rank[:50].mean(), by_rank[-50:].mean()
    assert abs(low - expected[:50].mean()) < 0.02 and abs(high - expected[-50:].mean()) < 0.02
    assert abs(kept.mean() - 0.5) < 0.01
    torch.testing.assert_close(out.abs().sum(), delta.abs().sum(), rtol=1e-4, atol=0)


def test_della_on_one_entry_rows_keeps_with_probability_density():
    base, delta = torch.zeros(20_000, 1), torch.ones(20_000, 1)
    out = run("della_linear", [delta], base, [{"weight": 1.0, "density": 0.3, "epsilon": 0.1}], rescale=False)
    assert abs(float((out != 0).double().mean()) - 0.3) < 0.02


def test_dare_ties_drops_then_elects(models):
    """The documented draw order: one uniform float32 draw per entry, model after model, from the
    tensor's generator; entry kept when its draw < density."""
    base, ts = models
    mp = [{"weight": 0.5, "density": 0.6}, {"weight": 0.8, "density": 0.4}, {"weight": 1.0, "density": 0.7}]
    out = run("dare_ties", ts, base, mp, seed=11)
    g = torch.Generator().manual_seed(11)
    sparse = []
    for d, p in zip(deltas_of(base, ts), mp):
        kept = d * (torch.rand(d.shape, generator=g) < p["density"])
        sparse.append(ref.l1_rescaled(d, kept))
    expected = ref.combine(base.double(), sparse, [p["weight"] for p in mp], elect=True, normalize=False)
    torch.testing.assert_close(out.double(), expected, **TOL)


# ---------------------------------------------------------------- contract: purity, dtypes


def _example_call(name, ts, base):
    spec = METHODS[name]
    n = 1 if spec.max_models == 1 else 2 if spec.max_models == 2 else 3
    mp = [{"weight": 0.6, "density": 0.5}] * n
    params = {"t": 0.4} if name in ("slerp", "nearswap") else {}
    mp = [{k: v for k, v in p.items() if k in {q.name for q in spec.model_params}} for p in mp]
    return run(name, ts[:n], None if spec.base == "none" else base, mp, seed=1, **params)


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_methods_never_touch_inputs_and_keep_the_dtype(models, name, dtype):
    base, ts = models
    base, ts = base.to(dtype), [t.to(dtype) for t in ts]
    copies = [base.clone()] + [t.clone() for t in ts]
    out = _example_call(name, ts, base)
    assert out.dtype == dtype and out.shape == base.shape and bool(torch.isfinite(out).all())
    assert all(torch.equal(a, b) for a, b in zip(copies, [base, *ts]))


def test_every_method_has_mergekit_parameter_names_and_defaults():
    table = {name: ({p.name: p.default for p in s.model_params}, {p.name: p.default for p in s.params}) for name, s in METHODS.items()}
    ta = {"normalize": False, "rescale": False, "lambda": 1.0, "int8_mask": False}
    assert table["linear"] == ({"weight": None}, {"normalize": True})
    assert table["task_arithmetic"] == ({"weight": None, "density": 1.0}, ta)
    assert table["ties"][1] == ta | {"normalize": True}
    assert table["dare_ties"][1] == ta | {"rescale": True} == table["dare_linear"][1]
    assert table["breadcrumbs"] == ({"weight": None, "density": 1.0, "gamma": 0.01}, ta) == table["breadcrumbs_ties"]
    assert table["della"] == ({"weight": None, "density": 1.0, "epsilon": 0.15}, ta | {"normalize": True, "rescale": True})
    assert table["della_linear"] == ({"weight": None, "density": 1.0, "epsilon": 0.15}, ta | {"rescale": True})
    assert table["slerp"] == ({}, {"t": None}) and METHODS["slerp"].params[0].required
    assert table["nuslerp"] == ({"weight": None}, {"nuslerp_flatten": True, "nuslerp_row_wise": False})
    assert table["model_stock"] == ({}, {"filter_wise": False})
    assert table["passthrough"] == ({"scale": None}, {})
    assert {n for n, s in METHODS.items() if s.random} == {"dare_ties", "dare_linear", "della", "della_linear"}


# ---------------------------------------------------------------- validation


def bad(call, *fragments):
    with pytest.raises(BadInput) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5])
def test_density_outside_0_1_is_refused(density):
    spec = get_method("ties")
    bad(
        lambda: spec.check_values(
            [{"weight": 1.0, "density": density}],
            {"normalize": True, "rescale": False, "lambda": 1.0, "int8_mask": False},
            models=["chat"],
            tensor="model.layers.0.mlp.up_proj.weight",
        ),
        "model chat",
        "density",
        repr(density),
        "(0, 1]",
        "model.layers.0.mlp.up_proj.weight",
    )


@pytest.mark.parametrize("density,epsilon", [(0.1, 0.15), (0.9, 0.15), (0.5, 0.5)])
def test_della_density_plus_minus_epsilon_outside_0_1_is_refused(density, epsilon):
    spec = get_method("della")
    bad(
        lambda: spec.check_values(
            [{"weight": 1.0, "density": density, "epsilon": epsilon}], {"normalize": True, "rescale": True, "lambda": 1.0}, models=["m"]
        ),
        "model m",
        "density ± epsilon",
        f"{density:g} ± {epsilon:g}",
        "(0, 1]",
    )


def test_della_bounds_that_fit_pass_including_density_one():
    spec = get_method("della")
    for density, epsilon in [(0.5, 0.15), (0.85, 0.15), (1.0, 0.15), (0.15, 0.1)]:
        spec.check_values([{"weight": 1.0, "density": density, "epsilon": epsilon}], {"normalize": True})


def test_missing_required_parameters_are_named():
    bad(
        lambda: get_method("linear").check_values([{"weight": 1.0}, {"weight": None}], {"normalize": True}, models=["a", "b"]),
        "model b",
        "weight",
        "missing",
    )
    bad(
        lambda: get_method("slerp").check_values([{}], {"t": None}, tensor="lm_head.weight"),
        "merge_method slerp",
        "parameter t",
        "missing",
        "lm_head.weight",
    )


def test_unknown_parameter_names_are_refused_with_the_accepted_list():
    bad(
        lambda: get_method("slerp").check_names(["t", "weight"], "models[1].parameters"),
        "field models[1].parameters.weight",
        "merge_method slerp",
        "accepted: t",
    )
    bad(lambda: get_method("linear").check_names(["density"]), "parameters.density", "accepted: normalize, weight")
    get_method("ties").check_names(["weight", "density", "int8_mask", "lambda"])


@pytest.mark.parametrize(
    "name,count,has_base,fragments",
    [
        ("slerp", 2, True, ["slerp", "exactly 1", "besides the base", "got 2"]),
        ("slerp", 1, False, ["field base_model", "slerp needs a base_model"]),
        ("model_stock", 1, True, ["model_stock", "at least 2", "got 1"]),
        ("passthrough", 2, False, ["passthrough", "exactly 1", "got 2"]),
        ("nuslerp", 3, False, ["nuslerp", "exactly 2", "got 3"]),
        ("ties", 2, False, ["ties needs a base_model"]),
    ],
)
def test_wrong_number_of_models_is_refused(name, count, has_base, fragments):
    bad(lambda: get_method(name).check_inputs(count, has_base, "slices[0]"), *fragments)


def test_counts_that_fit_pass():
    get_method("slerp").check_inputs(1, True)
    get_method("nuslerp").check_inputs(2, False)
    get_method("model_stock").check_inputs(5, True)
    get_method("linear").check_inputs(1, False)


def test_linear_zero_weight_sum_with_normalize_is_refused():
    spec = get_method("linear")
    bad(
        lambda: spec.check_values([{"weight": 1.0}, {"weight": -1.0}], {"normalize": True}, models=["a", "b"]),
        "weights of model a, model b sum to 0",
        "normalize: false",
    )
    spec.check_values([{"weight": 1.0}, {"weight": -1.0}], {"normalize": False})


def test_gamma_outside_0_1_is_refused():
    bad(lambda: get_method("breadcrumbs").check_values([{"weight": 1.0, "density": 0.5, "gamma": -0.1}], {}), "gamma", "[0, 1]")


def test_unknown_method_lists_the_known_ones():
    bad(lambda: get_method("frankenmerge"), "field merge_method", "'frankenmerge'", "ties")


def test_ties_on_a_large_fine_tune_like_tensor_with_equal_magnitudes():
    """The bracketed streaming selection (n > SMALL), ties at the threshold, and L1 rescale."""
    g = torch.Generator().manual_seed(5)
    base = torch.randn(SMALL + 20_000, generator=g)
    ts = [base + 1e-3 * torch.randn(base.shape, generator=g) for _ in range(2)]  # limited-precision δ
    mp = [{"weight": 0.6, "density": 0.4}, {"weight": 0.9, "density": 0.7}]
    deltas = deltas_of(base, ts)
    assert len(set(deltas[0].abs().tolist())) < base.numel()  # equal magnitudes do occur
    out = run("ties", ts, base, mp, rescale=True)
    sparse = [ref.l1_rescaled(d, ref.top_fraction(d, p["density"])) for d, p in zip(deltas, mp)]
    expected = ref.combine(base.double(), sparse, [0.6, 0.9], elect=True, normalize=True)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-6)


def test_float16_rescale_does_not_overflow_into_nan():
    base, delta = torch.zeros(100_000, dtype=torch.float16), torch.ones(100_000, dtype=torch.float16)  # L1 = 1e5 > 65504
    out = run("dare_linear", [delta], base, [{"weight": 1.0, "density": 0.5}])
    assert bool(torch.isfinite(out).all())
    assert abs(float(out.float().sum()) - 1e5) < 1e3
