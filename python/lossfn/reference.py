"""Plain NumPy float64 reference of every lossfn loss, its gradient and Hessian diagonal.

Written from the formulas, independently of the C++ kernels: the tests compare the kernels
with it, the tests check its derivatives against central finite differences, and the
benchmarks use it as the NumPy baseline. Readability first; numerically stable forms
(logaddexp, log1p, clipping) where the naive formula would overflow.

Each ``_<name>`` function returns the per-element terms ``(l, g, h)`` -- the loss, dL/dpred and
d2L/dpred2 -- or ``(l, g, h, ga)`` with ``ga = dL/daux`` for a loss with a second
differentiable input. ``ReferenceLoss`` applies weights, the reduction and the upstream
gradient exactly as SPEC §1 says. The multi-class losses (section C) work row by row along a
class axis: ``_<name>`` returns ``(l, d, g)`` per row and ``RowReference`` reduces them;
``RowUtilityReference`` holds logsumexp, softmax and log_softmax with their vector-Jacobian products.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ReferenceLoss", "RowReference", "RowUtilityReference", "losses"]

LN2 = np.log(2.0)


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sign_labels(y):
    return np.where(y == 0, -1.0, y)


# --- A. Regression ----------------------------------------------------------------------------


def _mse(p, y):
    d = p - y
    return d * d, 2 * d, np.full_like(d, 2.0)


def _mae(p, y):
    d = p - y
    return np.abs(d), np.sign(d), np.zeros_like(d)


def _huber(p, y, delta=1.0):
    d = p - y
    inner = np.abs(d) <= delta
    l = np.where(inner, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
    return l, np.clip(d, -delta, delta), inner.astype(float)


def _smooth_l1(p, y, beta=1.0):
    d = p - y
    inner = np.abs(d) < beta
    safe_beta = beta if beta > 0 else 1.0
    l = np.where(inner, 0.5 * d * d / safe_beta, np.abs(d) - 0.5 * beta)
    g = np.where(inner, d / safe_beta, np.sign(d))
    return l, g, np.where(inner, 1.0 / safe_beta, 0.0)


def _log_cosh(p, y):
    d = p - y
    a = np.abs(d)
    # log cosh d = |d| + log(1 + e^{-2|d|}) - log 2, for small |d| the series d^2/2 - d^4/12.
    l = np.where(a < 1e-4, 0.5 * d * d - d**4 / 12, a + np.log1p(np.exp(-2 * a)) - LN2)
    t = np.tanh(d)
    return l, t, 1.0 / np.cosh(np.minimum(a, 350.0)) ** 2


def _quantile(p, y, tau=0.5):
    r = y - p
    l = np.maximum(tau * r, (tau - 1) * r)
    g = np.where(r > 0, -tau, np.where(r < 0, 1 - tau, 0.0))
    return l, g * np.ones_like(r), np.zeros_like(r)


def _msle(p, y, eps=1e-7):
    live = p > eps
    pc = np.maximum(p, eps)
    diff = np.log1p(pc) - np.log1p(np.maximum(y, eps))
    g = np.where(live, 2 * diff / (1 + pc), 0.0)
    h = np.where(live, 2 * (1 - diff) / (1 + pc) ** 2, 0.0)
    return diff**2, g, h


def _mape(p, y, eps=1e-7):
    k = 100.0 / np.maximum(np.abs(y), eps)
    return k * np.abs(p - y), k * np.sign(p - y), np.zeros_like(p)


def _stirling(y):
    ys = np.where(y > 1, y, 2.0)
    return np.where(y > 1, y * np.log(ys) - y + 0.5 * np.log(2 * np.pi * ys), 0.0)


def _poisson_nll(p, y, log_input=True, full=False, eps=1e-8):
    if log_input:
        l, g, h = np.exp(p) - y * p, np.exp(p) - y, np.exp(p)
    else:
        l, g, h = p - y * np.log(p + eps), 1 - y / (p + eps), y / (p + eps) ** 2
    if full:
        l = l + _stirling(y)
    return l, g, h


def _gaussian_nll(p, y, var, full=False, eps=1e-6):
    v = np.maximum(var, eps)
    d = p - y
    l = 0.5 * (np.log(v) + d * d / v) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return l, d / v, 1.0 / v, 0.5 * (1 / v - d * d / v**2)


def _barron(p, y, alpha, c):
    """Barron's general robust loss rho(x, alpha, c) and its derivatives in x = p - y."""
    r = (p - y) / c
    z = r * r
    if alpha == 2:
        return 0.5 * z, r / c, np.full_like(r, 1 / c**2)
    if alpha == 0:
        q = 1 / (1 + 0.5 * z)
        return np.log1p(0.5 * z), r * q / c, (2 * q - 1) * q / c**2
    if alpha == -np.inf:
        e = np.exp(-0.5 * z)
        return -np.expm1(-0.5 * z), r * e / c, (1 - z) * e / c**2
    k = abs(alpha - 2)
    b = z / k + 1
    l = k / alpha * np.expm1(alpha / 2 * np.log1p(z / k))
    g = r * b ** (alpha / 2 - 1) / c
    h = b ** (alpha / 2 - 2) * (b + np.sign(alpha - 2) * z) / c**2
    return l, g, h


