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
CTC (section G) is a log-space dynamic programme per sample (``sequence.ctc``); the overlap
losses (section E) sum per sample and class over the pixels (``segmentation.OverlapReference``);
the Lovász hinge sorts each segment's errors (``segmentation.lovasz_hinge``); SSIM, MS-SSIM and
total variation (section H) filter each image plane directly (``image.ssim``, ``image.ms_ssim``,
``image.total_variation``).
"""

from __future__ import annotations

from . import binary, image, metric, multiclass, regression, segmentation, sequence
from .shapes import ReferenceLoss, RowReference, RowUtilityReference

__all__ = ["ReferenceLoss", "RowReference", "RowUtilityReference", "losses"]

_OBJECTS = {}
for _family in (regression, binary):
    for _name, _fn in _family.TERMS.items():
        _OBJECTS[_name] = ReferenceLoss(_name, _fn)
for _name, _fn in multiclass.ROWS.items():
    _OBJECTS[_name] = RowReference(_name, _fn)
for _name, _fn in multiclass.UTILITIES.items():
    _OBJECTS[_name] = RowUtilityReference(_name, _fn)
_OBJECTS["ctc"] = sequence.ctc
_OBJECTS.update(segmentation.OVERLAPS)
_OBJECTS["lovasz_hinge"] = segmentation.lovasz_hinge
_OBJECTS["ssim"] = image.ssim
_OBJECTS["ms_ssim"] = image.ms_ssim
_OBJECTS["total_variation"] = image.total_variation
_OBJECTS["perceptual"] = image.perceptual
_OBJECTS.update(metric.PAIRS)
_OBJECTS["center_loss"] = metric.center_loss
_OBJECTS.update(metric.PAIRWISE)
globals().update(_OBJECTS)
__all__ += list(_OBJECTS)


def losses():
    """Every reference loss object, by name."""
    return dict(_OBJECTS)
