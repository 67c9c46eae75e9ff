"""Loss objects: one per loss, all of the same shape (SPEC §1).

``lf.huber(pred, target, *, delta=1.0, weight=None, reduction="mean")`` and its methods
``grad``, ``value_and_grad``, ``hess`` map keyword hyper-parameters onto the kernel's parameter
vector (per the registry) and call ``_core.elementwise``, which checks and converts the arrays
and runs the fused kernel with the GIL released.
"""

from __future__ import annotations

import numpy as np

from . import _core, reference
from .registry import (BAND_SPECS, CENTER_SPECS, PAIRWISE_SPECS, FEATURE_SPECS, ORDER_SPECS, PAIR_SPECS, ROW_SPECS, SEGMENT_SPECS, SEQUENCE_SPECS, SPECS, LossSpec, RowLossSpec,
                       SegmentLossSpec, SequenceLossSpec)

_REDUCTION = {"none": 0, "mean": 1, "sum": 2}
_VALUE, _VALUE_AND_GRAD, _GRAD, _HESS, _GRAD_HESS = range(5)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _check_hyper_types(name, defaults, hyper):
    """A keyword of the wrong type is a TypeError naming it (values are checked by the kernels).

    A switch (default True/False) takes a bool; a number takes a real number, never a bool or a
    string (``delta="2.0"`` and ``delta=True`` are mistakes, not numbers). Keywords whose
    default is None or that take arrays (class weights, per-column tau) are checked where they
    are converted.
    """
    for key, value in hyper.items():
        if key not in defaults:
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
        default = defaults[key]
        if isinstance(default, bool):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{key}: expected a bool, got {type(value).__name__}")
        elif isinstance(default, (int, float)):
            if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
                raise TypeError(f"{key}: expected a number, got {type(value).__name__}")


def _kernel_numbers(names, values):
    """The kernel's parameter vector: each named keyword as a float."""
    params = []
    for k in names:
        try:
            params.append(float(values[k]))
        except (TypeError, ValueError):
            raise TypeError(f"{k}: expected a number, got {type(values[k]).__name__}") from None
    return params


def _reduction_code(reduction):
    try:
        return _REDUCTION[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"reduction: must be 'mean', 'sum' or 'none', got {reduction!r}") from None


