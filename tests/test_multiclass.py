"""Generic tests of every row loss and softmax utility (SPEC §2 C), driven by the registry
(lossfn.registry.ROW_SPECS).

Registering a row loss runs it through all of these: kernels against the NumPy reference for
every ISA level, dtype, reduction, sample weighting, target kind and hyper-parameter variant;
class axes (last, first, NCHW); layouts; grad_output and out=; extreme and masked logits;
empty batches; bitwise determinism across thread counts (rows spread over threads, and long
rows split over threads); concurrent calls; bad input.
"""

import re
import threading

import ml_dtypes
import numpy as np
import pytest

import lossfn as lf
from samples import assert_close, draw_logits, draw_target

ROW_LOSSES = [loss for loss in lf.losses() if isinstance(loss, lf.RowLoss)]
UTILITIES = [loss for loss in lf.losses() if isinstance(loss, lf.RowFunction)]
ROW_IDS = [loss.name for loss in ROW_LOSSES]
UTILITY_IDS = [loss.name for loss in UTILITIES]
REDUCTIONS = ("mean", "sum", "none")
DTYPES = (np.float64, np.float32)
SHAPE = (23, 7)  # rows x classes: neither a multiple of a vector width


def concrete(hyper, C, rng):
    """A registry variant with its "per-class" placeholders made concrete."""
    return {k: (rng.uniform(0.2, 2.0, C) if v == "per-class" else v) for k, v in hyper.items()}


def settings(loss, C=SHAPE[-1]):
    """(hyper, target kind) pairs: the defaults and every variant, for every target kind it applies to."""
    rng = np.random.default_rng(1)
    out = []
    for hyper in [{}, *loss.spec.variants]:
        for kind in loss.spec.targets:
            if "ignore_index" in hyper and kind != "labels":
                continue
            out.append((concrete(hyper, C, rng), kind))
    return out


def case_id(loss, hyper, kind):
    keys = ",".join(f"{k}={'array' if isinstance(v, np.ndarray) else v}" for k, v in hyper.items())
    return f"{loss.name}[{kind}{',' + keys if keys else ''}]"


def inputs(loss, kind, shape=SHAPE, seed=0, axis=-1):
    rng = np.random.default_rng(seed)
    return draw_logits(loss.spec.pred, shape, rng, axis), draw_target(kind, shape, rng, axis)


def batch_of(shape, axis=-1):
    return tuple(np.delete(np.array(shape), axis % len(shape)))


def cast(x, t, dtype):
    return x.astype(dtype), (t if t.dtype.kind in "iu" else t.astype(dtype))


CASES = [(loss, hyper, kind) for loss in ROW_LOSSES for hyper, kind in settings(loss)]
CASE_IDS = [case_id(*c) for c in CASES]


# --- kernels against the reference ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss,hyper,kind", CASES, ids=CASE_IDS)
def test_matches_reference(loss, hyper, kind, dtype, isa):
    x, t = cast(*inputs(loss, kind), dtype)
    rx, rt = x.astype(np.float64), t if t.dtype.kind in "iu" else t.astype(np.float64)
    weight = np.random.default_rng(7).uniform(0.2, 2.0, SHAPE[0])
    for reduction in REDUCTIONS:
        for w in (None, weight.astype(dtype)):
            kw = dict(hyper, reduction=reduction, weight=w)
            where = f"{case_id(loss, hyper, kind)} {np.dtype(dtype).name} {reduction} weight={w is not None} isa={isa}"
            value, grad = loss.value_and_grad(x, t, **kw)
            ref_value, ref_grad = loss.reference.value_and_grad(rx, rt, **kw)
            assert_close(value, ref_value, dtype, "value_and_grad value: " + where)
            assert_close(loss(x, t, **kw), ref_value, dtype, "value: " + where)
            assert grad.dtype == dtype and grad.shape == SHAPE
            assert_close(grad, ref_grad, dtype, "value_and_grad grad: " + where)
            assert_close(loss.grad(x, t, **kw), ref_grad, dtype, "grad: " + where)
            if reduction == "none":
                assert value.dtype == dtype and value.shape == SHAPE[:1]
            else:
                assert isinstance(value, float)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss,hyper,kind", CASES, ids=CASE_IDS)
