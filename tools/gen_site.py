#!/usr/bin/env python3
"""Writes the documentation site's generated pages from the registry and the package itself:
docs/families/<family>.md (per loss: formula, peer, keywords, notes, a runnable example and a
plot), docs/img/<loss>.png (L, dL/dp and d2L/dp2 over a range for an elementwise loss; a
characteristic curve for the others) and docs/benchmarks/*.md (the reports of bench/results).

    python tools/gen_site.py && mkdocs build --strict     # the site, in site/

Everything it writes is ignored by git: the site is reproducible from this one command.
"""

import os
import shutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import lossfn as lf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
FAMILIES = {
    "regression": "A. Regression",
    "binary": "B. Binary classification",
    "multiclass": "C. Multi-class losses",
    "utility": "C. Softmax utilities",
    "segmentation": "E. Segmentation",
    "metric": "F. Metric learning",
    "sequence": "G. Sequences (CTC)",
    "image": "H. Images",
}

# Elementwise: the range of pred, the target held fixed, and how the example's inputs are drawn.
PRED_RANGE = {"real": (-3.0, 3.0), "logit": (-4.0, 4.0), "prob": (0.01, 0.99), "positive": (0.05, 4.0)}
TARGET = {"real": 1.0, "positive": 1.0, "count": 2.0, "soft01": 1.0, "binary01": 1.0, "sign": 1.0}
EXAMPLE_PRED = {"real": "rng.normal(size=1000)", "logit": "rng.normal(size=1000)",
                "prob": "rng.uniform(0.01, 0.99, 1000)", "positive": "rng.uniform(0.1, 3.0, 1000)"}
EXAMPLE_TARGET = {"real": "rng.normal(size=1000)", "positive": "rng.uniform(0.1, 3.0, 1000)",
                  "count": "rng.poisson(2.0, 1000).astype(float)", "soft01": "rng.uniform(0, 1, 1000)",
                  "binary01": "(rng.random(1000) < 0.5).astype(float)",
                  "sign": "np.where(rng.random(1000) < 0.5, -1.0, 1.0)"}


def elementwise_plot(loss, ax):
    lo, hi = PRED_RANGE[loss.spec.pred]
    p = np.linspace(lo, hi, 401)
    y = np.full_like(p, TARGET[loss.spec.target])
    args = [p, y] + ([np.ones_like(p)] if len(loss.inputs) == 3 else [])
    value = loss(*args, reduction="none")
    grad = loss.grad(*args, reduction="sum")
    grad = grad[0] if isinstance(grad, tuple) else grad
    hess = loss.hess(*args, reduction="sum")
    for series, label in ((value, "L"), (grad, "dL/dp"), (hess, "d²L/dp²")):
        ax.plot(p, series, label=label)
    ax.set_xlabel(f"pred (target = {TARGET[loss.spec.target]:g})")
    ax.legend()


def row_plot(loss, ax):
    margin = np.linspace(-4, 4, 201)
    logits = np.stack([margin, np.zeros_like(margin), np.zeros_like(margin)], axis=1)
    if isinstance(loss, lf.RowFunction):
        ax.plot(margin, loss(logits)[..., 0] if loss(logits).ndim > 1 else loss(logits), label=f"{loss.name}, class 0")
        ax.set_xlabel("logit of class 0 (the others 0)")
        ax.legend()
        return
    x = {"logit": logits, "prob_rows": lf.softmax(logits), "logprob_rows": lf.log_softmax(logits)}[loss.spec.pred]
    labels = np.zeros(len(margin), dtype=np.int64)
    target = labels if "labels" in loss.spec.targets else np.eye(3)[labels]
    ax.plot(margin, loss(x, target, reduction="none"), label="loss, label 0")
    ax.set_xlabel("margin: logit of the labelled class, the other two 0")
    ax.legend()


def overlap_plot(loss, ax):
    rng = np.random.default_rng(0)
    mask = (rng.random((1, 1, 32, 32)) < 0.3).astype(np.float64)
    share = np.linspace(0, 1, 51)
    if isinstance(loss, lf.LovaszHinge):
        values = [loss(s * 4 * (2 * mask[:, 0] - 1) + rng.normal(0, 1, mask[:, 0].shape), mask[:, 0]) for s in share]
        ax.set_xlabel("s: logits s·4·(2 mask - 1) + noise")
    else:
        values = [loss(s * mask + (1 - s) * (1 - mask), mask) for s in share]
        ax.set_xlabel("s: prediction s·mask + (1 - s)·(1 - mask)")
    ax.plot(share, values, label=loss.name)
    ax.legend()


