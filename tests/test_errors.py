"""Bad input gets a clear ValueError/TypeError naming the argument, and nothing else."""

import re

import numpy as np
import pytest

import lossfn as lf
from samples import ALL_LOSSES, LOSS_IDS, SHAPE, inputs

BAD_HYPER = [(loss, bad) for loss in ALL_LOSSES for bad in loss.spec.bad_hyper]


@pytest.mark.parametrize("loss,bad", BAD_HYPER, ids=[f"{l.name}-{b}" for l, b in BAD_HYPER])
def test_invalid_hyper_parameters(loss, bad):
    args = inputs(loss)
    name = next(iter(bad))
    for method in (loss, loss.grad, loss.value_and_grad, loss.hess):
        with pytest.raises(ValueError, match=re.escape(name)):
            method(*args, **bad)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_shape_mismatch_names_both_shapes(loss):
    args = inputs(loss)
    for i, name in enumerate(loss.inputs[1:], start=1):
        bad = list(args)
        bad[i] = bad[i][:, :-1]
        with pytest.raises(ValueError, match=rf"{name}: shape \(37, 10\) does not match pred shape \(37, 11\)"):
            loss(*bad)
    # no silent broadcasting, even where NumPy would broadcast
    bad = list(args)
    bad[1] = bad[1][:1]
    with pytest.raises(ValueError, match="target"):
        loss.grad(*bad)


@pytest.mark.parametrize("dtype", [np.complex128, object, "U3", "S3", "M8[s]"])
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_unsupported_dtypes_are_type_errors(loss, dtype):
    args = inputs(loss)
    for i, name in enumerate(loss.inputs):
        bad = list(args)
        bad[i] = np.zeros(SHAPE, dtype=dtype)
        with pytest.raises(TypeError, match=name):
            loss(*bad)
    with pytest.raises(TypeError, match="weight"):
        loss(*args, weight=np.zeros(SHAPE, dtype=dtype))


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_non_numeric_objects(loss):
    args = inputs(loss)
    with pytest.raises(TypeError, match="pred"):
        loss("abc", args[1], *args[2:])
    with pytest.raises(TypeError, match="target"):
        loss(args[0], {"a": 1}, *args[2:])


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_bad_reduction_keyword_and_arity(loss):
    args = inputs(loss)
    with pytest.raises(ValueError, match="reduction"):
        loss(*args, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        loss.grad(*args, reduction=None)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        loss(*args, bogus=1.0)
    with pytest.raises(TypeError, match="positional inputs"):
        loss(args[0])
    with pytest.raises(TypeError, match="positional inputs"):
        loss(*args, args[0])


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_bad_weight(loss):
    args = inputs(loss)
    with pytest.raises(ValueError, match=r"weight: shape \(5,\) cannot be broadcast to \(37, 11\)"):
        loss(*args, weight=np.ones(5))


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_bad_out(loss):
    args = inputs(loss)
    two = len(loss.differentiable_inputs) == 2

    def wrap(buf):
        return (buf, np.empty(SHAPE)) if two else buf

    name = "out\\[0\\]" if two else "out"
    with pytest.raises(ValueError, match=rf"{name}: shape"):
        loss.grad(*args, out=wrap(np.empty((3, 3))))
    with pytest.raises(TypeError, match=rf"{name}: dtype float32 does not match the compute dtype float64"):
        loss.grad(*args, out=wrap(np.empty(SHAPE, np.float32)))
    ro = np.empty(SHAPE)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=rf"{name}: must be writable"):
        loss.value_and_grad(*args, out=wrap(ro))
    with pytest.raises(ValueError, match=rf"{name}: must be C-contiguous"):
        loss.grad(*args, out=wrap(np.empty(SHAPE[::-1]).T))
    with pytest.raises(TypeError, match="out"):
        loss.grad(*args, out=[0.0] * 407)
    if two:
        with pytest.raises(TypeError, match="tuple of two arrays"):
            loss.grad(*args, out=np.empty(SHAPE))


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_bad_grad_output(loss):
    args = inputs(loss)
    with pytest.raises(ValueError, match=r"grad_output: must be a scalar for reduction 'mean'"):
        loss.grad(*args, grad_output=np.ones(SHAPE))
    with pytest.raises(ValueError, match=r"grad_output: shape \(3,\) does not match pred shape"):
        loss.grad(*args, reduction="none", grad_output=np.ones(3))
    with pytest.raises(TypeError, match="grad_output"):
        loss.grad(*args, grad_output=1j)