def test_long_rows_match_reference(loss, hyper, kind, dtype):
    """Rows of many classes take the row-at-a-time path (short rows go through tiles of rows)."""
    shape = (5, 100)
    x, t = cast(*inputs(loss, kind, shape=shape, seed=4), dtype)
    hyper = concrete({k: ("per-class" if isinstance(v, np.ndarray) else v) for k, v in hyper.items()},
                     shape[-1], np.random.default_rng(1))
    rx, rt = x.astype(np.float64), t if t.dtype.kind in "iu" else t.astype(np.float64)
    w = np.random.default_rng(7).uniform(0.2, 2.0, shape[0]).astype(dtype)
    for reduction in REDUCTIONS:
        value, grad = loss.value_and_grad(x, t, reduction=reduction, weight=w, **hyper)
        ref_value, ref_grad = loss.reference.value_and_grad(rx, rt, reduction=reduction, weight=w, **hyper)
        assert_close(value, ref_value, dtype, f"{reduction} value")
        assert_close(grad, ref_grad, dtype, f"{reduction} grad")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss,hyper,kind", CASES, ids=CASE_IDS)
def test_nchw_matches_reference(loss, hyper, kind, dtype):
    """Every variant with the classes on axis 1 of (N, C, H, W) data (tiles of adjacent rows)."""
    shape, axis = (2, SHAPE[-1], 3, 5), 1
    x, t = cast(*inputs(loss, kind, shape=shape, seed=6, axis=axis), dtype)
    rx, rt = x.astype(np.float64), t if t.dtype.kind in "iu" else t.astype(np.float64)
    w = np.random.default_rng(8).uniform(0.2, 2.0, batch_of(shape, axis)).astype(dtype)
    for reduction in REDUCTIONS:
        kw = dict(hyper, axis=axis, reduction=reduction, weight=w)
        value, grad = loss.value_and_grad(x, t, **kw)
        ref_value, ref_grad = loss.reference.value_and_grad(rx, rt, **kw)
        assert_close(value, ref_value, dtype, f"{reduction} value")
        assert_close(grad, ref_grad, dtype, f"{reduction} grad")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("util", UTILITIES, ids=UTILITY_IDS)
def test_utility_nchw_without_grad_output(util, dtype):
    x = np.random.default_rng(12).normal(0.0, 3.0, (2, 7, 3, 5)).astype(dtype)
    rx = x.astype(np.float64)
    value, grad = util.value_and_grad(x, axis=1)
    ref_value, ref_grad = util.reference.value_and_grad(rx, axis=1)
    assert_close(value, ref_value, dtype, "value")
    floor = np.ones(1)  # softmax's VJP with all ones is 0 up to rounding
    assert_close(np.append(grad, floor), np.append(ref_grad, floor), dtype, "vjp")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("util", UTILITIES, ids=UTILITY_IDS)
def test_utility_matches_reference(util, dtype, isa):
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 3.0, SHAPE).astype(dtype)
    rx = x.astype(np.float64)
    value, ref_value = util(x), util.reference(rx)
    assert value.dtype == dtype and value.shape == ref_value.shape
    assert_close(value, ref_value, dtype, f"{util.name} value")
    v = rng.normal(size=ref_value.shape)
    for go in (None, v.astype(dtype)):
        ref_grad = util.reference.grad(rx, grad_output=None if go is None else go.astype(np.float64))
        got_value, got_grad = util.value_and_grad(x, grad_output=go)
        # softmax's VJP with all ones is 0 up to rounding: compare on the scale of the probabilities
        floor = np.ones(1) if go is None else np.zeros(1)
        assert_close(np.append(got_grad, floor), np.append(ref_grad, floor), dtype, f"{util.name} vjp grad_output={go is not None}")
        assert_close(np.append(util.grad(x, grad_output=go), floor), np.append(ref_grad, floor), dtype, f"{util.name} grad")
        np.testing.assert_array_equal(got_value, value)


AXES = {
    "nchw_axis1": ((3, 7, 4, 5), 1),
    "ntc_last": ((3, 4, 7), -1),
    "first": ((7, 9), 0),
    "vector": ((7,), 0),
}