def ctc_plot(loss, ax):
    scale = np.linspace(0, 6, 61)
    T, C = 8, 4
    path = np.array([0, 1, 1, 0, 2, 2, 0, 3])  # an alignment of the labels 1 2 3
    onehot = np.eye(C)[path][:, None, :]
    values = [loss(s * onehot, np.array([[1, 2, 3]]), [T], [3], from_logits=True) for s in scale]
    ax.plot(scale, values, label="ctc, labels 1 2 3, T = 8")
    ax.set_xlabel("s: logits s on one alignment's classes")
    ax.legend()


def image_plot(loss, ax):
    rng = np.random.default_rng(0)
    x = rng.random((1, 1, 32, 32))
    noise = rng.normal(0, 1, x.shape)
    sigma = np.linspace(0, 0.5, 51)
    if loss.name == "ssim":
        ax.plot(sigma, [loss(x, x + s * noise) for s in sigma], label="ssim(x, x + s·noise)")
    elif loss.name == "ms_ssim":
        x = rng.random((1, 1, 176, 176))
        noise = rng.normal(0, 1, x.shape)
        ax.plot(sigma, [loss(x, x + s * noise) for s in sigma], label="ms_ssim(x, x + s·noise)")
    else:
        for iso in (False, True):
            ax.plot(sigma, [loss(x + s * noise, isotropic=iso) for s in sigma], label=f"isotropic={iso}")
    ax.set_xlabel(f"s: the noise's standard deviation (a {x.shape[2]} x {x.shape[3]} image in [0, 1])")
    ax.legend()


def perceptual_plot(loss, ax):
    rng = np.random.default_rng(0)
    xs = [rng.normal(0, 1, (1, 8, 16, 16)), rng.normal(0, 1, (1, 16, 8, 8))]
    noise = [rng.normal(0, 1, x.shape) for x in xs]
    sigma = np.linspace(0, 1, 51)
    for gram in (False, True):
        ax.plot(sigma, [loss(xs, [x + s * n for x, n in zip(xs, noise)], gram=gram) for s in sigma],
                label=f"gram={gram}")
    ax.set_xlabel("s: features of y = features of x + s·noise (two layers)")
    ax.set_yscale("log")
    ax.legend()


def pair_plot(loss, ax):
    s = np.linspace(-3, 3, 121)
    if loss.name in ("margin_ranking", "hinge_embedding"):
        for y in (1.0, -1.0):
            args = (s, np.zeros_like(s), np.full_like(s, y)) if loss.name == "margin_ranking" else (s, np.full_like(s, y))
            ax.plot(s, loss(*args, reduction="none"), label=f"y = {y:g}")
        ax.set_xlabel("x1 - x2" if loss.name == "margin_ranking" else "x")
    else:
        # Two-dimensional embeddings: the second one (or the positive) at distance |s| from the first.
        a = np.tile([1.0, 0.0], (len(s), 1))
        b = a + np.stack([s, np.zeros_like(s)], axis=1)
        if loss.name == "triplet":
            ax.plot(s, loss(a, b, a + np.array([1.0, 0.0]), reduction="none"), label="negative at distance 1")
        else:
            for y in ((1.0, -1.0) if loss.name == "cosine_embedding" else (1.0, 0.0)):
                ax.plot(s, loss(a, b, np.full(len(s), y), reduction="none"), label=f"y = {y:g}")
        ax.set_xlabel("s: x2 (or positive) = x1 + (s, 0), x1 = (1, 0)")
    ax.legend()