SIGN_LOSSES = [loss for loss in ALL_LOSSES if loss.spec.target == "sign"]


@pytest.mark.parametrize("loss", SIGN_LOSSES, ids=[l.name for l in SIGN_LOSSES])
def test_labels_outside_their_domain(loss):
    x = np.linspace(-2, 2, 10)
    with pytest.raises(ValueError, match=r"target must hold labels in \{-1, \+1\} or \{0, 1\}; found 0.5 at index 4"):
        loss(x, np.array([1, -1, 1, 1, 0.5, 1, 1, 1, 1, 1.0]))
    with pytest.raises(ValueError, match="found both -1 and 0"):
        loss(x, np.array([1, -1, 0, 1, 1, 1, 1, 1, 1, 1.0]))
    with pytest.raises(ValueError, match="target"):
        loss.grad(x, np.full(10, np.nan))
    # {0, 1} is read as {-1, +1}
    y01 = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1])
    assert loss(x, y01) == loss(x, 2.0 * y01 - 1)


MARGIN_LOSSES = [loss for loss in ALL_LOSSES if loss.spec.target == "sign"]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", MARGIN_LOSSES, ids=lambda loss: loss.name)
def test_sign_labels_are_checked_by_every_pass(loss, dtype, threads):
    """The kernel's own pass checks the labels: every output mode, every block, any thread."""
    n = 3 * 32768 + 17  # several blocks, spread over the threads
    i = np.arange(n)
    x = np.linspace(-2, 2, n).astype(dtype)
    half = np.where(i % 2 == 0, 1, -1).astype(dtype)
    cases = []
    for valid in (np.ones(n, dtype), half, (i % 3 == 0).astype(dtype)):
        bad = valid.copy()
        bad[[70001, 90000]] = 0.5
        cases.append((valid, bad, "found 0.5 at index 70001"))
    bad = np.where(i < 90001, 1, 0).astype(dtype)
    bad[90001] = -1  # 1, then -1 at 90001, then 0 from 90002: the mix is complete at 90002
    cases.append((None, bad, r"found both -1 and 0 \(index 90002\)"))
    for valid, bad, message in cases:
        calls = (lambda: loss(x, bad), lambda: loss(x, bad, reduction="none"), lambda: loss.grad(x, bad),
                 lambda: loss.value_and_grad(x, bad), lambda: loss.hess(x, bad),
                 lambda: loss.grad_and_hess(x, bad),
                 lambda: loss.grad(x, bad, reduction="none", grad_output=np.ones(n, dtype)))
        lf.set_num_threads(threads)
        try:
            for call in calls:
                with pytest.raises(ValueError, match=r"target must hold labels in \{-1, \+1\} or \{0, 1\}; " + message):
                    call()
            if valid is not None:
                loss.value_and_grad(x, valid)
        finally:
            lf.set_num_threads(2)


def test_sign_labels_are_checked_in_arrays_beyond_the_cache():
    n = (32 << 20) // 4 + 4099  # the prefetching chunks of a float32 pass
    x, y = np.zeros(n, np.float32), np.ones(n, np.float32)
    y[n - 3] = 2.0
    with pytest.raises(ValueError, match=f"found 2 at index {n - 3}"):
        lf.hinge.value_and_grad(x, y)


