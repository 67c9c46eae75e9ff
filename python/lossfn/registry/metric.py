"""F. Metric learning: losses on given pairs and triplets of embeddings (per row sums, a scalar
finish, the row's gradient), the center loss, and the pairwise losses (softmax over GEMM tiles:
cosface, arcface, info_nce)."""

from __future__ import annotations

from .specs import CenterLossSpec, PairLossSpec, PairwiseLossSpec

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

_UNIT = "x_unit = x / max(|x|, 1e-12) per row (torch's F.normalize)"

PAIRWISE_SPECS = [
    PairwiseLossSpec(
        "batch_triplet", F,
        "pytorch-metric-learning TripletMarginLoss + TripletMarginMiner; TF-Addons triplet_semihard_loss",
        "l = max(0, d(a, p) - d(a, n) + margin) over the triplets the mining keeps: all (d_an - d_ap <= margin), "
        "hard (<= 0), semihard (in (0, margin]) as pytorch-metric-learning's TripletMarginMiner; semihard_tfa: per "
        "positive pair the nearest negative farther than the positive, else the farthest (TF-Addons); d euclidean, "
        "squared or cosine (1 - cos), from rows centred on the batch mean",
        inputs=("embeddings", "labels"),
        labels=True,
        hyper={"margin": 0.2, "mining": "all", "distance": "euclidean", "reduction_mode": "all"},
        variants=[{"mining": "hard"}, {"mining": "semihard"}, {"mining": "semihard_tfa", "distance": "squared"},
                  {"distance": "cosine", "reduction_mode": "nonzero"}, {"distance": "squared", "margin": 1.0}],
        bad_hyper=[{"margin": -0.1}, {"margin": float("nan")}, {"mining": "easy"}, {"distance": "l1"},
                   {"reduction_mode": "avg"}],
        note="mean: over the kept triplets (semihard_tfa: over the positive pairs, as TF-Addons), or with "
             "reduction_mode='nonzero' over those with a positive loss (pytorch-metric-learning's default "
             "AvgNonZeroReducer); 0 when none is kept; 'none' gives each anchor's sum. pytorch-metric-learning's "
             "LpDistance normalises the embeddings by default: normalize_embeddings=False reproduces 'euclidean' "
             "(power=2: 'squared'), CosineSimilarity 'cosine'. Labels are any integers (equal labels: a positive "
             "pair). The batch's N x N distances are kept (8 B each, and the per-pair coefficients): mining needs "
             "every row whole"),
    PairwiseLossSpec(
        "cosface", F, "CosFace (Wang et al. 2018), InsightFace's CombinedMarginLoss with m3 (written in torch in the tests)",
        "l = logsumexp_c(s cos_c - [c = y] s m) - s (cos_y - m), cos_c = e_unit . w_unit_c clamped to [-1, 1]; "
        + _UNIT,
        inputs=("embeddings", "weights", "labels"),
        labels=True,
        hyper={"s": 30.0, "m": 0.35},
        variants=[{"s": 64.0, "m": 0.4}, {"m": 0.0}],
        bad_hyper=[{"s": 0.0}, {"s": float("inf")}, {"m": -0.1}, {"m": float("nan")}],
        note="labels are integers in [0, classes); grad gives (d/dembeddings, d/dweights); the N x C logits are "
             "formed tile by tile and never stored (C = 10^6 classes takes O(tile) memory beyond the inputs)"),
    PairwiseLossSpec(
        "arcface", F, "ArcFace (Deng et al. 2019), InsightFace arcface_torch's ArcFace (written in torch in the tests)",
        "l = logsumexp_c(logit_c) - logit_y, logit_c = s cos_c, logit_y = s cos(theta_y + m) where theta_y < pi - m, "
        "else s (cos_y - m sin(pi - m)); easy_margin: s cos(theta_y + m) where cos_y > 0, else s cos_y; " + _UNIT,
        inputs=("embeddings", "weights", "labels"),
        labels=True,
        hyper={"s": 64.0, "m": 0.5, "easy_margin": False},
        variants=[{"easy_margin": True}, {"s": 30.0, "m": 0.2}, {"m": 0.0}],
        bad_hyper=[{"s": -1.0}, {"m": -0.5}, {"m": 3.2}, {"s": float("nan")}],
        note="InsightFace's th = cos(pi - m), mm = sin(pi - m) m tail; the slope of cos(theta + m) w.r.t. cos "
             "divides by max(sin theta, sqrt(eps)), finite at cos = 1 where torch's arccos gives nan"),
    PairwiseLossSpec(
        "info_nce", F, "CLIP's loss (open_clip ClipLoss) and SimCLR's NT-Xent (written in torch in the tests)",
        "clip: L_ij = z1_unit_i . z2_unit_j / temperature, l_i = (CE(row i) + CE(column i)) / 2 with the positive "
        "on the diagonal (symmetric=False: CE(row i)); simclr: the 2N views [z1; z2], L_ab over b != a, "
        "l_i = (CE_i + CE_(i+N)) / 2 with the positive the other view; " + _UNIT.replace("x", "z"),
        inputs=("z1", "z2"),
        hyper={"temperature": 0.1, "symmetric": True, "mode": "clip"},
        variants=[{"symmetric": False}, {"mode": "simclr"}, {"temperature": 0.5}],
        bad_hyper=[{"temperature": 0.0}, {"temperature": -1.0}, {"temperature": float("inf")}, {"mode": "moco"}],
        note="the mean is CLIP's loss; SimCLR's code returns the sum of its two directions' means (twice the "
             "simclr mean here); symmetric applies to clip (simclr is symmetric by construction); the rows are "
             "normalised inside, so normalised features pass unchanged; no N x N matrix is stored (N = 8192 takes "
             "O(tile) memory); the temperature is a keyword, not differentiated"),
]