@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("loss", ROW_LOSSES + UTILITIES, ids=ROW_IDS + UTILITY_IDS)
def test_any_class_axis(loss, axes):
    """The class axis is read in place (axis=1 for NCHW) and agrees with the reference."""
    shape, axis = AXES[axes]
    rng = np.random.default_rng(11)
    x = draw_logits(loss.spec.pred, shape, rng, axis)
    if isinstance(loss, lf.RowFunction):
        assert_close(loss(x, axis=axis), loss.reference(x, axis=axis), np.float64, "value")
        go = rng.normal(size=np.shape(loss.reference(x, axis=axis)))
        assert_close(loss.grad(x, axis=axis, grad_output=go), loss.reference.grad(x, axis=axis, grad_output=go),
                     np.float64, "vjp")
        return
    for kind in loss.spec.targets:
        t = draw_target(kind, shape, rng, axis)
        w = rng.uniform(0.5, 1.5, batch_of(shape, axis))
        for reduction in REDUCTIONS:
            kw = dict(axis=axis, reduction=reduction, weight=w)
            value, grad = loss.value_and_grad(x, t, **kw)
            ref_value, ref_grad = loss.reference.value_and_grad(x, t, **kw)
            assert_close(value, ref_value, np.float64, f"{axes} {kind} {reduction} value")
            assert grad.shape == shape
            assert_close(grad, ref_grad, np.float64, f"{axes} {kind} {reduction} grad")
        # the same numbers as with the classes moved last, up to the order of the sums
        moved = np.moveaxis(x, axis, -1)
        mt = t if t.ndim < x.ndim else np.moveaxis(t, axis, -1)
        v_last, g_last = loss.value_and_grad(np.ascontiguousarray(moved), mt, reduction="none")
        v_axis, g_axis = loss.value_and_grad(x, t, axis=axis, reduction="none")
        np.testing.assert_allclose(v_axis, v_last, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(np.moveaxis(g_axis, axis, -1), g_last, rtol=1e-13, atol=1e-15)


LAYOUTS = {
    "transposed": lambda a: a.T.copy().T,
    "sliced": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "negative_strides": lambda a: a[::-1].copy()[::-1],
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("loss", ROW_LOSSES, ids=ROW_IDS)
def test_any_layout_gives_the_contiguous_answer(loss, layout):
    for kind in loss.spec.targets:
        x, t = inputs(loss, kind)
        sx = LAYOUTS[layout](x)
        st = LAYOUTS[layout](t) if t.ndim == 2 else t[::-1].copy()[::-1]
        assert not sx.flags.c_contiguous
        for reduction in REDUCTIONS:
            v1, g1 = loss.value_and_grad(x, t, reduction=reduction)
            v2, g2 = loss.value_and_grad(sx, st, reduction=reduction)
            np.testing.assert_array_equal(v1, v2)
            np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("loss", ROW_LOSSES, ids=ROW_IDS)
def test_grad_output_and_out(loss):
    kind = loss.spec.targets[0]
    x, t = inputs(loss, kind)
    for reduction in ("mean", "sum"):
        g1 = loss.grad(x, t, reduction=reduction)
        np.testing.assert_allclose(loss.grad(x, t, reduction=reduction, grad_output=3.0), 3.0 * g1, rtol=1e-14)
        np.testing.assert_array_equal(loss.grad(x, t, reduction=reduction, grad_output=np.array(3.0)),
                                      loss.grad(x, t, reduction=reduction, grad_output=3.0))
    go = np.random.default_rng(5).normal(size=SHAPE[:1])
    assert_close(loss.grad(x, t, reduction="none", grad_output=go),
                 loss.reference.grad(x, t, reduction="none", grad_output=go), np.float64, "grad_output array")
    for dtype in DTYPES:
        xd, td = cast(x, t, dtype)
        out = np.full(SHAPE, np.nan, dtype=dtype)
        value, grad = loss.value_and_grad(xd, td, out=out)
        assert grad is out
        np.testing.assert_array_equal(out, loss.grad(xd, td))
        out2 = np.empty(SHAPE, dtype=dtype)
        assert loss.grad(xd, td, out=out2) is out2
        np.testing.assert_array_equal(out2, out)


# --- numerics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_huge_and_masked_logits(dtype):
    """Logits of +-1e4 and -inf entries (masked classes) give finite, right answers."""
    x = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4 + 2.0, -1e4], [3.0, -np.inf, 1.0, -np.inf],
                  [-np.inf, -np.inf, 2.0, -np.inf]], dtype=dtype)
    y = np.array([0, 2, 2, 2])
    rx = x.astype(np.float64)
    for loss in (lf.softmax_cross_entropy, lf.softmax_focal):
        for reduction in REDUCTIONS:
            value, grad = loss.value_and_grad(x, y, reduction=reduction)
            ref_value, ref_grad = loss.reference.value_and_grad(rx, y, reduction=reduction)
            assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
            assert_close(value, ref_value, dtype, f"{loss.name} {reduction}")
            assert_close(grad, ref_grad, dtype, f"{loss.name} {reduction} grad")
    # a probability target with no mass on the masked classes
    q = np.array([[0.5, 0.25, 0.25, 0.0], [0.25] * 4, [0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]], dtype=dtype)
    value, grad = lf.softmax_cross_entropy.value_and_grad(x, q)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert_close(value, lf.softmax_cross_entropy.reference(rx, q.astype(np.float64)), dtype, "probability target")
    for util in UTILITIES:
        go = np.linspace(-1.0, 2.0, util(x).size).reshape(util(x).shape)
        value, grad = util.value_and_grad(x, grad_output=go.astype(dtype))
        ref_value, ref_grad = util.reference.value_and_grad(rx, grad_output=go)
        finite = np.isfinite(ref_value)
        np.testing.assert_array_equal(np.isfinite(value), finite)
        assert_close(value[finite], ref_value[finite], dtype, util.name)
        assert np.all(np.isfinite(grad))
        assert_close(grad, ref_grad, dtype, util.name + " vjp")