def _charbonnier(p, y, c=1.0):
    return _barron(p, y, 1.0, c)


def _cauchy(p, y, c=1.0):
    return _barron(p, y, 0.0, c)


def _welsch(p, y, c=1.0):
    return _barron(p, y, -np.inf, c)


def _geman_mcclure(p, y, c=1.0):
    return _barron(p, y, -2.0, c)


def _general_robust(p, y, alpha=1.0, c=1.0):
    return _barron(p, y, alpha, c)


# --- B. Binary classification ------------------------------------------------------------------


def _bce(p, y, eps=1e-7, class_weight=None):
    w0, w1 = (1.0, 1.0) if class_weight is None else class_weight
    live = (p >= eps) & (p <= 1 - eps)
    pc = np.clip(p, eps, 1 - eps)
    a, b = w1 * y, w0 * (1 - y)
    l = -(a * np.log(pc) + b * np.log(1 - pc))
    g = np.where(live, -a / pc + b / (1 - pc), 0.0)
    h = np.where(live, a / pc**2 + b / (1 - pc) ** 2, 0.0)
    return l, g, h


def _bce_with_logits(x, y, pos_weight=None, class_weight=None):
    w0, w1 = (1.0, 1.0) if class_weight is None else class_weight
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight, dtype=float)
    a, b = w1 * pw * y, w0 * (1 - y)
    l = a * _softplus(-x) + b * _softplus(x)
    g = b * _sigmoid(x) - a * _sigmoid(-x)
    h = (a + b) * _sigmoid(x) * _sigmoid(-x)
    return l, g, h


def _binary_focal(p, y, gamma=2.0, alpha=None, eps=1e-7):
    # Keras 3: bce on clipped p, focal factor (1 - p_t)^gamma on the unclipped p.
    bce, dbce, d2bce = _bce(p, y, eps)
    m = y * (1 - p) + (1 - y) * p
    dm = 1 - 2 * y
    with np.errstate(divide="ignore"):
        f = m**gamma
        f1 = gamma * (m ** (gamma - 1) if gamma != 1 else 1.0) * dm
        f2 = 0.0 if gamma in (0, 1) else gamma * (gamma - 1) * m ** (gamma - 2) * dm**2
    at = 1.0 if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    l = at * f * bce
    return l, at * (f1 * bce + f * dbce), at * (f2 * bce + 2 * f1 * dbce + f * d2bce)


def _sigmoid_focal(x, y, gamma=2.0, alpha=0.25):
    s, sn = _sigmoid(x), _sigmoid(-x)
    ce = y * _softplus(-x) + (1 - y) * _softplus(x)
    m = y * sn + (1 - y) * s  # 1 - p_t
    f = m**gamma
    # q = m'/m written without the ratio, finite where m underflows
    with np.errstate(over="ignore", invalid="ignore"):
        t1 = np.where(y == 0, 0.0, y * np.exp(-x))
        t2 = np.where(y == 1, 0.0, (1 - y) * np.exp(x))
    q = (1 - 2 * y) / (1 + t1 + t2)
    f1 = gamma * f * q
    f2 = gamma * f * q * ((gamma - 1) * q + 1 - 2 * s)
    dce, d2ce = s - y, s * sn
    at = 1.0 if alpha is None or alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
    return at * f * ce, at * (dce * f + ce * f1), at * (d2ce * f + 2 * dce * f1 + ce * f2)


