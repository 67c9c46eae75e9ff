"""The overlap losses against segmentation-models' formulas written in torch (that package is not a
dependency): its soft_dice_score / soft_jaccard_score / soft_tversky_score over dims (0, 2) with
smooth and eps, from_logits through log_softmax().exp() or logsigmoid().exp(), and torch autograd
for the gradients. lossfn's per_sample=True is the same formula with dims (2,) and a mean over
images. Hard 0/1 targets and every class present: there smp's |p - t| intersection equals Σ p t
and its mask of absent classes is all ones. Keras's Dice / Tversky (smooth 0, + 1e-7) as well.
The Lovász hinge against Berman et al.'s reference implementation, ported to the test."""

import numpy as np
import pytest

import lossfn as lf

torch = pytest.importorskip("torch")
F = torch.nn.functional


def smp_loss(name, x, y, classes, *, from_logits, smooth, per_sample=False, alpha=0.5, beta=0.5, gamma=1.0,
             eps=1e-7):
    """segmentation-models' multiclass loss: (N, C, H, W) scores, (N, H, W) labels."""
    n = x.shape[0]
    p = (F.log_softmax(x, dim=1).exp() if classes > 1 else F.logsigmoid(x).exp()) if from_logits else x
    p = p.reshape(n, classes, -1)
    t = (F.one_hot(y.reshape(n, -1), classes).permute(0, 2, 1) if classes > 1 else y.reshape(n, 1, -1)).to(p.dtype)
    dims = (2,) if per_sample else (0, 2)
    inter = (p + t - (p - t).abs()).sum(dims) / 2  # smp's intersection since 0.4 (Σ p t for 0/1 targets)
    fp, fn = p.sum(dims) - inter, t.sum(dims) - inter
    if name == "dice":
        score = (2 * inter + smooth) / (p.sum(dims) + t.sum(dims) + smooth).clamp_min(eps)
    elif name == "jaccard":
        score = (inter + smooth) / (p.sum(dims) + t.sum(dims) - inter + smooth).clamp_min(eps)
    else:
        score = (inter + smooth) / (inter + alpha * fp + beta * fn + smooth).clamp_min(eps)
    loss = 1 - score
    if name == "focal_tversky":
        loss = loss.clamp_min(0) ** gamma  # per class, as the paper (smp raises the mean)
    return loss.mean()


CASES = [("dice", {}), ("jaccard", {}), ("tversky", {"alpha": 0.3, "beta": 0.7}),
         ("focal_tversky", {"alpha": 0.3, "beta": 0.7, "gamma": 0.75})]


@pytest.mark.parametrize("name,hyper", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("classes", [1, 4])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_segmentation_models(name, hyper, classes, from_logits, per_sample, dtype):
    rng = np.random.default_rng(classes + 10 * from_logits)
    n, h, w = 3, 6, 7
    if from_logits:
        x = rng.normal(0, 2, (n, classes, h, w))
    elif classes > 1:
        x = rng.dirichlet(np.ones(classes), (n, h, w)).transpose(0, 3, 1, 2)
    else:
        x = rng.uniform(0.05, 0.95, (n, 1, h, w))
    y = np.arange(n * h * w).reshape(n, h, w) % max(classes, 2)  # every class in every image
    rng.shuffle(y.reshape(-1))
    x = x.astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    want = smp_loss(name, xt, torch.from_numpy(y), classes, from_logits=from_logits, smooth=1.0,
                    per_sample=per_sample, **hyper)
    want.backward()
    target = y if classes > 1 else y[:, None].astype(np.float64)
    v, g = getattr(lf, name).value_and_grad(x, target, from_logits=from_logits, per_sample=per_sample, **hyper)
    tol = dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-7)
    np.testing.assert_allclose(v, want.item(), **tol)
    np.testing.assert_allclose(g, xt.grad.numpy(), **tol)


@pytest.mark.parametrize("name,hyper", [("dice", {}), ("tversky", {"alpha": 0.5, "beta": 0.5}),
                                        ("tversky", {"alpha": 0.2, "beta": 0.8})])