def _ignore_index(value):
    """ignore_index as an int (or None): a label value, in int64's range."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"ignore_index: expected an int or None, got {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"ignore_index: {value} is outside the int64 range of labels")
    return int(value)


# Probability-space losses that take from_logits=True as Keras does: the logits then go to the
# loss's stable logit form (the gradient is w.r.t. the logits), with the keywords that form keeps.
# name -> (logit loss, {its keyword: a function of this loss's keyword values})
_LOGIT_FORMS = {
    "bce": ("bce_with_logits", {"class_weight": lambda v: v["class_weight"]}),
    "binary_focal": ("sigmoid_focal", {"gamma": lambda v: v["gamma"],
                                       "alpha": lambda v: -1.0 if v["alpha"] is None else v["alpha"]}),
    "categorical_crossentropy": ("softmax_cross_entropy", {"label_smoothing": lambda v: v["label_smoothing"]}),
    "sparse_categorical_crossentropy": ("softmax_cross_entropy", {"ignore_index": lambda v: v["ignore_index"]}),
}
_BUILT = {}  # every loss object by name, once build_losses has made them


class _LossObject:
    """What every loss object carries: its registry entry, kernel id and NumPy reference."""

    def __init__(self, spec, info: dict):
        self.name = spec.name
        self.spec = spec
        self.family = spec.family
        self.peer = spec.peer
        self.formula = spec.formula
        self.reference = getattr(reference, spec.name)
        self._id = info["id"]
        self._kernel_params = info["params"]
        self._hyper_defaults = dict(spec.hyper)

    def __repr__(self):
        return f"<lossfn.{self.name}>"

    def _inputs_by_keyword(self, args, hyper):
        """Inputs given by their names (pred=, target=, var=...) joined to the positional ones."""
        names = self.inputs
        if not any(name in hyper for name in names):
            return args, hyper
        args, hyper = list(args), dict(hyper)
        for k, name in enumerate(names):
            if name not in hyper:
                continue
            if k < len(args):
                raise TypeError(f"{self.name}() got multiple values for input {name!r}")
            if k > len(args):
                raise TypeError(f"{self.name}() missing input {names[len(args)]!r} (given: {name!r})")
            args.append(hyper.pop(name))
        return tuple(args), hyper

    def _logit_form(self, hyper):
        """(the loss object and keywords to run instead, or None): from_logits=True on a
        probability-space loss (_LOGIT_FORMS); from_logits is taken out of `hyper`."""
        if self.name not in _LOGIT_FORMS or "from_logits" not in hyper:
            return None
        hyper = dict(hyper)
        if not _switch("from_logits", hyper.pop("from_logits")):
            return self, hyper
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        values = dict(self._hyper_defaults, **hyper)
        name, keywords = _LOGIT_FORMS[self.name]
        return _BUILT[name], {k: f(values) for k, f in keywords.items()}

    def _describe(self, keywords, inputs, gradient):
        """The signature (_set_signature) and the docstring: formula, parameters, gradient, peer, conventions."""
        self._set_signature(keywords)
        params = [f"    {name}: {what}" for name, what in inputs]
        params += [f"    {k} = {v!r}" for k, v in self.__signature__.parameters.items() if v.default is not v.empty
                   for k, v in [(k, v.default)]]
        note = getattr(self.spec, "note", "")
        self.__doc__ = "\n".join(
            [f"{self.name}: {self.spec.formula}", "", "Parameters (inputs by position or name, then keywords):", *params,
             "", f"Gradient: {gradient}", f"Peer: {self.spec.peer}."]
            + ([f"Conventions: {note[0].upper()}{note[1:]}."] if note else [])
            + (["from_logits=True takes logits and runs the loss's stable logit form, the gradient w.r.t. the logits."]
               if self.name in _LOGIT_FORMS else []))

    def _set_signature(self, keywords):
        """inspect.signature(loss): the inputs (positional or by name), then the keywords with their defaults."""
        import inspect
        P = inspect.Parameter
        if self.name in _LOGIT_FORMS:
            keywords = dict(keywords, from_logits=False)
        params = [P(name, P.POSITIONAL_OR_KEYWORD) for name in self.inputs]
        params += [P(k, P.KEYWORD_ONLY, default=v) for k, v in keywords.items()]
        self.__signature__ = inspect.Signature(params)


class ElementwiseLoss(_LossObject):
    """An elementwise loss: value, gradient, fused value and gradient, Hessian diagonal."""

    def __init__(self, spec: LossSpec, info: dict):
        super().__init__(spec, info)
        self._aux_input = info["aux"] if info["aux_required"] else None
        self._default_kernel_params = [float(v) for v in info["defaults"]]
        self._fast = self._aux_input is None  # two positional inputs, nothing to map
        domains = {"pred": spec.pred, "target": spec.target}
        self._describe(dict({"weight": None, "reduction": "mean"}, **spec.hyper),
                       [(name, f"array ({domains.get(name, spec.aux)})" + ("" if name == "pred" else " of pred's shape"))
                        for name in self.inputs],
                       f"grad gives dL/d{' and dL/d'.join(self.differentiable_inputs)} of the reduced loss times "
                       "grad_output (per element for 'none'); hess the diagonal of d2L/dpred2; grad_and_hess both in "
                       "one pass (reduction 'sum' by default, as boosting libraries take them).")

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
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        if self.spec.to_kernel is None:
            return _kernel_numbers(self._kernel_params, dict(self._hyper_defaults, **hyper)), None
        shape = getattr(pred, "shape", None)
        if shape is None:
            shape = np.shape(pred)
        return self.spec.to_kernel(tuple(shape), **dict(self._hyper_defaults, **hyper))

    def _split(self, args):
        expected = len(self.inputs)
        if len(args) != expected:
            raise TypeError(f"{self.name}() takes {expected} positional inputs "
                            f"({', '.join(self.inputs)}), got {len(args)}")
        if expected == 3 and args[2] is None:
            raise ValueError(f"{self._aux_input}: required ({self.name} takes {', '.join(self.inputs)}), got None")
        return args[0], args[1], (args[2] if expected == 3 else None)

    def _run(self, what, args, weight, reduction, grad_output, out, hyper):
        if hyper:
            args, hyper = self._inputs_by_keyword(args, hyper)
            form = self._logit_form(hyper)
            if form is not None:
                loss, hyper = form
                if loss is not self:
                    return loss._run(what, args, weight, reduction, grad_output, out, hyper)
        if not hyper and len(args) == 2 and self._aux_input is None and type(reduction) is str and reduction in _REDUCTION:
            # The common call, with nothing to map: straight to the kernel (per-call cost).
            return _core.elementwise(self._id, what, args[0], args[1], None, weight, grad_output, out,
                                     self._default_kernel_params, _REDUCTION[reduction])
        pred, target, aux = self._split(args)
        params, hyper_aux = self._kernel(pred, hyper)
        if hyper_aux is not None:
            aux = hyper_aux
        return _core.elementwise(self._id, what, pred, target, aux, weight, grad_output, out,
                                 params, _reduction_code(reduction))

    def __call__(self, *args, weight=None, reduction="mean", **hyper):
        """The loss: a float for "mean"/"sum", the per-element losses for "none"."""
        if not hyper and len(args) == 2 and self._fast and reduction == "mean":  # the commonest call
            return _core.elementwise(self._id, _VALUE, args[0], args[1], None, weight, None, None,
                                     self._default_kernel_params, 1)
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
        """(grad, hess) from one pass: what gradient-boosting objectives need.

        reduction defaults to "sum" here, unlike the other methods: XGBoost and LightGBM take each
        sample's gradient and Hessian, which the sum leaves unscaled (the mean would divide them by n).
        """
        return self._run(_GRAD_HESS, args, weight, reduction, None, None, hyper)


class _RowBase(_LossObject):
    """What row losses and the softmax utilities share: keyword mapping onto the kernel call."""

    def __init__(self, spec: RowLossSpec, info: dict):
        super().__init__(spec, info)
        self._class_weight_name = info["class_weight"]
        if spec.family == "utility":
            self._describe({"axis": -1}, [("x", "array of scores, the rows along axis")],
                           "grad is the vector-Jacobian product with grad_output (the output's shape; all ones by "
                           "default).")
        else:
            self._describe(dict({"axis": -1, "weight": None, "reduction": "mean"}, **spec.hyper),
                           [(self.inputs[0], f"array ({spec.pred}), rows along axis"),
                            ("target", f"{' or '.join(spec.targets)}: labels of the batch shape, or rows of the "
                                       "first input's shape")],
                           f"grad gives dL/d{self.inputs[0]} of the reduced loss times grad_output (per row for 'none').")

    def _kernel(self, logits, axis, hyper):
        """(parameter vector, class-weight vector or None, ignore_index or None)."""
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        values = dict(self._hyper_defaults, **hyper)
        params = _kernel_numbers(self._kernel_params, values)
        class_weight = values.get(self._class_weight_name) if self._class_weight_name else None
        if class_weight is not None and self._class_weight_name == "alpha" and np.ndim(class_weight) == 0:
            # A scalar alpha weighs every class alike.
            shape = np.shape(logits)
            classes = shape[axis] if -len(shape) <= axis < len(shape) else 0
            class_weight = np.full(classes, float(class_weight))
        return params, class_weight, _ignore_index(values.get("ignore_index"))

    @staticmethod
    def _axis(axis):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis: expected an int, got {type(axis).__name__}")
        if not -(2**31) <= axis < 2**31:
            raise ValueError(f"axis: {axis} is out of range")
        return int(axis)


# The first input of a row loss, named for what it holds.
_ROW_INPUT = {"logit": "logits", "prob_rows": "probs", "logprob_rows": "log_probs"}


class RowLoss(_RowBase):
    """A loss over rows along a class axis: value, gradient, fused value and gradient.

    The inputs are (logits, target), (probs, target) for a loss of probabilities (or its logits
    with from_logits=True) or (log_probs, target) for nll, by position or by name.
    """

    @property
    def inputs(self):
        return (_ROW_INPUT[self.spec.pred], "target")

    @property
    def differentiable_inputs(self):
        return self.inputs[:1]

    def _split(self, args, hyper):
        args, hyper = self._inputs_by_keyword(args, hyper)
        if len(args) != 2:
            raise TypeError(f"{self.name}() takes 2 inputs ({', '.join(self.inputs)}), got {len(args)}")
        return args[0], args[1], hyper

    def _run(self, what, logits, target, axis, weight, reduction, grad_output, out, hyper):
        form = self._logit_form(hyper)
        if form is not None:
            loss, hyper = form
            if loss is not self:
                return loss._run(what, logits, target, axis, weight, reduction, grad_output, out, hyper)
        axis = self._axis(axis)
        params, class_weight, ignore_index = self._kernel(logits, axis, hyper)
        return _core.rows(self._id, what, logits, axis, target, class_weight, weight, grad_output, out,
                          params, _reduction_code(reduction), ignore_index)

    def __call__(self, *inputs, axis=-1, weight=None, reduction="mean", **hyper):
        """The loss: a float for "mean"/"sum", the per-row losses (batch shape) for "none"."""
        x, target, hyper = self._split(inputs, hyper)
        return self._run(_VALUE, x, target, axis, weight, reduction, None, None, hyper)

    def grad(self, *inputs, axis=-1, weight=None, reduction="mean", grad_output=None, out=None, **hyper):
        """Gradient w.r.t. the first input (of the reduced loss times grad_output)."""
        x, target, hyper = self._split(inputs, hyper)
        return self._run(_GRAD, x, target, axis, weight, reduction, grad_output, out, hyper)

    def value_and_grad(self, *inputs, axis=-1, weight=None, reduction="mean", out=None, **hyper):
        """(value, grad) from one fused, streaming computation."""
        x, target, hyper = self._split(inputs, hyper)
        return self._run(_VALUE_AND_GRAD, x, target, axis, weight, reduction, None, out, hyper)


class RowFunction(_RowBase):
    """A softmax utility over an axis (logsumexp, softmax, log_softmax) and its vector-Jacobian product."""

    @property
    def inputs(self):
        return ("x",)

    @property
    def differentiable_inputs(self):
        return ("x",)

    def _run(self, what, x, axis, grad_output, out):
        return _core.rows(self._id, what, x, self._axis(axis), None, None, None, grad_output, out, [], 0, None)

    def __call__(self, x, *, axis=-1):
        """The function's value over `axis`."""
        return self._run(_VALUE, x, axis, None, None)

    def grad(self, x, *, axis=-1, grad_output=None, out=None):
        """Vector-Jacobian product with grad_output (the output's shape; default all ones)."""
        return self._run(_GRAD, x, axis, grad_output, out)

    def value_and_grad(self, x, *, axis=-1, grad_output=None, out=None):
        """(value, vector-Jacobian product) in one call."""
        return self._run(_VALUE_AND_GRAD, x, axis, grad_output, out)