def pairwise_plot(loss, ax):
    # Two-dimensional unit rows: the sample (or z1's first row) at angle t from its class's weight row
    # (z2's first row); the other classes (rows) at fixed angles.
    t = np.linspace(0, np.pi, 121)
    x = np.stack([np.cos(t), np.sin(t)], axis=1)
    if loss.name == "batch_triplet":
        # Three points on a line: anchor at 0, positive at 1, negative at s.
        s = np.linspace(0.0, 3.0, 121)
        for mining in ("all", "semihard", "semihard_tfa"):
            values = [loss(np.array([[0.0], [1.0], [v]]), np.array([0, 0, 1]), mining=mining, margin=0.5,
                           reduction="sum") for v in s]
            ax.plot(s, values, label=mining)
        ax.set_xlabel("s: anchor 0, positive 1, negative s (1-D, margin 0.5; sum over the triplets)")
        ax.legend()
        return
    if loss.spec.labels:
        weights = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        for variant in [{}, *loss.spec.variants[:1]]:
            label = ", ".join(f"{k}={v}" for k, v in variant.items()) or "defaults"
            ax.plot(t, loss(x, weights, np.zeros(len(t), dtype=np.int64), reduction="none", **variant), label=label)
        ax.set_xlabel("angle between the embedding and its class's weights (rad)")
    else:
        other = np.array([0.0, 1.0])
        for variant in ({}, {"mode": "simclr"}):
            values = [loss(np.stack([row, other]), np.array([[1.0, 0.0], other]), reduction="none", **variant)[0]
                      for row in x]
            ax.plot(t, values, label=variant.get("mode", "clip"))
        ax.set_xlabel("angle between the first sample's two views (rad)")
    ax.legend()


