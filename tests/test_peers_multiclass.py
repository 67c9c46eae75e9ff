"""lossfn's multi-class (row) losses against their peers.

PyTorch where it has the loss (cross_entropy, nll_loss, multi_margin_loss,
multilabel_soft_margin_loss, logsumexp, softmax, log_softmax; scipy.special too when installed),
and the other peers' formulas written with torch ops: the seeds' FocalLoss
alpha * (1 - pt)^gamma * cross_entropy, Keras 3's CategoricalCrossentropy,
SparseCategoricalCrossentropy (ignore_class) and CategoricalHinge (torch backend: torch.clamp,
torch.amax). Every case runs the NumPy reference and, once registered, the kernels (float64 and
float32; float32 inputs are compared with torch in float64 on the same rounded values). Values
for every reduction, with and without per-row sample weights (peer: sum s*l / sum s*d from the
peer's unreduced rows), gradients against torch autograd; the reference's gradients against
central finite differences.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import lossfn as lf  # noqa: E402

try:
    import scipy.special as sps
except ImportError:  # scipy is optional: its comparisons are skipped
    sps = None

# dtype id -> (numpy dtype, rtol, atol as a fraction of the expected values' scale)
DTYPES = {"f64": (np.float64, 1e-10, 1e-12), "f32": (np.float32, 1e-5, 1e-6)}
IMPLS = [pytest.param("reference", "f64", id="ref"), pytest.param("kernel", "f64", id="kernel-f64"),
         pytest.param("kernel", "f32", id="kernel-f32")]
REDUCTIONS = ["mean", "sum", "none"]
ROW_LOSSES = ["softmax_cross_entropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "nll",
              "softmax_focal", "categorical_hinge", "multi_margin", "multilabel_soft_margin"]
UTILITIES = ["logsumexp", "softmax", "log_softmax"]
T64 = torch.float64


def get_impl(impl, name):
    if impl == "reference":
        return getattr(lf.reference, name)
    if not hasattr(lf, name):
        pytest.skip(f"lf.{name} has no kernel yet")
    return getattr(lf, name)


def assert_close(actual, expected, rtol, atol_frac, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    finite = expected[np.isfinite(expected)]
    scale = np.max(np.abs(finite)) if finite.size else 0.0
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol_frac * scale + 1e-300, err_msg=what)


def batch_shape(shape, axis):
    return tuple(n for i, n in enumerate(shape) if i != axis % len(shape))


# --- torch peers: (x, t, reduction, axis, hyper) -> tensor; x has its classes on `axis` ----------


def _reduce(l, r, d=None):
    if r == "none":
        return l
    return l.sum() if r == "sum" else l.sum() / (l.numel() if d is None else d.sum())


def _classes_on_1(a, axis):  # torch's layout for cross_entropy / nll_loss: (N, C, d1, ...)
    return a.movedim(axis, 1) if a.dim() > 1 else a


def _rows(a, axis):  # (rows, C) for the losses torch defines on 2-D input only
    a = a.movedim(axis, -1)
    return a.reshape(-1, a.shape[-1]), a.shape[:-1]


def _cw(h, key="class_weight"):
    return None if h.get(key) is None else torch.as_tensor(h[key], dtype=T64)


def t_cross_entropy(x, t, r, axis, h):
    kw = {"weight": _cw(h), "label_smoothing": h.get("label_smoothing", 0.0)}
    if h.get("ignore_index") is not None:
        kw["ignore_index"] = h["ignore_index"]
    t = _classes_on_1(t, axis) if t.is_floating_point() else t
    return F.cross_entropy(_classes_on_1(x, axis), t, reduction=r, **kw)


def t_nll(x, t, r, axis, h):
    kw = {} if h.get("ignore_index") is None else {"ignore_index": h["ignore_index"]}
    return F.nll_loss(_classes_on_1(x, axis), t, weight=_cw(h), reduction=r, **kw)


def t_multi_margin(x, t, r, axis, h):
    x2, batch = _rows(x, axis)
    l = F.multi_margin_loss(x2, t.reshape(-1), p=h.get("p", 1), margin=h.get("margin", 1.0), weight=_cw(h),
                            reduction=r)
    return l.reshape(batch) if r == "none" else l


def t_multilabel_soft_margin(x, t, r, axis, h):
    x2, batch = _rows(x, axis)
    l = F.multilabel_soft_margin_loss(x2, _rows(t, axis)[0], weight=_cw(h), reduction=r)
    return l.reshape(batch) if r == "none" else l


def t_focal(x, t, r, axis, h):  # the seeds' FocalLoss, with a per-class alpha gathered at the target
    ce = F.cross_entropy(_classes_on_1(x, axis), t, reduction="none")
    pt = torch.exp(-ce)
    alpha = h.get("alpha")
    a = 1.0 if alpha is None else torch.as_tensor(alpha, dtype=T64)[t] if np.ndim(alpha) else alpha
    return _reduce(a * (1 - pt) ** h.get("gamma", 2.0) * ce, r)


def t_categorical_crossentropy(x, t, r, axis, h):  # Keras 3, from_logits=False
    eps, ls = h.get("eps", 1e-7), h.get("label_smoothing", 0.0)
    y = t * (1 - ls) + ls / x.shape[axis]
    p = torch.clamp(x / x.sum(axis, keepdim=True), eps, 1 - eps)
    return _reduce(-(y * torch.log(p)).sum(axis), r)


def t_sparse_categorical_crossentropy(x, t, r, axis, h):  # Keras 3, ignore_class: mean over kept rows
    ii = h.get("ignore_index")
    keep = torch.ones_like(t, dtype=torch.bool) if ii is None else t != ii
    y = F.one_hot(torch.where(keep, t, 0), x.shape[axis]).movedim(-1, axis).to(T64)
    l = torch.where(keep, t_categorical_crossentropy(x, y, "none", axis, {"eps": h.get("eps", 1e-7)}), 0.0)
    return _reduce(l, r, keep.to(T64))


def t_categorical_hinge(x, t, r, axis, h):  # Keras 3
    pos, neg = (t * x).sum(axis), torch.amax((1 - t) * x, dim=axis)
    return _reduce(torch.clamp(neg - pos + 1, min=0), r)


# --- cases ---------------------------------------------------------------------------------------

CW5 = np.array([0.5, 2.0, 1.0, 0.2, 3.0])


def _ignore_some(value):
    def tweak(x, t, rng):
        t.flat[::3] = value
        return x, t
    return tweak


def _ignore_all(x, t, rng):
    return x, np.full_like(t, -100)


def _neg_inf(x, t, rng):  # -inf in two non-target classes of every row (classes last)
    rows = np.arange(t.size)
    x2, C = x.reshape(t.size, -1), x.shape[-1]
    x2[rows, (t.ravel() + 1) % C] = -np.inf
    x2[rows[::2], (t.ravel()[::2] + 3) % C] = -np.inf
    return x, t


def _huge(x, t, rng):
    return rng.choice([-1e4, 1e4], x.shape) + x, t


def _tiny_probs(x, t, rng):  # probabilities below eps after normalization, and one above 1 - eps
    x2 = x.reshape(-1, x.shape[-1])
    x2[::2, 1] = 1e-9
    x2[1] = 1e-10
    x2[1, 0] = 1.0
    return x, t


@dataclass
class Case:
    id: str
    loss: str
    peer: Callable[..., Any]
    shape: tuple = (7, 5)
    axis: int = -1
    target: str = "labels"  # labels | probs | onehot | binary | soft
    x: str = "logits"       # logits | probs (unnormalized, Keras normalizes) | logp
    hyper: dict = field(default_factory=dict)
    tweak: Optional[Callable[..., Any]] = None
    fd: bool = True         # check the reference against finite differences


CE, NLL, FOCAL = "softmax_cross_entropy", "nll", "softmax_focal"
CCE, SCCE = "categorical_crossentropy", "sparse_categorical_crossentropy"
NCHW = dict(shape=(2, 5, 3, 4), axis=1)
NTC = dict(shape=(3, 4, 5), axis=-1)

CASES = [
    Case("ce-labels-NC", CE, t_cross_entropy),
    Case("ce-labels-NTC", CE, t_cross_entropy, **NTC),
    Case("ce-labels-NCHW", CE, t_cross_entropy, **NCHW),
    Case("ce-labels-1d", CE, t_cross_entropy, shape=(6,)),
    Case("ce-probs-NC", CE, t_cross_entropy, target="probs"),
    Case("ce-probs-NCHW", CE, t_cross_entropy, target="probs", **NCHW),
    Case("ce-ls0.1", CE, t_cross_entropy, hyper={"label_smoothing": 0.1}),
    Case("ce-ls0.1-cw", CE, t_cross_entropy, hyper={"label_smoothing": 0.1, "class_weight": CW5}),
    Case("ce-probs-ls0.1", CE, t_cross_entropy, target="probs", hyper={"label_smoothing": 0.1}),
    Case("ce-probs-ls0.1-cw-NCHW", CE, t_cross_entropy, target="probs",
         hyper={"label_smoothing": 0.1, "class_weight": CW5}, **NCHW),
    Case("ce-cw-NCHW", CE, t_cross_entropy, hyper={"class_weight": CW5}, **NCHW),
    Case("ce-ignore-100", CE, t_cross_entropy, hyper={"ignore_index": -100}, tweak=_ignore_some(-100)),
    Case("ce-ignore1-cw-ls-NTC", CE, t_cross_entropy, tweak=_ignore_some(1),
         hyper={"ignore_index": 1, "class_weight": CW5, "label_smoothing": 0.2}, **NTC),
    Case("ce-ignore-all", CE, t_cross_entropy, hyper={"ignore_index": -100}, tweak=_ignore_all,
         fd=False),
    Case("ce-ignore-all-ls", CE, t_cross_entropy, hyper={"ignore_index": -100, "label_smoothing": 0.1},
         tweak=_ignore_all, fd=False),
    Case("ce-neginf", CE, t_cross_entropy, tweak=_neg_inf),
    Case("ce-neginf-cw", CE, t_cross_entropy, hyper={"class_weight": CW5}, tweak=_neg_inf, **NTC),
    Case("ce-huge", CE, t_cross_entropy, tweak=_huge, fd=False),
    Case("ce-probs-huge", CE, t_cross_entropy, target="probs", tweak=_huge, fd=False),
    Case("nll", NLL, t_nll, x="logp"),
    Case("nll-cw-ignore-NCHW", NLL, t_nll, x="logp", hyper={"class_weight": CW5, "ignore_index": 2},
         tweak=_ignore_some(2), **NCHW),
    Case("multi_margin-p1", "multi_margin", t_multi_margin),
    Case("multi_margin-p2-NTC", "multi_margin", t_multi_margin, hyper={"p": 2}, **NTC),
    Case("multi_margin-margin0.5", "multi_margin", t_multi_margin, hyper={"margin": 0.5}),
    Case("multi_margin-p2-cw-NCHW", "multi_margin", t_multi_margin, hyper={"p": 2, "class_weight": CW5}, **NCHW),
    Case("multilabel_soft_margin", "multilabel_soft_margin", t_multilabel_soft_margin, target="binary"),
    Case("multilabel_soft_margin-cw-soft-NTC", "multilabel_soft_margin", t_multilabel_soft_margin,
         target="soft", hyper={"class_weight": CW5}, **NTC),
    Case("multilabel_soft_margin-axis0", "multilabel_soft_margin", t_multilabel_soft_margin, target="binary",
         shape=(5, 7), axis=0, hyper={"class_weight": CW5}),
    *[Case(f"focal-gamma{g:g}-alpha", FOCAL, t_focal, hyper={"gamma": g, "alpha": CW5 / 3}) for g in (0, 0.5, 2)],
    Case("focal-default", FOCAL, t_focal),
    Case("focal-alpha0.25-NCHW", FOCAL, t_focal, hyper={"gamma": 1.5, "alpha": 0.25}, **NCHW),
    Case("cce-onehot", CCE, t_categorical_crossentropy, x="probs", target="onehot"),
    Case("cce-soft-NCHW", CCE, t_categorical_crossentropy, x="probs", target="probs", **NCHW),
    Case("cce-ls0.1-NTC", CCE, t_categorical_crossentropy, x="probs", target="onehot",
         hyper={"label_smoothing": 0.1}, **NTC),
    Case("cce-clip", CCE, t_categorical_crossentropy, x="probs", target="probs", tweak=_tiny_probs, fd=False),
    Case("cce-clip-eps1e-3", CCE, t_categorical_crossentropy, x="probs", target="onehot",
         hyper={"eps": 1e-3}, tweak=_tiny_probs, fd=False),
    Case("scce", SCCE, t_sparse_categorical_crossentropy, x="probs"),
    Case("scce-NCHW", SCCE, t_sparse_categorical_crossentropy, x="probs", **NCHW),
    Case("scce-ignore", SCCE, t_sparse_categorical_crossentropy, x="probs", hyper={"ignore_index": 3},
         tweak=_ignore_some(3)),
    Case("scce-clip", SCCE, t_sparse_categorical_crossentropy, x="probs", tweak=_tiny_probs, fd=False),
    Case("categorical_hinge", "categorical_hinge", t_categorical_hinge, target="onehot"),
    Case("categorical_hinge-NCHW", "categorical_hinge", t_categorical_hinge, target="onehot", **NCHW),
]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]


def test_every_row_loss_has_a_case():
    assert {c.loss for c in CASES} == set(ROW_LOSSES)


def make_inputs(case, rng):
    """(x, target) in float64 / int64, classes on case.axis (built classes-last, then moved)."""
    shape = case.shape[:case.axis % len(case.shape)] + case.shape[case.axis % len(case.shape) + 1:] \
        + (case.shape[case.axis],)
    C, batch = shape[-1], shape[:-1]
    x = rng.uniform(0.05, 1.0, shape) if case.x == "probs" else rng.normal(0.0, 2.0, shape)
    if case.x == "logp":
        x = x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
    if case.target == "labels":
        t = rng.integers(0, C, batch)
    elif case.target == "onehot":
        t = np.eye(C)[rng.integers(0, C, batch)]
    elif case.target == "binary":
        t = rng.integers(0, 2, shape).astype(np.float64)
    else:
        t = rng.uniform(0.05, 1.0, shape)
        t = t / t.sum(-1, keepdims=True) if case.target == "probs" else t
    if case.tweak:
        x, t = case.tweak(x, t, rng)
    if t.ndim == x.ndim:
        t = np.moveaxis(t, -1, case.axis)
    return np.moveaxis(x, -1, case.axis), t


def denominator(case, t):
    """Each row's weight in the "mean" denominator: w_y (class weight), 0 for an ignored row, else 1."""
    batch = batch_shape(case.shape, case.axis)
    if case.loss not in (CE, NLL, SCCE) or t.shape != batch:
        return np.ones(batch)
    ii, cw = case.hyper.get("ignore_index"), case.hyper.get("class_weight")
    keep = np.ones(batch, dtype=bool) if ii is None else t != ii
    return np.where(keep, 1.0 if cw is None else np.asarray(cw)[np.where(keep, t, 0)], 0.0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("impl,dt", IMPLS)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_matches_peer(case, impl, dt, reduction, weighted):
    fn = get_impl(impl, case.loss)
    dtype, rtol, atol = DTYPES[dt]
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    x, t = make_inputs(case, rng)
    x, t = x.astype(dtype), (t.astype(dtype) if t.dtype.kind == "f" else t)  # lossfn's inputs
    batch = batch_shape(x.shape, case.axis)
    s = rng.uniform(0.2, 2.0, batch).astype(dtype) if weighted else None
    go = rng.normal(size=batch).astype(dtype) if reduction == "none" else 0.7
    kw = dict(case.hyper, axis=case.axis, weight=s, reduction=reduction)
    value, grad = fn(x, t, **kw), fn.grad(x, t, grad_output=go, **kw)
    value2, grad1 = fn.value_and_grad(x, t, **kw)

    # the peer, in float64 on the same (rounded) values
    # (contiguous: nll_loss2d's backward refuses a strided input)
    xt = torch.tensor(np.ascontiguousarray(x, dtype=np.float64), requires_grad=True)
    tt = torch.tensor(t.astype(np.float64) if t.dtype.kind == "f" else t)
    if weighted:
        l, st = case.peer(xt, tt, "none", case.axis, case.hyper), torch.tensor(s.astype(np.float64))
        d = torch.tensor(denominator(case, t))
        want = st * l if reduction == "none" else (st * l).sum() / (1 if reduction == "sum" else (st * d).sum())
    else:
        want = case.peer(xt, tt, reduction, case.axis, case.hyper)
    go_t = torch.as_tensor(go, dtype=T64).expand(want.shape).contiguous()
    want_grad, = torch.autograd.grad(want, xt, go_t, retain_graph=True)
    want_grad1, = torch.autograd.grad(want, xt, torch.ones_like(want))
    if weighted and reduction == "mean" and not (st * d).sum():
        want_grad, want_grad1 = torch.zeros_like(xt), torch.zeros_like(xt)  # as torch with every row ignored
    want, want_grad, want_grad1 = (a.detach().numpy() for a in (want, want_grad, want_grad1))

    if reduction == "none":
        assert np.shape(value) == batch and np.shape(value2) == batch
    else:
        assert isinstance(value, float) and isinstance(value2, float)
    assert grad.shape == x.shape and grad1.shape == x.shape
    assert_close(value, want, rtol, atol, "value")
    assert_close(value2, want, rtol, atol, "value_and_grad value")
    assert_close(grad, want_grad, rtol, atol, "grad")
    assert_close(grad1, want_grad1, rtol, atol, "value_and_grad grad")
    if case.tweak in (_neg_inf, _huge) and not case.hyper.get("label_smoothing"):
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)), "finite inputs/masked classes"