def _switch(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


class _KeywordLoss(_LossObject):
    """A loss of positional inputs (spec.inputs) and keywords, without weight= (SequenceLossSpec)."""

    def __init__(self, spec: SequenceLossSpec):
        super().__init__(spec, {"id": 0, "params": []})
        self._describe(dict(spec.hyper, reduction="mean"), [(name, "array") for name in spec.inputs],
                       f"grad gives dL/d{spec.inputs[0]} of the reduced loss times grad_output (per loss for 'none').")

    @property
    def inputs(self):
        return tuple(self.spec.inputs)


class SequenceLoss(_KeywordLoss):
    """CTC: per-sample dynamic programmes over (T, N, C) scores; value, gradient, both in one call.

    ``log_probs`` is (T, N, C), (N, T, C) with ``batch_first=True`` (read in place either way), or
    unbatched (T, C) with 1-D targets and scalar lengths. ``targets`` are padded (N, S) or
    concatenated 1-D; the lengths are one integer per sample (arrays or sequences).
    """

    @property
    def differentiable_inputs(self):
        return ("log_probs",)

    def _run(self, what, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity, from_logits,
             batch_first, reduction, grad_output, out):
        if isinstance(blank, (bool, np.bool_)) or not isinstance(blank, (int, np.integer)):
            raise TypeError(f"blank: expected an int, got {type(blank).__name__}")
        if not _INT64_MIN <= blank <= _INT64_MAX:
            raise ValueError(f"blank: {blank} is outside the int64 range of labels")
        zero_infinity = _switch("zero_infinity", zero_infinity)
        from_logits = _switch("from_logits", from_logits)
        batch_first = _switch("batch_first", batch_first)
        code = _reduction_code(reduction)
        if np.ndim(log_probs) == 2:  # one unbatched sequence (T, C), as torch takes it
            log_probs = np.asarray(log_probs)[:, None, :]
            targets = np.asarray(targets)[None] if np.ndim(targets) == 1 else targets
            input_lengths, target_lengths = np.reshape(input_lengths, 1), np.reshape(target_lengths, 1)
            if grad_output is not None and code == 0:
                grad_output = np.reshape(grad_output, 1)
            if out is not None and getattr(out, "ndim", None) == 2:
                out = out[:, None, :]
            result = _core.ctc(what, log_probs, targets, input_lengths, target_lengths, int(blank), zero_infinity,
                               from_logits, False, code, grad_output, out)
            squeeze = (lambda v: v.reshape(()) if isinstance(v, np.ndarray) else v), (lambda g: g[:, 0])
            if what == _VALUE_AND_GRAD:
                return squeeze[0](result[0]), squeeze[1](result[1])
            return squeeze[0](result) if what == _VALUE else squeeze[1](result)
        return _core.ctc(what, log_probs, targets, input_lengths, target_lengths, int(blank), zero_infinity,
                         from_logits, batch_first, code, grad_output, out)

    def __call__(self, log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False,
                 from_logits=False, batch_first=False, reduction="mean"):
        """The loss: a float for "mean"/"sum", one loss per sample for "none"."""
        return self._run(_VALUE, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity,
                         from_logits, batch_first, reduction, None, None)

    def grad(self, log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False,
             from_logits=False, batch_first=False, reduction="mean", grad_output=None, out=None):
        """Gradient w.r.t. log_probs (the logits with from_logits), times grad_output (per sample for "none")."""
        return self._run(_GRAD, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity,
                         from_logits, batch_first, reduction, grad_output, out)

    def value_and_grad(self, log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False,
                       from_logits=False, batch_first=False, reduction="mean", out=None):
        """(value, grad) from one forward-backward pass per sample."""
        return self._run(_VALUE_AND_GRAD, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity,
                         from_logits, batch_first, reduction, None, out)


class SegmentLoss(_LossObject):
    """An overlap loss (dice, jaccard, tversky, focal_tversky, bce_dice): sums per sample and class over the pixels.

    ``pred`` is (N, ..., C, ...) with the class axis ``axis`` (default 1, NCHW; ``axis=-1`` for
    NHWC; ``axis=None`` for no class axis: one class, every axis after the first is pixels).
    ``target`` has pred's shape (masks, 0/1 or soft) or the pixel shape (pred's without the class
    axis): integer class labels, one-hot implied (with one class, a mask). ``weight`` is
    per pixel (broadcast to the pixel shape).
    """

    def __init__(self, spec: SegmentLossSpec, loss_id: int):
        super().__init__(spec, {"id": loss_id, "params": []})
        self._describe(dict({"weight": None, "reduction": "mean"}, **spec.hyper),
                       [("pred", "array (N, ..., C, ...), the class axis at axis (None: no class axis)"),
                        ("target", "masks of pred's shape, or integer labels of the pixel shape")],
                       "grad gives dL/dpred (the logits with from_logits) of the reduced loss times grad_output.")

    @property
    def inputs(self):
        return ("pred", "target")

    @property
    def differentiable_inputs(self):
        return ("pred",)

    def _run(self, what, pred, target, weight, reduction, grad_output, out, hyper):
        hyper = dict(hyper)
        axis = hyper.pop("axis", self._hyper_defaults["axis"])  # an int, or None: no class axis
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        v = dict(self._hyper_defaults, **hyper)
        if axis is not None and (isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer))):
            raise TypeError(f"axis: expected an int or None, got {type(axis).__name__}")
        if axis is not None and not -(2**31) <= axis < 2**31:
            raise ValueError(f"axis: {axis} is out of range")
        ignore_index = _ignore_index(v["ignore_index"])
        # alpha, beta, gamma: tversky's and focal_tversky's; w_bce, w_dice: bce_dice's; the others pass
        # the kernel's neutral values.
        smooth, alpha, beta, gamma, w_bce, w_dice = _kernel_numbers(
            ("smooth", "alpha", "beta", "gamma", "w_bce", "w_dice"),
            dict({"alpha": 0.5, "beta": 0.5, "gamma": 1.0, "w_bce": 1.0, "w_dice": 1.0}, **v))
        return _core.overlap(self._id, what, pred, None if axis is None else int(axis), target, weight,
                             v["class_weight"], smooth, alpha, beta, gamma, w_bce, w_dice,
                             _switch("squared", v["squared"]),
                             _switch("per_sample", v["per_sample"]), _switch("per_class", v["per_class"]),
                             _switch("from_logits", v["from_logits"]),
                             ignore_index, _reduction_code(reduction),
                             grad_output, out)

    def __call__(self, pred, target, *, weight=None, reduction="mean", **hyper):
        """The loss: a float for "mean"/"sum"; for "none" one loss per sample (per_sample) and class (per_class)."""
        return self._run(_VALUE, pred, target, weight, reduction, None, None, hyper)

    def grad(self, pred, target, *, weight=None, reduction="mean", grad_output=None, out=None, **hyper):
        """Gradient w.r.t. pred (the logits with from_logits), times grad_output."""
        return self._run(_GRAD, pred, target, weight, reduction, grad_output, out, hyper)

    def value_and_grad(self, pred, target, *, weight=None, reduction="mean", out=None, **hyper):
        """(value, grad): one pass for the sums, one for the gradient."""
        return self._run(_VALUE_AND_GRAD, pred, target, weight, reduction, None, out, hyper)