def _hinge(x, y):
    s = _sign_labels(y)
    u = 1 - s * x
    return np.maximum(u, 0.0), np.where(u > 0, -s, 0.0), np.zeros_like(u)


def _squared_hinge(x, y):
    s = _sign_labels(y)
    u = np.maximum(1 - s * x, 0.0)
    return u * u, -2 * s * u, np.where(u > 0, 2.0, 0.0)


def _smooth_hinge(x, y, smoothing=1.0):
    s, g = _sign_labels(y), smoothing
    u = 1 - s * x
    l = np.where(u <= 0, 0.0, np.where(u >= g, u - 0.5 * g, 0.5 * u * u / g))
    dz = np.where(u <= 0, 0.0, np.where(u >= g, -1.0, -u / g))
    h = np.where((u > 0) & (u < g), 1.0 / g, 0.0)
    return l, s * dz, h


def _modified_huber(x, y):
    s = _sign_labels(y)
    z = s * x
    u = np.maximum(1 - z, 0.0)
    quad = z >= -1
    l = np.where(quad, u * u, -4 * z)
    g = s * np.where(quad, -2 * u, -4.0)
    return l, g, np.where(quad & (z < 1), 2.0, 0.0)


def _soft_margin(x, y):
    s = _sign_labels(y)
    z = s * x
    return _softplus(-z), -s * _sigmoid(-z), _sigmoid(z) * _sigmoid(-z)


# --- Reductions ---------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


class ReferenceLoss:
    """A NumPy loss object with the methods of a lossfn loss (value, grad, value_and_grad, hess)."""

    def __init__(self, name, terms):
        self.name = name
        self._terms = terms

    def __repr__(self):
        return f"<lossfn.reference.{self.name}>"

    def _eval(self, args, hyper):
        arrays = [np.asarray(a, dtype=np.float64) for a in args]
        out = self._terms(*arrays, **hyper)
        shape = arrays[0].shape
        return tuple(np.broadcast_to(np.asarray(t, dtype=np.float64), shape) for t in out), shape

    @staticmethod
    def _weights(weight, shape):
        if weight is None:
            return np.ones(shape)
        return np.broadcast_to(np.asarray(weight, dtype=np.float64), shape)

    @staticmethod
    def _check_reduction(reduction):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: must be 'mean', 'sum' or 'none', got {reduction!r}")

    def _scale(self, w, reduction, grad_output):
        go = 1.0 if grad_output is None else np.asarray(grad_output, dtype=np.float64)
        if reduction == "mean":
            return w * go / w.sum()
        return w * go

    def __call__(self, *args, weight=None, reduction="mean", **hyper):
        self._check_reduction(reduction)
        (l, *_), shape = self._eval(args, hyper)
        wl = self._weights(weight, shape) * l
        if reduction == "none":
            return wl
        if reduction == "sum":
            return float(wl.sum())
        return float(wl.sum() / self._weights(weight, shape).sum()) if l.size else float("nan")

    def grad(self, *args, weight=None, reduction="mean", grad_output=None, **hyper):
        self._check_reduction(reduction)
        terms, shape = self._eval(args, hyper)
        s = self._scale(self._weights(weight, shape), reduction, grad_output)
        if len(terms) == 4:
            return s * terms[1], s * terms[3]
        return s * terms[1]

    def value_and_grad(self, *args, weight=None, reduction="mean", **hyper):
        return (self(*args, weight=weight, reduction=reduction, **hyper),
                self.grad(*args, weight=weight, reduction=reduction, **hyper))

    def hess(self, *args, weight=None, reduction="mean", **hyper):
        self._check_reduction(reduction)
        terms, shape = self._eval(args, hyper)
        return self._scale(self._weights(weight, shape), reduction, None) * terms[2]


