"""The one registry of lossfn's losses.

Each spec says what a loss takes (inputs and their domains, keyword hyper-parameters
with defaults), how its keywords map onto the kernel's parameter vector, what its peer is, its
formula, and which inputs are errors. The loss objects (``_losses.py``), the generic tests, the
docs and the benchmarks all iterate over ``SPECS``, ``ROW_SPECS``, ``SEQUENCE_SPECS``, ``SEGMENT_SPECS``, ``ORDER_SPECS``, ``BAND_SPECS``, ``FEATURE_SPECS``, ``PAIR_SPECS``, ``CENTER_SPECS`` and ``PAIRWISE_SPECS``: registering a loss here tests it everywhere.

Input domains (used by the tests to draw sample inputs):
  real       any real number          logit      a real score or logit
  prob       probability in (0, 1)    positive   > 0
  soft01     target in [0, 1]         binary01   target in {0, 1}
  sign       label in {-1, +1}        count      non-negative integer-valued
  unit       in (0, 1)
"""

from __future__ import annotations

from . import binary, image, metric, multiclass, regression, segmentation, sequence
from .specs import BandLossSpec, CenterLossSpec, PairwiseLossSpec, FeatureLossSpec, LossSpec, PairLossSpec, OrderLossSpec, RowLossSpec, SegmentLossSpec, SequenceLossSpec

# Elementwise losses, in catalogue order.
SPECS = [*regression.SPECS, *binary.SPECS]
# Row losses and the softmax utilities.
ROW_SPECS = [*multiclass.SPECS]
# Sequence losses (a dynamic programme per sample).
SEQUENCE_SPECS = [*sequence.SPECS]
# Overlap losses (sums per sample and class over the pixels).
SEGMENT_SPECS = [*segmentation.SPECS]
# Losses over sorted values (a stable sort per segment, then scans).
ORDER_SPECS = [*segmentation.ORDER_SPECS]
# Image losses (a filter over bands of rows, and its adjoint).
BAND_SPECS = [*image.SPECS]
# Losses over a network's feature maps (per-layer sums; Gram matrices through the GEMM engine).
FEATURE_SPECS = [*image.FEATURE_SPECS]
# Metric-learning losses on given pairs and triplets (sums per row, a finish, the row's gradient).
PAIR_SPECS = [*metric.PAIR_SPECS]
# The center loss (rows against their class's center; the centers' gradient per class).
CENTER_SPECS = [*metric.CENTER_SPECS]
# The pairwise losses (softmax over GEMM tiles of unit rows: cosface, arcface, info_nce).
PAIRWISE_SPECS = [*metric.PAIRWISE_SPECS]

__all__ = ["LossSpec", "RowLossSpec", "SequenceLossSpec", "SegmentLossSpec", "OrderLossSpec", "SPECS", "ROW_SPECS",
           "SEQUENCE_SPECS", "SEGMENT_SPECS", "ORDER_SPECS", "BAND_SPECS", "BandLossSpec", "FEATURE_SPECS",
           "FeatureLossSpec", "PAIR_SPECS", "PairLossSpec",
           "CENTER_SPECS", "CenterLossSpec", "PAIRWISE_SPECS", "PairwiseLossSpec"]
