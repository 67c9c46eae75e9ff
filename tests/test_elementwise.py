"""Generic tests of every elementwise loss, driven by the registry (lossfn.registry.SPECS).

Registering a loss runs it through all of these: kernels against the NumPy reference for every
ISA level, dtype, reduction, weighting and hyper-parameter variant; layouts; grad_output and
out=; extreme inputs; empty inputs; determinism across thread counts; concurrent calls.
"""

import threading

import ml_dtypes
import numpy as np
import pytest

import lossfn as lf
from samples import (ALL_LOSSES, LOSS_IDS, SHAPE, as_tuple, assert_close, draw, hyper_id,
                     hyper_settings, inputs)

REDUCTIONS = ("mean", "sum", "none")
DTYPES = (np.float64, np.float32)

CASES = [(loss, hyper) for loss in ALL_LOSSES for hyper in hyper_settings(loss)]
CASE_IDS = [f"{loss.name}[{hyper_id(hyper)}]" for loss, hyper in CASES]


def cast(args, dtype):
    return [np.asarray(a, dtype=dtype) for a in args]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss,hyper", CASES, ids=CASE_IDS)
def test_matches_reference(loss, hyper, dtype, isa):
    args = cast(inputs(loss), dtype)
    ref_args = [a.astype(np.float64) for a in args]  # the reference sees the same rounded inputs
    weight = np.random.default_rng(7).uniform(0.2, 2.0, SHAPE)
    for reduction in REDUCTIONS:
        for w in (None, weight.astype(dtype)):
            kw = dict(hyper, reduction=reduction, weight=w)
            where = f"{loss.name} {hyper_id(hyper)} {np.dtype(dtype).name} {reduction} weight={w is not None} isa={isa}"
            value, grad = loss.value_and_grad(*args, **kw)
            ref_value, ref_grad = loss.reference.value_and_grad(*ref_args, **kw)
            assert_close(value, ref_value, dtype, "value_and_grad value: " + where)
            assert_close(loss(*args, **kw), ref_value, dtype, "value: " + where)
            for g, rg in zip(as_tuple(grad), as_tuple(ref_grad)):
                assert g.dtype == dtype and g.shape == SHAPE
                assert_close(g, rg, dtype, "value_and_grad grad: " + where)
            for g, rg in zip(as_tuple(loss.grad(*args, **kw)), as_tuple(ref_grad)):
                assert_close(g, rg, dtype, "grad: " + where)
            hess = loss.hess(*args, **kw)
            assert hess.dtype == dtype and hess.shape == SHAPE
            assert_close(hess, loss.reference.hess(*ref_args, **kw), dtype, "hess: " + where)
            if reduction == "none":
                v = loss(*args, **kw)
                assert v.dtype == dtype and v.shape == SHAPE
            else:
                assert isinstance(value, float)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_grad_and_hess_in_one_pass(loss):
    args = inputs(loss)
    g, h = loss.grad_and_hess(*args, reduction="sum")
    # Another instantiation of the same formula: equal up to the compiler's FMA contraction.
    np.testing.assert_allclose(as_tuple(g)[0], as_tuple(loss.grad(*args, reduction="sum"))[0], rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(h, loss.hess(*args, reduction="sum"), rtol=1e-14, atol=1e-300)


def central_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("loss,hyper", CASES, ids=CASE_IDS)
def test_reference_derivatives_match_finite_differences(loss, hyper):
    """The reference's gradient and Hessian agree with central differences of its own value."""
    args = inputs(loss, shape=(200,), seed=3)
    ref = loss.reference
    if any(isinstance(v, np.ndarray) for v in hyper.values()):
        rng = np.random.default_rng(4)
        hyper = {k: (rng.uniform(0.1, 0.9) if isinstance(v, np.ndarray) else v) for k, v in hyper.items()}
    pred = args[0]
    keep = np.ones(pred.shape, bool)
    if loss.spec.kinks is not None:
        keep &= ~loss.spec.kinks(*args[:2], **hyper)
    if loss.spec.pred == "prob":
        keep &= (pred > 1e-3) & (pred < 1 - 1e-3)
    h = 1e-6

    def value_at(p):
        return ref(p, *args[1:], reduction="none", **hyper)

    grads = as_tuple(ref.grad(*args, reduction="none", **hyper))
    fd = central_difference(value_at, pred, h)
    np.testing.assert_allclose(grads[0][keep], fd[keep], rtol=1e-5, atol=1e-6)
    fd2 = central_difference(lambda p: as_tuple(ref.grad(p, *args[1:], reduction="none", **hyper))[0], pred, h)
    np.testing.assert_allclose(ref.hess(*args, reduction="none", **hyper)[keep], fd2[keep], rtol=1e-5, atol=1e-5)
    if len(grads) == 2:  # derivative w.r.t. the aux input (gaussian_nll's var)
        aux = args[2]
        fd_aux = central_difference(lambda v: ref(args[0], args[1], v, reduction="none", **hyper), aux, h)
        np.testing.assert_allclose(grads[1], fd_aux, rtol=1e-5, atol=1e-6)


LAYOUTS = {
    "transposed": lambda a: a.T.copy().T,
    "fortran": lambda a: np.asfortranarray(a),
    "sliced": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "negative_strides": lambda a: a[::-1, ::-1].copy()[::-1, ::-1],
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_any_layout_gives_the_contiguous_answer(loss, layout):
    args = inputs(loss)
    strided = [LAYOUTS[layout](a) for a in args]
    assert not strided[0].flags.c_contiguous
    weight = LAYOUTS[layout](np.random.default_rng(2).uniform(0.5, 1.5, SHAPE))
    for reduction in REDUCTIONS:
        v1, g1 = loss.value_and_grad(*args, weight=np.ascontiguousarray(weight), reduction=reduction)
        v2, g2 = loss.value_and_grad(*strided, weight=weight, reduction=reduction)
        np.testing.assert_array_equal(v1, v2)
        for a, b in zip(as_tuple(g1), as_tuple(g2)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_broadcast_weight(loss):
    args = inputs(loss)
    row = np.linspace(0.5, 2.0, SHAPE[-1])
    full = np.broadcast_to(row, SHAPE)
    assert loss(*args, weight=row) == loss(*args, weight=np.ascontiguousarray(full))
    assert_close(loss(*args, weight=row), loss.reference(*args, weight=row), np.float64, "broadcast weight")


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_grad_output_scales_the_gradient(loss):
    args = inputs(loss)
    for reduction in ("mean", "sum"):
        g1 = as_tuple(loss.grad(*args, reduction=reduction))
        g3 = as_tuple(loss.grad(*args, reduction=reduction, grad_output=3.0))
        g0d = as_tuple(loss.grad(*args, reduction=reduction, grad_output=np.array(3.0)))
        for a, b, c in zip(g1, g3, g0d):
            np.testing.assert_allclose(b, 3.0 * a, rtol=1e-14)
            np.testing.assert_array_equal(b, c)
    go = np.random.default_rng(5).normal(size=SHAPE)
    got = as_tuple(loss.grad(*args, reduction="none", grad_output=go))
    want = as_tuple(loss.reference.grad(*args, reduction="none", grad_output=go))
    for a, b in zip(got, want):
        assert_close(a, b, np.float64, "grad_output array")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_out_buffers_are_filled_and_returned(loss, dtype):
    args = cast(inputs(loss), dtype)
    n_grads = len(loss.differentiable_inputs)
    bufs = tuple(np.full(SHAPE, np.nan, dtype=dtype) for _ in range(n_grads))
    out = bufs if n_grads == 2 else bufs[0]
    value, grad = loss.value_and_grad(*args, out=out)
    for g, b in zip(as_tuple(grad), bufs):
        assert g is b
    for g, b in zip(as_tuple(loss.grad(*args)), bufs):
        np.testing.assert_allclose(g, b, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-300)
    hbuf = np.empty(SHAPE, dtype=dtype)
    assert loss.hess(*args, out=hbuf) is hbuf


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_empty_inputs(loss):
    args = [np.empty((0, 3)) for _ in loss.inputs]
    assert loss(*args, reduction="sum") == 0.0
    assert np.isnan(loss(*args, reduction="mean"))
    assert loss(*args, reduction="none").shape == (0, 3)
    assert as_tuple(loss.grad(*args))[0].shape == (0, 3)
    assert loss.hess(*args).shape == (0, 3)


def extreme_inputs(loss):
    """Inputs at the edges of each domain: logits of +-1e4, probabilities 0 and 1, errors of 1e6."""
    rng = np.random.default_rng(11)
    spec = loss.spec
    n = 64
    if spec.pred == "logit":
        pred = np.concatenate([[1e4, -1e4, 1e4, -1e4, 88.0, -88.0, 710.0, -710.0], rng.normal(0, 50, n - 8)])
    elif spec.pred == "prob":
        pred = np.concatenate([[0.0, 1.0, 0.0, 1.0, 1e-12, 1 - 1e-12, 1e-30, 0.5], rng.uniform(0, 1, n - 8)])
    elif spec.pred == "positive":
        pred = np.concatenate([[1e6, 1e-6, 1e-30, 30.0, 1e6, 1e-6, 0.5, 2.0], rng.uniform(0, 10, n - 8)])
    else:
        pred = np.concatenate([[1e6, -1e6, 1e6, -1e6, 50.0, -50.0, 1e-8, 0.0], rng.normal(0, 1e3, n - 8)])
    target = draw(spec.target, (n,), rng)
    if spec.target in ("binary01", "soft01", "sign"):
        target[:8] = [1, 0, 0, 1, 1, 0, 1, 0] if spec.target != "sign" else [1, -1, -1, 1, 1, -1, 1, -1]
    args = [pred, target]
    if spec.aux:
        args.append(np.concatenate([[1e-9, 1e6, 1.0, 1e-3, 1e3, 1.0, 0.0, 1.0], rng.uniform(0.01, 10, n - 8)]))
    return args


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_extreme_inputs_are_finite_and_right(loss, dtype):
    args = cast(extreme_inputs(loss), dtype)
    ref_args = [a.astype(np.float64) for a in args]
    with np.errstate(all="ignore"):
        ref_l = loss.reference(*ref_args, reduction="none")
        ref_g = as_tuple(loss.reference.grad(*ref_args, reduction="none"))
        ref_h = loss.reference.hess(*ref_args, reduction="none")
    # Only compare where the true value is representable in the compute dtype.
    big = np.finfo(dtype).max
    l = loss(*args, reduction="none")
    g = as_tuple(loss.grad(*args, reduction="none"))
    h = loss.hess(*args, reduction="none")
    compare = np.ones(args[0].shape, bool)
    if loss.spec.pred == "prob" and dtype == np.float32:
        # float32 clips at 1 - 1e-7 rounded to float32 (1 - 2^-23), as Keras does in float32;
        # the float64 reference clips at 1 - 1e-7 exactly. Clipped points are checked for
        # finiteness only.
        compare = (args[0] > 1e-6) & (args[0] < 1 - 1e-6)
    for name, got, want in [("loss", l, ref_l), ("hess", h, ref_h)] + [("grad", a, b) for a, b in zip(g, ref_g)]:
        assert np.isfinite(got[np.isfinite(want) & (np.abs(want) < big)]).all(), f"{loss.name} {name}"
        ok = np.isfinite(want) & (np.abs(want) < big) & compare
        assert np.isfinite(got[ok]).all(), f"{loss.name} {name}: non-finite {got[ok & ~np.isfinite(got)]}"
        rtol = 1e-4 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=rtol * 1e-3, err_msg=f"{loss.name} {name}")


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_nan_propagates(loss):
    args = inputs(loss, shape=(50,))
    args[0][3] = np.nan
    l = loss(*args, reduction="none")
    assert np.isnan(l[3]) and np.isfinite(np.delete(l, 3)).all()
    assert np.isnan(loss(*args))


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_bitwise_identical_for_any_thread_count(loss, threads):
    n = 3 * 32768 + 4099  # above the parallel threshold, ragged last block
    args = inputs(loss, shape=(n,), seed=9)
    weight = np.random.default_rng(10).uniform(0.1, 1.0, n)
    results = []
    for t in (1, 2, 3):
        lf.set_num_threads(t)
        v, g = loss.value_and_grad(*args, weight=weight)
        results.append((v, as_tuple(g), loss(*args, reduction="sum"), loss.hess(*args)))
    for v, g, s, h in results[1:]:
        assert v == results[0][0] and s == results[0][2]
        for a, b in zip(g, results[0][1]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(h, results[0][3])


# Calls of at least 32 MiB per array run their blocks in chunks with software prefetch
# (cpp/src/kernels/elementwise_loop.hpp, kStreamBytes); smaller calls run each block as one loop.
STREAMING_N = (32 << 20) // 4 + 4099


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_arrays_beyond_the_cache_give_the_same_elements(loss, threads):
    """The prefetching path agrees with the in-cache path element by element, its sum agrees
    with its elements, and it is bitwise identical across thread counts. (Not bitwise equal to
    the in-cache path: the compiler may contract a multiply-add into an FMA in one copy of the
    loop and not in the other; charbonnier's gradient differs by up to 4 ulp.)"""
    args = cast(inputs(loss, shape=(STREAMING_N,), seed=21), np.float32)
    weight = np.random.default_rng(22).uniform(0.1, 1.0, STREAMING_N).astype(np.float32)
    lf.set_num_threads(2)
    full_loss = loss(*args, weight=weight, reduction="none")
    full_value, full_grad = loss.value_and_grad(*args, weight=weight, reduction="sum")
    pieces = np.array_split(np.arange(STREAMING_N), 4)
    piece_loss = [loss(*[a[p] for a in args], weight=weight[p], reduction="none") for p in pieces]
    piece_grad = [as_tuple(loss.grad(*[a[p] for a in args], weight=weight[p], reduction="sum"))
                  for p in pieces]
    assert_close(full_loss, np.concatenate(piece_loss), np.float32, "loss")
    for k, g in enumerate(as_tuple(full_grad)):
        assert_close(g, np.concatenate([pg[k] for pg in piece_grad]), np.float32, "grad")
    np.testing.assert_allclose(full_value, np.sum(full_loss, dtype=np.float64), rtol=1e-9)
    upstream = weight[::-1].copy()
    full_vjp = as_tuple(loss.grad(*args, reduction="none", grad_output=upstream))
    piece_vjp = [as_tuple(loss.grad(*[a[p] for a in args], reduction="none", grad_output=upstream[p]))
                 for p in pieces]
    for k, g in enumerate(full_vjp):
        assert_close(g, np.concatenate([pg[k] for pg in piece_vjp]), np.float32, "grad_output")
    lf.set_num_threads(1)
    value_1, grad_1 = loss.value_and_grad(*args, weight=weight, reduction="sum")
    assert value_1 == full_value
    for a, b in zip(as_tuple(grad_1), as_tuple(full_grad)):
        np.testing.assert_array_equal(a, b)


def test_concurrent_calls_from_python_threads():
    cases = [(loss, inputs(loss, shape=(50_000,), seed=i)) for i, loss in enumerate(ALL_LOSSES)]
    expected = [loss.value_and_grad(*args) for loss, args in cases]
    errors = []

    def worker(k):
        try:
            for _ in range(3):
                for (loss, args), (v, g) in zip(cases[k::4], expected[k::4]):
                    v2, g2 = loss.value_and_grad(*args)
                    assert v2 == v
                    for a, b in zip(as_tuple(g), as_tuple(g2)):
                        np.testing.assert_array_equal(a, b)
        except Exception as e:  # reported below
            errors.append(e)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_low_precision_and_integer_dtypes(loss):
    args = inputs(loss)
    half = [a.astype(np.float16) for a in args]
    value = loss(*half)
    assert isinstance(value, float)
    assert loss.grad(*half).__class__ in (np.ndarray, tuple)
    assert as_tuple(loss.grad(*half))[0].dtype == np.float32
    upcast = [a.astype(np.float32) for a in half]
    assert value == loss(*upcast)
    # bfloat16 (ml_dtypes, as JAX hands it over) is computed in float32 too.
    brain = [a.astype(ml_dtypes.bfloat16) for a in args]
    assert as_tuple(loss.grad(*brain))[0].dtype == np.float32
    assert loss(*brain) == loss(*[a.astype(np.float32) for a in brain])
    if loss.spec.target in ("binary01", "sign", "count"):
        int_target = args[1].astype(np.int8)
        assert loss(args[0], int_target) == loss(args[0], args[1])
    # Python lists work like arrays.
    assert loss(*[a.tolist() for a in args]) == loss(*args)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["bce_with_logits", "sigmoid_focal", "soft_margin"])
def test_confident_logits_keep_their_small_loss(name, dtype):
    """softplus(-x) for large x is e^-x, not 0: it must not be lost against x itself."""
    loss = getattr(lf, name)
    x = np.array([20.0, 30.0, -20.0, -30.0], dtype=dtype)
    y = np.array([1.0, 1.0, 0.0, 0.0], dtype=dtype) if name != "soft_margin" else np.array([1.0, 1.0, -1.0, -1.0], dtype=dtype)
    got = loss(x, y, reduction="none")
    want = loss.reference(x.astype(np.float64), y.astype(np.float64), reduction="none")
    assert (want > 0).all()
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
