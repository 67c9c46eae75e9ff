"""The pairwise losses (lossfn.registry.PAIRWISE_SPECS: batch_triplet, cosface, arcface, info_nce):
the kernels against the NumPy reference (plain N x C and N x N matrices, brute force over the
triplets) for every variant, dtype, reduction and ISA, at shapes around the tile size; the same
bits for any thread count; the reference against central differences; pytorch-metric-learning's
loss and miner, TF-Addons' semi-hard loss re-implemented step for step, the InsightFace formulas
and the CLIP / NT-Xent losses written in torch; embeddings far from the origin, duplicates,
lonely classes, cosines of exactly +-1, zero rows, a huge class count; bad input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import PAIRWISE_SPECS

SPECS = {spec.name: spec for spec in PAIRWISE_SPECS}
CASES = [(name, variant) for name, spec in SPECS.items() for variant in [{}, *spec.variants]]
REDUCTIONS = ("mean", "sum", "none")
TILE = 256  # kPairTile: rows and columns of one GEMM tile


def case_id(case):
    name, variant = case
    return name + ("-" + "-".join(f"{k}={v}" for k, v in variant.items()) if variant else "")


def draw(name, rng, n=37, d=13, classes=600, dtype=np.float64):
    """Valid inputs: embeddings near their class's weight row (so that the target cosines spread
    over (-1, 1) and the margins' branches are all taken), two views of the same samples, or
    (batch_triplet) embeddings around a few class means with their labels."""
    if name == "batch_triplet":
        k = max(2, min(6, n // 4))
        labels = rng.integers(0, k, n)
        means = rng.normal(0, 1.0, (k, d))
        return [(means[labels] + rng.normal(0, 0.8, (n, d))).astype(dtype), labels]
    if SPECS[name].labels:
        weights = rng.normal(0, 1, (classes, d))
        labels = rng.integers(0, classes, n)
        embeddings = weights[labels] * rng.uniform(-0.5, 2.0, (n, 1)) + rng.normal(0, 1, (n, d))
        return [embeddings.astype(dtype), weights.astype(dtype), labels]
    z1 = rng.normal(0, 1, (n, d))
    return [z1.astype(dtype), (z1 + rng.normal(0, 1.0, (n, d))).astype(dtype)]


def hyper(name, variant):
    return dict(SPECS[name].hyper, **variant)


def tolerance(name, variant, dtype, d):
    """float64: sums in another order (1e-10). float32: the GEMMs accumulate d products in float32
    (as every BLAS does), so a cosine of random rows carries about sqrt(d) eps32 of error, a logit
    that times its scale (s, or 1/temperature); the loss (absolute) and the gradients (relative to
    their largest entry) inherit it. Measured: a fifth to a twentieth of this bound."""
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-12)
    kw = hyper(name, variant)
    if name == "batch_triplet":
        # The distances of rows of norm ~ sqrt(2 d) (squared: ~ 2 d) carry sqrt(d) eps32 of that.
        scale = 2.0 * d if kw["distance"] == "squared" else (1.0 if kw["distance"] == "cosine" else np.sqrt(2.0 * d))
    else:
        scale = kw["s"] if "s" in kw else 1.0 / kw["temperature"]
    return dict(rtol=1e-5, atol=float(np.sqrt(d) * np.finfo(np.float32).eps * scale))


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def assert_grads(g, rg, tol, dtype, shapes):
    g, rg = as_tuple(g), as_tuple(rg)
    assert len(g) == len(rg)
    for a, b, shape in zip(g, rg, shapes):
        assert a.dtype == dtype and a.shape == shape
        np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * max(np.abs(b).max(), 1e-300))


SHAPES = [dict(n=37, d=13, classes=600), dict(n=300, d=20, classes=300)]


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_reference(case, dtype, reduction, isa):
    name, variant = case
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    for k, shape in enumerate(SHAPES):
        args = draw(name, np.random.default_rng(k), dtype=dtype, **shape)
        tol = tolerance(name, variant, dtype, shape["d"])
        v, g = loss.value_and_grad(*args, reduction=reduction, **variant)
        rv, rg = ref.value_and_grad(*args, reduction=reduction, **variant)
        np.testing.assert_allclose(v, rv, rtol=tol["rtol"], atol=tol["atol"])
        assert_grads(g, rg, tol, dtype, [a.shape for a in args[:2]])
        if name == "batch_triplet" and k == 0:
            break  # 300 samples: 27 million triplets for the brute-force reference
        again = loss(*args, reduction=reduction, **variant)
        assert np.array_equal(again, v)
        for a, b in zip(as_tuple(loss.grad(*args, reduction=reduction, **variant)), as_tuple(g)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("n", [TILE - 1, TILE, TILE + 1])
def test_tile_edges(name, n):
    # Rows and classes (or views) one short of, at and one past a tile.
    rng = np.random.default_rng(n)
    args = draw(name, rng, n=n, d=9, classes=n)
    for variant in [{}, *SPECS[name].variants[:2]]:
        v, g = getattr(lf, name).value_and_grad(*args, **variant)
        rv, rg = getattr(lf.reference, name).value_and_grad(*args, **variant)
        assert v == pytest.approx(rv, rel=1e-10)
        assert_grads(g, rg, dict(rtol=1e-9, atol=1e-12), np.float64, [a.shape for a in args[:2]])
        if name == "batch_triplet":
            break  # the brute-force reference is slow at these sizes: one variant


@pytest.mark.parametrize("name", list(SPECS))
def test_grad_output_and_out(name):
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    rng = np.random.default_rng(1)
    args = draw(name, rng)
    up = rng.normal(0, 1, len(args[0]))
    for a, b in zip(as_tuple(loss.grad(*args, reduction="none", grad_output=up)),
                    as_tuple(ref.grad(*args, reduction="none", grad_output=up))):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())
    g = loss.grad(*args, reduction="sum", grad_output=2.5)
    for a, b in zip(as_tuple(g), as_tuple(ref.grad(*args, reduction="sum", grad_output=2.5))):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())
    k = len(loss.differentiable_inputs)
    out = tuple(np.empty_like(a) for a in args[:k])
    returned = as_tuple(loss.grad(*args, out=out if k > 1 else out[0]))
    assert all(r is o for r, o in zip(returned, out))
    for a, b in zip(out, as_tuple(loss.grad(*args))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_bits_for_any_thread_count(name, dtype, threads):
    loss = getattr(lf, name)
    # Large enough for several threads: 20 class tiles in 10 groups, or 3 row blocks of views.
    args = draw(name, np.random.default_rng(4), n=600, d=32, classes=5000, dtype=dtype)
    variants = [{}, {"mode": "simclr"}] if name == "info_nce" else [{}]
    if name == "batch_triplet":
        variants = [{}, {"mining": "semihard_tfa", "distance": "cosine"}]
    results = []
    for n in (1, 2, 3, 7):
        lf.set_num_threads(n)
        for variant in variants:
            v, g = loss.value_and_grad(*args, reduction="none", **variant)
            results.append((n, v.tobytes(), [a.tobytes() for a in as_tuple(g)], loss(*args, **variant)))
    per_thread = len(variants)
    for k, r in enumerate(results):
        assert r[1:] == results[k % per_thread][1:], r[0]


# -- the reference's gradients against central differences ------------------------------------

@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_gradient_is_the_derivative(case):
    name, variant = case
    ref = getattr(lf.reference, name)
    rng = np.random.default_rng(5)
    args = draw(name, rng, n=6, d=5, classes=9)
    up = rng.normal(0, 1, 6)
    g = as_tuple(ref.grad(*args, reduction="none", grad_output=up, **variant))
    total = lambda a: float(up @ ref(*a, reduction="none", **variant))  # noqa: E731
    for k, gk in enumerate(g):
        for _ in range(8):
            index = tuple(rng.integers(0, n) for n in args[k].shape)
            hi = [a.copy() for a in args]
            lo = [a.copy() for a in args]
            hi[k][index] += 1e-6
            lo[k][index] -= 1e-6
            fd = (total(hi) - total(lo)) / 2e-6
            assert fd == pytest.approx(gk[index], rel=1e-5, abs=1e-6), (k, index)


# -- peers ------------------------------------------------------------------------------------------

def torch_margin(torch, args, name, kw, reduction):
    """InsightFace arcface_torch's CosFace / ArcFace on F.normalize'd inputs, then cross-entropy."""
    F = torch.nn.functional
    e = torch.tensor(args[0], requires_grad=True)
    w = torch.tensor(args[1], requires_grad=True)
    y = torch.tensor(args[2])
    rows = torch.arange(len(y))
    cos = F.linear(F.normalize(e), F.normalize(w)).clamp(-1, 1)
    t = cos[rows, y]
    if name == "cosface":
        phi = t - kw["m"]
    else:
        m = kw["m"]
        angle = t * np.cos(m) - torch.sqrt(1 - t * t) * np.sin(m)
        phi = torch.where(t > 0, angle, t) if kw["easy_margin"] else \
            torch.where(t > np.cos(np.pi - m), angle, t - np.sin(np.pi - m) * m)
    logits = cos.index_put((rows, y), phi)
    return F.cross_entropy(logits * kw["s"], y, reduction=reduction), (e, w)


def torch_info_nce(torch, args, kw, reduction):
    """CLIP's loss (open_clip's ClipLoss on normalised features) and NT-Xent (SimCLR), with per-sample
    losses (the two directions' mean per sample)."""
    F = torch.nn.functional
    a = torch.tensor(args[0], requires_grad=True)
    b = torch.tensor(args[1], requires_grad=True)
    an, bn = F.normalize(a), F.normalize(b)
    n = len(an)
    if kw["mode"] == "simclr":
        z = torch.cat([an, bn])
        logits = (z @ z.T / kw["temperature"]).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        ce = F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]), reduction="none")
        per = (ce[:n] + ce[n:]) / 2
    else:
        logits = an @ bn.T / kw["temperature"]
        labels = torch.arange(n)
        per = F.cross_entropy(logits, labels, reduction="none")
        if kw["symmetric"]:
            per = (per + F.cross_entropy(logits.T, labels, reduction="none")) / 2
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction], (a, b)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "batch_triplet"], ids=case_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch(case, reduction):
    torch = pytest.importorskip("torch")
    name, variant = case
    kw = hyper(name, variant)
    args = draw(name, np.random.default_rng(6), n=40, d=16, classes=300)
    out, leaves = torch_info_nce(torch, args, kw, reduction) if name == "info_nce" else \
        torch_margin(torch, args, name, kw, reduction)
    up = np.random.default_rng(7).normal(0, 1, out.shape) if reduction == "none" else 1.0
    out.backward(torch.tensor(up) if reduction == "none" else None)
    loss = getattr(lf, name)
    np.testing.assert_allclose(loss(*args, reduction=reduction, **variant), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, leaf in zip(loss.grad(*args, reduction=reduction, grad_output=up, **variant), leaves):
        b = leaf.grad.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-11 * np.abs(b).max())


