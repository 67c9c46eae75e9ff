"""The reference loss objects, one per kernel shape: they apply weights, the reduction and the
upstream gradient to the per-element terms (elementwise) or per-row terms (rows) of a family module."""

import numpy as np

from ._common import check_reduction


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

    _check_reduction = staticmethod(check_reduction)

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