def test_gaussian_nll_rejects_negative_variance():
    p, t, v = np.zeros(5), np.ones(5), np.array([1.0, 2.0, -0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="var has a negative entry -0.5 at index 2"):
        lf.gaussian_nll(p, t, v)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_aux_values_are_checked_everywhere_and_the_first_offender_is_named(threads, dtype):
    n = 3 * 32768 + 17  # several blocks, scanned in parallel
    p, t = np.zeros(n, dtype), np.ones(n, dtype)
    lf.set_num_threads(threads)
    try:
        v = np.ones(n, dtype)
        v[[70001, 90000]] = -0.5
        with pytest.raises(ValueError, match="var has a negative entry -0.5 at index 70001"):
            lf.gaussian_nll(p, t, v)
        v[[70001, 90000]] = 0.0  # zero is allowed (clamped to eps)
        assert np.isfinite(lf.gaussian_nll(p, t, v))
        tau = np.full(50000, 0.5, dtype)  # per column of (2, 50000): 100000 aux values
        tau[[30001, 40000]] = [np.nan, 1.0]
        with pytest.raises(ValueError, match=r"tau must be in \(0, 1\), got nan at index 30001"):
            lf.quantile(np.zeros((2, 50000), dtype), np.ones((2, 50000), dtype), tau=tau)
    finally:
        lf.set_num_threads(2)


def test_per_column_hyper_parameter_shapes():
    p, t = np.zeros((4, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="tau: expected a scalar or a 1-D array of length 3"):
        lf.quantile(p, t, tau=np.array([0.1, 0.5]))
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\)"):
        lf.quantile(p, t, tau=np.array([0.1, 0.5, 1.5]))
    with pytest.raises(ValueError, match="pos_weight: shape"):
        lf.bce_with_logits(p, t, pos_weight=np.ones(4))
    with pytest.raises(ValueError, match="class_weight"):
        lf.bce(p + 0.5, t, class_weight=(1.0, 2.0, 3.0))


def test_thread_and_isa_settings():
    with pytest.raises(ValueError, match="threads"):
        lf.set_num_threads(0)
    with pytest.raises(TypeError, match="n"):
        lf.set_num_threads(2.5)
    with pytest.raises(ValueError, match="isa"):
        lf.set_isa("sse9")


# --- Inputs that used to get through ---------------------------------------------------------


def test_uint64_labels_beyond_int64_are_named():
    x = np.zeros((3, 4))
    for big in (2**63, 2**64 - 1):
        y = np.array([0, big, 1], dtype=np.uint64)
        for kw in ({}, {"ignore_index": -1}):
            with pytest.raises(ValueError, match=rf"target label {big} at index \(1,\) is outside \[0, 4\)"):
                lf.softmax_cross_entropy(x, y, **kw)
    y2 = np.array([[0, 1], [2**64 - 1, 3]], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"at index \(1, 0\)"):
        lf.nll(np.zeros((2, 2, 4)), y2)
    assert lf.nll(x, np.array([0, 1, 3], dtype=np.uint64)) == 0.0


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_masked_arrays_are_refused(loss):
    args = inputs(loss)
    for i, name in enumerate(loss.inputs):
        bad = list(args)
        bad[i] = np.ma.masked_less(args[i], np.median(args[i]))
        with pytest.raises(TypeError, match=rf"{name}: masked arrays are not supported"):
            loss(*bad)
    with pytest.raises(TypeError, match="weight: masked arrays"):
        loss(*args, weight=np.ma.masked_equal(np.ones(SHAPE), 0))


def test_masked_row_inputs_are_refused():
    x = np.ma.masked_greater(np.random.default_rng(0).normal(size=(4, 3)), 1.0)
    with pytest.raises(TypeError, match="logits: masked arrays"):
        lf.softmax_cross_entropy(x, np.array([0, 1, 2, 0]))
    with pytest.raises(TypeError, match="target: masked arrays"):
        lf.softmax_cross_entropy(x.data, np.ma.masked_equal([0, 1, 2, 0], 0))


@pytest.mark.parametrize("value,kind", [("2.0", "str"), (True, "bool"), (b"1", "bytes"), (None, "NoneType"),
                                        ([1.0], "list"), ({}, "dict")])
def test_hyper_parameter_of_wrong_type_names_the_keyword(value, kind):
    for method in (lf.huber, lf.huber.grad, lf.huber.hess):
        with pytest.raises(TypeError, match=rf"^delta: expected a number, got {kind}$"):
            method(np.zeros(3), np.ones(3), delta=value)
    with pytest.raises(TypeError, match=rf"^label_smoothing: expected a number, got {kind}$"):
        lf.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=value)
    with pytest.raises(TypeError, match="^full: expected a bool"):
        lf.poisson_nll(np.ones(3), np.ones(3), full=1.0)
    assert lf.huber(np.zeros(3), np.ones(3), delta=np.float32(2.0)) == 0.5