_TERMS = {
    "mse": _mse, "mae": _mae, "huber": _huber, "smooth_l1": _smooth_l1, "log_cosh": _log_cosh,
    "quantile": _quantile, "msle": _msle, "mape": _mape, "poisson_nll": _poisson_nll,
    "gaussian_nll": _gaussian_nll, "charbonnier": _charbonnier, "cauchy": _cauchy, "welsch": _welsch,
    "geman_mcclure": _geman_mcclure, "general_robust": _general_robust,
    "bce": _bce, "bce_with_logits": _bce_with_logits, "binary_focal": _binary_focal,
    "sigmoid_focal": _sigmoid_focal, "hinge": _hinge, "squared_hinge": _squared_hinge,
    "smooth_hinge": _smooth_hinge, "modified_huber": _modified_huber, "soft_margin": _soft_margin,
}

for _name, _fn in _TERMS.items():
    globals()[_name] = ReferenceLoss(_name, _fn)
    __all__.append(_name)


# --- C. Multi-class ----------------------------------------------------------------------------
#
# A row loss sees its first input with the class axis moved last, shape (*batch, C), and its
# target either as integer labels of the batch shape or as a dense float array of shape
# (*batch, C). Each ``_<name>`` row function returns ``(l, d, g)``: the per-row loss (class
# weights included), the row's weight in the "mean" denominator (1, w_y with class weights,
# 0 for an ignored row) and dl/dinput of each row, shape (*batch, C). ``RowReference`` moves
# the class axis, applies sample weights, the reduction and grad_output.


def _lse(x):
    """(logsumexp over the last axis, keepdims; log_softmax), shifted by the row max as scipy does."""
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = x - m
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return m + s, z - s


def _labels(t, ignore_index=None):
    """(labels safe to index with, mask of the rows that count)."""
    keep = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
    return np.where(keep, t, 0), keep


def _one_hot(y, C):
    return (y[..., None] == np.arange(C)).astype(np.float64)


def _pick(x, y):
    return np.take_along_axis(x, y[..., None], axis=-1)[..., 0]


def _class_weights(class_weight, C):
    return np.ones(C) if class_weight is None else np.asarray(class_weight, dtype=np.float64)


def _times(a, b):
    """a * b with a term whose coefficient a is exactly 0 counted as 0 (even where b is -inf)."""
    return a * np.where(a == 0, 0.0, b)


def _softmax_cross_entropy(x, t, label_smoothing=0.0, class_weight=None, ignore_index=None):
    C, eps = x.shape[-1], label_smoothing
    w = _class_weights(class_weight, C)
    logp = _lse(x)[1]
    if t.ndim == x.ndim:  # class probabilities; torch divides by the number of rows
        a = w * ((1 - eps) * t + eps / C)
        keep, d = np.ones(t.shape[:-1], dtype=bool), np.ones(t.shape[:-1])
    else:
        y, keep = _labels(t, ignore_index)
        d = np.where(keep, w[y], 0.0)
        a = np.where(keep[..., None], (1 - eps) * d[..., None] * _one_hot(y, C) + eps / C * w, 0.0)
    # a_c multiplies -log p_c; the row's gradient is A p - a with A = sum_c a_c
    l = -np.sum(_times(a, logp), axis=-1)
    g = np.sum(a, axis=-1, keepdims=True) * np.exp(logp) - a
    return np.where(keep, l, 0.0), d, np.where(keep[..., None], g, 0.0)


