"""F. Metric learning: losses on given pairs and triplets of embeddings (per row sums, a scalar
finish, the row's gradient), and the center loss."""

from __future__ import annotations

from .specs import CenterLossSpec, PairLossSpec

F = "metric"

PAIR_SPECS = [
    PairLossSpec(
        "contrastive", F, "Hadsell, Chopra and LeCun 2006 (written in torch in the tests)",
        "l = (y d^2 + (1 - y) max(0, margin - d)^2) / 2, d = ||x1 - x2||_2 per row",
        inputs=("x1", "x2", "y"),
        hyper={"margin": 1.0},
        variants=[{"margin": 2.5}, {"margin": 0.0}],
        bad_hyper=[{"margin": -1.0}, {"margin": float("nan")}],
        note="y = 1 for a similar pair, 0 for a dissimilar one (soft labels in between follow the formula); "
             "the gradient at d = 0 is 0 (a zero difference has no direction)"),
    PairLossSpec(
        "triplet", F, "torch triplet_margin_loss",
        "l = max(0, D(anchor, positive) - D(anchor, negative) + margin), D(u, v) = ||u - v + eps||_p per row; "
        "swap: D(anchor, negative) replaced by min(D(anchor, negative), D(positive, negative))",
        inputs=("anchor", "positive", "negative"),
        labels=False,
        hyper={"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False},
        variants=[{"swap": True}, {"p": 1.0, "margin": 4.0}, {"p": 3.0, "margin": 1.0}, {"margin": 0.0, "eps": 0.0}],
        bad_hyper=[{"margin": -1.0}, {"p": 0.5}, {"p": float("inf")}, {"eps": float("nan")}],
        note="torch's pairwise_distance adds eps to every difference; the gradient of a zero distance is 0, "
             "and at the hinge's kink 0; a margin of 0 is taken (torch's triplet_margin_loss asks for more)"),
    PairLossSpec(
        "cosine_embedding", F, "torch cosine_embedding_loss",
        "l = 1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (0 for other labels), "
        "cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) per row",
        inputs=("x1", "x2", "y"),
        hyper={"margin": 0.0},
        variants=[{"margin": 0.3}, {"margin": -0.5}],
        bad_hyper=[{"margin": float("inf")}],
        note="torch's 1e-12 under each squared norm keeps a zero row finite"),
    PairLossSpec(
        "margin_ranking", F, "torch margin_ranking_loss",
        "l = max(0, -y (x1 - x2) + margin) per element",
        inputs=("x1", "x2", "y"),
        elementwise=True,
        hyper={"margin": 0.0},
        variants=[{"margin": 0.5}, {"margin": -1.0}],
        bad_hyper=[{"margin": float("nan")}],
        note="elementwise over inputs of any one shape; subgradient 0 at the kink"),
    PairLossSpec(
        "hinge_embedding", F, "torch hinge_embedding_loss",
        "l = x where y = 1, max(0, margin - x) where y = -1 (the sum of both for other labels) per element",
        inputs=("x", "y"),
        elementwise=True,
        hyper={"margin": 1.0},
        variants=[{"margin": 2.0}, {"margin": 0.0}],
        bad_hyper=[{"margin": float("nan")}],
        note="elementwise over inputs of any one shape; subgradient 0 at the kink"),
]

CENTER_SPECS = [
    CenterLossSpec(
        "center_loss", F, "Wen et al. 2016 (KaiyangZhou's CenterLoss without its 1/2)",
        "l = |x - c_y|^2 / 2 per sample, x its features, c_y the center of its class",
        inputs=("features", "labels", "centers"),
        note="grad gives (d/dfeatures, d/dcenters), the centers' gradient -sum over each class's samples of "
             "(x - c), 0 for a class absent from the batch; center_loss.update(centers, features, labels, alpha=0.5) "
             "applies Wen et al.'s rule c_j -= alpha sum (c_j - x) / (1 + n_j) in place; KaiyangZhou's CenterLoss "
             "averages |x - c_y|^2 (twice this loss)"),
]