def test_all_ignored_rows():
    x, t = np.random.default_rng(0).normal(size=(4, 3)), np.full(4, -100)
    ref = lf.reference.softmax_cross_entropy
    assert np.isnan(ref(x, t, ignore_index=-100))
    assert ref(x, t, ignore_index=-100, reduction="sum") == 0.0
    assert np.all(ref.grad(x, t, ignore_index=-100) == 0)


def test_dense_target_with_neg_inf_logits_is_finite():
    """A class with no target mass and a -inf logit contributes 0 (torch's dense path gives nan)."""
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
    q = np.array([[0.3, 0.0, 0.7], [0.5, 0.5, 0.0]])
    ref = lf.reference.softmax_cross_entropy
    finite_x = np.where(np.isinf(x), -1e300, x)  # the same loss with a finite stand-in
    np.testing.assert_allclose(ref(x, q), ref(finite_x, q), rtol=1e-14)
    np.testing.assert_allclose(ref.grad(x, q), ref.grad(finite_x, q), rtol=1e-14, atol=0)
    assert np.isinf(ref(x, q, label_smoothing=0.1))  # smoothing puts mass on the masked class


# --- the reference: finite differences, weights, axes, errors --------------------------------------


@pytest.mark.parametrize("case", [c for c in CASE_PARAMS if c.values[0].fd])
def test_reference_grad_matches_finite_differences(case):
    ref = getattr(lf.reference, case.loss)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 1)
    x, t = make_inputs(case, rng)
    s = rng.uniform(0.2, 2.0, batch_shape(x.shape, case.axis))
    kw = dict(case.hyper, axis=case.axis, weight=s)
    h, g = 1e-6, ref.grad(x, t, **kw)
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        if np.isinf(x[i]):
            continue
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        fd[i] = (ref(xp, t, **kw) - ref(xm, t, **kw)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7 * max(1.0, np.max(np.abs(g))))