def test_nan_propagates():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    for loss in ROW_LOSSES:
        if loss.name == "nll":
            x[0] = np.nan  # nll reads only the label's entry
        kind = loss.spec.targets[0]
        t = draw_target(kind, x.shape, np.random.default_rng(0))
        xx = np.abs(x) if loss.spec.pred == "prob_rows" else x
        v = loss(xx, t, reduction="none")
        assert np.isnan(v[0]) and np.isfinite(v[1]), loss.name
    assert np.isnan(lf.logsumexp(x)[0]) and np.isfinite(lf.logsumexp(x)[1])


@pytest.mark.parametrize("loss", ROW_LOSSES, ids=ROW_IDS)
def test_empty_batch(loss):
    kind = loss.spec.targets[0]
    x, t = inputs(loss, kind, shape=(0, 5))
    assert loss(x, t, reduction="sum") == 0.0
    assert np.isnan(loss(x, t, reduction="mean"))
    assert loss(x, t, reduction="none").shape == (0,)
    value, grad = loss.value_and_grad(x, t)
    assert grad.shape == (0, 5)


def test_empty_spatial_axes():
    """(N, C, 0) logits with axis=1: no rows."""
    x, y = np.zeros((2, 3, 0)), np.zeros((2, 0), dtype=np.int64)
    assert np.isnan(lf.softmax_cross_entropy(x, y, axis=1))
    assert lf.softmax_cross_entropy(x, y, axis=1, reduction="sum") == 0.0
    assert lf.softmax_cross_entropy.grad(x, y, axis=1).shape == (2, 3, 0)
    assert lf.softmax(x, axis=1).shape == (2, 3, 0)


def test_every_row_ignored():
    x = np.random.default_rng(0).normal(size=(4, 3))
    y = np.full(4, -100)
    for loss in (lf.softmax_cross_entropy, lf.nll, lf.sparse_categorical_crossentropy):
        xx = lf.softmax(x) if loss is lf.sparse_categorical_crossentropy else x
        value, grad = loss.value_and_grad(xx, y, ignore_index=-100)
        assert np.isnan(value)
        np.testing.assert_array_equal(grad, 0.0)
        assert loss(xx, y, ignore_index=-100, reduction="sum") == 0.0
        np.testing.assert_array_equal(loss(xx, y, ignore_index=-100, reduction="none"), 0.0)