class LovaszHinge(_KeywordLoss):
    """The Lovász hinge (Berman et al. 2018): a surrogate of the Jaccard loss from logits and binary masks.

    ``logits`` is (N, ...) and ``masks`` has its shape: 0 and 1 (or ``ignore_index``), of any
    numeric or bool dtype. A segment is a sample (``per_sample=True``, Berman's ``per_image``) or
    the whole batch; each segment's errors are sorted (a stable radix sort) and scanned.
    """

    @property
    def differentiable_inputs(self):
        return ("logits",)

    def _run(self, what, logits, masks, per_sample, ignore_index, reduction, grad_output, out):
        return _core.lovasz_hinge(what, logits, masks, _switch("per_sample", per_sample), _ignore_index(ignore_index),
                                  _reduction_code(reduction), grad_output, out)

    def __call__(self, logits, masks, *, per_sample=True, ignore_index=None, reduction="mean"):
        """The loss: a float for "mean"/"sum"; for "none" one loss per sample (per_sample) or for the batch."""
        return self._run(_VALUE, logits, masks, per_sample, ignore_index, reduction, None, None)

    def grad(self, logits, masks, *, per_sample=True, ignore_index=None, reduction="mean", grad_output=None, out=None):
        """Gradient w.r.t. the logits, times grad_output (per loss for "none")."""
        return self._run(_GRAD, logits, masks, per_sample, ignore_index, reduction, grad_output, out)

    def value_and_grad(self, logits, masks, *, per_sample=True, ignore_index=None, reduction="mean", out=None):
        """(value, grad) from one sort per segment."""
        return self._run(_VALUE_AND_GRAD, logits, masks, per_sample, ignore_index, reduction, None, out)


