"""lossfn against its peers.

PyTorch where it has the loss (mse_loss, l1_loss, huber_loss, smooth_l1_loss, poisson_nll_loss,
gaussian_nll_loss, binary_cross_entropy[_with_logits], soft_margin_loss), and the other peers'
formulas written with torch ops (torchvision's sigmoid_focal_loss, Keras 3's LogCosh, Hinge,
SquaredHinge, MSLE, MAPE, BinaryFocalCrossentropy, kornia's / Barron's robust losses,
scikit-learn's modified_huber). Values are compared for every reduction, gradients against
torch autograd, Hessian diagonals against double backward; Keras conventions (clipping, label
mapping) are checked on small hand-computed examples, and extreme inputs in float64.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import lossfn as lf  # noqa: E402
from samples import draw  # noqa: E402

SHAPES = {"n41": (41,), "n423": (423,), "7x13": (7, 13)}
# dtype id -> (numpy dtype, rtol, atol as a fraction of the reference's scale). The torch reference
# always runs in float64, on the very (float32-representable) inputs lossfn gets: torch's own
# float32 rounding (1 - sigmoid(x) at x = 8, say) would otherwise dominate the comparison.
DTYPES = {
    "f64": (np.float64, 1e-10, 1e-12),
    "f32": (np.float32, 1e-5, 1e-6),
}
REDUCTIONS = ["mean", "sum", "none"]


# --- inputs --------------------------------------------------------------------------------------


def _near(v, points):
    return np.any([np.abs(v - pt) < 1e-3 for pt in points], axis=0)


def _abs_kink(x, y, h):
    return _near(x - y, [0.0])


def _margin_kinks(*points):
    def kink(x, y, h):
        s = np.where(y == 0, -1.0, y)
        return _near(s * x, [pt(h) if callable(pt) else pt for pt in points])
    return kink


def _huber_kink(x, y, h):
    return _near(np.abs(x - y), [h.get("delta", 1.0)])


def _smooth_l1_kink(x, y, h):
    return _near(np.abs(x - y), [h.get("beta", 1.0), 0.0])


# --- torch peers: (x, y, aux, hyper with arrays as tensors, reduction) -> loss tensor ------------


def _red(l, r):
    return l.mean() if r == "mean" else l.sum() if r == "sum" else l


def _signs(y):
    return torch.where(y == 0, -torch.ones_like(y), y)  # Keras: {0, 1} labels read as {-1, +1}


def t_mse(x, y, a, h, r):
    return F.mse_loss(x, y, reduction=r)


def t_mae(x, y, a, h, r):
    return F.l1_loss(x, y, reduction=r)


def t_huber(x, y, a, h, r):
    return F.huber_loss(x, y, reduction=r, delta=h.get("delta", 1.0))


def t_smooth_l1(x, y, a, h, r):
    return F.smooth_l1_loss(x, y, reduction=r, beta=h.get("beta", 1.0))


def t_log_cosh(x, y, a, h, r):
    return _red(torch.log(torch.cosh(x - y)), r)


def t_quantile(x, y, a, h, r):
    tau, d = h.get("tau", 0.5), y - x
    return _red(torch.maximum(tau * d, (tau - 1) * d), r)


def t_msle(x, y, a, h, r):  # Keras 3 mean_squared_logarithmic_error
    eps = h.get("eps", 1e-7)
    return _red((torch.log(torch.clamp(x, min=eps) + 1) - torch.log(torch.clamp(y, min=eps) + 1)) ** 2, r)


def t_mape(x, y, a, h, r):  # Keras 3 mean_absolute_percentage_error
    eps = h.get("eps", 1e-7)
    return _red(100 * torch.abs((y - x) / torch.clamp(torch.abs(y), min=eps)), r)


def t_poisson_nll(x, y, a, h, r):
    return F.poisson_nll_loss(x, y, log_input=h.get("log_input", True), full=h.get("full", False),
                              eps=h.get("eps", 1e-8), reduction=r)


def t_gaussian_nll(x, y, a, h, r):
    return F.gaussian_nll_loss(x, y, a, full=h.get("full", False), eps=h.get("eps", 1e-6), reduction=r)


def _barron(d2, alpha):
    """Barron's rho on r^2 = d2 (kornia's losses are its c = 1 cases)."""
    if alpha == 0:
        return torch.log(0.5 * d2 + 1)
    if alpha == 2:
        return 0.5 * d2
    if alpha == -math.inf:
        return 1 - torch.exp(-0.5 * d2)
    b = abs(alpha - 2)
    return b / alpha * ((d2 / b + 1) ** (alpha / 2) - 1)


def t_charbonnier(x, y, a, h, r):
    return _red(torch.sqrt(((x - y) / h.get("c", 1.0)) ** 2 + 1) - 1, r)


def t_cauchy(x, y, a, h, r):
    return _red(torch.log(0.5 * ((x - y) / h.get("c", 1.0)) ** 2 + 1), r)


def t_welsch(x, y, a, h, r):
    return _red(1 - torch.exp(-0.5 * ((x - y) / h.get("c", 1.0)) ** 2), r)


def t_geman_mcclure(x, y, a, h, r):
    d2 = ((x - y) / h.get("c", 1.0)) ** 2
    return _red(2 * d2 / (d2 + 4), r)


def t_general_robust(x, y, a, h, r):
    return _red(_barron(((x - y) / h.get("c", 1.0)) ** 2, h.get("alpha", 1.0)), r)


def t_bce(x, y, a, h, r):
    if h.get("class_weight") is None:
        return F.binary_cross_entropy(x, y, reduction=r)
    return t_bce_formula(x, y, a, h, r)


def t_bce_formula(x, y, a, h, r):
    # Also the Hessian peer of bce: torch's binary_cross_entropy double backward divides by
    # (p + 1e-12)^2 (1 - p + 1e-12)^2, off by ~1e-10 relative at p = 0.02.
    w0, w1 = h.get("class_weight") or (1.0, 1.0)
    return _red(-(w1 * y * torch.log(x) + w0 * (1 - y) * torch.log(1 - x)), r)


def t_bce_with_logits(x, y, a, h, r):
    pw = h.get("pos_weight")
    if pw is not None and not torch.is_tensor(pw):
        pw = torch.tensor(pw, dtype=x.dtype)
    cw = h.get("class_weight")
    weight = None if cw is None else cw[1] * y + cw[0] * (1 - y)  # = class_weight for 0/1 targets
    return F.binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=pw, reduction=r)


def t_bce_with_logits_formula(x, y, a, h, r):  # class weights with soft targets
    w0, w1 = h["class_weight"]
    pw = h.get("pos_weight", 1.0)
    return _red(w1 * pw * y * F.softplus(-x) + w0 * (1 - y) * F.softplus(x), r)


def t_binary_focal(x, y, a, h, r):  # Keras 3 binary_focal_crossentropy
    gamma, alpha, eps = h.get("gamma", 2.0), h.get("alpha"), h.get("eps", 1e-7)
    pc = torch.clamp(x, eps, 1 - eps)
    bce = -(y * torch.log(pc) + (1 - y) * torch.log(1 - pc))
    p_t = y * x + (1 - y) * (1 - x)
    l = torch.pow(1 - p_t, gamma) * bce
    if alpha is not None:
        l = (y * alpha + (1 - y) * (1 - alpha)) * l
    return _red(l, r)


def t_sigmoid_focal(x, y, a, h, r):  # torchvision.ops.sigmoid_focal_loss
    gamma, alpha = h.get("gamma", 2.0), h.get("alpha", 0.25)
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * y + (1 - alpha) * (1 - y)
        loss = alpha_t * loss
    return _red(loss, r)


def t_hinge(x, y, a, h, r):
    return _red(torch.clamp(1 - _signs(y) * x, min=0), r)


def t_squared_hinge(x, y, a, h, r):
    return _red(torch.clamp(1 - _signs(y) * x, min=0) ** 2, r)


def t_smooth_hinge(x, y, a, h, r):
    g, u = h.get("smoothing", 1.0), 1 - _signs(y) * x
    l = torch.where(u <= 0, torch.zeros_like(u), torch.where(u >= g, u - g / 2, u * u / (2 * g)))
    return _red(l, r)


def t_modified_huber(x, y, a, h, r):  # scikit-learn's ModifiedHuber
    z = _signs(y) * x
    return _red(torch.where(z >= -1, torch.clamp(1 - z, min=0) ** 2, -4 * z), r)


def t_soft_margin(x, y, a, h, r):
    return F.soft_margin_loss(x, y, reduction=r)


# --- cases ---------------------------------------------------------------------------------------


def _per_column(lo, hi, seed):
    """A 1-D hyper-parameter over the last axis, drawn for the shape at hand."""
    return lambda shape: np.random.default_rng(seed).uniform(lo, hi, shape[-1])


@dataclass
class Case:
    id: str
    loss: str
    peer: Callable[..., Any]
    hyper: dict = field(default_factory=dict)
    pred: Optional[str] = None    # input domains (default: the registry's)
    target: Optional[str] = None
    kink: Optional[Callable[..., Any]] = None  # (x, y, hyper) -> mask of points to move away
    hess_peer: Optional[Callable[..., Any]] = None  # when torch's own double backward is inexact


CASES = [
    Case("mse", "mse", t_mse),
    Case("mae", "mae", t_mae, kink=_abs_kink),
    Case("huber", "huber", t_huber, kink=_huber_kink),
    Case("huber-delta0.3", "huber", t_huber, {"delta": 0.3}, kink=_huber_kink),
    Case("smooth_l1", "smooth_l1", t_smooth_l1, kink=_smooth_l1_kink),
    Case("smooth_l1-beta0.5", "smooth_l1", t_smooth_l1, {"beta": 0.5}, kink=_smooth_l1_kink),
    Case("smooth_l1-beta0", "smooth_l1", t_smooth_l1, {"beta": 0.0}, kink=_smooth_l1_kink),
    Case("log_cosh", "log_cosh", t_log_cosh),
    Case("quantile", "quantile", t_quantile, kink=_abs_kink),
    Case("quantile-tau0.9", "quantile", t_quantile, {"tau": 0.9}, kink=_abs_kink),
    Case("quantile-tau_per_column", "quantile", t_quantile, {"tau": _per_column(0.05, 0.95, 7)}, kink=_abs_kink),
    Case("msle", "msle", t_msle),
    Case("mape", "mape", t_mape, kink=_abs_kink),
    Case("poisson_nll-log", "poisson_nll", t_poisson_nll),
    Case("poisson_nll-log-full", "poisson_nll", t_poisson_nll, {"full": True}),
    Case("poisson_nll-rate", "poisson_nll", t_poisson_nll, {"log_input": False}),
    Case("poisson_nll-rate-full", "poisson_nll", t_poisson_nll, {"log_input": False, "full": True}),
    Case("gaussian_nll", "gaussian_nll", t_gaussian_nll),
    Case("gaussian_nll-full", "gaussian_nll", t_gaussian_nll, {"full": True}),
    Case("charbonnier", "charbonnier", t_charbonnier),
    Case("charbonnier-c0.5", "charbonnier", t_charbonnier, {"c": 0.5}),
    Case("cauchy", "cauchy", t_cauchy),
    Case("cauchy-c2", "cauchy", t_cauchy, {"c": 2.0}),
    Case("welsch", "welsch", t_welsch),
    Case("welsch-c0.7", "welsch", t_welsch, {"c": 0.7}),
    Case("geman_mcclure", "geman_mcclure", t_geman_mcclure),
    Case("geman_mcclure-c3", "geman_mcclure", t_geman_mcclure, {"c": 3.0}),
    *[Case(f"general_robust-alpha{a:g}-c{c:g}", "general_robust", t_general_robust, {"alpha": a, "c": c})
      for a, c in [(1.0, 1.0), (0.0, 1.0), (2.0, 1.0), (-math.inf, 1.0), (-2.0, 1.0), (0.5, 2.0),
                   (3.0, 1.0), (-5.0, 0.7)]],
    Case("bce", "bce", t_bce, hess_peer=t_bce_formula),
    Case("bce-eps1e-3", "bce", t_bce, {"eps": 1e-3}, hess_peer=t_bce_formula),
    Case("bce-class_weight", "bce", t_bce, {"class_weight": (0.3, 2.0)}),
    Case("bce_with_logits", "bce_with_logits", t_bce_with_logits),
    Case("bce_with_logits-pos_weight3", "bce_with_logits", t_bce_with_logits, {"pos_weight": 3.0}),
    Case("bce_with_logits-pos_weight_per_column", "bce_with_logits", t_bce_with_logits,
         {"pos_weight": _per_column(0.5, 3.0, 11)}),
    Case("bce_with_logits-class_weight-binary", "bce_with_logits", t_bce_with_logits,
         {"class_weight": (2.0, 0.5)}, target="binary01"),
    Case("bce_with_logits-class_weight-pos_weight-soft", "bce_with_logits", t_bce_with_logits_formula,
         {"class_weight": (0.7, 1.6), "pos_weight": 2.5}),
    *[Case(f"binary_focal-gamma{g:g}-alpha{a}", "binary_focal", t_binary_focal, {"gamma": g, "alpha": a})
      for g, a in [(2.0, None), (2.0, 0.25), (0.0, None), (1.5, 0.6), (1.0, None), (3.0, 0.25)]],
    *[Case(f"sigmoid_focal-gamma{g:g}-alpha{a:g}", "sigmoid_focal", t_sigmoid_focal, {"gamma": g, "alpha": a})
      for g, a in [(2.0, 0.25), (2.0, -1.0), (0.0, 0.25), (1.5, 0.5), (1.0, -1.0), (3.0, 0.75)]],
    Case("hinge", "hinge", t_hinge, kink=_margin_kinks(1.0)),
    Case("hinge-labels01", "hinge", t_hinge, target="binary01", kink=_margin_kinks(1.0)),
    Case("squared_hinge", "squared_hinge", t_squared_hinge, kink=_margin_kinks(1.0)),
    Case("squared_hinge-labels01", "squared_hinge", t_squared_hinge, target="binary01", kink=_margin_kinks(1.0)),
    Case("smooth_hinge", "smooth_hinge", t_smooth_hinge,
         kink=_margin_kinks(1.0, lambda h: 1 - h.get("smoothing", 1.0))),
    Case("smooth_hinge-s0.5", "smooth_hinge", t_smooth_hinge, {"smoothing": 0.5},
         kink=_margin_kinks(1.0, lambda h: 1 - h.get("smoothing", 1.0))),
    Case("modified_huber", "modified_huber", t_modified_huber, kink=_margin_kinks(1.0, -1.0)),
    Case("modified_huber-labels01", "modified_huber", t_modified_huber, target="binary01",
         kink=_margin_kinks(1.0, -1.0)),
    Case("soft_margin", "soft_margin", t_soft_margin),
]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]

KNOWN_BUGS = {}  # (test, case, shape, dtype) -> reason: strict xfails for reported lossfn bugs


def _marks(*key):
    reason = KNOWN_BUGS.get(key)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def test_every_loss_has_a_peer_case():
    """Every elementwise loss here; the row losses' peers are in test_peers_multiclass.py."""
    assert {c.loss for c in CASES} == {loss.name for loss in lf.losses() if isinstance(loss, lf.ElementwiseLoss)}