def test_matches_keras_formula(name, hyper):
    """keras.losses.Dice / Tversky: one global score, no smooth, 1e-7 added to the denominator;
    Keras's alpha weighs the false positives, as lossfn's."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, (4, 32))
    t = (rng.random(p.shape) < 0.5).astype(np.float64)
    pt = torch.from_numpy(p.copy()).requires_grad_(True)
    tt = torch.from_numpy(t)
    inter = (pt * tt).sum()
    if name == "dice":
        score = 2 * inter / (pt.sum() + tt.sum() + 1e-7)
    else:
        fp, fn = ((1 - tt) * pt).sum(), (tt * (1 - pt)).sum()
        score = inter / (inter + hyper["alpha"] * fp + hyper["beta"] * fn + 1e-7)
    (1 - score).backward()
    v, g = getattr(lf, name).value_and_grad(p, t, axis=None, smooth=0.0, **hyper)
    np.testing.assert_allclose(v, 1 - score.item(), rtol=1e-8)
    np.testing.assert_allclose(g, pt.grad.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("classes", [1, 3])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_dice_matches_torch_bce_plus_segmentation_models_dice(classes, from_logits, dtype):
    """The seeds' combination: torch's BCEWithLogitsLoss (or BCELoss) + segmentation-models'
    binary/multilabel DiceLoss (a sigmoid per channel, smooth 1)."""
    rng = np.random.default_rng(classes)
    x = rng.normal(0, 2, (2, classes, 5, 6))
    x = (x if from_logits else 1 / (1 + np.exp(-x))).astype(dtype)
    t = (rng.random(x.shape) < 0.4).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    tt = torch.from_numpy(t)
    bce = F.binary_cross_entropy_with_logits(xt, tt) if from_logits else F.binary_cross_entropy(xt, tt)
    p = (F.logsigmoid(xt).exp() if from_logits else xt).reshape(2, classes, -1)
    tr = tt.reshape(2, classes, -1)
    inter = (p * tr).sum((0, 2))
    dice = (1 - (2 * inter + 1) / (p.sum((0, 2)) + tr.sum((0, 2)) + 1)).mean()
    (bce + dice).backward()
    v, g = lf.bce_dice.value_and_grad(x, t, from_logits=from_logits)
    tol = dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=3e-5, atol=3e-7)
    np.testing.assert_allclose(v, (bce + dice).item(), **tol)
    np.testing.assert_allclose(g, xt.grad.numpy(), **tol)


# Berman et al.'s Lovász hinge (bermanmaxim/LovaszSoftmax, pytorch/lovasz_losses.py), ported:
# lovasz_grad, lovasz_hinge_flat, flatten_binary_scores and lovasz_hinge with per_image and ignore.
# torch.sort gets stable=True so that equal errors keep pixel order as lossfn's (the original's
# unstable sort gives the same value and another subgradient).
def berman_lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def berman_lovasz_hinge_flat(logits, labels):
    if len(labels) == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.to(logits.dtype) - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True, stable=True)
    grad = berman_lovasz_grad(labels[perm].to(logits.dtype))
    return torch.dot(F.relu(errors_sorted), grad)


def berman_flatten(scores, labels, ignore):
    scores, labels = scores.reshape(-1), labels.reshape(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    return scores[valid], labels[valid]


def berman_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    if per_image:
        losses = [berman_lovasz_hinge_flat(*berman_flatten(x[None], y[None], ignore)) for x, y in zip(logits, labels)]
        return sum(losses) / len(losses)
    return berman_lovasz_hinge_flat(*berman_flatten(logits, labels, ignore))


@pytest.mark.parametrize("per_sample", [True, False])
@pytest.mark.parametrize("ignore_index", [None, 255])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lovasz_hinge_matches_berman(per_sample, ignore_index, dtype):
    rng = np.random.default_rng(12)
    logits = rng.normal(0, 2, (4, 24, 20)).astype(dtype)
    masks = (rng.random(logits.shape) < 0.35).astype(np.int64)
    masks[0] = 0  # an image with nothing to find
    if ignore_index is not None:
        masks[rng.random(logits.shape) < 0.15] = ignore_index
        masks[1] = ignore_index  # an image with every pixel ignored
    x = torch.tensor(logits, requires_grad=True)
    ref = berman_lovasz_hinge(x, torch.tensor(masks), per_image=per_sample, ignore=ignore_index)
    ref.backward()
    v, g = lf.lovasz_hinge.value_and_grad(logits, masks, per_sample=per_sample, ignore_index=ignore_index)
    tol = dict(rtol=1e-12, atol=1e-15) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(v, ref.item(), **tol)
    np.testing.assert_allclose(g, x.grad.numpy(), **tol)


def test_lovasz_hinge_ties_match_berman_stable_sort():
    rng = np.random.default_rng(13)
    logits = rng.integers(-3, 4, (2, 50)).astype(np.float64) / 2  # many equal errors
    masks = (rng.random(logits.shape) < 0.5).astype(np.int64)
    x = torch.tensor(logits, requires_grad=True)
    ref = berman_lovasz_hinge(x, torch.tensor(masks))
    ref.backward()
    v, g = lf.lovasz_hinge.value_and_grad(logits, masks)
    np.testing.assert_allclose(v, ref.item(), rtol=1e-14)
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-14, atol=1e-16)