# -- extremes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("easy_margin", [False, True])
def test_arcface_is_finite_at_cosines_of_one(dtype, easy_margin):
    # Embeddings along their class's weight row (cos = 1) and against it (cos = -1): torch's
    # sqrt(1 - cos^2) (or arccos) has an infinite slope there and turns the gradient into nan.
    rng = np.random.default_rng(8)
    w = rng.normal(0, 1, (5, 8))
    y = np.array([0, 1, 2, 3, 4, 0])
    e = np.concatenate([w[:3] * 2.0, -w[3:5], w[:1]])
    for s in (64.0, 30.0):
        v, (ge, gw) = lf.arcface.value_and_grad(e.astype(dtype), w.astype(dtype), y, s=s, easy_margin=easy_margin)
        assert np.isfinite(v) and np.all(np.isfinite(ge)) and np.all(np.isfinite(gw))
        rv, (rge, rgw) = lf.reference.arcface.value_and_grad(e, w, y, s=s, easy_margin=easy_margin)
        assert v == pytest.approx(rv, rel=1e-5 if dtype == np.float32 else 1e-10)


def test_zero_rows_and_duplicates():
    # A zero embedding (unit row 0: every cosine 0), duplicate rows, a zero weight row.
    rng = np.random.default_rng(9)
    e, w, y = draw("cosface", rng, n=6, d=4, classes=5)
    e[1] = 0.0
    e[3] = e[2]
    w[4] = 0.0
    for name in ("cosface", "arcface"):
        v, g = getattr(lf, name).value_and_grad(e, w, y)
        rv, rg = getattr(lf.reference, name).value_and_grad(e, w, y)
        assert v == pytest.approx(rv, rel=1e-12)
        assert_grads(g, rg, dict(rtol=1e-9, atol=1e-12), np.float64, [e.shape, w.shape])
    z = rng.normal(0, 1, (5, 3))
    z2 = z.copy()
    z2[0] = 0.0
    for variant in ({}, {"mode": "simclr"}):
        v, g = lf.info_nce.value_and_grad(z, z2, **variant)
        rv, rg = lf.reference.info_nce.value_and_grad(z, z2, **variant)
        assert v == pytest.approx(rv, rel=1e-12)
        assert_grads(g, rg, dict(rtol=1e-9, atol=1e-12), np.float64, [z.shape, z.shape])


