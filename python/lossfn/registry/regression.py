"""A. Regression: elementwise losses of pred and target."""

from __future__ import annotations

import numpy as np

from .specs import LossSpec


def _last_axis_array(value, name, shape):
    """A 1-D hyper-parameter over the last axis, broadcast to `shape` (the kernel reads it per element)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or len(shape) == 0 or arr.shape[0] != shape[-1]:
        raise ValueError(f"{name}: expected a scalar or a 1-D array of length {shape[-1] if shape else 0} "
                         f"(the last axis of pred), got shape {arr.shape}")
    return np.broadcast_to(arr, shape)


def _quantile_kernel(shape, tau=0.5):
    if np.ndim(tau) == 0:
        return [float(tau)], None
    return [0.5], _last_axis_array(tau, "tau", shape)


def _abs_kink(p, y, **_):
    return np.abs(p - y) < 1e-3


R = "regression"

SPECS = [
    LossSpec("mse", R, "torch mse_loss, Keras MeanSquaredError (optax l2_loss is half of it, d^2 / 2)", "L = (p - y)^2"),
    LossSpec("mae", R, "torch l1_loss", "L = |p - y| (subgradient 0 at 0)", kinks=_abs_kink),
    LossSpec("huber", R, "torch huber_loss", "L = d^2/2 if |d| <= delta else delta (|d| - delta/2)",
             hyper={"delta": 1.0}, variants=[{"delta": 0.3}], bad_hyper=[{"delta": -1.0}, {"delta": 0.0}],
             kinks=lambda p, y, delta=1.0: np.abs(np.abs(p - y) - delta) < 1e-3),
    LossSpec("smooth_l1", R, "torch smooth_l1_loss", "L = d^2/(2 beta) if |d| < beta else |d| - beta/2",
             hyper={"beta": 1.0}, variants=[{"beta": 0.5}, {"beta": 0.0}], bad_hyper=[{"beta": -0.1}],
             kinks=lambda p, y, beta=1.0: (np.abs(np.abs(p - y) - beta) < 1e-3) | (np.abs(p - y) < 1e-3)),
    LossSpec("log_cosh", R, "Keras LogCosh, optax log_cosh", "L = log cosh(p - y)"),
    LossSpec("quantile", R, "pinball loss", "L = max(tau (y - p), (tau - 1)(y - p)); tau scalar or 1-D over the last axis",
             hyper={"tau": 0.5}, variants=[{"tau": 0.9}, {"tau": "per-column"}],
             bad_hyper=[{"tau": 0.0}, {"tau": 1.0}, {"tau": 1.5}], to_kernel=_quantile_kernel, kinks=_abs_kink),
    LossSpec("msle", R, "Keras MeanSquaredLogarithmicError", "L = (log1p(max(p, eps)) - log1p(max(y, eps)))^2",
             pred="positive", target="positive", hyper={"eps": 1e-7}, bad_hyper=[{"eps": 0.0}]),
    LossSpec("mape", R, "Keras MeanAbsolutePercentageError", "L = 100 |p - y| / max(|y|, eps)",
             hyper={"eps": 1e-7}, bad_hyper=[{"eps": -1.0}], kinks=_abs_kink),
    LossSpec("poisson_nll", R, "torch poisson_nll_loss",
             "L = e^p - y p (log_input) or p - y log(p + eps); full adds Stirling's term",
             pred="positive", target="count", hyper={"log_input": True, "full": False, "eps": 1e-8},
             variants=[{"full": True}, {"log_input": False}, {"log_input": False, "full": True}],
             bad_hyper=[{"eps": 0.0}]),
    LossSpec("gaussian_nll", R, "torch gaussian_nll_loss", "L = (log v + (p - y)^2 / v)/2, v = max(var, eps)",
             aux="positive", hyper={"full": False, "eps": 1e-6}, variants=[{"full": True}],
             bad_hyper=[{"eps": 0.0}, {"eps": -1.0}]),
    LossSpec("charbonnier", R, "kornia charbonnier_loss (Barron alpha = 1)", "L = sqrt((d/c)^2 + 1) - 1",
             hyper={"c": 1.0}, variants=[{"c": 0.5}], bad_hyper=[{"c": 0.0}]),
    LossSpec("cauchy", R, "kornia cauchy_loss (Barron alpha = 0)", "L = log(1 + (d/c)^2 / 2)",
             hyper={"c": 1.0}, variants=[{"c": 2.0}], bad_hyper=[{"c": -1.0}]),
    LossSpec("welsch", R, "kornia welsch_loss (Barron alpha = -inf)", "L = 1 - exp(-(d/c)^2 / 2)",
             hyper={"c": 1.0}, variants=[{"c": 0.7}], bad_hyper=[{"c": 0.0}]),
    LossSpec("geman_mcclure", R, "kornia geman_mcclure_loss (Barron alpha = -2)", "L = 2 (d/c)^2 / ((d/c)^2 + 4)",
             hyper={"c": 1.0}, variants=[{"c": 3.0}], bad_hyper=[{"c": float("nan")}]),
    LossSpec("general_robust", R, "Barron 2019, rho(x, alpha, c)",
             "L = |alpha-2|/alpha ((r^2/|alpha-2| + 1)^(alpha/2) - 1), r = d/c; limits at alpha = 0, 2, -inf",
             hyper={"alpha": 1.0, "c": 1.0},
             variants=[{"alpha": 0.0}, {"alpha": 2.0}, {"alpha": float("-inf")}, {"alpha": -2.0},
                       {"alpha": 0.5, "c": 2.0}, {"alpha": 3.0}, {"alpha": -5.0}],
             bad_hyper=[{"c": 0.0}, {"alpha": float("nan")}, {"alpha": float("inf")}]),
]