def _categorical_crossentropy(p, t, eps=1e-7, label_smoothing=0.0):
    # Keras 3: normalize by the row sum, clip to [eps, 1 - eps] (gradient 0 where clipped)
    y = t * (1 - label_smoothing) + label_smoothing / p.shape[-1]
    S = np.sum(p, axis=-1, keepdims=True)
    r = p / S
    live = (r >= eps) & (r <= 1 - eps)
    l = -np.sum(y * np.log(np.clip(r, eps, 1 - eps)), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(live, -y / p, 0.0) + np.sum(live * y, axis=-1, keepdims=True) / S
    return l, np.ones(l.shape), g


def _sparse_categorical_crossentropy(p, t, eps=1e-7, ignore_index=None):
    y, keep = _labels(t, ignore_index)
    l, _, g = _categorical_crossentropy(p, _one_hot(y, p.shape[-1]), eps)
    return np.where(keep, l, 0.0), keep.astype(np.float64), np.where(keep[..., None], g, 0.0)


def _nll(logp, t, class_weight=None, ignore_index=None):
    C = logp.shape[-1]
    y, keep = _labels(t, ignore_index)
    d = np.where(keep, _class_weights(class_weight, C)[y], 0.0)
    l = np.where(keep, -d * _pick(logp, y), 0.0)
    return l, d, -d[..., None] * _one_hot(y, C)


def _softmax_focal(x, y, gamma=2.0, alpha=None):
    C = x.shape[-1]
    logp = _lse(x)[1]
    L = _pick(logp, y)
    p, q = np.exp(L), -np.expm1(L)  # p_y and 1 - p_y
    at = 1.0 if alpha is None else np.asarray(alpha, dtype=np.float64)
    at = at[y] if np.ndim(at) == 1 else at
    l = -at * q**gamma * L
    with np.errstate(divide="ignore", invalid="ignore"):
        L_over_q = np.where(q == 0, -1.0, L / q)  # log(1 - q) / q -> -1 as q -> 0
    A = at * q**gamma * (1 - gamma * p * L_over_q)
    return l, np.ones(l.shape), A[..., None] * (np.exp(logp) - _one_hot(y, C))


def _categorical_hinge(x, t):
    negs = (1 - t) * x
    j = np.argmax(negs, axis=-1)  # the first index attaining the max
    l = np.maximum(0.0, _pick(negs, j) - np.sum(t * x, axis=-1) + 1)
    g = np.where((l > 0)[..., None], -t + _one_hot(j, x.shape[-1]) * (1 - t), 0.0)
    return l, np.ones(l.shape), g


def _multi_margin(x, y, p=1, margin=1.0, class_weight=None):
    C = x.shape[-1]
    wy = _class_weights(class_weight, C)[y]
    other = 1 - _one_hot(y, C)
    z = margin - _pick(x, y)[..., None] + x
    zp = np.where((z > 0) & (other == 1), z, 0.0)
    l = wy * np.sum(zp**p, axis=-1) / C  # torch multiplies w_y after the power
    gc = (wy / C)[..., None] * (zp if p == 2 else (zp > 0)) * p
    return l, np.ones(l.shape), gc - (1 - other) * np.sum(gc, axis=-1, keepdims=True)


def _multilabel_soft_margin(x, t, class_weight=None):
    C = x.shape[-1]
    w = _class_weights(class_weight, C)
    l = np.sum(w * (t * _softplus(-x) + (1 - t) * _softplus(x)), axis=-1) / C
    return l, np.ones(l.shape), w * (_sigmoid(x) - t) / C


class RowReference:
    """A row loss over a class axis, with the methods of a lossfn loss (value, grad, value_and_grad)."""

    def __init__(self, name, row):
        self.name = name
        self._row = row

    def __repr__(self):
        return f"<lossfn.reference.{self.name}>"

    def _eval(self, x, target, axis, weight, hyper):
        x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
        t = np.asarray(target)
        t = np.moveaxis(t.astype(np.float64), axis, -1) if t.ndim == x.ndim else t.astype(np.int64)
        l, d, g = self._row(x, t, **hyper)
        s = np.ones(l.shape) if weight is None else np.broadcast_to(np.asarray(weight, dtype=np.float64), l.shape)
        return l, d, g, s

    @staticmethod
    def _reduce(l, d, s, reduction):
        ReferenceLoss._check_reduction(reduction)
        if reduction == "none":
            return s * l
        if reduction == "sum":
            return float(np.sum(s * l))
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(s * l) / np.sum(s * d))

    @staticmethod
    def _row_scale(d, s, reduction, grad_output):
        """d(reduced value)/d(l_i) times grad_output, one number per row."""
        ReferenceLoss._check_reduction(reduction)
        go = 1.0 if grad_output is None else np.asarray(grad_output, dtype=np.float64)
        if reduction == "mean":
            den = np.sum(s * d)
            # as torch: a zero denominator (every row ignored) gives a zero gradient
            return s * go / den if den != 0 else np.zeros(s.shape)
        return s * np.broadcast_to(go, s.shape)

    def __call__(self, x, target, *, axis=-1, weight=None, reduction="mean", **hyper):
        l, d, _, s = self._eval(x, target, axis, weight, hyper)
        return self._reduce(l, d, s, reduction)

    def grad(self, x, target, *, axis=-1, weight=None, reduction="mean", grad_output=None, **hyper):
        _, d, g, s = self._eval(x, target, axis, weight, hyper)
        return np.moveaxis(self._row_scale(d, s, reduction, grad_output)[..., None] * g, -1, axis)

    def value_and_grad(self, x, target, *, axis=-1, weight=None, reduction="mean", **hyper):
        l, d, g, s = self._eval(x, target, axis, weight, hyper)
        scale = self._row_scale(d, s, reduction, None)
        return self._reduce(l, d, s, reduction), np.moveaxis(scale[..., None] * g, -1, axis)