@pytest.mark.parametrize("impl,dt", IMPLS[:2])
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_sample_weights_follow_the_formula(case, impl, dt):
    """mean = sum s*l / sum s*d and sum = sum s*l from the unweighted rows; a weight of shape
    (N, 1, ...) broadcasts over the batch shape."""
    fn = get_impl(impl, case.loss)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 2)
    x, t = make_inputs(case, rng)
    batch = batch_shape(x.shape, case.axis)
    kw = dict(case.hyper, axis=case.axis)
    l, d = fn(x, t, reduction="none", **kw), denominator(case, t)
    s = rng.uniform(0.2, 2.0, batch[:1] + (1,) * (len(batch) - 1))
    sf = np.broadcast_to(s, batch)
    with np.errstate(invalid="ignore"):
        assert_close(fn(x, t, weight=s, **kw), np.sum(sf * l) / np.sum(sf * d), 1e-12, 1e-14, "mean")
    assert_close(fn(x, t, weight=s, reduction="sum", **kw), np.sum(sf * l), 1e-12, 1e-14, "sum")
    assert_close(fn(x, t, weight=s, reduction="none", **kw), sf * l, 1e-12, 1e-14, "none")
    assert_close(fn.grad(x, t, weight=s, **kw), fn.grad(x, t, weight=sf, **kw), 1e-12, 1e-14, "grad")


