"""B. Binary classification: per-element terms (l, dL/dx, d2L/dx2)."""

import numpy as np

from ._common import _sigmoid, _softplus, _sign_labels


def _bce(p, y, eps=1e-7, class_weight=None):
    w0, w1 = (1.0, 1.0) if class_weight is None else class_weight
    live = (p >= eps) & (p <= 1 - eps)
    pc = np.clip(p, eps, 1 - eps)
    a, b = w1 * y, w0 * (1 - y)
    l = -(a * np.log(pc) + b * np.log1p(-pc))
    # -a/pc + b/(1 - pc), written without the cancellation of the two fractions where pc ~ y
    g = np.where(live, (w0 * (pc - y) + (w0 - w1) * y * (1 - pc)) / (pc * (1 - pc)), 0.0)
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
    # The powers that grow without bound at m = 0 (m^(gamma-1) for gamma < 1, m^(gamma-2) for
    # gamma < 2) are taken at max(m, eps), where bce' = 0 anyway.
    m1 = np.maximum(m, eps) if gamma < 1 else m
    m2 = np.maximum(m, eps) if gamma < 2 else m
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        f = m**gamma
        f1 = gamma * (m1 ** (gamma - 1) if gamma != 1 else 1.0) * dm
        f2 = 0.0 if gamma in (0, 1) else gamma * (gamma - 1) * m2 ** (gamma - 2) * dm**2
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
    dce, d2ce = np.where(x >= 0, (1 - y) - sn, s - y), s * sn  # s - y without cancellation
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


TERMS = {
    "bce": _bce,
    "bce_with_logits": _bce_with_logits,
    "binary_focal": _binary_focal,
    "sigmoid_focal": _sigmoid_focal,
    "hinge": _hinge,
    "squared_hinge": _squared_hinge,
    "smooth_hinge": _smooth_hinge,
    "modified_huber": _modified_huber,
    "soft_margin": _soft_margin,
}