@dataclass
class Inputs:
    args: tuple    # numpy positional inputs for lossfn (pred, target[, aux])
    hyper: dict    # lossfn keywords
    t_args: tuple  # torch tensors: x (requires grad), y, aux (requires grad) or None
    t_hyper: dict  # keywords with arrays as tensors, for the torch peer


def _inputs(case, shape_id, dtype_id, salt=""):
    shape = SHAPES[shape_id]
    np_dtype = DTYPES[dtype_id][0]
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{shape_id}/{salt}".encode()))
    spec = getattr(lf, case.loss).spec
    hyper = {k: (v(shape) if callable(v) else v) for k, v in case.hyper.items()}
    pred = draw(case.pred or spec.pred, shape, rng)
    target = draw(case.target or spec.target, shape, rng)
    aux = draw(spec.aux, shape, rng) if spec.aux else None
    if case.kink is not None:  # move points off kinks: derivatives there are conventions
        for _ in range(20):
            mask = case.kink(pred, target, hyper)
            if not mask.any():
                break
            pred = np.where(mask, pred + 0.0173, pred)
        assert not case.kink(pred, target, hyper).any()
    cast = lambda a: np.ascontiguousarray(a, dtype=np_dtype)  # noqa: E731
    hyper = {k: (cast(v) if isinstance(v, np.ndarray) else v) for k, v in hyper.items()}
    args = tuple(cast(a) for a in (pred, target, aux) if a is not None)
    x = _t(args[0], requires_grad=True)
    t_aux = _t(args[2], requires_grad=True) if aux is not None else None
    t_hyper = {k: (_t(v) if isinstance(v, np.ndarray) else v) for k, v in hyper.items()}
    return Inputs(args, hyper, (x, _t(args[1]), t_aux), t_hyper)


