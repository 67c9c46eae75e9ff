"""A. Regression: per-element terms (l, dL/dpred, d2L/dpred2[, dL/daux])."""

import numpy as np

from ._common import LN2


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
    e = np.exp(-2 * a)
    return l, t, 4 * e / (1 + e) ** 2  # sech^2, down to where it underflows


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
        l, g, h = np.exp(p) - y * p, np.expm1(p) - (y - 1), np.exp(p)  # e^p - y without cancellation at y = 1
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
    if abs(alpha) < 1e-20:  # the alpha -> 0 limit is exact to far below an ulp there
        q = 1 / (1 + 0.5 * z)
        return np.log1p(0.5 * z), r * q / c, (2 * q - 1) * q / c**2
    if alpha == -np.inf:
        e = np.exp(-0.5 * z)
        return -np.expm1(-0.5 * z), r * e / c, (1 - z) * e / c**2
    k = abs(alpha - 2)
    b = z / k + 1
    l = k / alpha * np.expm1(alpha / 2 * np.log1p(z / k))
    # r b^(alpha/2 - 1) in log space: b^(alpha/2 - 1) alone underflows long before the product
    with np.errstate(divide="ignore"):
        g = np.sign(r) * np.exp((alpha / 2 - 1) * np.log1p(z / k) + np.log(np.abs(r))) / c
    # b + sign(alpha - 2) z = 1 + z (1/k + sign(alpha - 2)): no cancellation (alpha = 1: 1)
    # in log space as the gradient: b^(alpha/2 - 2) alone may underflow
    q = 1 + z * (1 / k + np.sign(alpha - 2))
    with np.errstate(divide="ignore"):
        h = np.sign(q) * np.exp((alpha / 2 - 2) * np.log1p(z / k) + np.log(np.abs(q))) / c**2
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


TERMS = {
    "mse": _mse,
    "mae": _mae,
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "log_cosh": _log_cosh,
    "quantile": _quantile,
    "msle": _msle,
    "mape": _mape,
    "poisson_nll": _poisson_nll,
    "gaussian_nll": _gaussian_nll,
    "charbonnier": _charbonnier,
    "cauchy": _cauchy,
    "welsch": _welsch,
    "geman_mcclure": _geman_mcclure,
    "general_robust": _general_robust,
}