def test_huge_class_count():
    # 200 000 classes: the kernel keeps O(tile) logits; the reference forms all N x C.
    rng = np.random.default_rng(10)
    e, w, y = draw("cosface", rng, n=8, d=6, classes=200_000, dtype=np.float32)
    v, (ge, gw) = lf.cosface.value_and_grad(e, w, y)
    rv, (rge, rgw) = lf.reference.cosface.value_and_grad(e, w, y)
    tol = tolerance("cosface", {}, np.float32, 6)
    assert v == pytest.approx(rv, rel=tol["rtol"], abs=tol["atol"])
    assert_grads((ge, gw), (rge, rgw), tol, np.float32, [e.shape, w.shape])


def test_empty_batch():
    for name in SPECS:
        args = draw(name, np.random.default_rng(0), n=0, d=4, classes=3)
        loss = getattr(lf, name)
        # batch_triplet's mean is over kept triplets, 0 without any (pytorch-metric-learning's).
        assert (loss(*args) == 0.0 if name == "batch_triplet" else np.isnan(loss(*args)))
        assert loss(*args, reduction="sum") == 0.0
        g = as_tuple(loss.grad(*args))
        assert [a.shape for a in g] == [a.shape for a in args[:len(g)]]
        if len(g) == 2 and SPECS[name].labels:
            assert np.all(g[1] == 0)