@pytest.mark.parametrize("impl,dt", IMPLS[:2])
@pytest.mark.parametrize("name", ROW_LOSSES)
def test_any_class_axis_gives_the_same_rows(name, impl, dt):
    """The loss of a (4, 3, 5) array over axis -1 equals that over axis 0 / -3 of moved copies."""
    fn = get_impl(impl, name)
    case = next(c for c in CASES if c.loss == name and c.axis == -1 and not c.tweak)
    rng = np.random.default_rng(3)
    x, t = make_inputs(Case("axes", name, None, shape=(4, 3, 5), target=case.target, x=case.x,
                            hyper=case.hyper), rng)
    kw = dict(case.hyper, reduction="none")
    want, want_g = fn(x, t, **kw), fn.grad(x, t, grad_output=np.ones((4, 3)), **kw)
    for axis in (0, -3, 1):
        xm = np.moveaxis(x, -1, axis)
        tm = np.moveaxis(t, -1, axis) if t.ndim == x.ndim else t
        assert_close(fn(xm, tm, axis=axis, **kw), want, 1e-12, 1e-14, f"axis={axis}")
        g = fn.grad(xm, tm, axis=axis, **kw)
        assert_close(np.moveaxis(g, axis, -1), want_g, 1e-12, 1e-14, f"grad axis={axis}")