def _t(a, requires_grad=False):
    """A float64 torch tensor of the same values."""
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _np(t):
    return t.detach().numpy(force=True)  # force: double backward may give a ZeroTensor


def _close(ours, ref, rtol, atol_frac, scale=None, what=""):
    ref = np.asarray(ref, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == ref.shape, what
    assert np.all(np.isfinite(ours)), f"{what}: non-finite values"
    if scale is None:
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol_frac * scale, err_msg=what)


def _grads(g):
    return g if isinstance(g, tuple) else (g,)


def _torch_grads(loss_t, inp, grad_output=None):
    wrt = [t for t in (inp.t_args[0], inp.t_args[2]) if t is not None]
    return tuple(_np(g) for g in torch.autograd.grad(loss_t, wrt, grad_output, retain_graph=True))


# --- value and gradient against torch ------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_value_and_grad_match_torch(case, shape, dtype, reduction):
    loss = getattr(lf, case.loss)
    np_dtype, rtol, atol = DTYPES[dtype]
    inp = _inputs(case, shape, dtype)
    x, y, a = inp.t_args
    per_elem = case.peer(x, y, a, inp.t_hyper, "none")
    ref = case.peer(x, y, a, inp.t_hyper, reduction)

    ours = loss(*inp.args, reduction=reduction, **inp.hyper)
    if reduction == "none":
        _close(ours, _np(ref), rtol, atol, what="value")
        assert ours.dtype == np_dtype
    else:
        assert isinstance(ours, float)
        scale = float(np.abs(_np(per_elem)).astype(np.float64).sum())
        _close(ours, _np(ref), rtol, atol, scale / per_elem.numel() if reduction == "mean" else scale,
               what="value")

    if reduction == "none":
        go = np.random.default_rng(5).uniform(-1.0, 1.0, x.shape).astype(np_dtype)
        ref_g = _torch_grads(ref, inp, _t(go))
        ours_g = _grads(loss.grad(*inp.args, reduction="none", grad_output=go, **inp.hyper))
        unit_g = _torch_grads(ref, inp, torch.ones_like(ref))
    else:
        ref_g = _torch_grads(ref, inp)
        ours_g = _grads(loss.grad(*inp.args, reduction=reduction, **inp.hyper))
        unit_g = ref_g
        # A scalar upstream gradient scales the gradient.
        scaled = _grads(loss.grad(*inp.args, reduction=reduction, grad_output=0.7, **inp.hyper))
        for ours_s, ref_s in zip(scaled, ref_g):
            _close(ours_s, 0.7 * ref_s, rtol, atol, what="grad, grad_output=0.7")
    assert len(ours_g) == len(ref_g)
    for i, (o, r) in enumerate(zip(ours_g, ref_g)):
        assert o.dtype == np_dtype
        _close(o, r, rtol, atol, what=f"grad[{i}]")

    value, grad = loss.value_and_grad(*inp.args, reduction=reduction, **inp.hyper)
    np.testing.assert_allclose(value, ours, rtol=1e-12 if dtype == "f64" else 1e-6, atol=0)
    for i, (o, r) in enumerate(zip(_grads(grad), unit_g)):
        _close(o, r, rtol, atol, what=f"value_and_grad grad[{i}]")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_weighted_matches_torch(case, reduction):
    """mean = sum(w l) / sum(w), sum = sum(w l), gradients by autograd of those."""
    loss = getattr(lf, case.loss)
    inp = _inputs(case, "7x13", "f64", salt="weighted")
    w = np.random.default_rng(3).uniform(0.1, 2.0, SHAPES["7x13"])
    x, y, a = inp.t_args
    wl = torch.tensor(w) * case.peer(x, y, a, inp.t_hyper, "none")
    ref = wl.sum() / w.sum() if reduction == "mean" else wl.sum()
    ours = loss(*inp.args, weight=w, reduction=reduction, **inp.hyper)
    _close(ours, _np(ref), 1e-10, 1e-12, float(np.abs(_np(wl)).sum()), what="value")
    for i, (o, r) in enumerate(zip(_grads(loss.grad(*inp.args, weight=w, reduction=reduction, **inp.hyper)),
                                   _torch_grads(ref, inp))):
        _close(o, r, 1e-10, 1e-12, what=f"grad[{i}]")