def _int_keyword(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"{name}: {value} is out of range")
    return int(value)


def _level_weights(weights, name="weights", what="level"):
    """MS-SSIM's level weights (or the perceptual layer weights) as a list of floats (the kernel
    checks their count and values)."""
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
        raise TypeError(f"{name}: expected a sequence of numbers, got {type(weights).__name__}")
    values = np.asarray(weights)
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)) \
            or values.dtype == np.bool_:
        raise TypeError(f"{name}: expected a sequence of numbers, got {weights!r}")
    if values.size == 0:
        raise ValueError(f"{name}: needs at least one {what}")
    return [float(w) for w in values]


class _PositionalLoss(_KeywordLoss):
    """A keyword loss whose inputs are the spec's positional inputs, all required (by position or
    name): __call__, grad and value_and_grad over _run(what, inputs, hyper, reduction,
    grad_output, out)."""

    def _inputs(self, args, hyper):
        args, hyper = self._inputs_by_keyword(args, hyper)
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name}() takes {len(self.inputs)} input{'s' if len(self.inputs) > 1 else ''} "
                            f"({', '.join(self.inputs)}), got {len(args)}")
        return args, hyper

    def __call__(self, *inputs, reduction="mean", **hyper):
        """The loss: a float for "mean"/"sum", one loss per sample for "none"."""
        inputs, hyper = self._inputs(inputs, hyper)
        return self._run(_VALUE, inputs, hyper, reduction, None, None)

    def grad(self, *inputs, reduction="mean", grad_output=None, out=None, **hyper):
        """The gradient w.r.t. the differentiable inputs (a tuple when there are several), times
        grad_output (per sample for "none")."""
        inputs, hyper = self._inputs(inputs, hyper)
        return self._run(_GRAD, inputs, hyper, reduction, grad_output, out)

    def value_and_grad(self, *inputs, reduction="mean", out=None, **hyper):
        """(value, grad) from one pass over the inputs."""
        inputs, hyper = self._inputs(inputs, hyper)
        return self._run(_VALUE_AND_GRAD, inputs, hyper, reduction, None, out)