def plot(loss, path):
    fig, ax = plt.subplots(figsize=(5.5, 3.2), dpi=90)
    if isinstance(loss, lf.ElementwiseLoss):
        elementwise_plot(loss, ax)
    elif isinstance(loss, (lf.RowLoss, lf.RowFunction)):
        row_plot(loss, ax)
    elif isinstance(loss, (lf.SegmentLoss, lf.LovaszHinge)):
        overlap_plot(loss, ax)
    elif isinstance(loss, lf.ImageLoss):
        image_plot(loss, ax)
    elif isinstance(loss, lf.PerceptualLoss):
        perceptual_plot(loss, ax)
    elif isinstance(loss, lf.PairLoss):
        pair_plot(loss, ax)
    elif isinstance(loss, lf.PairwiseLoss):
        pairwise_plot(loss, ax)
    elif isinstance(loss, lf.CenterLoss):
        s = np.linspace(0, 3, 61)
        centers = np.array([[0.0, 0.0], [3.0, 0.0]])
        x = np.stack([s, np.zeros_like(s)], axis=1)
        for j in (0, 1):
            ax.plot(s, loss(x, np.full(len(s), j), centers, reduction="none"),
                    label=f"label {j}, center ({centers[j, 0]:g}, 0)")
        ax.set_xlabel("s: features (s, 0)")
        ax.legend()
    else:
        ctc_plot(loss, ax)
    ax.set_title(loss.name)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def example(loss):
    """A runnable snippet for the loss."""
    head = "import numpy as np\nimport lossfn as lf\n\nrng = np.random.default_rng(0)\n"
    if isinstance(loss, lf.ElementwiseLoss):
        args = [EXAMPLE_PRED[loss.spec.pred], EXAMPLE_TARGET[loss.spec.target]]
        if len(loss.inputs) == 3:
            args.append("rng.uniform(0.5, 2.0, 1000)")
        return (head + f"pred, target = {args[0]}, {args[1]}\n"
                + (f"aux = {args[2]}\nloss, grad = lf.{loss.name}.value_and_grad(pred, target, aux)\n" if len(args) == 3
                   else f"loss, grad = lf.{loss.name}.value_and_grad(pred, target)\n")
                + f"hess = lf.{loss.name}.hess({'pred, target, aux' if len(args) == 3 else 'pred, target'})\n")
    if isinstance(loss, lf.RowFunction):
        return head + f"x = rng.normal(size=(32, 10))\ny, vjp = lf.{loss.name}.value_and_grad(x, axis=-1)\n"
    if isinstance(loss, lf.RowLoss):
        x = {"logit": "rng.normal(size=(32, 10))", "prob_rows": "lf.softmax(rng.normal(size=(32, 10)))",
             "logprob_rows": "lf.log_softmax(rng.normal(size=(32, 10)))"}[loss.spec.pred]
        t = ("rng.integers(0, 10, 32)" if "labels" in loss.spec.targets
             else "np.eye(10)[rng.integers(0, 10, 32)]" if "onehot" in loss.spec.targets
             else "lf.softmax(rng.normal(size=(32, 10)))" if "probs" in loss.spec.targets
             else "(rng.random((32, 10)) < 0.3).astype(float)")
        return head + f"x, target = {x}, {t}\nloss, grad = lf.{loss.name}.value_and_grad(x, target)\n"
    if isinstance(loss, lf.SegmentLoss):
        return (head + "probs = lf.softmax(rng.normal(size=(4, 3, 64, 64)), axis=1)   # (N, C, H, W)\n"
                "labels = rng.integers(0, 3, (4, 64, 64))\n"
                f"loss, grad = lf.{loss.name}.value_and_grad(probs, labels, per_sample=True)\n")
    if isinstance(loss, lf.LovaszHinge):
        return (head + "logits = rng.normal(size=(4, 64, 64))\nmasks = rng.random((4, 64, 64)) < 0.3\n"
                "loss, grad = lf.lovasz_hinge.value_and_grad(logits, masks)\n")
    if isinstance(loss, lf.ImageLoss):
        if loss.name == "ssim":
            return (head + "x = rng.random((4, 3, 64, 64))                          # (N, C, H, W) in [0, 1]\n"
                    "y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)\n"
                    "loss, grad = lf.ssim.value_and_grad(x, y)                # 1 - SSIM; grad w.r.t. x\n"
                    "loss, (gx, gy) = lf.ssim.value_and_grad(x, y, wrt=\"both\")\n")
        if loss.name == "ms_ssim":
            return (head + "x = rng.random((4, 3, 192, 192))      # five levels of an 11-pixel window: 161 px and more\n"
                    "y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)\n"
                    "loss, grad = lf.ms_ssim.value_and_grad(x, y)           # 1 - MS-SSIM; grad w.r.t. x\n"
                    "loss = lf.ms_ssim(x[:, :, :64, :64], y[:, :, :64, :64], win_size=7, weights=(0.3, 0.3, 0.4))\n")
        return (head + "x = rng.random((4, 3, 64, 64))\n"
                "loss, grad = lf.total_variation.value_and_grad(x, isotropic=True)\n")
    if isinstance(loss, lf.CenterLoss):
        return (head + "features, labels = rng.normal(size=(64, 128)), rng.integers(0, 10, 64)\n"
                "centers = rng.normal(size=(10, 128))\n"
                "loss, (g_features, g_centers) = lf.center_loss.value_and_grad(features, labels, centers)\n"
                "lf.center_loss.update(centers, features, labels, alpha=0.5)   # Wen et al.'s rule, in place\n")
    if isinstance(loss, lf.PairwiseLoss):
        if loss.name == "batch_triplet":
            return (head + "embeddings = rng.normal(size=(256, 128))\n"
                    "labels = rng.integers(0, 16, 256)                          # 16 identities in the batch\n"
                    "loss, grad = lf.batch_triplet.value_and_grad(embeddings, labels, mining=\"semihard\", margin=0.2)\n"
                    "loss = lf.batch_triplet(embeddings, labels, mining=\"semihard_tfa\", distance=\"squared\", "
                    "margin=1.0)  # TF-Addons\n")
        if loss.name == "info_nce":
            return (head + "z1 = rng.normal(size=(256, 128))                     # two views of 256 samples\n"
                    "z2 = z1 + rng.normal(0, 0.5, z1.shape)\n"
                    "loss, (g1, g2) = lf.info_nce.value_and_grad(z1, z2, temperature=0.07)   # CLIP's loss\n"
                    "loss = lf.info_nce(z1, z2, mode=\"simclr\")                 # NT-Xent over the 512 views\n")
        return (head + "embeddings = rng.normal(size=(64, 128))\n"
                "weights = rng.normal(size=(10_000, 128))                   # one row per class\n"
                "labels = rng.integers(0, 10_000, 64)\n"
                f"loss, (g_emb, g_weights) = lf.{loss.name}.value_and_grad(embeddings, weights, labels)\n")
    if isinstance(loss, lf.PairLoss):
        examples = {
            "contrastive": "x1, x2 = rng.normal(size=(64, 128)), rng.normal(size=(64, 128))\n"
                           "same = rng.integers(0, 2, 64)                    # 1: a similar pair\n"
                           "loss, (g1, g2) = lf.contrastive.value_and_grad(x1, x2, same, margin=1.0)\n",
            "triplet": "anchor, positive, negative = (rng.normal(size=(64, 128)) for _ in range(3))\n"
                       "loss, (ga, gp, gn) = lf.triplet.value_and_grad(anchor, positive, negative, swap=True)\n",
            "cosine_embedding": "x1, x2 = rng.normal(size=(64, 128)), rng.normal(size=(64, 128))\n"
                                "y = rng.choice([-1, 1], 64)\n"
                                "loss, (g1, g2) = lf.cosine_embedding.value_and_grad(x1, x2, y, margin=0.2)\n",
            "margin_ranking": "x1, x2 = rng.normal(size=1000), rng.normal(size=1000)\n"
                              "y = rng.choice([-1, 1], 1000)                     # 1: x1 should rank higher\n"
                              "loss, (g1, g2) = lf.margin_ranking.value_and_grad(x1, x2, y, margin=0.1)\n",
            "hinge_embedding": "x = rng.uniform(0, 2, 1000)                      # distances\n"
                               "y = rng.choice([-1, 1], 1000)\n"
                               "loss, grad = lf.hinge_embedding.value_and_grad(x, y)\n",
        }
        return head + examples[loss.name]
    if isinstance(loss, lf.PerceptualLoss):
        return (head + "# a network's activations for x and y at two layers, (N, C, H, W) each\n"
                "fx = [rng.normal(size=(4, 64, 32, 32)), rng.normal(size=(4, 128, 16, 16))]\n"
                "fy = [f + rng.normal(0, 0.1, f.shape) for f in fx]\n"
                "loss, grads = lf.perceptual.value_and_grad(fx, fy, layer_weights=(1.0, 0.5))   # grads: one per layer\n"
                "style = lf.perceptual(fx, fy, gram=True)                  # Gram matrices (style loss)\n")
    return (head + "log_probs = lf.log_softmax(rng.normal(size=(50, 4, 20)), axis=-1)   # (T, N, C)\n"
            "targets = rng.integers(1, 20, (4, 10))\n"
            "loss, grad = lf.ctc.value_and_grad(log_probs, targets, [50] * 4, [10] * 4)\n")


