"""Extreme regimes for every elementwise loss, element by element and relative to the truth:
huge residuals, tiny scales, confident logits, probabilities at the clip, hyper-parameters at
the edge of the compute dtype, nan propagation, and float32 against the float64 truth in
units of float32 precision. Registry-driven: a new loss is held to them by registering it.
Issue-level repros carry their exact values (50-digit computations with mpmath)."""

import numpy as np
import pytest

import lossfn as lf
from samples import ALL_LOSSES, LOSS_IDS, as_tuple, draw, hyper_settings, inputs

DTYPES = (np.float64, np.float32)
ULP32 = np.finfo(np.float32).eps


def regimes(loss, dtype):
    """(name, positional inputs, keywords) at the extremes of the loss's input domains."""
    spec = loss.spec
    rng = np.random.default_rng(5)
    n = 48
    out = []
    huge = [1e4, 1e8, 1e15, 1e18, 1e30] if dtype == np.float32 else [1e4, 1e8, 1e20, 1e50, 1e100]
    target = draw(spec.target, (n,), rng)
    aux = [draw(spec.aux, (n,), rng)] if spec.aux else []
    if spec.pred == "real":
        r = np.repeat(huge, n // len(huge) + 1)[:n] * rng.choice([-1, 1], n)
        out.append(("huge residuals", [target + r, target, *aux], {}))
        if "c" in spec.hyper:
            small = rng.normal(0, 1e4, n)
            out.append(("tiny scale", [target + small, target, *aux], {"c": 1e-12 if dtype == np.float64 else 1e-6}))
    if spec.pred == "logit":
        x = rng.choice([15.0, 20.0, 30.0, 40.0, 60.0, 80.0], n)
        if spec.target == "sign":
            y = rng.choice([-1.0, 1.0], n)
        else:
            y = rng.integers(0, 2, n).astype(float)
        agree = np.where(y > 0, x, -x)  # confident and right
        out.append(("confident logits", [agree, y, *aux[:0]], {}))
        out.append(("confident and wrong", [-agree, y], {}))
    if spec.pred == "prob":
        p = rng.choice([1e-6, 1e-4, 1 - 1e-4, 1 - 1e-6], n)
        y = (p > 0.5).astype(float)
        out.append(("confident probabilities", [p, y], {}))
    if spec.pred == "positive":
        out.append(("huge and tiny", [rng.choice([1e-30, 1e-8, 1e8, 1e30], n), draw(spec.target, (n,), rng), *aux], {}))
    return out


def assert_elementwise_close(got, want, dtype, ulps, what):
    """|got - want| <= ulps * eps(dtype) * |want| per element, where the truth is a normal number
    of the dtype (nothing else: no absolute floor that would hide a tiny wrong value)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    info = np.finfo(dtype)
    ok = np.isfinite(want) & (np.abs(want) < info.max) & ((np.abs(want) > info.tiny * 1e3) | (want == 0))
    assert not np.isnan(got[np.isfinite(want)]).any(), f"{what}: nan where the truth is {want[np.isnan(got) & np.isfinite(want)]}"
    err = np.abs(got[ok] - want[ok])
    bound = ulps * info.eps * np.abs(want[ok]) + (want[ok] == 0) * info.tiny
    bad = err > bound
    assert not bad.any(), (f"{what}: {bad.sum()} elements beyond {ulps} ulp, e.g. got {got[ok][bad][:3]} "
                           f"want {want[ok][bad][:3]}")


# Transcendental losses lose a few ulp in each elementary function and in the exp of a large
# argument (e^(k lb) with lb ~ 46 at r = 1e20): the bound is per loss family, in ulps.
ULPS = {np.float64: 4096, np.float32: 256}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_extreme_regimes_match_the_truth_element_by_element(loss, dtype):
    for hyper in hyper_settings(loss, shape=(48,)):
        if any(isinstance(v, np.ndarray) for v in hyper.values()):
            continue
        for name, args, kw in regimes(loss, dtype):
            kw = dict(hyper, **kw)
            args = [np.asarray(a, dtype=dtype) for a in args]
            ref_args = [a.astype(np.float64) for a in args]
            with np.errstate(all="ignore"):
                want_l = loss.reference(*ref_args, reduction="none", **kw)
                want_g = as_tuple(loss.reference.grad(*ref_args, reduction="none", **kw))
                want_h = loss.reference.hess(*ref_args, reduction="none", **kw)
            where = f"{loss.name} {kw} {name} {np.dtype(dtype).name}"
            assert_elementwise_close(loss(*args, reduction="none", **kw), want_l, dtype, ULPS[dtype], "loss: " + where)
            for g, w in zip(as_tuple(loss.grad(*args, reduction="none", **kw)), want_g):
                assert_elementwise_close(g, w, dtype, ULPS[dtype], "grad: " + where)
            assert_elementwise_close(loss.hess(*args, reduction="none", **kw), want_h, dtype, ULPS[dtype], "hess: " + where)


def assert_float32_close(got, want, what, ulps=64, floor_ulps=4):
    """float32 against the float64 truth: ulps * eps32 relative per element, plus floor_ulps of the
    largest magnitude -- a result that is a difference of input-sized terms (a soft target minus
    a probability, a Hessian at its zero crossing) carries their rounding, not its own."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = np.max(np.abs(want)) if want.size else 0.0
    err = np.abs(got - want)
    bound = ulps * ULP32 * np.abs(want) + floor_ulps * ULP32 * scale
    bad = err > bound
    assert not bad.any(), f"{what}: {bad.sum()} elements, e.g. got {got[bad][:3]} want {want[bad][:3]}"


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_float32_within_ulps_of_the_float64_truth(loss):
    """float32 results against the float64 reference on the float32-rounded inputs."""
    for hyper in hyper_settings(loss):
        args = [a.astype(np.float32) for a in inputs(loss, seed=3)]
        ref_args = [a.astype(np.float64) for a in args]
        kw = dict(hyper, reduction="none")
        where = f"{loss.name} {hyper}"
        assert_float32_close(loss(*args, **kw), loss.reference(*ref_args, **kw), "loss: " + where)
        for g, w in zip(as_tuple(loss.grad(*args, **kw)), as_tuple(loss.reference.grad(*ref_args, **kw))):
            assert_float32_close(g, w, "grad: " + where)
        assert_float32_close(loss.hess(*args, **kw), loss.reference.hess(*ref_args, **kw), "hess: " + where)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_nan_input_gives_nan_gradient(loss):
    args = inputs(loss, shape=(20,))
    args[0][[2, 7]] = np.nan
    for g in as_tuple(loss.grad(*args, reduction="none")):
        assert np.isnan(g[[2, 7]]).all(), f"{loss.name}: {g[[2, 7]]}"
        assert not np.isnan(np.delete(g, [2, 7])).any()


# --- The repros, with their exact values --------------------------------------------------------


def test_general_robust_is_exact_for_huge_residuals():
    l = lf.general_robust(np.array([1e20]), np.array([0.0]), alpha=1.0, reduction="none")
    g = lf.general_robust.grad(np.array([1e20]), np.array([0.0]), alpha=1.0, reduction="none")
    np.testing.assert_allclose(l, [1e20], rtol=1e-15)
    np.testing.assert_allclose(g, [1.0], rtol=1e-15)
    for dtype, r in ((np.float64, [1e8, 1e12, 1e100]), (np.float32, [1e4, 1e8, 1e12])):
        h = lf.general_robust.hess(np.array(r, dtype), np.zeros(3, dtype), alpha=1.0, reduction="none")
        want = (1 + np.array(r) ** 2) ** -1.5
        np.testing.assert_allclose(h, want, rtol=64 * np.finfo(dtype).eps)


def test_geman_mcclure_gradient_for_huge_residuals():
    g = lf.geman_mcclure.grad(np.array([1e20, 1e100]), np.zeros(2), reduction="none")
    np.testing.assert_allclose(g, [16e-60, 16e-300], rtol=1e-14)
    # c = 1e-12, residual 1e4: r = 1e16
    g = lf.geman_mcclure.grad(np.array([1e4]), np.zeros(1), c=1e-12, reduction="none")
    np.testing.assert_allclose(g, 16 / (1e16**3 * 1e-12) / (1 + 4e-32) ** 2, rtol=1e-14)


def test_sigmoid_focal_confident_logits():
    g = lf.sigmoid_focal.grad(np.array([30.0, 40.0]), np.array([1.0, 1.0]), gamma=0.0, reduction="none")
    # optax / exact: -alpha sigmoid(-x) = -0.25 / (1 + e^x)
    np.testing.assert_allclose(g, -0.25 / (1 + np.exp([30.0, 40.0])), rtol=4e-16)
    g32 = lf.sigmoid_focal.grad(np.float32([12.0, 16.0]), np.float32([1.0, 1.0]), gamma=0.0, reduction="none")
    np.testing.assert_allclose(g32, -0.25 / (1 + np.exp([12.0, 16.0])), rtol=4 * ULP32)


def test_log_cosh_hessian_beyond_8():
    h = lf.log_cosh.hess(np.float32([6.0, 9.0]), np.float32([0, 0]), reduction="none")
    np.testing.assert_allclose(h, 1 / np.cosh([6.0, 9.0]) ** 2, rtol=8 * ULP32)  # [2.4577e-05, 6.0920e-08]
    h64 = lf.log_cosh.hess(np.array([20.0, 300.0]), np.zeros(2), reduction="none")
    np.testing.assert_allclose(h64, 1 / np.cosh([20.0, 300.0]) ** 2, rtol=1e-14)


def test_binary_focal_hessian_at_the_ends_is_finite():
    for gamma in (0.5, 1.5, 0.0, 3.0):
        h = lf.binary_focal.hess(np.array([0.0, 1.0]), np.array([0.0, 1.0]), gamma=gamma, reduction="none")
        g = lf.binary_focal.grad(np.array([0.0, 1.0]), np.array([0.0, 1.0]), gamma=gamma, reduction="none")
        assert np.isfinite(h).all() and np.isfinite(g).all(), (gamma, g, h)


@pytest.mark.parametrize("name", ["charbonnier", "cauchy", "welsch", "geman_mcclure", "general_robust"])
def test_robust_gradients_when_the_scaled_residual_overflows(name):
    loss = getattr(lf, name)
    p, y = np.array([1e300, -1e300, 1.0]), np.array([-1e300, 1e300, 0.0])
    for kw in ({"c": 1e-10}, {"c": 1.0}):
        g = loss.grad(p, y, reduction="none", **kw)
        h = loss.hess(p, y, reduction="none", **kw)
        assert not np.isnan(g).any() and not np.isnan(h).any(), (g, h)


@pytest.mark.parametrize("loss,kw", [(lf.charbonnier, {"c": 1e-50}), (lf.welsch, {"c": 1e-50}),
                                     (lf.geman_mcclure, {"c": 1e-50}), (lf.cauchy, {"c": 1e-40}),
                                     (lf.sigmoid_focal, {"gamma": 1e308}), (lf.msle, {"eps": 1e308}),
                                     (lf.general_robust, {"alpha": 1e308}), (lf.binary_focal, {"gamma": 1e300})])
def test_hyper_parameters_beyond_float32_are_named(loss, kw):
    args = [a.astype(np.float32) for a in inputs(loss)]
    name = next(iter(kw))
    with pytest.raises(ValueError, match=rf"{name} = .* is outside the range of float32"):
        loss(*args, **kw)
    with np.errstate(all="ignore"):
        args64 = [a.astype(np.float64) for a in args]
        for out in (loss(*args64, reduction="none", **kw), *as_tuple(loss.grad(*args64, reduction="none", **kw)),
                    loss.hess(*args64, reduction="none", **kw)):
            assert not np.isnan(out).any(), (loss.name, kw)


def test_general_robust_with_a_subnormal_alpha_is_cauchy():
    p, y = np.array([0.5, 3.0, -40.0]), np.zeros(3)
    for method in ("__call__", "grad", "hess"):
        got = getattr(lf.general_robust, method)(p, y, alpha=5e-324, reduction="none")
        want = getattr(lf.cauchy, method)(p, y, reduction="none")
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["bce", "binary_focal"])
def test_probability_targets_outside_the_unit_interval(name):
    loss = getattr(lf, name)
    p = np.full(40000, 0.5)
    for bad, at in ((3.0, 5), (-0.5, 39999), (1.0000001, 0)):
        y = np.full(40000, 0.25)
        y[at] = bad
        for method in (loss, loss.grad, loss.value_and_grad, loss.hess):
            with pytest.raises(ValueError, match=rf"{name}: target must hold probabilities in \[0, 1\]; found .* at index {at}"):
                method(p, y)
    y = np.full(4, 0.5)
    y[1] = np.nan  # nan propagates, as any nan input
    assert np.isnan(loss(np.full(4, 0.5), y))
