"""Generic tests of the sequence losses (lossfn.registry.SEQUENCE_SPECS; today CTC): the kernels
against the NumPy reference (a plain log-space DP) for every variant, dtype, reduction, target
layout and ISA; the reference against central differences; thread-count determinism; layouts
read in place; the cases the DP must get right; bad input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import SEQUENCE_SPECS
from samples import draw_ctc

CTC = lf.ctc
REF = lf.reference.ctc
VARIANTS = [{}] + [dict(v) for v in SEQUENCE_SPECS[0].variants]
REDUCTIONS = ("mean", "sum", "none")


def variant_id(v):
    return "-".join(f"{k}={val}" for k, val in v.items()) or "defaults"


def call_inputs(rng, hyper, dtype=np.float64, **kw):
    """Inputs for `hyper` (blank, from_logits and batch_first honoured)."""
    classes = kw.pop("classes", 6)
    x, targets, il, tl = draw_ctc(rng, classes=classes, blank=hyper.get("blank", 0),
                                  logits=hyper.get("from_logits", False), dtype=dtype, **kw)
    if hyper.get("batch_first"):
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    return x, targets, il, tl


def tolerances(dtype):
    # float64: both sides are float64 arithmetic (the kernel's scaled recursion against the
    # reference's log space). float32: the scores are the same float32 numbers; the kernel works
    # in double but its log-partition sums float32 exponentials and the gradient is rounded to
    # float32.
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("hyper", VARIANTS, ids=variant_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "concatenated"])
def test_matches_reference(hyper, dtype, reduction, padded, isa):
    rng = np.random.default_rng(7)
    args = call_inputs(rng, hyper, dtype, batch=5, frames=23, padded=padded)
    tol = tolerances(dtype)
    want_v = REF(*args, reduction=reduction, **hyper)
    want_g = REF.grad(*args, reduction=reduction, **hyper)
    v, g = CTC.value_and_grad(*args, reduction=reduction, **hyper)
    assert g.dtype == dtype and g.shape == args[0].shape
    np.testing.assert_allclose(v, want_v, **tol)
    np.testing.assert_allclose(CTC(*args, reduction=reduction, **hyper), want_v, **tol)
    np.testing.assert_allclose(g, want_g, **tol)
    go = rng.uniform(0.5, 2.0, 5) if reduction == "none" else 1.7
    np.testing.assert_allclose(CTC.grad(*args, reduction=reduction, grad_output=go, **hyper),
                               REF.grad(*args, reduction=reduction, grad_output=go, **hyper), **tol)


@pytest.mark.parametrize("from_logits", [False, True])
def test_reference_gradient_matches_central_differences(from_logits):
    rng = np.random.default_rng(3)
    x, targets, il, tl = draw_ctc(rng, batch=3, frames=7, classes=4, max_labels=3, logits=from_logits)
    x = x + (0.0 if from_logits else rng.normal(0, 0.3, x.shape))  # unnormalised log-probabilities too
    g = REF.grad(x, targets, il, tl, from_logits=from_logits, reduction="sum")
    h = 1e-6
    for idx in [tuple(rng.integers(0, s) for s in x.shape) for _ in range(25)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd = (REF(xp, targets, il, tl, from_logits=from_logits, reduction="sum") -
              REF(xm, targets, il, tl, from_logits=from_logits, reduction="sum")) / (2 * h)
        assert abs(fd - g[idx]) < 1e-6 * max(1.0, abs(fd)), (idx, fd, g[idx])


def test_gradient_is_the_true_derivative_of_unnormalised_log_probs():
    """Without from_logits the scores need not be normalised: the gradient is d loss / d score
    (-posterior), checked on the kernel itself by central differences."""
    rng = np.random.default_rng(11)
    x, targets, il, tl = draw_ctc(rng, batch=2, frames=9, classes=5, max_labels=3)
    x = x + rng.normal(0.0, 1.0, x.shape)
    g = CTC.grad(x, targets, il, tl, reduction="sum")
    h = 1e-6
    for idx in [tuple(rng.integers(0, s) for s in x.shape) for _ in range(20)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd = (CTC(xp, targets, il, tl, reduction="sum") - CTC(xm, targets, il, tl, reduction="sum")) / (2 * h)
        assert abs(fd - g[idx]) < 1e-6 * max(1.0, abs(fd))
    assert np.all(g <= 0.0)  # -posterior


@pytest.mark.parametrize("batch", [1, 3, 16], ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("from_logits", [False, True])
def test_bitwise_identical_for_any_thread_count(batch, from_logits, threads):
    rng = np.random.default_rng(5)
    frames = 400 if batch == 1 else 120
    args = draw_ctc(rng, batch=batch, frames=frames, classes=90, max_labels=40, logits=from_logits,
                    dtype=np.float32)
    results = []
    for n in (1, 2, 3, 7):
        lf.set_num_threads(n)
        v, g = CTC.value_and_grad(*args, from_logits=from_logits, reduction="none")
        results.append((v.tobytes(), g.tobytes()))
    assert all(r == results[0] for r in results[1:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", [7, 19])
def test_layouts_are_read_in_place_with_the_same_bits(dtype, classes, isa):
    rng = np.random.default_rng(2)
    x, targets, il, tl = draw_ctc(rng, batch=4, frames=20, classes=classes, logits=True, dtype=dtype)
    v, g = CTC.value_and_grad(x, targets, il, tl, from_logits=True, reduction="none")
    # (N, T, C), C-contiguous: batch_first.
    nt = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    v1, g1 = CTC.value_and_grad(nt, targets, il, tl, from_logits=True, batch_first=True, reduction="none")
    assert v1.tobytes() == v.tobytes() and np.swapaxes(g1, 0, 1).tobytes() == np.ascontiguousarray(g).tobytes()
    # A (T, N, C) view of (N, T, C) memory, a view with a class stride, a reversed batch.
    for view, order in [(np.swapaxes(nt, 0, 1), slice(None)),
                        (np.repeat(x, 2, axis=2)[:, :, ::2], slice(None)),
                        (x[:, ::-1], slice(None, None, -1))]:
        assert not view.flags.c_contiguous
        tg = targets[order]
        vv, gv = CTC.value_and_grad(view, tg, il[order], tl[order], from_logits=True, reduction="none")
        assert vv.tobytes() == v[order].tobytes()
        assert gv.tobytes() == np.ascontiguousarray(g[:, order]).tobytes()


def test_cases_the_recursion_must_get_right():
    ref_kw = dict(reduction="none")
    # Repeated labels need a blank between them: 'aa' needs 3 frames.
    lp = np.log(np.full((3, 1, 3), 1 / 3))
    v = CTC(lp, [[1, 1]], [3], [2], **ref_kw)
    np.testing.assert_allclose(v, -np.log(1 / 27), rtol=1e-12)  # the one alignment a-blank-a
    v2 = CTC(lp[:2], [[1, 1]], [2], [2], **ref_kw)
    assert v2[0] == np.inf
    # An empty target: only blanks, -sum_t log y_t(blank).
    x = np.log(np.array([[[0.5, 0.5]], [[0.25, 0.75]]]))
    np.testing.assert_allclose(CTC(x, np.zeros((1, 0), np.int64), [2], [0], **ref_kw), -np.log(0.125), rtol=1e-12)
    # T = 1, C = 2, one label.
    np.testing.assert_allclose(CTC(x[:1], [[1]], [1], [1], **ref_kw), -np.log(0.5), rtol=1e-12)
    # No frame and no label: loss 0; no frame and a label: impossible.
    np.testing.assert_array_equal(CTC(x, [[1], [1]] if False else [[1]], [0], [0], **ref_kw), [0.0])
    assert CTC(x, [[1]], [0], [1], **ref_kw)[0] == np.inf
    # Unbatched (T, C) with 1-D targets and scalar lengths, as torch takes it.
    lp2 = x[:, 0]
    v, g = CTC.value_and_grad(lp2, [1], 2, 1, reduction="none")
    assert v.shape == () and g.shape == lp2.shape
    np.testing.assert_allclose(v, REF(lp2, [1], 2, 1, reduction="none"), rtol=1e-12)
    np.testing.assert_allclose(g, REF.grad(lp2, [1], 2, 1, reduction="none"), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("from_logits", [False, True])
def test_impossible_alignments_give_inf_and_a_zero_gradient(from_logits):
    rng = np.random.default_rng(4)
    x, _, _, _ = draw_ctc(rng, batch=3, frames=6, classes=5, logits=from_logits)
    targets = np.array([[1, 2, 3, 4, 1, 2, 3], [1, 1, 1, 1, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0]])
    tl, il = np.array([7, 4, 2]), np.array([6, 6, 6])
    targets[targets == 0] = 1
    v, g = CTC.value_and_grad(x, targets, il, tl, from_logits=from_logits, reduction="none")
    assert v[0] == np.inf and v[1] == np.inf and np.isfinite(v[2])  # 7 labels, 'aaaa' needs 7 frames
    assert np.all(g[:, :2] == 0.0) and np.all(np.isfinite(g))
    vz, gz = CTC.value_and_grad(x, targets, il, tl, from_logits=from_logits, zero_infinity=True, reduction="mean")
    np.testing.assert_allclose(vz, v[2] / 2 / 3, rtol=1e-12)
    np.testing.assert_array_equal(gz[:, :2], 0.0)
    assert CTC(x, targets, il, tl, from_logits=from_logits) == np.inf
    # A feasible length but a label of probability 0 on every frame: p = 0, the same.
    x0 = x.copy()
    x0[:, 2, targets[2, 0]] = -np.inf
    v0, g0 = CTC.value_and_grad(x0, targets, il, tl, from_logits=from_logits, reduction="none")
    assert v0[2] == np.inf and np.all(g0[:, 2] == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_scores_stay_finite_and_exact(dtype):
    """Frames whose allowed emissions are e^-1000 and beyond, and -inf log-probabilities: the
    scaled recursion hands such samples to the log-space one."""
    rng = np.random.default_rng(9)
    x, targets, il, tl = draw_ctc(rng, batch=4, frames=15, classes=5, max_labels=4, dtype=dtype)
    x = x.copy()
    x[3:6, 0, :] = -1000.0          # every class improbable for three frames
    x[4, 1, targets[1, 0] if tl[1] else 1] = -3000.0
    x[:, 2, 4] = -np.inf             # a class that never occurs
    targets[2][targets[2] == 4] = 1
    x[::2, 3, 0] = -800.0            # blanks far below the labels on every other frame
    tol = tolerances(dtype)
    v, g = CTC.value_and_grad(x, targets, il, tl, reduction="none")
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, REF(x, targets, il, tl, reduction="none"), rtol=1e-9 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(g, REF.grad(x, targets, il, tl, reduction="none"), rtol=tol["rtol"], atol=1e-6)


def test_long_sequence_matches_the_reference():
    rng = np.random.default_rng(12)
    args = draw_ctc(rng, batch=2, frames=1000, classes=40, max_labels=200, logits=True)
    v, g = CTC.value_and_grad(*args, from_logits=True, reduction="none")
    want = REF(*args, from_logits=True, reduction="none")
    np.testing.assert_allclose(v, want, rtol=1e-10)
    np.testing.assert_allclose(CTC(*args, from_logits=True, reduction="none"), want, rtol=1e-10)
    np.testing.assert_allclose(g, REF.grad(*args, from_logits=True, reduction="none"), rtol=1e-8, atol=1e-11)


def test_out_buffer_and_overlaps():
    rng = np.random.default_rng(1)
    x, targets, il, tl = draw_ctc(rng, batch=3, frames=10, classes=5)
    out = np.full(x.shape, np.nan)
    g = CTC.grad(x, targets, il, tl, out=out)
    assert g is out and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, CTC.grad(x, targets, il, tl))
    with pytest.raises(ValueError, match="out.*overlaps.*log_probs"):
        CTC.grad(x, targets, il, tl, out=x)
    with pytest.raises(ValueError, match="out: shape"):
        CTC.grad(x, targets, il, tl, out=np.zeros(x.shape[1:]))


BAD_CALLS = [
    ("input_lengths: sample 1 has length 11", lambda a: dict(a, il=np.array([5, 11, 5]))),
    ("input_lengths: sample 0 has length -1", lambda a: dict(a, il=np.array([-1, 5, 5]))),
    ("input_lengths: expected one length per sample", lambda a: dict(a, il=np.array([5, 5]))),
    ("target_lengths: sample 2 has length 9, longer", lambda a: dict(a, tl=np.array([1, 1, 9]))),
    ("target_lengths: sample 0 has length -2", lambda a: dict(a, tl=np.array([-2, 1, 1]))),
    ("target_lengths: expected one length", lambda a: dict(a, tl=np.array([[1, 1, 1]]))),
    (r"targets: label 0 of sample 1 \(position 0\) is the blank", lambda a: dict(a, t=np.array([[1, 2], [0, 2], [1, 1]]))),
    (r"targets: label 5 of sample 2 \(position 1\) is outside \[0, 5\)", lambda a: dict(a, t=np.array([[1, 2], [3, 2], [1, 5]]))),
    ("targets: padded targets of shape", lambda a: dict(a, t=np.ones((2, 2), np.int64))),
    ("targets: expected padded", lambda a: dict(a, t=np.ones((3, 2, 1), np.int64))),
    ("target_lengths: sample 1 has length 2, but the concatenated targets hold only 1 more",
     lambda a: dict(a, t=np.array([1, 2, 3]))),
    ("the concatenated targets hold 7 labels, but target_lengths sum to 6",
     lambda a: dict(a, t=np.array([1, 2, 3, 4, 1, 2, 3]))),
    ("blank: 5 is outside", lambda a: dict(a, kw={"blank": 5})),
    ("blank: -1 is outside", lambda a: dict(a, kw={"blank": -1})),
    ("log_probs: expected", lambda a: dict(a, x=a["x"][0, 0])),
    ("grad_output: must be a scalar", lambda a: dict(a, kw={"grad_output": np.ones(3)})),
    ("reduction: must be", lambda a: dict(a, kw={"reduction": "avg"})),
]


@pytest.mark.parametrize("message,spoil", BAD_CALLS, ids=[m[:30] for m, _ in BAD_CALLS])
def test_bad_input_is_a_value_error_naming_the_argument(message, spoil):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 3, 5))
    base = dict(x=x, t=np.array([[1, 2], [3, 2], [1, 1]]), il=np.array([5, 6, 7]), tl=np.array([2, 2, 2]), kw={})
    a = spoil(base)
    with pytest.raises(ValueError, match=message):
        CTC.grad(a["x"], a["t"], a["il"], a["tl"], **a["kw"])


@pytest.mark.parametrize("bad", [
    dict(t=np.array([[1.0, 2.0]])), dict(il=np.array([2.5])), dict(kw={"blank": 1.0}), dict(kw={"blank": True}),
    dict(kw={"from_logits": 1}), dict(x=np.array([[["a"]]])), dict(kw={"weight": 1.0}),
])
def test_bad_types_are_type_errors(bad):
    a = dict(x=np.zeros((4, 1, 3)), t=np.array([[1, 2]]), il=np.array([4]), tl=np.array([2]), kw={})
    a.update(bad)
    with pytest.raises(TypeError):
        CTC(a["x"], a["t"], a["il"], a["tl"], **a["kw"])


def test_lengths_as_sequences_and_any_integer_dtype():
    rng = np.random.default_rng(6)
    x, targets, il, tl = draw_ctc(rng, batch=3, frames=12, classes=6)
    want = CTC(x, targets, il, tl)
    assert CTC(x, targets.astype(np.int16), tuple(int(i) for i in il), list(tl.astype(np.uint8))) == want
    assert CTC(x, targets.astype(np.uint64), il.astype(np.int32), tl) == want


def test_empty_batch_and_no_frames():
    x = np.zeros((0, 2, 4))
    v, g = CTC.value_and_grad(x, np.zeros((2, 0), np.int64), [0, 0], [0, 0], reduction="sum")
    assert v == 0.0 and g.shape == x.shape
    assert np.isnan(CTC(np.zeros((5, 0, 4)), np.zeros((0, 3), np.int64), [], []))
