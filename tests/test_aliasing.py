"""out= never aliases an input or another output: such calls are refused with a ValueError
naming both (the kernels read inputs a vector or a tile of rows at a time through restrict
pointers, so an overlapping output would be read after it was written)."""

import numpy as np
import pytest

import lossfn as lf
from samples import ALL_LOSSES, LOSS_IDS, SHAPE, draw_logits, draw_target, inputs

ROW_LOSSES = [l for l in lf.losses() if isinstance(l, lf.RowLoss)]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_elementwise_out_aliasing_an_input_is_refused(loss):
    args = inputs(loss)
    two = len(loss.differentiable_inputs) == 2
    for i, name in enumerate(loss.inputs):
        arrays = [a.copy() for a in args]
        before = [a.copy() for a in arrays]
        out = (arrays[i], np.empty(SHAPE)) if two else arrays[i]
        for method in (loss.grad, loss.value_and_grad):
            with pytest.raises(ValueError, match=rf"out(\[0\])?: overlaps the input '{name}'"):
                method(*arrays, out=out)
        with pytest.raises(ValueError, match=rf"out: overlaps the input '{name}'"):
            loss.hess(*arrays, out=arrays[i])
        for a, b in zip(arrays, before):
            np.testing.assert_array_equal(a, b)  # nothing written


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_elementwise_partial_overlaps_are_refused(loss):
    args = inputs(loss)
    flat = np.zeros(2 * args[0].size)
    pred_view = flat[: args[0].size].reshape(SHAPE)
    pred_view[...] = args[0]
    out_view = flat[5 : 5 + args[0].size].reshape(SHAPE)  # shares all but 5 elements with pred
    two = len(loss.differentiable_inputs) == 2
    with pytest.raises(ValueError, match="overlaps the input 'pred'"):
        loss.grad(pred_view, *args[1:], out=(out_view, np.empty(SHAPE)) if two else out_view)
    weight = flat[args[0].size :].reshape(SHAPE)
    weight[...] = 1.0
    out_w = flat[args[0].size - 3 : 2 * args[0].size - 3].reshape(SHAPE)
    with pytest.raises(ValueError, match="overlaps the input"):
        loss.grad(*[a.copy() for a in args], weight=weight, out=(out_w, np.empty(SHAPE)) if two else out_w)
    # upstream gradient array
    go = np.ones(SHAPE)
    with pytest.raises(ValueError, match="overlaps the input 'grad_output'"):
        loss.grad(*args, reduction="none", grad_output=go, out=(go, np.empty(SHAPE)) if two else go)


def test_two_gradient_outputs_must_not_share_a_buffer():
    p, y, var = inputs(lf.gaussian_nll)
    b = np.empty(SHAPE)
    with pytest.raises(ValueError, match=r"out\[1\]: overlaps out\[0\]"):
        lf.gaussian_nll.grad(p, y, var, out=(b, b))
    flat = np.empty(2 * b.size)
    with pytest.raises(ValueError, match=r"out\[1\]: overlaps out\[0\]"):
        lf.gaussian_nll.grad(p, y, var, out=(flat[: b.size].reshape(SHAPE), flat[7 : 7 + b.size].reshape(SHAPE)))
    g, gv = lf.gaussian_nll.grad(p, y, var, out=(flat[: b.size].reshape(SHAPE), flat[b.size :].reshape(SHAPE)))
    rg, rgv = lf.gaussian_nll.reference.grad(p, y, var)
    np.testing.assert_allclose(g, rg, rtol=1e-12)
    np.testing.assert_allclose(gv, rgv, rtol=1e-12)


def test_converted_inputs_cannot_alias():
    """An input converted to the compute dtype is a copy: out= may reuse the original's memory."""
    p32 = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    y = np.zeros(SHAPE, dtype=np.float64)  # converted to float32: a copy
    g = lf.mse.grad(p32, y, out=np.empty(SHAPE, np.float32))
    out = y.view(np.float32)[:, : SHAPE[1]]  # not C-contiguous: refused as such, not as overlap
    with pytest.raises(ValueError, match="C-contiguous"):
        lf.mse.grad(p32, y, out=out)
    assert np.isfinite(g).all()


def _row_args(loss, shape=(6, 5), seed=0):
    rng = np.random.default_rng(seed)
    x = draw_logits(loss.spec.pred, shape, rng)
    t = draw_target(loss.spec.targets[0], shape, rng)
    return x, t


@pytest.mark.parametrize("loss", ROW_LOSSES, ids=[l.name for l in ROW_LOSSES])
def test_row_out_aliasing_is_refused(loss):
    x, t = _row_args(loss)
    x0 = x.copy()
    for method in (loss.grad, loss.value_and_grad):
        with pytest.raises(ValueError, match="out: overlaps the input 'logits'"):
            method(x, t, out=x)
    np.testing.assert_array_equal(x, x0)
    if t.dtype.kind == "f":
        with pytest.raises(ValueError, match="out: overlaps the input 'target'"):
            loss.grad(x, t, out=t)
    flat = np.zeros(2 * x.size)
    xv = flat[: x.size].reshape(x.shape)
    xv[...] = x
    with pytest.raises(ValueError, match="overlaps the input 'logits'"):
        loss.grad(xv, t, out=flat[3 : 3 + x.size].reshape(x.shape))
    # a gradient next to the logits in one buffer is fine
    g = loss.grad(xv, t, out=flat[x.size :].reshape(x.shape))
    np.testing.assert_allclose(g, loss.reference.grad(x, t), rtol=1e-10, atol=1e-14)


def test_issue_repros():
    x = np.log(np.full((1, 4), 0.25))
    y = np.array([1])
    with pytest.raises(ValueError, match="out: overlaps the input 'logits'"):
        lf.nll.value_and_grad(x, y, out=x)
    p = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="overlaps"):
        lf.sparse_categorical_crossentropy.grad(p, np.array([0, 2]), out=p)
    s, t = np.array([[1.0, 2.0, 0.5]]), np.array([[0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="out: overlaps the input 'target'"):
        lf.categorical_hinge.grad(s, t, out=t)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_utility_out_aliasing_is_refused(name):
    f = getattr(lf, name)
    x = np.random.default_rng(1).normal(size=(4, 7))
    with pytest.raises(ValueError, match="out: overlaps the input 'x'"):
        f.grad(x, out=x)
    if name != "logsumexp":
        v = np.ones_like(x)
        with pytest.raises(ValueError, match="out: overlaps the input 'grad_output'"):
            f.grad(x, grad_output=v, out=v)
