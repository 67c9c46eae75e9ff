"""The one registry of lossfn's losses.

Each ``LossSpec`` says what a loss takes (inputs and their domains, keyword hyper-parameters
with defaults), how its keywords map onto the kernel's parameter vector, what its peer is, its
formula, and which inputs are errors. The loss objects (``_losses.py``), the generic tests, the
docs and the benchmarks all iterate over ``SPECS``: registering a loss here tests it everywhere.

Input domains (used by the tests to draw sample inputs):
  real       any real number          logit      a real score or logit
  prob       probability in (0, 1)    positive   > 0
  soft01     target in [0, 1]         binary01   target in {0, 1}
  sign       label in {-1, +1}        count      non-negative integer-valued
  unit       in (0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class LossSpec:
    name: str
    family: str
    peer: str
    formula: str
    pred: str = "real"
    target: str = "real"
    aux: Optional[str] = None            # domain of a positional third input (gaussian_nll var)
    hyper: Mapping[str, Any] = field(default_factory=dict)   # keyword -> default
    # Keyword settings the tests run besides the defaults.
    variants: Sequence[Mapping[str, Any]] = ()
    # Keyword settings that must raise ValueError.
    bad_hyper: Sequence[Mapping[str, Any]] = ()
    # Maps keyword values to (kernel parameter vector, per-element aux array or None).
    to_kernel: Optional[Callable[..., Any]] = None
    # Inputs whose loss lies on a kink (tests skip finite differences there): f(pred, target, **hyper) -> mask
    kinks: Optional[Callable[..., Any]] = None


def _class_weight(class_weight):
    if class_weight is None:
        return 1.0, 1.0
    try:
        w0, w1 = (float(v) for v in class_weight)
    except (TypeError, ValueError):
        raise ValueError(f"class_weight: expected a pair (w0, w1) of numbers, got {class_weight!r}") from None
    if not (w0 >= 0 and w1 >= 0):
        raise ValueError(f"class_weight: weights must be >= 0, got {class_weight!r}")
    return w0, w1


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


def _bce_kernel(shape, eps=1e-7, class_weight=None):
    return [float(eps), *_class_weight(class_weight)], None


def _bce_logits_kernel(shape, pos_weight=None, class_weight=None):
    w0, w1 = _class_weight(class_weight)
    if pos_weight is None or np.ndim(pos_weight) == 0:
        return [1.0 if pos_weight is None else float(pos_weight), w0, w1], None
    pw = np.asarray(pos_weight, dtype=np.float64)
    try:
        pw = np.broadcast_to(pw, shape)
    except ValueError:
        raise ValueError(f"pos_weight: shape {pw.shape} cannot be broadcast to pred shape {shape}") from None
    if (pw < 0).any():
        raise ValueError("pos_weight: must be >= 0")
    return [1.0, w0, w1], pw


def _focal_alpha(alpha):
    return -1.0 if alpha is None else float(alpha)


def _binary_focal_kernel(shape, gamma=2.0, alpha=None, eps=1e-7):
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError(f"alpha: must be in [0, 1] or None, got {alpha!r}")
    return [float(gamma), _focal_alpha(alpha), float(eps)], None


def _sigmoid_focal_kernel(shape, gamma=2.0, alpha=0.25):
    return [float(gamma), _focal_alpha(alpha)], None


def _abs_kink(p, y, **_):
    return np.abs(p - y) < 1e-3


def _margin_kink(points):
    def kink(x, y, **hyper):
        s = np.where(y == 0, -1.0, y)
        z = s * x
        pts = [pt(hyper) if callable(pt) else pt for pt in points]
        return np.any([np.abs(z - pt) < 1e-3 for pt in pts], axis=0)
    return kink


R = "regression"
B = "binary"

SPECS = [
    # --- A. Regression ---
    LossSpec("mse", R, "torch mse_loss, Keras MeanSquaredError", "L = (p - y)^2"),
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
    # --- B. Binary classification ---
    LossSpec("bce", B, "Keras BinaryCrossentropy", "L = -(w1 y log pc + w0 (1-y) log(1-pc)), pc = clip(p, eps, 1-eps)",
             pred="prob", target="soft01", hyper={"eps": 1e-7, "class_weight": None},
             variants=[{"class_weight": (0.3, 2.0)}, {"eps": 1e-3}],
             bad_hyper=[{"eps": -1.0}, {"eps": 0.7}, {"class_weight": (1.0, -2.0)}, {"class_weight": 3}],
             to_kernel=_bce_kernel),
    LossSpec("bce_with_logits", B, "torch binary_cross_entropy_with_logits",
             "L = w1 pw y softplus(-x) + w0 (1-y) softplus(x)", pred="logit", target="soft01",
             hyper={"pos_weight": None, "class_weight": None},
             variants=[{"pos_weight": 3.0}, {"pos_weight": "per-column"}, {"class_weight": (2.0, 0.5)}],
             bad_hyper=[{"pos_weight": -1.0}, {"class_weight": (-1.0, 1.0)}], to_kernel=_bce_logits_kernel),
    LossSpec("binary_focal", B, "Keras BinaryFocalCrossentropy",
             "L = alpha_t (1 - p_t)^gamma bce(clip(p, eps, 1-eps))", pred="prob", target="binary01",
             hyper={"gamma": 2.0, "alpha": None, "eps": 1e-7},
             variants=[{"alpha": 0.25}, {"gamma": 0.0}, {"gamma": 1.5}, {"gamma": 1.0}],
             bad_hyper=[{"gamma": -1.0}, {"alpha": 1.5}, {"eps": 0.6}], to_kernel=_binary_focal_kernel),
    LossSpec("sigmoid_focal", B, "torchvision sigmoid_focal_loss, optax sigmoid_focal_loss",
             "L = alpha_t (1 - p_t)^gamma bce_with_logits(x, y)", pred="logit", target="binary01",
             hyper={"gamma": 2.0, "alpha": 0.25}, variants=[{"alpha": -1.0}, {"gamma": 0.0}, {"gamma": 1.5}],
             bad_hyper=[{"gamma": -0.5}, {"alpha": 2.0}], to_kernel=_sigmoid_focal_kernel),
    LossSpec("hinge", B, "Keras Hinge", "L = max(1 - y x, 0)", pred="logit", target="sign",
             kinks=_margin_kink([1.0])),
    LossSpec("squared_hinge", B, "Keras SquaredHinge", "L = max(1 - y x, 0)^2", pred="logit", target="sign",
             kinks=_margin_kink([1.0])),
    LossSpec("smooth_hinge", B, "Rennie & Srebro 2005 (quadratically smoothed hinge)",
             "L = 0 (z >= 1), (1-z)^2/(2s) (1-s < z < 1), 1 - z - s/2 (z <= 1-s), z = y x",
             pred="logit", target="sign", hyper={"smoothing": 1.0}, variants=[{"smoothing": 0.5}],
             bad_hyper=[{"smoothing": 0.0}],
             kinks=_margin_kink([1.0, lambda h: 1.0 - h.get("smoothing", 1.0)])),
    LossSpec("modified_huber", B, "scikit-learn SGDClassifier(loss='modified_huber')",
             "L = max(0, 1 - z)^2 for z >= -1 else -4z, z = y x", pred="logit", target="sign",
             kinks=_margin_kink([1.0, -1.0])),
    LossSpec("soft_margin", B, "torch soft_margin_loss", "L = log(1 + exp(-y x))", pred="logit", target="sign"),
]



@dataclass(frozen=True)
class RowLossSpec:
    """A loss over rows along a class axis (multi-class losses) or a softmax utility.

    Logit domains: logit (real scores), prob_rows (rows of positive probabilities summing to 1),
    logprob_rows (their logs). Target domains: labels (integers in [0, C)), probs (probability
    rows), onehot, binary01 (independent 0/1 per class). A hyper-parameter value "per-class" in a
    variant stands for a positive vector of length C.
    """

    name: str
    family: str
    peer: str
    formula: str
    pred: str = "logit"
    targets: Sequence[str] = ("labels",)
    hyper: Mapping[str, Any] = field(default_factory=dict)
    variants: Sequence[Mapping[str, Any]] = ()
    bad_hyper: Sequence[Mapping[str, Any]] = ()
    # Where the peer defines the row loss as a mean over classes, or other notes for the docs.
    note: str = ""


M = "multiclass"
U = "utility"

ROW_SPECS = [
    RowLossSpec(
        "softmax_cross_entropy", M, "torch cross_entropy, optax softmax_cross_entropy",
        "l = (1-ls) w_y (lse(x) - x_y) + (ls/C) sum_c w_c (lse(x) - x_c) for a label y; "
        "l = sum_c w_c q'_c (lse(x) - x_c), q' = (1-ls) q + ls/C, for probability targets q",
        targets=("labels", "probs"),
        hyper={"label_smoothing": 0.0, "class_weight": None, "ignore_index": None},
        variants=[{"label_smoothing": 0.1}, {"class_weight": "per-class"},
                  {"label_smoothing": 0.2, "class_weight": "per-class"}, {"ignore_index": 1}],
        bad_hyper=[{"label_smoothing": -0.1}, {"label_smoothing": 1.5}],
        note="mean divides by the summed class weights of the counted labels (torch); "
             "by the number of rows for probability targets"),
    RowLossSpec(
        "categorical_crossentropy", M, "Keras CategoricalCrossentropy (from_logits=False)",
        "l = -sum_c y'_c log clip(p_c / sum_k p_k, eps, 1-eps), y' = (1-ls) y + ls/C",
        pred="prob_rows", targets=("probs", "onehot"), hyper={"eps": 1e-7, "label_smoothing": 0.0},
        variants=[{"label_smoothing": 0.1}, {"eps": 1e-3}],
        bad_hyper=[{"eps": -1.0}, {"eps": 0.5}, {"label_smoothing": 2.0}]),
    RowLossSpec(
        "sparse_categorical_crossentropy", M, "Keras SparseCategoricalCrossentropy (from_logits=False)",
        "l = -log clip(p_y / sum_k p_k, eps, 1-eps)",
        pred="prob_rows", hyper={"eps": 1e-7, "ignore_index": None},
        variants=[{"ignore_index": 2}, {"eps": 1e-3}], bad_hyper=[{"eps": -0.1}]),
    RowLossSpec(
        "nll", M, "torch nll_loss", "l = -w_y x_y (x: log-probabilities)",
        pred="logprob_rows", hyper={"class_weight": None, "ignore_index": None},
        variants=[{"class_weight": "per-class"}, {"ignore_index": 0}]),
    RowLossSpec(
        "softmax_focal", M, "Keras CategoricalFocalCrossentropy; PyTorch FocalLoss alpha (1-pt)^gamma CE",
        "l = -alpha_y (1 - p_y)^gamma log p_y, p = softmax(x)",
        hyper={"gamma": 2.0, "alpha": None},
        variants=[{"gamma": 0.0}, {"gamma": 0.5}, {"alpha": 0.25}, {"alpha": "per-class", "gamma": 1.0}],
        bad_hyper=[{"gamma": -1.0}],
        note="log p_y from log-softmax, no eps clipping (Keras clips p to [1e-7, 1-1e-7])"),
    RowLossSpec(
        "categorical_hinge", M, "Keras CategoricalHinge",
        "l = max(0, max_c (1-y_c) x_c - sum_c y_c x_c + 1)", targets=("onehot",)),
    RowLossSpec(
        "multi_margin", M, "torch multi_margin_loss",
        "l = (1/C) sum_{c != y} w_y max(0, margin - x_y + x_c)^p",
        hyper={"p": 1, "margin": 1.0, "class_weight": None},
        variants=[{"p": 2}, {"margin": 0.5}, {"class_weight": "per-class", "p": 2}],
        bad_hyper=[{"p": 3}, {"margin": -1.0}]),
    RowLossSpec(
        "multilabel_soft_margin", M, "torch multilabel_soft_margin_loss",
        "l = (1/C) sum_c w_c (y_c softplus(-x_c) + (1-y_c) softplus(x_c))",
        targets=("binary01",), hyper={"class_weight": None}, variants=[{"class_weight": "per-class"}]),
    RowLossSpec("logsumexp", U, "scipy.special.logsumexp, torch logsumexp", "lse(x) = m + log sum_c e^(x_c - m)",
                targets=()),
    RowLossSpec("softmax", U, "scipy.special.softmax, torch softmax", "p_c = e^(x_c - lse(x))", targets=()),
    RowLossSpec("log_softmax", U, "scipy.special.log_softmax, torch log_softmax", "x_c - lse(x)", targets=()),
]
