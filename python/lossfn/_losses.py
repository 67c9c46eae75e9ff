"""Loss objects: one per loss, all of the same shape (SPEC §1).

``lf.huber(pred, target, *, delta=1.0, weight=None, reduction="mean")`` and its methods
``grad``, ``value_and_grad``, ``hess`` map keyword hyper-parameters onto the kernel's parameter
vector (per the registry) and call ``_core.elementwise``, which checks and converts the arrays
and runs the fused kernel with the GIL released.
"""

from __future__ import annotations

import numpy as np

from . import _core, reference
from ._registry import SPECS, LossSpec

_REDUCTION = {"none": 0, "mean": 1, "sum": 2}
_VALUE, _VALUE_AND_GRAD, _GRAD, _HESS, _GRAD_HESS = range(5)


def _reduction_code(reduction):
    try:
        return _REDUCTION[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"reduction: must be 'mean', 'sum' or 'none', got {reduction!r}") from None


class ElementwiseLoss:
    """An elementwise loss: value, gradient, fused value and gradient, Hessian diagonal."""

    def __init__(self, spec: LossSpec, info: dict):
        self.name = spec.name
        self.spec = spec
        self.family = spec.family
        self.peer = spec.peer
        self.formula = spec.formula
        self.reference = getattr(reference, spec.name)
        self._id = info["id"]
        self._kernel_params = info["params"]
        self._aux_input = info["aux"] if info["aux_required"] else None
        self._hyper_defaults = dict(spec.hyper)
        self._default_kernel_params = list(info["defaults"])
        self.__doc__ = (f"{spec.name}: {spec.formula}\n\nPeer: {spec.peer}.\n"
                        f"Hyper-parameters (keyword-only): "
                        f"{', '.join(f'{k}={v!r}' for k, v in spec.hyper.items()) or 'none'}.")

    def __repr__(self):
        return f"<lossfn.{self.name}>"

    @property
    def inputs(self):
        """Names of the positional inputs."""
        return ("pred", "target") + ((self._aux_input,) if self._aux_input else ())

    @property
    def differentiable_inputs(self):
        return ("pred",) + ((self._aux_input,) if self._aux_input else ())

    def _kernel(self, pred, hyper):
        """(parameter vector, aux array or None) for these keyword values."""
        if not hyper:
            return self._default_kernel_params, None
        for key in hyper:
            if key not in self._hyper_defaults:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
        if self.spec.to_kernel is None:
            values = dict(self._hyper_defaults, **hyper)
            try:
                return [float(values[k]) for k in self._kernel_params], None
            except (TypeError, ValueError) as e:
                raise TypeError(f"{self.name}: hyper-parameters must be numbers ({e})") from None
        shape = getattr(pred, "shape", None)
        if shape is None:
            shape = np.shape(pred)
        return self.spec.to_kernel(tuple(shape), **dict(self._hyper_defaults, **hyper))

    def _split(self, args):
        expected = len(self.inputs)
        if len(args) != expected:
            raise TypeError(f"{self.name}() takes {expected} positional inputs "
                            f"({', '.join(self.inputs)}), got {len(args)}")
        return args[0], args[1], (args[2] if expected == 3 else None)

    def _run(self, what, args, weight, reduction, grad_output, out, hyper):
        pred, target, aux = self._split(args)
        params, hyper_aux = self._kernel(pred, hyper)
        if hyper_aux is not None:
            aux = hyper_aux
        return _core.elementwise(self._id, what, pred, target, aux, weight, grad_output, out,
                                 params, _reduction_code(reduction))

    def __call__(self, *args, weight=None, reduction="mean", **hyper):
        """The loss: a float for "mean"/"sum", the per-element losses for "none"."""
        return self._run(_VALUE, args, weight, reduction, None, None, hyper)

    def grad(self, *args, weight=None, reduction="mean", grad_output=None, out=None, **hyper):
        """Gradient w.r.t. each differentiable input (a tuple when there are several)."""
        return self._run(_GRAD, args, weight, reduction, grad_output, out, hyper)

    def value_and_grad(self, *args, weight=None, reduction="mean", out=None, **hyper):
        """(value, grad) from one fused pass over memory."""
        return self._run(_VALUE_AND_GRAD, args, weight, reduction, None, out, hyper)

    def hess(self, *args, weight=None, reduction="mean", out=None, **hyper):
        """Diagonal of the Hessian w.r.t. pred (of the reduced loss, or per element for "none")."""
        return self._run(_HESS, args, weight, reduction, None, out, hyper)

    def grad_and_hess(self, *args, weight=None, reduction="sum", **hyper):
        """(grad, hess) from one pass: what gradient-boosting objectives need."""
        return self._run(_GRAD_HESS, args, weight, reduction, None, None, hyper)


def build_losses():
    infos = {info["name"]: info for info in _core.loss_table()}
    missing = set(infos) ^ {spec.name for spec in SPECS}
    if missing:
        raise ImportError(f"lossfn: registry and kernels disagree on {sorted(missing)}")
    return {spec.name: ElementwiseLoss(spec, infos[spec.name]) for spec in SPECS}
