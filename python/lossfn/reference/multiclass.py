"""C. Multi-class: row functions over a class axis, and the softmax utilities.

A row loss sees its first input with the class axis moved last, shape (*batch, C), and its
target either as integer labels of the batch shape or as a dense float array of shape
(*batch, C). Each ``_<name>`` row function returns ``(l, d, g)``: the per-row loss (class
weights included), the row's weight in the "mean" denominator (1, w_y with class weights,
0 for an ignored row) and dl/dinput of each row, shape (*batch, C). ``RowReference`` moves
the class axis, applies sample weights, the reduction and grad_output.
"""

import numpy as np

from ._common import _sigmoid, _softplus


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
    # s(x) - t without cancellation for confident logits: (1 - t) - s(-x) where x >= 0
    return l, np.ones(l.shape), w * np.where(x >= 0, (1 - t) - _sigmoid(-x), _sigmoid(x) - t) / C


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


ROWS = {
    "softmax_cross_entropy": _softmax_cross_entropy,
    "categorical_crossentropy": _categorical_crossentropy,
    "sparse_categorical_crossentropy": _sparse_categorical_crossentropy,
    "nll": _nll,
    "softmax_focal": _softmax_focal,
    "categorical_hinge": _categorical_hinge,
    "multi_margin": _multi_margin,
    "multilabel_soft_margin": _multilabel_soft_margin,
}
UTILITIES = {
    "logsumexp": _logsumexp,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
}