# Utilities: each returns (value, vjp) in the class-last layout; vjp maps the upstream gradient
# (the value's shape) to the gradient w.r.t. x.


def _logsumexp(x):
    lse, logp = _lse(x)
    return lse[..., 0], lambda v: v[..., None] * np.exp(logp)


def _softmax(x):
    y = np.exp(_lse(x)[1])
    return y, lambda v: y * (v - np.sum(v * y, axis=-1, keepdims=True))


def _log_softmax(x):
    logp = _lse(x)[1]
    return logp, lambda v: v - np.exp(logp) * np.sum(v, axis=-1, keepdims=True)


class RowUtilityReference:
    """logsumexp / softmax / log_softmax over an axis, with vector-Jacobian products."""

    def __init__(self, name, fn):
        self.name = name
        self._fn = fn

    def __repr__(self):
        return f"<lossfn.reference.{self.name}>"

    def _eval(self, x, axis):
        x = np.asarray(x, dtype=np.float64)
        value, vjp = self._fn(np.moveaxis(x, axis, -1))
        keeps_axis = value.ndim == x.ndim
        return (np.moveaxis(value, -1, axis) if keeps_axis else value), vjp, keeps_axis, x.shape

    def __call__(self, x, *, axis=-1):
        return self._eval(x, axis)[0]

    def grad(self, x, *, axis=-1, grad_output=None):
        return self.value_and_grad(x, axis=axis, grad_output=grad_output)[1]

    def value_and_grad(self, x, *, axis=-1, grad_output=None):
        value, vjp, keeps_axis, shape = self._eval(x, axis)
        v = np.broadcast_to(1.0 if grad_output is None else np.asarray(grad_output, dtype=np.float64), value.shape)
        if keeps_axis:
            v = np.moveaxis(v, axis, -1)
        return value, np.moveaxis(vjp(v), -1, axis)


_ROWS = {
    "softmax_cross_entropy": _softmax_cross_entropy, "categorical_crossentropy": _categorical_crossentropy,
    "sparse_categorical_crossentropy": _sparse_categorical_crossentropy, "nll": _nll,
    "softmax_focal": _softmax_focal, "categorical_hinge": _categorical_hinge, "multi_margin": _multi_margin,
    "multilabel_soft_margin": _multilabel_soft_margin,
}
_UTILITIES = {"logsumexp": _logsumexp, "softmax": _softmax, "log_softmax": _log_softmax}

for _name, _fn in _ROWS.items():
    globals()[_name] = RowReference(_name, _fn)
    __all__.append(_name)
for _name, _fn in _UTILITIES.items():
    globals()[_name] = RowUtilityReference(_name, _fn)
    __all__.append(_name)


def losses():
    """Every reference loss object, by name."""
    return {name: globals()[name] for name in (*_TERMS, *_ROWS, *_UTILITIES)}