@pytest.mark.parametrize("axis", [2**31, -(2**31) - 1, 2**40, 2**63 - 1])
def test_huge_axis_is_a_value_error(axis):
    with pytest.raises(ValueError, match=rf"axis: {axis} is out of range"):
        lf.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), axis=axis)
    with pytest.raises(ValueError, match="axis"):
        lf.softmax(np.zeros((2, 3)), axis=axis)


def test_out_with_dtype_metadata_is_accepted_and_byteswapped_is_named():
    p, y = np.zeros(5), np.ones(5)
    out = np.empty(5, dtype=np.dtype(np.float64, metadata={"unit": "m"}))
    g = lf.mse.grad(p, y, reduction="sum", out=out)
    np.testing.assert_array_equal(g, -2.0)
    with pytest.raises(TypeError, match=r"out: dtype >f8 does not match the compute dtype float64"):
        lf.mse.grad(p, y, out=np.empty(5, dtype=">f8"))


def test_missing_required_aux_names_it():
    p = np.zeros(4)
    with pytest.raises(ValueError, match=r"^var: required \(gaussian_nll takes pred, target, var\), got None$"):
        lf.gaussian_nll(p, p, None)


class _Raises:
    def __init__(self, exc):
        self.exc = exc

    def __array__(self, dtype=None, copy=None):
        raise self.exc


@pytest.mark.parametrize("exc", [MemoryError("no room"), KeyboardInterrupt(), RuntimeError("from __array__"),
                                 ZeroDivisionError("in __array__")])
def test_exceptions_from_array_conversion_propagate_as_themselves(exc):
    for call in (lambda o: lf.mse(o, np.zeros(3)), lambda o: lf.mse(np.zeros(3), o),
                 lambda o: lf.softmax_cross_entropy(o, np.array([0])), lambda o: lf.softmax(o)):
        with pytest.raises(type(exc)):
            call(_Raises(exc))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_misaligned_buffers(dtype):
    """Inputs at odd addresses are read through an aligned copy (well-defined loads); an out=
    buffer at an odd address is refused."""
    n = 50
    raw = np.random.default_rng(0).normal(size=2 * n).astype(dtype)
    buf = bytearray(raw.tobytes()) + b"\0"
    shifted = bytes(1) + bytes(buf)
    p = np.frombuffer(shifted, dtype=dtype, count=n, offset=1)
    t = np.frombuffer(shifted, dtype=dtype, count=n, offset=1 + n * np.dtype(dtype).itemsize)
    assert not p.flags.aligned
    want = lf.huber.value_and_grad(p.copy(), t.copy(), reduction="sum")
    got = lf.huber.value_and_grad(p, t, reduction="sum")
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    labels = np.frombuffer(bytes(1) + np.arange(5, dtype=np.int64).tobytes(), dtype=np.int64, offset=1)
    x = np.zeros((5, 6))
    assert lf.nll(x, labels) == lf.nll(x, labels.copy())
    out = np.frombuffer(bytearray(n * np.dtype(dtype).itemsize + 1), dtype=dtype, count=n, offset=1)
    with pytest.raises(ValueError, match="out: must be aligned"):
        lf.huber.grad(p.copy(), t.copy(), out=out)
