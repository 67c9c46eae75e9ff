"""Extreme regimes of the row losses and softmax utilities: logits far from the origin (every
row loss is shift-invariant and must stay exact there), confident logits, overflowing logit
gaps and inf probabilities. Registry-driven over ROW_SPECS."""

import numpy as np
import pytest

import lossfn as lf
from samples import draw_logits, draw_target

ROW = [l for l in lf.losses() if isinstance(l, (lf.RowLoss, lf.RowFunction))]
SHIFT_INVARIANT = [l for l in ROW if l.spec.pred == "logit" and l.name not in ("multilabel_soft_margin",
                                                                               "multi_margin", "categorical_hinge")]


def ulp_close(got, want, dtype, ulps, what):
    """Within `ulps` ulp of max(|want|, 1): log-probabilities near 0 are differences of terms of
    order 1 (x_c - m and log s), whose rounding they carry whatever the offset."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    bound = ulps * np.finfo(dtype).eps * np.maximum(np.abs(want), 1.0)
    bad = np.abs(got - want) > bound
    assert not bad.any(), f"{what}: {bad.sum()} beyond {ulps} ulp: got {got[bad][:3]} want {want[bad][:3]}"


# float32 stops at 1e4: its spacing at 1e6 is 0.0625, too coarse for logits of spread 2.
OFFSETS = [(np.float64, o) for o in (0.0, 1e2, 1e4, 1e6)] + [(np.float32, o) for o in (0.0, 1e2, 1e4)]


@pytest.mark.parametrize("dtype,offset", OFFSETS, ids=[f"{np.dtype(d).name}-{o:g}" for d, o in OFFSETS])
@pytest.mark.parametrize("loss", SHIFT_INVARIANT, ids=[l.name for l in SHIFT_INVARIANT])
def test_shift_invariant_losses_are_exact_far_from_the_origin(loss, dtype, offset):
    """x + offset gives the loss of x (logsumexp: plus the offset) within a few ulp, in every
    layout (rows, tiles of short rows, NCHW)."""
    rng = np.random.default_rng(7)
    for shape, axis in (((5, 7), -1), ((3, 300), -1), ((2, 4, 3, 3), 1)):
        x = rng.normal(0, 2, shape)
        xs = (x + offset).astype(dtype)
        base = xs.astype(np.float64) - offset  # the logits the shifted input really holds
        if isinstance(loss, lf.RowFunction):
            got, want = loss(xs, axis=axis), loss.reference(base, axis=axis)
            if loss.name == "logsumexp":
                got, want = got.astype(np.float64) - offset, want
            ulp_close(got, want, dtype, 4 if loss.name != "logsumexp" else 4 * (1 + offset), f"{loss.name} {shape}")
            continue
        t = draw_target(loss.spec.targets[0], shape, rng, axis=axis)
        got = loss(xs, t, axis=axis, reduction="none")
        want = loss.reference(base, t, axis=axis, reduction="none")
        ulp_close(got, want, dtype, 8, f"{loss.name} value {shape}")
        g = loss.grad(xs, t, axis=axis, reduction="none")
        wg = loss.reference.grad(base, t, axis=axis, reduction="none")
        ulp_close(g, wg, dtype, 16, f"{loss.name} grad {shape}")


def test_log_softmax_repro():
    got = lf.log_softmax(np.float32([[1e4, 1e4 + 0.5, 1e4 - 1]]))
    want = lf.reference.log_softmax(np.float32([[1e4, 1e4 + 0.5, 1e4 - 1]]).astype(np.float64))
    ulp_close(got, want, np.float32, 4, "log_softmax")
    exact = -np.log1p(np.exp(-0.5) + np.exp(-1.5))  # -0.60413 (was -0.60449)
    assert abs(float(got[0, 1]) - exact) <= 4 * np.finfo(np.float32).eps


def test_multilabel_soft_margin_confident_logits():
    g = lf.multilabel_soft_margin.grad(np.array([[38.0, -38.0, 30.0]]), np.array([[1.0, 0.0, 1.0]]), reduction="sum")
    want = np.array([[-1 / (1 + np.exp(38.0)), 1 / (1 + np.exp(38.0)), -1 / (1 + np.exp(30.0))]]) / 3
    np.testing.assert_allclose(g, want, rtol=1e-15)  # torch: -1.046e-17 for the first


def test_softmax_focal_with_an_overflowing_logit_gap():
    x = np.array([[1e308, -1e308, 0.0]])
    for gamma in (0.0, 2.0, 0.5):
        g = lf.softmax_focal.grad(x, np.array([1]), gamma=gamma)
        assert not np.isnan(g).any(), (gamma, g)


def test_inf_probability_propagates():
    p = np.array([[0.2, np.inf, 0.3], [0.2, 0.5, 0.3]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    l = lf.categorical_crossentropy(p, y, reduction="none")
    assert np.isnan(l[0]) and np.isfinite(l[1])
    assert np.isnan(lf.categorical_crossentropy.grad(p, y)[0]).all()
    l = lf.sparse_categorical_crossentropy(p, np.array([0, 1]), reduction="none")
    assert np.isnan(l[0]) and np.isfinite(l[1])