# --- threads --------------------------------------------------------------------------------------

BIG = {
    "many_rows": (700, 61),          # rows spread over threads in blocks
    "nchw": (4, 13, 40, 30),         # axis=1
    "few_long_rows": (3, 40000),     # rows split into segments over threads
}


@pytest.mark.parametrize("shape", BIG)
@pytest.mark.parametrize("loss", ROW_LOSSES + UTILITIES, ids=ROW_IDS + UTILITY_IDS)
def test_bitwise_identical_for_any_thread_count(loss, shape, threads):
    dims = BIG[shape]
    axis = 1 if shape == "nchw" else -1
    rng = np.random.default_rng(2)
    x = draw_logits(loss.spec.pred, dims, rng, axis).astype(np.float32)
    if isinstance(loss, lf.RowFunction):
        go = rng.normal(size=np.shape(loss(x, axis=axis))).astype(np.float32)
        call = lambda: loss.value_and_grad(x, axis=axis, grad_output=go)  # noqa: E731
    else:
        t = draw_target(loss.spec.targets[0], dims, rng, axis)
        t = t if t.dtype.kind in "iu" else t.astype(np.float32)
        w = rng.uniform(0.5, 1.5, batch_of(dims, axis)).astype(np.float32)
        call = lambda: loss.value_and_grad(x, t, axis=axis, weight=w)  # noqa: E731
    results = []
    for n in (1, 2, 3, 4):
        lf.set_num_threads(n)
        results.append(call())
    for value, grad in results[1:]:
        np.testing.assert_array_equal(value, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])
    if shape == "few_long_rows" or loss.name == "softmax_cross_entropy":
        ref = loss.reference.value_and_grad(x.astype(np.float64), axis=axis, grad_output=go.astype(np.float64)) \
            if isinstance(loss, lf.RowFunction) else \
            loss.reference.value_and_grad(x.astype(np.float64), t, axis=axis, weight=w.astype(np.float64))
        assert_close(results[0][0], ref[0], np.float32, f"{loss.name} {shape} value")
        assert_close(results[0][1], ref[1], np.float32, f"{loss.name} {shape} grad")


def test_concurrent_calls_from_python_threads(threads):
    lf.set_num_threads(2)
    rng = np.random.default_rng(4)
    inputs_ = [(rng.normal(size=(300, 129)).astype(np.float32), rng.integers(0, 129, 300)) for _ in range(6)]
    expected = [lf.softmax_cross_entropy.value_and_grad(x, y, label_smoothing=0.1) for x, y in inputs_]
    got = [None] * len(inputs_)

    def work(i):
        for _ in range(5):
            got[i] = lf.softmax_cross_entropy.value_and_grad(*inputs_[i], label_smoothing=0.1)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs_))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for (v, g), (ev, eg) in zip(got, expected):
        assert v == ev
        np.testing.assert_array_equal(g, eg)


# --- bad input ------------------------------------------------------------------------------------

X = np.random.default_rng(9).normal(size=(4, 5))
Y = np.array([0, 4, 2, 1])


def test_label_out_of_range_names_label_and_position():
    with pytest.raises(ValueError, match=re.escape("target label 5 at index (1,) is outside [0, 5)")):
        lf.softmax_cross_entropy(X, np.array([0, 5, 2, 1]))
    with pytest.raises(ValueError, match=re.escape("label -1 at index (1, 2) is outside [0, 5)")):
        lf.softmax_cross_entropy(np.zeros((2, 5, 3)), np.array([[0, 1, 2], [0, 1, -1]]), axis=1)
    with pytest.raises(ValueError, match="label -100 at index"):
        lf.nll(X, np.array([0, -100, 1, 1]))
    assert np.isfinite(lf.nll(X, np.array([0, -100, 1, 1]), ignore_index=-100))
    for loss in ROW_LOSSES:
        if "labels" in loss.spec.targets:
            xx = np.abs(X) if loss.spec.pred == "prob_rows" else X
            with pytest.raises(ValueError, match="target label 7"):
                loss.value_and_grad(xx, np.array([0, 1, 7, 1]))


