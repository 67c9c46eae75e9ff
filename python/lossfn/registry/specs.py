"""The spec kinds, one per kernel shape: what the loss objects, the generic tests, the docs and the
benchmarks need to know of a loss of that shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence


@dataclass(frozen=True)
class LossSpec:
    """An elementwise loss: pred and target of one shape, per-element value, gradient and Hessian."""

    kind: ClassVar[str] = "elementwise"
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


@dataclass(frozen=True)
class RowLossSpec:
    """A loss over rows along a class axis (multi-class losses) or a softmax utility.

    Logit domains: logit (real scores), prob_rows (rows of positive probabilities summing to 1),
    logprob_rows (their logs). Target domains: labels (integers in [0, C)), probs (probability
    rows), onehot, binary01 (independent 0/1 per class). A hyper-parameter value "per-class" in a
    variant stands for a positive vector of length C.
    """

    kind: ClassVar[str] = "rows"
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


@dataclass(frozen=True)
class SequenceLossSpec:
    """A loss over sequences, a dynamic programme per sample (CTC): scores (T, N, C), targets and
    per-sample lengths (`inputs`, in positional order); keywords only besides them (no weight=)."""

    kind: ClassVar[str] = "sequence"
    name: str
    family: str
    peer: str
    formula: str
    inputs: Sequence[str] = ()
    hyper: Mapping[str, Any] = field(default_factory=dict)
    variants: Sequence[Mapping[str, Any]] = ()
    bad_hyper: Sequence[Mapping[str, Any]] = ()
    note: str = ""


@dataclass(frozen=True)
class SegmentLossSpec:
    """A loss over segments (per sample and class sums over the pixels, SPEC §3 "segment"): pred
    (N, ..., C, ...) with the class axis `axis` (or none), a target of masks or integer labels."""

    kind: ClassVar[str] = "segment"
    name: str
    family: str
    peer: str
    formula: str
    hyper: Mapping[str, Any] = field(default_factory=dict)
    variants: Sequence[Mapping[str, Any]] = ()
    bad_hyper: Sequence[Mapping[str, Any]] = ()
    note: str = ""


@dataclass(frozen=True)
class OrderLossSpec(SequenceLossSpec):
    """A loss over sorted values (SPEC §3 "order": a stable radix sort per segment, then scans):
    its positional `inputs` and keywords, as a sequence loss's."""

    kind: ClassVar[str] = "order"


@dataclass(frozen=True)
class BandLossSpec(SequenceLossSpec):
    """An image loss (SPEC §3 "band": a stencil or separable filter over bands of rows, and its
    adjoint): images (N, C, H, W) as its positional `inputs`, and keywords."""

    kind: ClassVar[str] = "band"


@dataclass(frozen=True)
class FeatureLossSpec(SequenceLossSpec):
    """A loss over the feature maps a network produced (SPEC §3 "segment": per-image sums over each
    layer; with Gram matrices "pairwise", GEMM tiles): lists of (N, C, ...) arrays, one per layer,
    as its positional `inputs`, and keywords."""

    kind: ClassVar[str] = "features"


@dataclass(frozen=True)
class PairLossSpec(SequenceLossSpec):
    """A metric-learning loss on given pairs or triplets (SPEC §3 rows over the samples): its
    positional `inputs` (embeddings (N, D) or one row (D,), or any shape for the elementwise ones,
    then the labels when `labels` is set), and keywords."""

    kind: ClassVar[str] = "pairs"
    labels: bool = True         # the last input holds one label per sample
    elementwise: bool = False   # one value per sample (margin_ranking, hinge_embedding): any shape


@dataclass(frozen=True)
class PairwiseLossSpec(SequenceLossSpec):
    """A loss over every pair of a batch's rows (SPEC §3 "pairwise": GEMM tiles consumed in cache
    by a softmax epilogue, no N x N or N x C matrix stored): embeddings (N, D) against class
    weights (C, D) with integer labels (N,) when `labels` is set (cosface, arcface), or two views
    (N, D) of the same samples (info_nce); positional `inputs`, and keywords."""

    kind: ClassVar[str] = "pairwise"
    labels: bool = False        # the last input holds one integer label per sample


@dataclass(frozen=True)
class CenterLossSpec(SequenceLossSpec):
    """The center loss (features (N, D), integer labels (N,), centers (C, D)): per-sample rows
    against their class's center, the centers' gradient (and update) per class."""

    kind: ClassVar[str] = "centers"