# -- bad input --------------------------------------------------------------------------------------

def test_bad_input():
    rng = np.random.default_rng(11)
    e, w, y = draw("cosface", rng, n=4, d=3, classes=5)
    with pytest.raises(ValueError, match=r"weights: expected \(classes, 3\), got shape \(5, 2\)"):
        lf.cosface(e, w[:, :2], y)
    with pytest.raises(ValueError, match=r"labels: 5 at sample 1 is outside \[0, 5\) \(the classes of weights\)"):
        lf.arcface(e, w, np.array([0, 5, 1, 2]))
    with pytest.raises(ValueError, match=r"labels: -1 at sample 0"):
        lf.cosface(e, w, np.array([-1, 0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels: shape \(3,\) does not match the samples' shape \(4,\)"):
        lf.cosface(e, w, y[:3])
    with pytest.raises(ValueError, match=r"embeddings: expected \(N, D\)"):
        lf.cosface(e[0], w, y)
    with pytest.raises(ValueError, match="cosface: s: must be a finite number > 0, got 0"):
        lf.cosface(e, w, y, s=0.0)
    with pytest.raises(ValueError, match="cosface: m: must be a finite number >= 0, got -0.1"):
        lf.cosface(e, w, y, m=-0.1)
    with pytest.raises(ValueError, match="arcface: m: must be a finite number >= 0 and < pi, got 3.2"):
        lf.arcface(e, w, y, m=3.2)
    with pytest.raises(TypeError, match="easy_margin: expected a bool"):
        lf.arcface(e, w, y, easy_margin=1)
    with pytest.raises(TypeError, match="labels"):
        lf.cosface(e, w, y.astype(np.float64))
    with pytest.raises(ValueError, match=r"out\[1\]: overlaps the input 'weights'"):
        lf.cosface.grad(e, w, y, out=(np.empty_like(e), w))
    z1, z2 = draw("info_nce", rng, n=4, d=3)
    with pytest.raises(ValueError, match=r"z2: shape \(4, 2\) does not match z1 shape \(4, 3\)"):
        lf.info_nce(z1, z2[:, :2])
    with pytest.raises(ValueError, match=r"z1: expected \(N, D\)"):
        lf.info_nce(z1[0], z2[0])
    for t in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="info_nce: temperature: must be a finite number > 0"):
            lf.info_nce(z1, z2, temperature=t)
    with pytest.raises(ValueError, match="mode: must be 'clip' or 'simclr', got 'moco'"):
        lf.info_nce(z1, z2, mode="moco")
    with pytest.raises(TypeError, match=r"info_nce\(\) takes 2 inputs \(z1, z2\), got 1"):
        lf.info_nce(z1)
    with pytest.raises(ValueError, match=r"out\[0\]: overlaps the input 'z1'"):
        lf.info_nce.grad(z1, z2, out=(z1, np.empty_like(z2)))


# -- batch_triplet ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("distance", ["euclidean", "squared", "cosine"])
@pytest.mark.parametrize("reduction_mode", ["all", "nonzero"])
def test_batch_triplet_matches_pytorch_metric_learning(mining, distance, reduction_mode):
    # TripletMarginLoss on the triplets TripletMarginMiner keeps, both with lossfn's margin; its
    # LpDistance without its default normalisation (power 2: squared), CosineSimilarity for cosine.
    torch = pytest.importorskip("torch")
    pml = pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import distances, losses, miners, reducers  # noqa: F401
    x, y = draw("batch_triplet", np.random.default_rng(12), n=48, d=8)
    margin = {"euclidean": 0.5, "squared": 2.0, "cosine": 0.3}[distance]
    metric = {"euclidean": distances.LpDistance(normalize_embeddings=False),
              "squared": distances.LpDistance(normalize_embeddings=False, power=2),
              "cosine": distances.CosineSimilarity()}[distance]
    reducer = reducers.MeanReducer() if reduction_mode == "all" else reducers.AvgNonZeroReducer()
    t = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y)
    miner = miners.TripletMarginMiner(margin=margin, type_of_triplets=mining, distance=metric)
    out = losses.TripletMarginLoss(margin=margin, distance=metric, reducer=reducer)(t, ty, miner(t, ty))
    out.backward()
    kw = dict(margin=margin, mining=mining, distance=distance, reduction_mode=reduction_mode)
    v, g = lf.batch_triplet.value_and_grad(x, y, **kw)
    assert v == pytest.approx(out.item(), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-8, atol=1e-12 * max(np.abs(g).max(), 1e-300))


def tf_addons_semihard(pdist, labels, margin):
    """TF-Addons' triplet_semihard_loss on a distance matrix, step for step in NumPy: the B^2 x B
    tiled mask, masked_minimum / masked_maximum as it writes them, the mean over positive pairs."""
    b = len(labels)
    adjacency = labels[:, None] == labels[None, :]
    adjacency_not = ~adjacency
    tile = np.tile(pdist, (b, 1))
    mask = np.tile(adjacency_not, (b, 1)) & (tile > pdist.T.reshape(-1, 1))
    mask_final = (mask.sum(1, keepdims=True) > 0).reshape(b, b).T

    def masked_minimum(data, m):
        top = data.max(1, keepdims=True)
        return ((data - top) * m).min(1, keepdims=True) + top

    def masked_maximum(data, m):
        bottom = data.min(1, keepdims=True)
        return ((data - bottom) * m).max(1, keepdims=True) + bottom

    outside = masked_minimum(tile, mask).reshape(b, b).T
    inside = np.tile(masked_maximum(pdist, adjacency_not), (1, b))
    loss = margin + pdist - np.where(mask_final, outside, inside)
    positives = adjacency.astype(float) - np.eye(b)
    return np.maximum(loss * positives, 0.0).sum() / positives.sum()


@pytest.mark.parametrize("distance", ["euclidean", "squared", "cosine"])
@pytest.mark.parametrize("classes", [4, 1])
def test_semihard_tfa_is_tf_addons(distance, classes):
    # One class: no negative at all, TF-Addons' masked maximum gives the anchor's own distance 0.
    rng = np.random.default_rng(13)
    x = rng.normal(0, 1, (40, 6))
    y = rng.integers(0, classes, 40)
    dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    if distance == "squared":
        dist = dist ** 2
    elif distance == "cosine":
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        dist = np.clip(1.0 - u @ u.T, 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
    for margin in (0.1, 1.0):
        expected = tf_addons_semihard(dist, y, margin)
        assert lf.batch_triplet(x, y, margin=margin, mining="semihard_tfa", distance=distance) == \
            pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_triplet_far_from_origin(dtype):
    # At offset 100 |a|^2 + |b|^2 - 2 a.b loses every digit of a unit distance in float32; the
    # distances of rows centred on the batch mean keep them (translation changes nothing).
    # The reference (float64, exact at this offset) sees the same rounded rows; the tolerance is
    # the one of rows at the origin.
    x, y = draw("batch_triplet", np.random.default_rng(14), n=64, d=16)
    far = (x + 100.0).astype(dtype)
    for variant in ({}, {"distance": "squared", "mining": "semihard_tfa"}):
        v, g = lf.batch_triplet.value_and_grad(far, y, **variant)
        rv, rg = lf.reference.batch_triplet.value_and_grad(far.astype(np.float64), y, **variant)
        tol = tolerance("batch_triplet", variant, dtype, 16)
        assert v == pytest.approx(rv, rel=tol["rtol"], abs=tol["atol"])
        assert_grads(g, rg, tol, dtype, [far.shape])


def test_batch_triplet_duplicates_and_lonely_classes():
    rng = np.random.default_rng(15)
    x, y = draw("batch_triplet", rng, n=30, d=5)
    x[1] = x[0]          # a duplicate pair: distance 0, gradient finite (0 along that pair)
    y[1] = y[0]
    y[2] = 99            # a class of one sample: no positive, it only serves as a negative
    for variant in [{}, *SPECS["batch_triplet"].variants]:
        v, g = lf.batch_triplet.value_and_grad(x, y, reduction="none", **variant)
        rv, rg = lf.reference.batch_triplet.value_and_grad(x, y, reduction="none", **variant)
        assert np.all(np.isfinite(g))
        assert v[2] == 0.0
        np.testing.assert_allclose(v, rv, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g, rg, rtol=1e-9, atol=1e-12 * max(np.abs(rg).max(), 1.0))
    one = np.zeros(30, dtype=np.int64)  # a batch of one class: no negative anywhere
    for mining in ("all", "hard", "semihard"):
        v, g = lf.batch_triplet.value_and_grad(x, one, mining=mining)
        assert v == 0.0 and np.all(g == 0)
    v = lf.batch_triplet(x, one, mining="semihard_tfa", distance="squared", margin=0.5)
    assert v == pytest.approx(lf.reference.batch_triplet(x, one, mining="semihard_tfa", distance="squared", margin=0.5))


@pytest.mark.parametrize("variant", [{}, {"mining": "semihard", "distance": "squared"},
                                     {"mining": "semihard_tfa", "distance": "cosine"}], ids=str)
def test_batch_triplet_sorted_mining(variant):
    # Two classes of 300: an anchor's 299 positives make sorting its negatives cheaper than
    # scanning them once per positive (the kernel's other path, which the smaller batches take).
    rng = np.random.default_rng(17)
    y = np.repeat([0, 1], 300)
    x = rng.normal(0, 1, (600, 4)) + 0.7 * y[:, None]
    g = lf.batch_triplet.grad(x, y, **variant)
    rg = lf.reference.batch_triplet.grad(x, y, **variant)
    np.testing.assert_allclose(g, rg, rtol=1e-9, atol=1e-12 * np.abs(rg).max())
    assert lf.batch_triplet(x, y, reduction="none", **variant) == pytest.approx(
        lf.reference.batch_triplet(x, y, reduction="none", **variant), rel=1e-10, abs=1e-12)


def test_batch_triplet_bad_input():
    x, y = draw("batch_triplet", np.random.default_rng(16), n=8, d=3)
    with pytest.raises(ValueError, match="batch_triplet: margin: must be a finite number >= 0, got -0.1"):
        lf.batch_triplet(x, y, margin=-0.1)
    with pytest.raises(ValueError, match="mining: must be 'all', 'hard', 'semihard' or 'semihard_tfa', got 'easy'"):
        lf.batch_triplet(x, y, mining="easy")
    with pytest.raises(ValueError, match="distance: must be 'euclidean', 'squared' or 'cosine', got 'l1'"):
        lf.batch_triplet(x, y, distance="l1")
    with pytest.raises(ValueError, match="reduction_mode: must be 'all' or 'nonzero', got 'avg'"):
        lf.batch_triplet(x, y, reduction_mode="avg")
    with pytest.raises(TypeError, match="mining: expected one of"):
        lf.batch_triplet(x, y, mining=1)
    with pytest.raises(ValueError, match=r"labels: shape \(7,\) does not match the samples' shape \(8,\)"):
        lf.batch_triplet(x, y[:7])
    with pytest.raises(ValueError, match=r"embeddings: expected \(N, D\)"):
        lf.batch_triplet(x[0], y)
    with pytest.raises(ValueError, match=r"out: overlaps the input 'embeddings'"):
        lf.batch_triplet.grad(x, y, out=x)
