"""C. Multi-class: losses over rows along a class axis, and the softmax utilities."""

from __future__ import annotations

from .specs import RowLossSpec

M = "multiclass"
U = "utility"

SPECS = [
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
        note="log p_y from log-softmax, no eps clipping (Keras clips p to [1e-7, 1-1e-7]); alpha=None (no class "
             "weighting) by default, where Keras CategoricalFocalCrossentropy has alpha=0.25"),
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
