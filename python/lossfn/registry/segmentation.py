"""E. Segmentation and overlap losses: sums per sample and class over the pixels, a scalar finish
(SPECS); the Lovász hinge, a sort of the errors and scans (ORDER_SPECS)."""

from __future__ import annotations

from .specs import OrderLossSpec, SegmentLossSpec

# Keywords every overlap loss takes besides weight= and reduction=.
COMMON = {"axis": 1, "class_weight": None, "smooth": 1.0, "squared": False, "per_sample": False, "per_class": False,
          "from_logits": False, "ignore_index": None}
_VARIANTS = [{"per_sample": True}, {"squared": True}, {"from_logits": True}, {"smooth": 0.0},
             {"per_sample": True, "from_logits": True, "squared": True, "smooth": 0.5}]
_BAD = [{"smooth": -1.0}, {"smooth": float("inf")}]
_NOTE = ("I = sum w p t, P = sum w p, G = sum w t per segment (sample and class with per_sample, else class "
         "over the batch; squared: P = sum w p^2, G = sum w t^2); a sample's loss is the class-weighted mean "
         "of its segments'; a segment with a zero denominator (smooth = 0, empty) has loss 0 and gradient 0; "
         "from_logits applies a sigmoid (one class) or a softmax over axis (several); probabilities given "
         "where logits are expected cannot be detected")

SPECS = [
    SegmentLossSpec(
        "dice", "segmentation", "Keras Dice (smooth = 0, + 1e-7), segmentation-models DiceLoss",
        "l = 1 - (2 I + smooth) / (P + G + smooth)",
        hyper=dict(COMMON), variants=_VARIANTS, bad_hyper=_BAD, note=_NOTE),
    SegmentLossSpec(
        "jaccard", "segmentation", "segmentation-models JaccardLoss",
        "l = 1 - (I + smooth) / (P + G - I + smooth)",
        hyper=dict(COMMON), variants=_VARIANTS, bad_hyper=_BAD, note=_NOTE),
    SegmentLossSpec(
        "tversky", "segmentation", "Keras Tversky (smooth = 0), segmentation-models TverskyLoss",
        "l = 1 - (I + smooth) / (I + alpha (P - I) + beta (G - I) + smooth); alpha weighs false positives, "
        "beta false negatives",
        hyper=dict(COMMON, alpha=0.5, beta=0.5),
        variants=[*_VARIANTS, {"alpha": 0.7, "beta": 0.3}, {"alpha": 0.0, "beta": 1.0, "per_sample": True}],
        bad_hyper=[*_BAD, {"alpha": -0.1}, {"alpha": 0.0, "beta": 0.0}], note=_NOTE),
    SegmentLossSpec(
        "focal_tversky", "segmentation", "Abraham and Khan 2019 (gamma per class)",
        "l = max(tversky, 0) ^ gamma per segment",
        hyper=dict(COMMON, alpha=0.3, beta=0.7, gamma=0.75),
        variants=[*_VARIANTS, {"gamma": 2.0}, {"gamma": 1.0, "alpha": 0.5, "beta": 0.5}],
        bad_hyper=[*_BAD, {"gamma": 0.0}, {"alpha": 0.0, "beta": 0.0}], note=_NOTE),
    SegmentLossSpec(
        "bce_dice", "segmentation", "segmentation-models / the seeds' BCEWithLogitsLoss + DiceLoss",
        "l = w_dice dice + w_bce B / N, B = sum w bce(p, t), N = sum w per segment; bce = -(t log p + "
        "(1 - t) log(1 - p)), each log clamped at -100 (torch BCELoss); from_logits: a sigmoid per score, "
        "bce from the logits",
        hyper=dict(COMMON, w_bce=1.0, w_dice=1.0),
        variants=[*_VARIANTS, {"w_bce": 0.5, "w_dice": 2.0}, {"w_dice": 0.0}],
        bad_hyper=[*_BAD, {"w_bce": -1.0}, {"w_dice": float("nan")}], note=_NOTE + "; bce_dice takes no softmax: "
        "from_logits applies a sigmoid to every score (binary or multi-label)"),
]

ORDER_SPECS = [
    OrderLossSpec(
        "lovasz_hinge", "segmentation", "Berman et al. 2018 lovasz_hinge (per_image), segmentation-models LovaszLoss",
        "l = sum_i max(e_i, 0) (J_i - J_(i-1)) over the errors e = 1 - s x (s = 2 mask - 1) in decreasing order, "
        "J_i = 1 - (G - pos_i) / (G + neg_i) (the Lovász extension of the Jaccard loss; G the positives, pos_i / "
        "neg_i those among the i + 1 largest errors); dl/dx = -s (J_i - J_(i-1)) where e_i > 0",
        inputs=("logits", "masks"), hyper={"per_sample": True, "ignore_index": None},
        variants=[{"per_sample": False}, {"ignore_index": 255}],
        note="masks hold 0 and 1 (or ignore_index), of the logits' shape (N, ...); a segment is a sample "
             "(per_sample, Berman's per_image) or the whole batch; equal errors keep pixel order (a stable sort, as "
             "torch.sort(stable=True)): the value does not depend on it, the subgradient does; the errors are "
             "ordered exactly (float32 1 - s x could round two of them equal); a segment with every pixel ignored "
             "has loss 0; \"none\" gives one loss per sample (per_sample) or one for the batch"),
]