class ImageLoss(_PositionalLoss):
    """An image loss (the band shape): ssim and ms_ssim (x, y) and total_variation (x).

    Images are (N, C, H, W), or (N, H, W, C) with ``channel_axis=-1``, read in place through
    their strides; one loss per image for ``"none"``. ``ssim``'s and ``ms_ssim``'s ``grad`` is
    w.r.t. ``x``, or a pair ``(grad_x, grad_y)`` with ``wrt="both"`` (``out=`` then a pair of
    arrays too).
    """

    @property
    def differentiable_inputs(self):
        return ("x",)

    def _run(self, what, inputs, hyper, reduction, grad_output, out):
        hyper = dict(hyper)
        wrt = hyper.pop("wrt", "x") if self.name != "total_variation" else "x"
        if wrt not in ("x", "both"):
            raise ValueError(f"wrt: must be 'x' or 'both', got {wrt!r}")
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        v = dict(self._hyper_defaults, **hyper)
        axis = _int_keyword("channel_axis", v["channel_axis"])
        if not -(2**31) <= axis < 2**31:
            raise ValueError(f"channel_axis: must be 1 (NCHW) or -1 (NHWC), got {axis}")
        code = _reduction_code(reduction)
        if self.name == "total_variation":
            return _core.total_variation(what, inputs[0], axis, _switch("isotropic", v["isotropic"]), code, grad_output,
                                         out)
        data_range, sigma, k1, k2 = _kernel_numbers(("data_range", "sigma", "k1", "k2"), v)
        weights = _level_weights(v["weights"]) if self.name == "ms_ssim" else None
        return _core.ssim(what, inputs[0], inputs[1], axis, data_range, _int_keyword("win_size", v["win_size"]), sigma,
                          k1, k2, _switch("gaussian_weights", v["gaussian_weights"]),
                          _switch("use_sample_covariance", v["use_sample_covariance"]), weights, wrt == "both", code,
                          grad_output, out)

    def __call__(self, *inputs, reduction="mean", **hyper):
        """The loss: a float for "mean"/"sum", one loss per image for "none"."""
        if "wrt" in hyper:
            raise TypeError(f"{self.name}() got an unexpected keyword argument 'wrt'")
        return super().__call__(*inputs, reduction=reduction, **hyper)

    def grad(self, *inputs, reduction="mean", grad_output=None, out=None, **hyper):
        """Gradient w.r.t. x (ssim: with wrt="both", (grad_x, grad_y)), times grad_output (per image for "none")."""
        return super().grad(*inputs, reduction=reduction, grad_output=grad_output, out=out, **hyper)