@pytest.mark.parametrize("name", ROW_LOSSES)
def test_reference_reductions_and_empty_batches(name):
    ref = getattr(lf.reference, name)
    case = next(c for c in CASES if c.loss == name)
    empty = Case("empty", name, None, shape=(0, 5), target=case.target, x=case.x)
    x, t = make_inputs(empty, np.random.default_rng(0))
    assert ref(x, t, reduction="sum") == 0.0 and np.isnan(ref(x, t))
    assert ref(x, t, reduction="none").shape == (0,) and ref.grad(x, t).shape == (0, 5)
    with pytest.raises(ValueError, match="reduction"):
        ref(x, t, reduction="avg")


# --- utilities -------------------------------------------------------------------------------------

UTIL_LAYOUTS = {"NC": ((6, 7), -1), "NCHW": ((2, 5, 3, 4), 1), "NTC-axis-2": ((3, 4, 6), -2), "1d": ((9,), 0)}
T_UTIL = {"logsumexp": torch.logsumexp, "softmax": torch.softmax, "log_softmax": torch.log_softmax}


@pytest.mark.parametrize("extreme", [False, True], ids=["normal", "extreme"])
@pytest.mark.parametrize("layout", list(UTIL_LAYOUTS))
@pytest.mark.parametrize("impl,dt", IMPLS)
@pytest.mark.parametrize("name", UTILITIES)
def test_utilities_match_torch_and_scipy(name, impl, dt, layout, extreme):
    fn = get_impl(impl, name)
    dtype, rtol, atol = DTYPES[dt]
    shape, axis = UTIL_LAYOUTS[layout]
    rng = np.random.default_rng(zlib.crc32(f"{name}{layout}{extreme}".encode()))
    x = rng.normal(0.0, 3.0, shape)
    if extreme:  # logits of +-1e4 and a few -inf (never a whole row)
        x = x + rng.choice([-1e4, 1e4], shape)
        x.flat[1::7] = -np.inf
        np.moveaxis(x, axis, -1)[..., 0] = 1e4
    x = x.astype(dtype)
    value = fn(x, axis=axis)
    go = rng.normal(size=value.shape).astype(dtype)
    grad = fn.grad(x, axis=axis, grad_output=go)
    value2, grad2 = fn.value_and_grad(x, axis=axis, grad_output=go)

    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    want = T_UTIL[name](xt, dim=axis)
    want_grad, = torch.autograd.grad(want, xt, torch.tensor(go.astype(np.float64)))
    want = want.detach().numpy()
    for v in (value, value2):
        assert_close(v, want, rtol, atol, "value")
    for g in (grad, grad2):
        assert_close(g, want_grad.numpy(), rtol, atol, "vjp")
    assert np.all(np.isfinite(grad))
    if sps is not None:
        assert_close(value, getattr(sps, name)(x.astype(np.float64), axis=axis), rtol, atol, "scipy")


@pytest.mark.parametrize("name", UTILITIES)
def test_reference_utility_vjp_matches_finite_differences(name):
    ref = getattr(lf.reference, name)
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 2.0, (3, 4, 5))
    go = rng.normal(size=ref(x, axis=1).shape)
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += 1e-6
        xm[i] -= 1e-6
        fd[i] = np.sum(go * (ref(xp, axis=1) - ref(xm, axis=1))) / 2e-6
    np.testing.assert_allclose(ref.grad(x, axis=1, grad_output=go), fd, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ref.grad(x, axis=1), ref.grad(x, axis=1, grad_output=np.ones_like(go)))