def test_target_shape_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("target: shape (3,) is neither the label shape (4,) nor the logits shape (4, 5)")):
        lf.softmax_cross_entropy(X, Y[:3])
    with pytest.raises(ValueError, match=re.escape("target: shape (4, 5) is not the label shape (4,)")):
        lf.nll(X, np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(ValueError, match=re.escape("target: shape (4,) is not the logits shape (4, 5)")):
        lf.categorical_hinge(X, Y)


def test_float_labels_are_a_type_error():
    for loss in (lf.softmax_cross_entropy, lf.nll, lf.multi_margin, lf.softmax_focal):
        with pytest.raises(TypeError, match="target: integer class labels required"):
            loss(X, Y.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64])
def test_any_integer_label_dtype(dtype):
    assert lf.softmax_cross_entropy(X, Y.astype(dtype)) == lf.softmax_cross_entropy(X, Y)


def test_bad_axis_and_hyper_parameters():
    with pytest.raises(ValueError, match="axis: 2 is out of range"):
        lf.softmax_cross_entropy(X, Y, axis=2)
    with pytest.raises(ValueError, match="axis: -3 is out of range"):
        lf.softmax(X, axis=-3)
    with pytest.raises(TypeError, match="axis"):
        lf.softmax_cross_entropy(X, Y, axis=1.0)
    with pytest.raises(ValueError, match="logits: needs at least one dimension"):
        lf.softmax_cross_entropy(np.float64(1.0), np.int64(0))
    with pytest.raises(ValueError, match=re.escape("class_weight: expected a 1-D array of length 5")):
        lf.softmax_cross_entropy(X, Y, class_weight=np.ones(4))
    with pytest.raises(ValueError, match="class_weight: entries must be finite and >= 0, got -1"):
        lf.softmax_cross_entropy(X, Y, class_weight=[1, 1, -1, 1, 1])
    with pytest.raises(ValueError, match="alpha: entries must be finite and >= 0"):
        lf.softmax_focal(X, Y, alpha=-0.5)
    with pytest.raises(ValueError, match="ignore_index: applies to integer labels only"):
        lf.softmax_cross_entropy(X, lf.softmax(X), ignore_index=0)
    with pytest.raises(TypeError, match="ignore_index"):
        lf.softmax_cross_entropy(X, Y, ignore_index=1.5)
    with pytest.raises(ValueError, match="ignore_index: 1180591620717411303424 is outside the int64 range"):
        lf.softmax_cross_entropy(X, Y, ignore_index=2**70)
    with pytest.raises(ValueError, match="axis: -100000000000000000000 is out of range"):
        lf.log_softmax(X, axis=-(10**20))
    with pytest.raises(TypeError, match="unexpected keyword argument 'delta'"):
        lf.softmax_cross_entropy(X, Y, delta=1.0)
    with pytest.raises(ValueError, match="reduction"):
        lf.softmax_cross_entropy(X, Y, reduction="batchmean")
    with pytest.raises(ValueError, match="grad_output: must be a scalar for reduction 'mean'"):
        lf.softmax_cross_entropy.grad(X, Y, grad_output=np.ones(4))
    with pytest.raises(ValueError, match=re.escape("grad_output: shape (3,) does not match the output shape (4,)")):
        lf.softmax_cross_entropy.grad(X, Y, reduction="none", grad_output=np.ones(3))
    with pytest.raises(ValueError, match=re.escape("weight: shape (3,) cannot be broadcast to the batch shape (4,)")):
        lf.softmax_cross_entropy(X, Y, weight=np.ones(3))


BAD_HYPER = [(loss, bad) for loss in ROW_LOSSES for bad in loss.spec.bad_hyper]


@pytest.mark.parametrize("loss,bad", BAD_HYPER, ids=[f"{l.name}-{b}" for l, b in BAD_HYPER])
def test_invalid_hyper_parameters(loss, bad):
    x, t = inputs(loss, loss.spec.targets[0])
    name = next(iter(bad))
    for method in (loss, loss.grad, loss.value_and_grad):
        with pytest.raises(ValueError, match=re.escape(name)):
            method(x, t, **bad)