# --- Hessian diagonal against double backward ----------------------------------------------------


def _torch_hess_diag(case, inp):
    """d/dx of the gradient of sum(l): the Hessian diagonal of an elementwise loss."""
    x, y, a = inp.t_args
    peer = case.hess_peer or case.peer
    (g,) = torch.autograd.grad(peer(x, y, a, inp.t_hyper, "sum"), x, create_graph=True)
    if not g.requires_grad:  # piecewise-linear losses: the gradient does not depend on x
        return np.zeros(x.shape)
    (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
    return np.zeros(x.shape) if h is None else _np(h)


@pytest.mark.parametrize("case, shape, dtype", [
    pytest.param(c, s, d, id=f"{c.id}-{s}-{d}", marks=_marks("test_hess", c.id, s, d))
    for c in CASES for s in SHAPES for d in DTYPES])
def test_hess_matches_torch_double_backward(case, shape, dtype):
    loss = getattr(lf, case.loss)
    np_dtype, rtol, atol = DTYPES[dtype]
    inp = _inputs(case, shape, dtype)
    ref = _torch_hess_diag(case, inp)
    ours = loss.hess(*inp.args, reduction="sum", **inp.hyper)
    assert ours.dtype == np_dtype
    _close(ours, ref, rtol, atol, what="hess sum")
    _close(loss.hess(*inp.args, reduction="none", **inp.hyper), ref, rtol, atol, what="hess none")
    _close(loss.hess(*inp.args, reduction="mean", **inp.hyper), ref / ref.size, rtol, atol, what="hess mean")


# --- Keras conventions, by hand ------------------------------------------------------------------


def _keras_bce(p, y, eps):
    """Keras 3 ops.binary_crossentropy on probabilities (numpy backend), with log(1 - pc) taken as
    log1p(-pc) as lossfn does on purpose: Keras's log(1 - pc) carries the rounding of 1 - pc
    (5e-10 relative at pc = 1e-7 in float64, 1.3% at pc = 1e-6 in float32)."""
    pc = np.clip(p, eps, 1 - eps)
    return -(y * np.log(pc) + (1 - y) * np.log1p(-pc))


@pytest.mark.parametrize("eps", [1e-7, 1e-3], ids=["eps1e-7", "eps1e-3"])
def test_bce_clips_like_keras(eps):
    p = np.array([0.0, 1e-9, 0.25, 0.5, 0.9, 1 - 1e-9, 1.0, 0.0, 1.0])
    y = np.array([1.0, 1.0, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0, 1.0])
    kw = {} if eps == 1e-7 else {"eps": eps}
    expected = _keras_bce(p, y, eps)
    np.testing.assert_allclose(lf.bce(p, y, reduction="none", **kw), expected, rtol=1e-13, atol=1e-300)
    if eps == 1e-7:  # by hand: -log(1e-7) = 7 log 10 for a confidently wrong 0 or 1
        np.testing.assert_allclose(lf.bce(p[:1], y[:1], reduction="sum"), 7 * math.log(10), rtol=1e-9)
        np.testing.assert_allclose(lf.bce(p[6:7], y[6:7], reduction="sum"), 7 * math.log(10), rtol=1e-9)
    np.testing.assert_allclose(lf.bce(p, y, **kw), expected.mean(), rtol=1e-13)
    np.testing.assert_allclose(lf.bce(p, y, reduction="sum", **kw), expected.sum(), rtol=1e-13)

    clipped = (p < eps) | (p > 1 - eps)
    g = lf.bce.grad(p, y, reduction="sum", **kw)
    h = lf.bce.hess(p, y, reduction="sum", **kw)
    assert np.all(g[clipped] == 0) and np.all(h[clipped] == 0)
    q = p[~clipped]
    t = y[~clipped]
    np.testing.assert_allclose(g[~clipped], -t / q + (1 - t) / (1 - q), rtol=1e-13)
    np.testing.assert_allclose(h[~clipped], t / q**2 + (1 - t) / (1 - q) ** 2, rtol=1e-13)
    # torch autograd through the clip (torch.clamp passes no gradient outside the bounds).
    x = torch.tensor(p, requires_grad=True)
    pc = torch.clamp(x, eps, 1 - eps)
    (-(torch.tensor(y) * torch.log(pc) + (1 - torch.tensor(y)) * torch.log(1 - pc))).sum().backward()
    np.testing.assert_allclose(g, _np(x.grad), rtol=1e-13)


def test_bce_float32_clips_at_float32_bounds():
    p = np.array([0.0, 1e-9, 0.3, 1 - 1e-9, 1.0], dtype=np.float32)
    y = np.array([1.0, 1.0, 0.4, 0.0, 0.0], dtype=np.float32)
    lo, hi = np.float32(1e-7), np.float32(1) - np.float32(1e-7)  # Keras' clip in float32
    pc = np.clip(p, lo, hi)
    expected = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    np.testing.assert_allclose(lf.bce(p, y, reduction="none"), expected, rtol=1e-6)
    g = lf.bce.grad(p, y, reduction="sum")
    assert g.dtype == np.float32
    assert np.all(g[[0, 1, 3, 4]] == 0) and g[2] != 0


def _keras_binary_focal(p, y, gamma=2.0, alpha=None, eps=1e-7):
    """Keras 3 binary_focal_crossentropy (from_logits=False), elementwise, in numpy."""
    bce = _keras_bce(p, y, eps)
    p_t = y * p + (1 - y) * (1 - p)
    focal_bce = np.power(1.0 - p_t, gamma) * bce
    if alpha is not None:  # apply_class_balancing=True
        focal_bce = (y * alpha + (1 - y) * (1 - alpha)) * focal_bce
    return focal_bce


FOCAL_SETTINGS = [pytest.param(kw, id="-".join(f"{k}{v}" for k, v in kw.items()) or "default")
                  for kw in [{}, {"alpha": 0.25}, {"gamma": 0.0}, {"gamma": 1.5}, {"gamma": 1.0},
                             {"gamma": 3.0, "alpha": 0.8}, {"eps": 1e-3}]]


@pytest.mark.parametrize("kw", FOCAL_SETTINGS)
def test_binary_focal_matches_keras_formula(kw):
    rng = np.random.default_rng(17)
    p = np.concatenate([[0.0, 1.0, 0.0, 1.0, 1e-9, 1 - 1e-9, 0.5], rng.uniform(0.001, 0.999, 34)])
    y = np.concatenate([[0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0], rng.integers(0, 2, 34)]).astype(np.float64)
    expected = _keras_binary_focal(p, y, **kw)
    np.testing.assert_allclose(lf.binary_focal(p, y, reduction="none", **kw), expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(lf.binary_focal(p, y, **kw), expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(lf.binary_focal(p, y, reduction="sum", **kw), expected.sum(), rtol=1e-12)
    # Gradient by autograd of the same formula (clipped bce: no gradient where p is clipped;
    # the focal factor uses the unclipped p, so its derivative stays).
    x = torch.tensor(p, requires_grad=True)
    t_binary_focal(x, torch.tensor(y), None, kw, "sum").backward()
    np.testing.assert_allclose(lf.binary_focal.grad(p, y, reduction="sum", **kw), _np(x.grad),
                               rtol=1e-11, atol=1e-13)


def test_binary_focal_gamma0_is_bce():
    rng = np.random.default_rng(29)
    p = np.concatenate([[0.0, 1.0, 0.0, 1.0], rng.uniform(0.001, 0.999, 37)])
    y = np.concatenate([[0.0, 1.0, 1.0, 0.0], rng.integers(0, 2, 37)]).astype(np.float64)
    np.testing.assert_allclose(lf.binary_focal(p, y, gamma=0.0, reduction="none"),
                               lf.bce(p, y, reduction="none"), rtol=1e-14)
    live = slice(4, None)  # see test_binary_focal_gamma0_derivatives_where_p_is_right_and_clipped
    np.testing.assert_allclose(lf.binary_focal.grad(p[live], y[live], gamma=0.0, reduction="sum"),
                               lf.bce.grad(p[live], y[live], reduction="sum"), rtol=1e-13)
    np.testing.assert_allclose(lf.binary_focal.hess(p[live], y[live], gamma=0.0, reduction="sum"),
                               lf.bce.hess(p[live], y[live], reduction="sum"), rtol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_focal_gamma0_derivatives_where_p_is_right_and_clipped(dtype):
    p = np.array([0.0, 1.0], dtype=DTYPES[dtype][0])
    y = np.array([0.0, 1.0], dtype=DTYPES[dtype][0])
    # gamma = 0 is bce; p is clipped, so the derivatives are 0 (as bce's, as torch autograd's).
    np.testing.assert_array_equal(lf.binary_focal.grad(p, y, gamma=0.0, reduction="sum"), [0.0, 0.0])
    np.testing.assert_array_equal(lf.binary_focal.hess(p, y, gamma=0.0, reduction="sum"), [0.0, 0.0])


def test_binary_focal_by_hand():
    # p = 0.9, y = 1, gamma = 2: (0.1)^2 * -log(0.9); with alpha = 0.25: times 0.25.
    # p = 0.2, y = 0: (0.2)^2 * -log(0.8), with alpha: times 0.75.
    p, y = np.array([0.9, 0.2]), np.array([1.0, 0.0])
    l0, l1 = 0.01 * -math.log(0.9), 0.04 * -math.log(0.8)
    np.testing.assert_allclose(lf.binary_focal(p, y, reduction="none"), [l0, l1], rtol=1e-13)
    np.testing.assert_allclose(lf.binary_focal(p, y, reduction="none", alpha=0.25),
                               [0.25 * l0, 0.75 * l1], rtol=1e-13)


def test_msle_like_keras():
    eps = 1e-7
    p = np.array([0.0, 1e-9, 0.5, 1.0, 3.0, -2.0, 2.0])
    y = np.array([0.0, 1.0, 0.5, 0.0, 2.0, 1.0, -1.0])
    # Keras 3: square(log(maximum(p, eps) + 1) - log(maximum(y, eps) + 1)), here with log1p.
    diff = np.log1p(np.maximum(p, eps)) - np.log1p(np.maximum(y, eps))
    np.testing.assert_allclose(lf.msle(p, y, reduction="none"), diff**2, rtol=1e-13, atol=1e-300)
    # By hand: p = 1, y = 0 -> (log 2 - log1p(1e-7))^2; p = 3, y = 2 -> log(4/3)^2.
    np.testing.assert_allclose(lf.msle(p[3:5], y[3:5], reduction="none"),
                               [(math.log(2) - math.log1p(eps)) ** 2, math.log(4 / 3) ** 2], rtol=1e-13)
    np.testing.assert_allclose(lf.msle(p, y), (diff**2).mean(), rtol=1e-13)
    g = lf.msle.grad(p, y, reduction="sum")
    live = p > eps
    assert np.all(g[~live] == 0)  # the clip passes no gradient
    np.testing.assert_allclose(g[live], 2 * diff[live] / (1 + p[live]), rtol=1e-13)


def test_mape_like_keras():
    p = np.array([1.1, 2.0, 0.5, -3.0, 1e-3, -2.0])
    y = np.array([1.0, -4.0, 0.0, -3.0, 1e-9, 4.0])
    # Keras 3: 100 * abs((y - p) / maximum(abs(y), eps)), eps = 1e-7.
    by_hand = [10.0, 150.0, 0.5 / 1e-7 * 100, 0.0, 100 * (1e-3 - 1e-9) / 1e-7, 150.0]
    np.testing.assert_allclose(lf.mape(p, y, reduction="none"), by_hand, rtol=1e-13)
    np.testing.assert_allclose(lf.mape(p, y), np.mean(by_hand), rtol=1e-13)
    g = lf.mape.grad(p, y, reduction="sum")
    np.testing.assert_allclose(g, 100 * np.sign(p - y) / np.maximum(np.abs(y), 1e-7), rtol=1e-13)
    assert g[3] == 0


def test_hinge_by_hand():
    # Keras: mean(max(1 - y x, 0)); labels {0, 1} are mapped to {-1, +1}.
    x = np.array([0.3, 0.5, 2.0, -0.25])
    for y in (np.array([1.0, -1.0, 1.0, -1.0]), np.array([1.0, 0.0, 1.0, 0.0])):
        np.testing.assert_allclose(lf.hinge(x, y, reduction="none"), [0.7, 1.5, 0.0, 0.75], rtol=1e-15)
        np.testing.assert_allclose(lf.hinge(x, y), 2.95 / 4, rtol=1e-15)
        np.testing.assert_allclose(lf.squared_hinge(x, y, reduction="none"), [0.49, 2.25, 0.0, 0.5625],
                                   rtol=1e-15)
        np.testing.assert_allclose(lf.hinge.grad(x, y, reduction="sum"), [-1.0, 1.0, 0.0, 1.0])


def test_modified_huber_by_hand():
    # scikit-learn ModifiedHuber: z >= 1: 0; -1 <= z < 1: (1 - z)^2; z < -1: -4 z.
    x = np.array([2.0, 0.5, -0.5, -3.0])
    y = np.ones(4)
    np.testing.assert_allclose(lf.modified_huber(x, y, reduction="none"), [0.0, 0.25, 2.25, 12.0], rtol=1e-15)
    np.testing.assert_allclose(lf.modified_huber.grad(x, y, reduction="sum"), [0.0, -1.0, -3.0, -4.0],
                               rtol=1e-15)


@pytest.mark.parametrize("name", ["hinge", "squared_hinge", "smooth_hinge", "modified_huber", "soft_margin"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_labels01_equal_labels_pm1(name, dtype):
    loss = getattr(lf, name)
    np_dtype = DTYPES[dtype][0]
    rng = np.random.default_rng(23)
    x = rng.normal(0, 2, (7, 13)).astype(np_dtype)
    y01 = rng.integers(0, 2, (7, 13)).astype(np_dtype)
    ypm = (2 * y01 - 1).astype(np_dtype)
    for reduction in REDUCTIONS:
        np.testing.assert_array_equal(loss(x, y01, reduction=reduction), loss(x, ypm, reduction=reduction))
        np.testing.assert_array_equal(loss.grad(x, y01, reduction=reduction),
                                      loss.grad(x, ypm, reduction=reduction))
        np.testing.assert_array_equal(loss.hess(x, y01, reduction=reduction),
                                      loss.hess(x, ypm, reduction=reduction))


@pytest.mark.parametrize("dtype", DTYPES)
def test_welsch_tail_derivatives_keep_relative_precision(dtype):
    np_dtype, rtol = DTYPES[dtype][:2]
    d = np.array([-12.0, -9.0, -6.0, -5.0, 4.0, 5.5, 7.0, 9.0], dtype=np_dtype)
    y = np.zeros_like(d)
    x = _t(d, requires_grad=True)
    (g,) = torch.autograd.grad(t_welsch(x, _t(y), None, {}, "sum"), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(lf.welsch.grad(d, y, reduction="sum"), _np(g), rtol=rtol)
    np.testing.assert_allclose(lf.welsch.hess(d, y, reduction="sum"), _np(h), rtol=rtol)


def test_gaussian_nll_clamps_var_like_torch():
    """torch clamps var at eps without differentiating the clamp: dvar is taken at max(var, eps)."""
    p = np.array([0.3, -1.0, 2.0, 0.0, 0.5, 1.5])
    y = np.array([0.0, 0.5, 2.0, 1e-4, -0.5, 1.0])
    var = np.array([0.0, 1e-9, 1e-7, 1e-6, 0.5, 3.0])
    for full in (False, True):
        x, v = torch.tensor(p, requires_grad=True), torch.tensor(var, requires_grad=True)
        ref = F.gaussian_nll_loss(x, torch.tensor(y), v, full=full, reduction="sum")
        ref.backward()
        np.testing.assert_allclose(lf.gaussian_nll(p, y, var, full=full, reduction="sum"), ref.item(), rtol=1e-12)
        gp, gv = lf.gaussian_nll.grad(p, y, var, full=full, reduction="sum")
        np.testing.assert_allclose(gp, _np(x.grad), rtol=1e-12)
        np.testing.assert_allclose(gv, _np(v.grad), rtol=1e-12)


# --- extreme inputs, float64 ---------------------------------------------------------------------

EXTREME_LOGITS = np.array([-1e4, -1e3, -40.0, -1.0, 0.0, 1.0, 40.0, 1e3, 1e4])


def t_soft_margin_stable(x, y, a, h, r):
    # torch's soft_margin_loss is log(1 + exp(-y x)): inf once -y x > ~709 (checked below).
    return _red(F.softplus(-y * x), r)


EXTREME_LOGIT_CASES = [
    pytest.param("bce_with_logits", t_bce_with_logits, {}, id="bce_with_logits"),
    pytest.param("bce_with_logits", t_bce_with_logits, {"pos_weight": 3.0}, id="bce_with_logits-pos_weight3"),
    pytest.param("soft_margin", t_soft_margin_stable, {}, id="soft_margin"),
    *[pytest.param("sigmoid_focal", t_sigmoid_focal, {"gamma": g, "alpha": a},
                   id=f"sigmoid_focal-gamma{g:g}-alpha{a:g}")
      for g, a in [(2.0, 0.25), (2.0, -1.0), (0.0, 0.25), (1.5, 0.5), (1.0, -1.0), (3.0, 0.75)]],
]


def _extreme_check(loss, peer, p, y, hyper, hess_ref=None):
    """Value, gradient and Hessian diagonal in float64 against torch (the Hessian against
    `hess_ref` where given, else torch's double backward where that is finite)."""
    x = _t(p, requires_grad=True)
    ref = peer(x, _t(y), None, dict(hyper), "none")
    assert torch.isfinite(ref).all()
    ours = loss(p, y, reduction="none", **hyper)
    _close(ours, _np(ref), 1e-10, 1e-12, what="value")
    _close(loss(p, y, reduction="sum", **hyper), ref.sum().item(), 1e-10, 1e-12,
           float(np.abs(_np(ref)).sum()), what="value sum")
    (g_ref,) = torch.autograd.grad(ref.sum(), x, create_graph=True)
    _close(loss.grad(p, y, reduction="sum", **hyper), _np(g_ref), 1e-10, 1e-12, what="grad")
    ours_h = loss.hess(p, y, reduction="sum", **hyper)
    assert np.all(np.isfinite(ours_h))
    if hess_ref is not None:
        _close(ours_h, hess_ref, 1e-10, 1e-12, what="hess")
    elif g_ref.requires_grad:
        (h_ref,) = torch.autograd.grad(g_ref.sum(), x, allow_unused=True)
        if h_ref is not None:
            h_ref = _np(h_ref)
            ok = np.isfinite(h_ref)  # torch's double backward gives 0 * inf at saturation
            _close(ours_h[ok], h_ref[ok], 1e-10, 1e-12, what="hess")
    return ours


@pytest.mark.parametrize("name, peer, hyper", EXTREME_LOGIT_CASES)
def test_extreme_logits_match_torch(name, peer, hyper):
    loss = getattr(lf, name)
    x = np.tile(EXTREME_LOGITS, 2)
    y = np.repeat([0.0, 1.0], EXTREME_LOGITS.size)
    if name == "soft_margin":
        y = 2 * y - 1
    ours = _extreme_check(loss, peer, x, y, hyper)
    # Confidently wrong logits cost about |x| (times the weights), right ones about nothing.
    s = np.where(y == 0, -1.0, y)
    wrong = s * x <= -1e3
    assert np.all(ours[wrong] >= 0.2 * np.abs(x[wrong]))
    assert np.all(ours[s * x >= 1e3] < 1e-300)


def test_torch_soft_margin_loss_overflows_where_lossfn_does_not():
    x = np.array([-1e4, -1e3, -40.0, 0.0, 40.0, 1e3, 1e4])
    y = np.ones_like(x)
    ref = _np(F.soft_margin_loss(_t(x), _t(y), reduction="none"))
    ours = lf.soft_margin(x, y, reduction="none")
    finite = np.isfinite(ref)
    assert not finite[:2].any()  # torch: log1p(exp(1e3)) = inf
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ours[:2], [1e4, 1e3], rtol=1e-15)


def t_log_cosh_asymptote(x, y, a, h, r):
    return _red(torch.abs(x - y) - math.log(2), r)


def t_geman_mcclure_tail(x, y, a, h, r):
    # 2 - 8/(d^2 + 4): autograd of 2 d^2/(d^2 + 4) cancels to ~1e-6 relative at |d| = 1e6.
    return _red(2 - 8 / ((x - y) ** 2 + 4), r)


# Hessian diagonals in closed form (double backward of the naive formulas cancels out there).
HUGE_ERROR_CASES = [
    pytest.param("mse", t_mse, {}, lambda d: np.full_like(d, 2.0), id="mse"),
    pytest.param("huber", t_huber, {}, np.zeros_like, id="huber"),
    pytest.param("huber", t_huber, {"delta": 0.3}, np.zeros_like, id="huber-delta0.3"),
    pytest.param("smooth_l1", t_smooth_l1, {}, np.zeros_like, id="smooth_l1"),
    pytest.param("smooth_l1", t_smooth_l1, {"beta": 0.0}, np.zeros_like, id="smooth_l1-beta0"),
    pytest.param("log_cosh", t_log_cosh_asymptote, {}, np.zeros_like, id="log_cosh"),  # sech^2 underflows
    pytest.param("charbonnier", t_charbonnier, {}, lambda d: (d * d + 1) ** -1.5, id="charbonnier"),
    pytest.param("cauchy", t_cauchy, {}, lambda d: (1 - d * d / 2) / (1 + d * d / 2) ** 2, id="cauchy"),
    pytest.param("welsch", t_welsch, {}, np.zeros_like, id="welsch"),
    pytest.param("geman_mcclure", t_geman_mcclure_tail, {}, lambda d: 16 * (4 - 3 * d * d) / (d * d + 4) ** 3,
                 id="geman_mcclure"),
]


@pytest.mark.parametrize("name, peer, hyper, hess", HUGE_ERROR_CASES)
def test_errors_of_1e6_match_torch(name, peer, hyper, hess):
    loss = getattr(lf, name)
    d = np.array([-1e6, -3e5, 1e5, 5e5, 1e6])
    y = np.array([0.5, -2.0, 1e3, 0.0, -7.0])
    p = y + d
    _extreme_check(loss, peer, p, y, hyper, hess_ref=hess(p - y))