class PerceptualLoss(_PositionalLoss):
    """The perceptual (Johnson et al.) and style (Gatys et al., ``gram=True``) losses over the feature
    maps a network produced for x and y.

    ``features_x`` and ``features_y`` are lists of arrays, one per layer, each (N, C, ...) (the
    spatial axes are flattened; read in place through their strides where they can be); every
    layer has the same batch N. ``grad`` is a list of gradients, one per ``features_x[l]``, of its
    shape (``out=`` a list of arrays too).
    """

    @property
    def differentiable_inputs(self):
        return ("features_x",)

    def _run(self, what, inputs, hyper, reduction, grad_output, out):
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        v = dict(self._hyper_defaults, **hyper)
        weights = v["layer_weights"]
        if weights is not None:
            weights = _level_weights(weights, "layer_weights", "layer")
        return _core.perceptual(what, inputs[0], inputs[1], weights, _switch("gram", v["gram"]),
                                _reduction_code(reduction), grad_output, out)

    def grad(self, *inputs, reduction="mean", grad_output=None, out=None, **hyper):
        """The gradients w.r.t. each features_x[l] (a list), times grad_output (per image for "none")."""
        return super().grad(*inputs, reduction=reduction, grad_output=grad_output, out=out, **hyper)



class _LabelledLoss(_PositionalLoss):
    """A positional loss whose spec says whether its last input holds the labels (not
    differentiable); loss_id: its kernel's."""

    def __init__(self, spec, loss_id: int):
        super().__init__(spec)
        self._id = loss_id

    @property
    def differentiable_inputs(self):
        return tuple(self.spec.inputs[:-1] if self.spec.labels else self.spec.inputs)


class PairLoss(_LabelledLoss):
    """A metric-learning loss on given pairs or triplets (contrastive, triplet, cosine_embedding,
    margin_ranking, hinge_embedding).

    Embeddings are rows (N, D), or one row (D,); margin_ranking and hinge_embedding are
    elementwise over inputs of any one shape. The labels (when the loss takes them) are one per
    sample. ``grad`` is w.r.t. every input but the labels: a tuple (``out=`` a tuple of arrays),
    or one array for ``hinge_embedding``.
    """

    def __init__(self, spec, loss_id: int):
        super().__init__(spec, loss_id)
        self._names = list(spec.inputs)

    def _run(self, what, inputs, hyper, reduction, grad_output, out):
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        v = dict(self._hyper_defaults, **hyper)
        margin, p, eps = _kernel_numbers(("margin", "p", "eps"), dict({"p": 2.0, "eps": 1e-6}, **v))
        swap = _switch("swap", v["swap"]) if "swap" in v else False
        return _core.pair(self._id, what, list(inputs), self._names, self.spec.labels, margin, p, eps, swap,
                          _reduction_code(reduction), grad_output, out)



class CenterLoss(_PositionalLoss):
    """The center loss of Wen et al.: features (N, D) against the centers (C, D) of their classes
    (integer labels (N,)). ``grad`` gives ``(d/dfeatures, d/dcenters)`` (``out=`` a tuple of two);
    ``update(centers, features, labels, alpha=0.5)`` moves the centers in place by Wen et al.'s
    rule (``centers`` a writable C-contiguous float32 or float64 array)."""

    @property
    def differentiable_inputs(self):
        return ("features", "centers")

    def _run(self, what, inputs, hyper, reduction, grad_output, out):
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        return _core.center(what, inputs[0], inputs[1], inputs[2], _reduction_code(reduction), grad_output, out)

    def update(self, centers, features, labels, *, alpha=0.5):
        """c_j <- c_j - alpha * sum over the batch's samples of class j of (c_j - x) / (1 + n_j), in place;
        returns centers."""
        if isinstance(alpha, (bool, np.bool_, str, bytes)) or alpha is None:
            raise TypeError(f"alpha: expected a number, got {type(alpha).__name__}")
        _core.center_update(centers, features, labels, _kernel_numbers(["alpha"], {"alpha": alpha})[0])
        return centers


_MINING = ("all", "hard", "semihard", "semihard_tfa")
_DISTANCES = ("euclidean", "squared", "cosine")


