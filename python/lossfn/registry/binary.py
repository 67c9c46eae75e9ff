"""B. Binary classification: elementwise losses of a probability or logit and a 0/1 or sign label."""

from __future__ import annotations

import numpy as np

from .specs import LossSpec


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


def _bce_kernel(shape, eps=1e-7, class_weight=None):
    return [float(eps), *_class_weight(class_weight)], None


def _bce_logits_kernel(shape, pos_weight=None, class_weight=None):
    w0, w1 = _class_weight(class_weight)
    if pos_weight is None or np.ndim(pos_weight) == 0:
        return [1.0 if pos_weight is None else float(pos_weight), w0, w1], None
    pw = np.asarray(pos_weight, dtype=np.float64)
    if (pw < 0).any():  # checked before broadcasting: the view's values are these
        raise ValueError("pos_weight: must be >= 0")
    try:
        return [1.0, w0, w1], np.broadcast_to(pw, shape)  # a view, read in place by the kernel
    except ValueError:
        raise ValueError(f"pos_weight: shape {pw.shape} cannot be broadcast to pred shape {shape}") from None


def _focal_alpha(alpha):
    return -1.0 if alpha is None else float(alpha)


def _binary_focal_kernel(shape, gamma=2.0, alpha=None, eps=1e-7):
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError(f"alpha: must be in [0, 1] or None, got {alpha!r}")
    return [float(gamma), _focal_alpha(alpha), float(eps)], None


def _sigmoid_focal_kernel(shape, gamma=2.0, alpha=0.25):
    return [float(gamma), _focal_alpha(alpha)], None


def _margin_kink(points):
    def kink(x, y, **hyper):
        s = np.where(y == 0, -1.0, y)
        z = s * x
        pts = [pt(hyper) if callable(pt) else pt for pt in points]
        return np.any([np.abs(z - pt) < 1e-3 for pt in pts], axis=0)
    return kink


B = "binary"

SPECS = [
    LossSpec("bce", B, "Keras BinaryCrossentropy", "L = -(w1 y log pc + w0 (1-y) log1p(-pc)), pc = clip(p, eps, 1-eps)",
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
    LossSpec("sigmoid_focal", B, "torchvision sigmoid_focal_loss (alpha=0.25, as here), optax sigmoid_focal_loss "
             "(its default alpha=None is alpha=-1 here)",
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
