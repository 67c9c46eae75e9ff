"""Broadcast and strided inputs are read in place: no temporary of the input's size, and the same
bits as the same values in contiguous arrays (for every reduction and thread count, across many
blocks)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import lossfn as lf

from samples import ALL_LOSSES, LOSS_IDS, as_tuple, draw

# Several kernel blocks (2**14 elements) and above the threading threshold, with a ragged end.
ROWS, COLS = 700, 123
REDUCTIONS = ("mean", "sum", "none")


def contiguous_inputs(loss, dtype, seed=0):
    rng = np.random.default_rng(seed)
    spec = loss.spec
    args = [draw(spec.pred, (ROWS, COLS), rng), draw(spec.target, (ROWS, COLS), rng)]
    if spec.aux:
        args.append(draw(spec.aux, (ROWS, COLS), rng))
    return [a.astype(dtype) for a in args]


def strided_copy(a, how):
    """The values of `a` (ROWS, COLS) in a non-contiguous array of the same shape."""
    if how == "transposed":
        return np.ascontiguousarray(a.T).T
    if how == "reversed":
        return np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    if how == "sliced":
        big = np.zeros((ROWS, 3 * COLS), a.dtype)
        big[:, 1::3] = a
        return big[:, 1::3]
    raise ValueError(how)


def same_result(loss, args_a, args_b, threads, **kw):
    """value_and_grad (and hess, and grad with an array upstream gradient) agree bit for bit."""
    with _threads(threads):
        for reduction in REDUCTIONS:
            va, ga = loss.value_and_grad(*args_a[0], reduction=reduction, **args_a[1], **kw)
            vb, gb = loss.value_and_grad(*args_b[0], reduction=reduction, **args_b[1], **kw)
            np.testing.assert_array_equal(va, vb, err_msg=f"value, {reduction}")
            for x, y in zip(as_tuple(ga), as_tuple(gb)):
                np.testing.assert_array_equal(x, y, err_msg=f"grad, {reduction}")
            np.testing.assert_array_equal(loss.hess(*args_a[0], reduction=reduction, **args_a[1], **kw),
                                          loss.hess(*args_b[0], reduction=reduction, **args_b[1], **kw))


class _threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.old = lf.get_num_threads()
        lf.set_num_threads(self.n)

    def __exit__(self, *exc):
        lf.set_num_threads(self.old)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("how", ["transposed", "reversed", "sliced"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_strided_inputs_give_the_contiguous_bits(loss, dtype, how, threads):
    args = contiguous_inputs(loss, dtype)
    weight = np.random.default_rng(3).uniform(0.5, 1.5, (ROWS, COLS)).astype(dtype)
    strided = [strided_copy(a, how) for a in args]
    assert not strided[0].flags.c_contiguous
    same_result(loss, (args, {"weight": weight}), (strided, {"weight": strided_copy(weight, how)}), threads)
    # One strided input among contiguous ones.
    same_result(loss, (args, {}), ([args[0], strided[1], *args[2:]], {}), threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_broadcast_weights_give_the_materialised_bits(loss, dtype, threads):
    args = contiguous_inputs(loss, dtype)
    rng = np.random.default_rng(4)
    for weight in (np.float64(1.7), np.array(0.25, dtype), rng.uniform(0.5, 2.0, COLS),
                   rng.uniform(0.5, 2.0, (ROWS, 1)).astype(dtype), rng.uniform(0.5, 2.0, (1, COLS))):
        full = np.ascontiguousarray(np.broadcast_to(np.asarray(weight, dtype), (ROWS, COLS)))
        same_result(loss, (args, {"weight": full}), (args, {"weight": weight}), threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss,hyper", [(lf.quantile, "tau"), (lf.bce_with_logits, "pos_weight")],
                         ids=["quantile", "bce_with_logits"])
def test_per_column_hyper_parameters_give_the_materialised_bits(loss, hyper, dtype, threads):
    """A per-column tau / pos_weight reaches the kernel as a zero-stride view of the 1-D array."""
    pred, target = contiguous_inputs(loss, dtype)[:2]
    params, column_view = loss._kernel(pred, {hyper: np.random.default_rng(5).uniform(0.1, 0.9, COLS)})
    assert column_view.strides[0] == 0
    materialised = np.ascontiguousarray(column_view.astype(dtype))
    with _threads(threads):
        for what in range(4):
            for reduction in (0, 1, 2):
                a = lf._core.elementwise(loss._id, what, pred, target, materialised, None, None, None, params, reduction)
                b = lf._core.elementwise(loss._id, what, pred, target, column_view, None, None, None, params, reduction)
                for x, y in zip(as_tuple(a), as_tuple(b)):
                    for u, v in zip(as_tuple(x), as_tuple(y)):
                        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("threads", [1, 2])
def test_strided_grad_output(threads):
    p, t = contiguous_inputs(lf.huber, np.float64)
    go = np.random.default_rng(6).normal(size=(ROWS, COLS))
    with _threads(threads):
        expected = lf.huber.grad(p, t, reduction="none", grad_output=go)
        for view in (strided_copy(go, "transposed"), strided_copy(go, "reversed")):
            np.testing.assert_array_equal(lf.huber.grad(p, t, reduction="none", grad_output=view), expected)
        row = go[0]
        np.testing.assert_array_equal(
            lf.huber.grad(p, t, reduction="none", grad_output=np.broadcast_to(row, (ROWS, COLS))),
            lf.huber.grad(p, t, reduction="none", grad_output=np.ascontiguousarray(np.broadcast_to(row, (ROWS, COLS)))))


def peak_bytes(fn):
    """The largest amount of Python-tracked memory (NumPy's buffers included) `fn` holds at once."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


N = 4_000_000  # 32 MB in float64


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(7)
    return rng.normal(size=(N // 1000, 1000)), rng.normal(size=(N // 1000, 1000))


def test_scalar_and_per_column_weights_are_not_materialised(big):
    p, t = big
    small = 1 << 20  # far below one input (32 MB)
    assert peak_bytes(lambda: lf.mse(p, t, weight=2.0)) < small
    assert peak_bytes(lambda: lf.mse(p, t, weight=np.linspace(0.5, 1.5, 1000))) < small
    assert peak_bytes(lambda: lf.mse(p, t, weight=np.float32(2.0))) < small  # converted, then broadcast
    assert peak_bytes(lambda: lf.quantile(p, t, tau=np.linspace(0.1, 0.9, 1000))) < small
    y = (t > 0).astype(np.float64)
    assert peak_bytes(lambda: lf.bce_with_logits(p, y, pos_weight=np.linspace(1, 2, 1000))) < small
    # value_and_grad: the gradient (one input's size) and nothing more.
    assert peak_bytes(lambda: lf.mse.value_and_grad(p, t, weight=3.0)) < p.nbytes + small


def test_strided_inputs_are_not_copied(big):
    p, t = big
    small = 1 << 20
    assert peak_bytes(lambda: lf.huber(p.T, t.T)) < small
    assert peak_bytes(lambda: lf.huber(p[::-1], t[::-1])) < small
    assert peak_bytes(lambda: lf.huber(p[:, ::2], t[:, 1::2])) < small


def test_messages_name_the_index_of_a_strided_input():
    p = np.zeros((4, 5))
    var = np.ones((5, 4))
    var[3, 2] = -1.0  # var.T[2, 3]: flat index 13 of the (4, 5) call
    with pytest.raises(ValueError, match="at index 13"):
        lf.gaussian_nll(p, p, var.T)
    y = np.ones((5, 4))
    y[1, 3] = 0.5  # y.T[3, 1]: flat index 16
    with pytest.raises(ValueError, match="found 0.5 at index 16"):
        lf.hinge(p, y.T)
    with pytest.raises(ValueError, match="found 2 at index 16"):
        lf.bce(np.full((4, 5), 0.5), np.where(y.T == 0.5, 2.0, 0.0))
    tau = np.full(5, 0.5)
    tau[4] = 1.5
    with pytest.raises(ValueError, match="at index 4"):
        lf.quantile(p, p, tau=tau)


def test_writes_into_a_strided_input_are_refused():
    big = np.zeros((8, 10))
    p = big[:, ::2]
    with pytest.raises(ValueError, match="out.*overlaps the input 'pred'"):
        lf.mse.grad(p, np.zeros((8, 5)), out=big[:5].reshape(-1)[:40].reshape(8, 5))
    reversed_target = np.zeros(50)[::-1][:40].reshape(8, 5)
    out = np.zeros(50)[10:50].reshape(8, 5)
    lf.mse.grad(np.zeros((8, 5)), reversed_target, out=out)  # different buffers: fine


def test_streamed_calls_with_strided_inputs_give_the_contiguous_bits():
    """Above 32 MiB per input the kernel streams in prefetched chunks: gathered inputs too."""
    rng = np.random.default_rng(8)
    p = rng.normal(size=(3000, 3000)).astype(np.float32)
    t = rng.normal(size=(3000, 3000)).astype(np.float32)
    pt = np.ascontiguousarray(p.T).T
    w = np.linspace(0.5, 1.5, 3000, dtype=np.float32)
    for threads in (1, 2):
        with _threads(threads):
            v1, g1 = lf.log_cosh.value_and_grad(p, t, weight=np.ascontiguousarray(np.broadcast_to(w, p.shape)))
            v2, g2 = lf.log_cosh.value_and_grad(pt, t, weight=w)
            assert v1 == v2
            np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("offset", [0, 1, 5, 15])
def test_streamed_outputs_hold_the_values_of_unstreamed_calls(offset):
    """Outputs of 32 MiB and more are written with streaming stores from any alignment: the
    same values, element for element, as calls small enough to write them normally."""
    rng = np.random.default_rng(9)
    n = 9_000_000  # 36 MB in float32
    p = rng.normal(size=n).astype(np.float32)
    t = rng.normal(size=n).astype(np.float32)
    pieces = [slice(k, min(k + 1_000_000, n)) for k in range(0, n, 1_000_000)]
    for loss in (lf.mse, lf.log_cosh, lf.bce_with_logits):
        y = (t > 0).astype(np.float32) if loss is lf.bce_with_logits else t
        buffer = np.empty(n + 16, np.float32)
        out = buffer[offset:offset + n]
        loss.grad(p, y, reduction="sum", out=out)
        np.testing.assert_array_equal(out, np.concatenate([loss.grad(p[s], y[s], reduction="sum") for s in pieces]))
        losses = loss(p, y, reduction="none")
        np.testing.assert_array_equal(losses, np.concatenate([loss(p[s], y[s], reduction="none") for s in pieces]))
        hess = loss.hess(p, y, reduction="sum")
        np.testing.assert_array_equal(hess, np.concatenate([loss.hess(p[s], y[s], reduction="sum") for s in pieces]))
    # Two gradients (gaussian_nll w.r.t. pred and var), both streamed.
    var = rng.uniform(0.5, 2.0, n).astype(np.float32)
    gp, gv = lf.gaussian_nll.grad(p, t, var, reduction="sum")
    parts = [lf.gaussian_nll.grad(p[s], t[s], var[s], reduction="sum") for s in pieces]
    np.testing.assert_array_equal(gp, np.concatenate([a for a, _ in parts]))
    np.testing.assert_array_equal(gv, np.concatenate([b for _, b in parts]))