def _choice(name, value, options):
    """The index of a string keyword among its options (TypeError for a non-string, ValueError
    naming the options for another string)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {', '.join(map(repr, options))}, got {type(value).__name__}")
    if value not in options:
        raise ValueError(f"{name}: must be {', '.join(map(repr, options[:-1]))} or {options[-1]!r}, got {value!r}")
    return options.index(value)


class PairwiseLoss(_LabelledLoss):
    """A loss over every pair of a batch's rows (GEMM tiles): cosface and arcface (embeddings (N, D)
    against class weights (C, D), integer labels (N,); ``grad`` gives ``(d/dembeddings,
    d/dweights)``), info_nce (two views z1, z2 (N, D); ``grad`` gives ``(d/dz1, d/dz2)``), with
    ``out=`` a tuple of two arrays and the N x C (or N x N) logits formed tile by tile, never
    stored; and batch_triplet (embeddings (N, D), labels (N,); ``grad`` one array w.r.t. the
    embeddings, ``reduction="none"`` one loss per anchor).
    """

    def _run(self, what, inputs, hyper, reduction, grad_output, out):
        _check_hyper_types(self.name, self._hyper_defaults, hyper)
        v = dict(self._hyper_defaults, **hyper)
        code = _reduction_code(reduction)
        if self.name == "batch_triplet":
            mining = _choice("mining", v["mining"], _MINING)
            distance = _choice("distance", v["distance"], _DISTANCES)
            nonzero = _choice("reduction_mode", v["reduction_mode"], ("all", "nonzero")) == 1
            (margin,) = _kernel_numbers(("margin",), v)
            return _core.batch_triplet(what, inputs[0], inputs[1], margin, mining, distance, nonzero, code, grad_output,
                                       out)
        if not self.spec.labels:
            simclr = _choice("mode", v["mode"], ("clip", "simclr")) == 1
            (temperature,) = _kernel_numbers(("temperature",), v)
            return _core.info_nce(what, inputs[0], inputs[1], temperature, _switch("symmetric", v["symmetric"]),
                                  simclr, code, grad_output, out)
        s, m = _kernel_numbers(("s", "m"), v)
        easy = _switch("easy_margin", v["easy_margin"]) if "easy_margin" in v else False
        return _core.margin(self._id, what, inputs[0], inputs[1], inputs[2], s, m, easy, code, grad_output, out)


# The loss objects of the order specs, by name.
_ORDER_OBJECTS = {"lovasz_hinge": LovaszHinge}


def _kernel_ids(names, specs):
    """The kernels' id of each registered loss (its index in the kernels' list of names)."""
    ids = {name: k for k, name in enumerate(names)}
    if set(ids) != {spec.name for spec in specs}:
        raise ImportError(f"lossfn: registry and kernels disagree on {sorted(set(ids) ^ {s.name for s in specs})}")
    return ids


def build_losses():
    infos = {info["name"]: info for info in _core.loss_table()}
    row_infos = {info["name"]: info for info in _core.row_loss_table()}
    missing = (set(infos) ^ {spec.name for spec in SPECS}) | (set(row_infos) ^ {spec.name for spec in ROW_SPECS})
    if missing:
        raise ImportError(f"lossfn: registry and kernels disagree on {sorted(missing)}")
    losses = {spec.name: ElementwiseLoss(spec, infos[spec.name]) for spec in SPECS}
    for spec in ROW_SPECS:
        cls = RowFunction if spec.family == "utility" else RowLoss
        losses[spec.name] = cls(spec, row_infos[spec.name])
    overlap_ids = _kernel_ids(_core.overlap_names(), SEGMENT_SPECS)
    for spec in SEGMENT_SPECS:
        losses[spec.name] = SegmentLoss(spec, overlap_ids[spec.name])
    for spec in SEQUENCE_SPECS:
        losses[spec.name] = SequenceLoss(spec)
    for spec in ORDER_SPECS:
        losses[spec.name] = _ORDER_OBJECTS[spec.name](spec)
    for spec in BAND_SPECS:
        losses[spec.name] = ImageLoss(spec)
    for spec in FEATURE_SPECS:
        losses[spec.name] = PerceptualLoss(spec)
    pair_ids = _kernel_ids(_core.pair_names(), PAIR_SPECS)
    for spec in PAIR_SPECS:
        losses[spec.name] = PairLoss(spec, pair_ids[spec.name])
    for spec in CENTER_SPECS:
        losses[spec.name] = CenterLoss(spec)
    margin_ids = _kernel_ids(_core.margin_names(), [s for s in PAIRWISE_SPECS if s.name in ("cosface", "arcface")])
    for spec in PAIRWISE_SPECS:
        losses[spec.name] = PairwiseLoss(spec, margin_ids.get(spec.name, -1))
    _BUILT.update(losses)
    return losses