@pytest.mark.parametrize("dtype", [np.complex128, object, "U3"])
@pytest.mark.parametrize("loss", ROW_LOSSES, ids=ROW_IDS)
def test_unsupported_dtypes_are_type_errors(loss, dtype):
    x, t = inputs(loss, loss.spec.targets[0])
    with pytest.raises(TypeError, match="logits"):
        loss(np.zeros(SHAPE, dtype=dtype), t)
    with pytest.raises(TypeError, match="target"):
        loss(x, np.zeros(t.shape, dtype=dtype))
    with pytest.raises(TypeError, match="weight"):
        loss(x, t, weight=np.zeros(SHAPE[:1], dtype=dtype))


def test_bad_out_buffers():
    g32 = np.empty((4, 5), np.float32)
    with pytest.raises(TypeError, match="out: dtype float32 does not match the compute dtype float64"):
        lf.softmax_cross_entropy.grad(X, Y, out=g32)
    with pytest.raises(ValueError, match=re.escape("out: shape (5, 4) does not match logits shape (4, 5)")):
        lf.softmax_cross_entropy.grad(X, Y, out=np.empty((5, 4)))
    with pytest.raises(ValueError, match="out: must be C-contiguous"):
        lf.softmax_cross_entropy.grad(X, Y, out=np.empty((5, 4)).T)
    ro = np.empty((4, 5))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out: must be writable"):
        lf.softmax_cross_entropy.value_and_grad(X, Y, out=ro)
    with pytest.raises(TypeError, match="out: expected a numpy.ndarray"):
        lf.softmax.grad(X, out=[0.0] * 20)


def test_half_precision_inputs_compute_in_float32():
    value, grad = lf.softmax_cross_entropy.value_and_grad(X.astype(np.float16), Y)
    assert grad.dtype == np.float32
    assert_close(value, lf.softmax_cross_entropy.reference(X.astype(np.float16).astype(np.float64), Y),
                 np.float32, "float16")
    brain = X.astype(ml_dtypes.bfloat16)
    value, grad = lf.softmax_cross_entropy.value_and_grad(brain, Y)
    assert grad.dtype == np.float32
    assert value == lf.softmax_cross_entropy(brain.astype(np.float32), Y)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "logsumexp", "softmax_focal"])
def test_gradient_beyond_the_caches_is_streamed_with_the_same_bits(name, threads):
    """A gradient of 32 MiB or more is written with streaming stores: the same numbers as the
    same rows computed in pieces small enough for ordinary stores."""
    f = getattr(lf, name)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(520, 16411)).astype(np.float32)  # 34 MB; odd row length: unaligned rows
    y = rng.integers(0, x.shape[1], x.shape[0])
    args = (x,) if name == "logsumexp" else (x, y)
    kw = {} if name == "logsumexp" else {"reduction": "none"}
    for nt in (1, 2):
        lf.set_num_threads(nt)
        g = f.grad(*args, **kw)
        for lo in range(0, x.shape[0], 130):
            part = (x[lo:lo + 130],) if name == "logsumexp" else (x[lo:lo + 130], y[lo:lo + 130])
            np.testing.assert_array_equal(g[lo:lo + 130], f.grad(*part, **kw))


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "logsumexp", "softmax_focal"])
def test_kept_and_recomputed_exponentials_give_the_same_bits(name, threads):
    """Rows of stride 1 keep their exponentials between the two passes; strided rows (a class
    axis other than the last) recompute them: the same gradient, bit for bit."""
    f = getattr(lf, name)
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(5, 9000)) * 3).astype(np.float32)
    x[1, :2100] = -np.inf  # the first chunk (2048 classes) has no exponential; the next does
    x[2, 3000:3100] = -np.inf
    y = rng.integers(0, x.shape[1], x.shape[0])
    y[1] = 5000
    x_classes_first = np.ascontiguousarray(x.T)  # rows of stride 5 along axis 0
    for nt in (1, 2):
        lf.set_num_threads(nt)
        if name == "logsumexp":
            g_rows, g_cols = f.grad(x), f.grad(x_classes_first, axis=0)
        else:
            g_rows = f.grad(x, y, reduction="sum")
            g_cols = f.grad(x_classes_first, y, axis=0, reduction="sum")
        np.testing.assert_array_equal(g_rows, g_cols.T)
        assert np.isfinite(g_rows).all()