def page(family, losses):
    lines = [f"# {FAMILIES.get(family, family)}", "",
             "Generated by `python tools/gen_site.py` from the registry; the conventions shared by every loss are "
             "in [the catalogue](../losses.md).", ""]
    for loss in losses:
        lines += [f"## `{loss.name}`", "", f"`{loss.formula}`", "", f"**Peer:** {loss.peer}", ""]
        note = getattr(loss.spec, "note", "")
        if note:
            lines += [f"**Conventions:** {note}", ""]
        if loss.spec.hyper:
            lines += ["| keyword | default |", "|---|---|"]
            lines += [f"| `{k}` | `{v!r}` |" for k, v in loss.spec.hyper.items()] + [""]
        code = example(loss)
        ns = {}
        exec(code, ns)  # the example runs as shown
        lines += ["```python", code.rstrip(), "```", "", f"![{loss.name}](../img/{loss.name}.png)", ""]
    return "\n".join(lines) + "\n"


def main():
    for sub in ("families", "img", "benchmarks"):
        shutil.rmtree(os.path.join(DOCS, sub), ignore_errors=True)
        os.makedirs(os.path.join(DOCS, sub))
    by_family = {}
    for loss in lf.losses():
        by_family.setdefault(loss.family, []).append(loss)
        plot(loss, os.path.join(DOCS, "img", f"{loss.name}.png"))
    for family, losses in by_family.items():
        with open(os.path.join(DOCS, "families", f"{family}.md"), "w") as f:
            f.write(page(family, losses))
    results = os.path.join(ROOT, "bench", "results")
    for name in sorted(os.listdir(results)):
        if name.endswith(".md"):
            shutil.copy(os.path.join(results, name), os.path.join(DOCS, "benchmarks", name))
        if name.endswith(".png"):
            shutil.copy(os.path.join(results, name), os.path.join(DOCS, "benchmarks", name))
    print(f"wrote {len(by_family)} family pages and {sum(map(len, by_family.values()))} plots under {DOCS}")


if __name__ == "__main__":
    main()
