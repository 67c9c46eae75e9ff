"""Metric-learning losses on given pairs and triplets (lossfn.registry.PAIR_SPECS: contrastive,
triplet, cosine_embedding, margin_ranking, hinge_embedding) and the center loss: the kernels
against the NumPy reference for every variant, dtype, reduction and ISA; one row and many; the
same bits for any thread count; the reference against central differences; torch's functions
(and the contrastive and center formulas written in torch); zero distances and extreme values;
Wen et al.'s center update; bad input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import PAIR_SPECS

SPECS = {spec.name: spec for spec in PAIR_SPECS}
CASES = [(name, variant) for name, spec in SPECS.items() for variant in [{}, *spec.variants]]
REDUCTIONS = ("mean", "sum", "none")


def case_id(case):
    name, variant = case
    return name + ("-" + "-".join(f"{k}={v}" for k, v in variant.items()) if variant else "")


def draw(name, rng, n=37, d=13, dtype=np.float64):
    """Valid inputs: rows (n, d) (n values for the elementwise losses) and their labels."""
    spec = SPECS[name]
    shape = (n,) if spec.elementwise else (n, d)
    x = [rng.normal(0, 1, shape) for _ in range(len(spec.inputs) - (1 if spec.labels else 0))]
    if name == "triplet":
        x[1] = x[0] + rng.normal(0, 1.0, shape)   # positives nearer the anchors: hinges active and not
    if name == "contrastive":
        x[1] = x[0] + rng.normal(0, 0.3, shape)
        y = rng.integers(0, 2, n).astype(np.float64)
    elif spec.labels:
        y = rng.choice([-1.0, 1.0], n)
    args = [a.astype(dtype) for a in x]
    return args + [y.astype(dtype)] if spec.labels else args


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def tolerance(dtype):
    # Both in float64 (sums in other orders): 1e-12. float32 inputs: the kernel's sums and finish
    # are in double, the result rounded once; the reference sees the same float32 values.
    return dict(rtol=1e-11, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_reference(case, dtype, reduction, isa):
    name, variant = case
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    args = draw(name, np.random.default_rng(0), dtype=dtype)
    v, g = loss.value_and_grad(*args, reduction=reduction, **variant)
    rv, rg = ref.value_and_grad(*args, reduction=reduction, **variant)
    np.testing.assert_allclose(v, rv, **tolerance(dtype))
    for a, b in zip(as_tuple(g), as_tuple(rg)):
        assert a.dtype == dtype and a.shape == args[0].shape
        np.testing.assert_allclose(a, b, rtol=tolerance(dtype)["rtol"],
                                   atol=tolerance(dtype)["atol"] * max(np.abs(b).max(), 1e-300))
    assert loss(*args, reduction=reduction, **variant) == pytest.approx(v, rel=0, abs=0) if reduction != "none" \
        else np.array_equal(loss(*args, reduction=reduction, **variant), v)
    for a, b in zip(as_tuple(loss.grad(*args, reduction=reduction, **variant)), as_tuple(g)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(SPECS))
def test_grad_output_and_out(name):
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    rng = np.random.default_rng(1)
    args = draw(name, rng)
    up = rng.normal(0, 1, args[0].shape[:1])
    for a, b in zip(as_tuple(loss.grad(*args, reduction="none", grad_output=up)),
                    as_tuple(ref.grad(*args, reduction="none", grad_output=up))):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    k = len(as_tuple(loss.grad(*args)))
    out = tuple(np.empty_like(args[0]) for _ in range(k))
    returned = loss.grad(*args, reduction="sum", grad_output=2.0, out=out if k > 1 else out[0])
    for r, o, b in zip(as_tuple(returned), out, as_tuple(loss.grad(*args, reduction="sum", grad_output=2.0))):
        assert r is o
        np.testing.assert_array_equal(o, b)


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if not s.elementwise])
def test_one_row_and_non_contiguous_rows(name):
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    args = draw(name, np.random.default_rng(2), n=5, d=9)
    one = [a[0] for a in args]
    v, g = loss.value_and_grad(*one, reduction="none")
    assert np.shape(v) == () and as_tuple(g)[0].shape == (9,)
    np.testing.assert_allclose(v, ref(*one, reduction="none"), rtol=1e-12)
    # Rows read through strides (a Fortran-ordered copy, every other column of a wider array).
    wide = [np.repeat(a, 2, axis=1)[:, ::2] if a.ndim == 2 else a for a in args]
    np.testing.assert_allclose(loss(*wide, reduction="none"), loss(*args, reduction="none"), rtol=1e-15)
    fortran = [np.asfortranarray(a) for a in args]
    np.testing.assert_array_equal(loss.grad(*fortran)[0], loss.grad(*args)[0])


@pytest.mark.parametrize("name", ["margin_ranking", "hinge_embedding"])
def test_elementwise_losses_take_any_shape(name):
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    rng = np.random.default_rng(3)
    shape = (3, 4, 5)
    args = [rng.normal(0, 1, shape) for _ in range(len(SPECS[name].inputs) - 1)] + [rng.choice([-1.0, 1.0], shape)]
    v = loss(*args, reduction="none")
    assert v.shape == shape
    np.testing.assert_allclose(v, ref(*args, reduction="none"), rtol=1e-14)
    assert loss(*args) == pytest.approx(ref(*args), rel=1e-13)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_bits_for_any_thread_count(name, dtype, threads):
    loss = getattr(lf, name)
    args = draw(name, np.random.default_rng(4), n=20000, d=64 if not SPECS[name].elementwise else 1, dtype=dtype)
    if SPECS[name].elementwise:
        args = [a.reshape(-1) for a in args]
    results = []
    for n in (1, 2, 3, 7):
        lf.set_num_threads(n)
        v, g = loss.value_and_grad(*args, reduction="none")
        results.append((v.tobytes(), [a.tobytes() for a in as_tuple(g)], loss(*args)))
    assert all(r == results[0] for r in results)


# -- the reference's gradients against central differences ------------------------------------

@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_gradient_is_the_derivative(case):
    name, variant = case
    ref = getattr(lf.reference, name)
    rng = np.random.default_rng(5)
    args = draw(name, rng, n=6, d=5)
    g = as_tuple(ref.grad(*args, reduction="sum", **variant))
    for k, gk in enumerate(g):
        for _ in range(8):
            index = tuple(rng.integers(0, n) for n in args[k].shape)
            up = [a.copy() for a in args]
            down = [a.copy() for a in args]
            up[k][index] += 1e-6
            down[k][index] -= 1e-6
            fd = (ref(*up, reduction="sum", **variant) - ref(*down, reduction="sum", **variant)) / 2e-6
            assert fd == pytest.approx(gk[index], rel=1e-5, abs=1e-7), (k, index)


# -- peers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch(case, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    name, variant = case
    args = draw(name, np.random.default_rng(6))
    spec = SPECS[name]
    n_float = len(spec.inputs) - (1 if spec.labels else 0)
    t = [torch.tensor(a, requires_grad=k < n_float) for k, a in enumerate(args)]
    kw = dict(SPECS[name].hyper, **variant)
    if name == "contrastive":
        d = torch.linalg.vector_norm(t[0] - t[1], dim=-1)
        per = 0.5 * (t[2] * d ** 2 + (1 - t[2]) * torch.clamp(kw["margin"] - d, min=0) ** 2)
        out = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    elif name == "triplet" and kw["margin"] == 0.0:
        # torch's triplet_margin_loss refuses a margin of 0 (lossfn takes any margin >= 0): its formula.
        dp = F.pairwise_distance(t[0], t[1], p=kw["p"], eps=kw["eps"])
        dn = F.pairwise_distance(t[0], t[2], p=kw["p"], eps=kw["eps"])
        per = torch.clamp(dp - dn + kw["margin"], min=0)
        out = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    elif name == "triplet":
        out = F.triplet_margin_loss(*t, margin=kw["margin"], p=kw["p"], eps=kw["eps"], swap=kw["swap"],
                                    reduction=reduction)
    elif name == "cosine_embedding":
        out = F.cosine_embedding_loss(*t, margin=kw["margin"], reduction=reduction)
    elif name == "margin_ranking":
        out = F.margin_ranking_loss(*t, margin=kw["margin"], reduction=reduction)
    else:
        out = F.hinge_embedding_loss(*t, margin=kw["margin"], reduction=reduction)
    up = np.random.default_rng(7).normal(0, 1, out.shape) if reduction == "none" else 1.0
    out.backward(torch.tensor(up) if reduction == "none" else None)
    loss = getattr(lf, name)
    v = loss(*args, reduction=reduction, **variant)
    np.testing.assert_allclose(v, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = as_tuple(loss.grad(*args, reduction=reduction, grad_output=up, **variant))
    for a, tk in zip(g, t[:n_float]):
        np.testing.assert_allclose(a, tk.grad.numpy(), rtol=1e-9, atol=1e-12)


# -- extremes ---------------------------------------------------------------------------------------

def test_zero_distances_have_finite_zero_gradients():
    x = np.ones((3, 4))
    for y in (0.0, 1.0):
        v, (g1, g2) = lf.contrastive.value_and_grad(x, x.copy(), np.full(3, y))
        assert v == pytest.approx(0.5 * (1 - y)) and np.all(g1 == 0) and np.all(g2 == 0)
    v, g = lf.triplet.value_and_grad(x, x.copy(), x.copy(), eps=0.0)
    assert v == 1.0 and all(np.all(a == 0) for a in g)
    v, g = lf.cosine_embedding.value_and_grad(np.zeros((2, 3)), np.zeros((2, 3)), np.array([1.0, -1.0]))
    assert v == 0.5 and all(np.all(np.isfinite(a)) for a in g)


def test_large_float32_embeddings_stay_finite():
    rng = np.random.default_rng(8)
    a, p, n = (rng.normal(0, 1e18, (4, 8)).astype(np.float32) for _ in range(3))
    for loss, args in ((lf.triplet, (a, p, n)), (lf.contrastive, (a, p, np.ones(4, np.float32))),
                       (lf.cosine_embedding, (a, p, np.ones(4, np.float32)))):
        v, g = loss.value_and_grad(*args)
        assert np.isfinite(v) and all(np.all(np.isfinite(x)) for x in g), loss.name


def test_empty_batch():
    for name in SPECS:
        spec = SPECS[name]
        shape = (0,) if spec.elementwise else (0, 4)
        args = [np.empty(shape) for _ in range(len(spec.inputs) - (1 if spec.labels else 0))]
        if spec.labels:
            args.append(np.empty(0))
        loss = getattr(lf, name)
        assert np.isnan(loss(*args)) and loss(*args, reduction="sum") == 0.0
        assert all(a.shape == shape for a in as_tuple(loss.grad(*args)))


# -- bad input --------------------------------------------------------------------------------------

def test_bad_input():
    rng = np.random.default_rng(9)
    x1, x2, y = draw("contrastive", rng, n=4, d=3)
    with pytest.raises(ValueError, match=r"x2: shape \(4, 2\) does not match x1 shape \(4, 3\)"):
        lf.contrastive(x1, x2[:, :2], y)
    with pytest.raises(ValueError, match=r"y: shape \(3,\) does not match the samples' shape \(4,\)"):
        lf.contrastive(x1, x2, y[:3])
    with pytest.raises(ValueError, match=r"x1: expected rows \(N, D\) or one row \(D,\)"):
        lf.cosine_embedding(x1[None], x2[None], y)
    with pytest.raises(ValueError, match="contrastive: margin: must be a finite number >= 0, got -1"):
        lf.contrastive(x1, x2, y, margin=-1.0)
    with pytest.raises(ValueError, match="triplet: p: must be a finite number >= 1, got 0.5"):
        lf.triplet(x1, x2, x1, p=0.5)
    with pytest.raises(TypeError, match="swap: expected a bool"):
        lf.triplet(x1, x2, x1, swap=1)
    with pytest.raises(TypeError, match=r"triplet\(\) takes 3 inputs \(anchor, positive, negative\), got 2"):
        lf.triplet(x1, x2)
    with pytest.raises(ValueError, match=r"out: 1 arrays for 2 gradients"):
        lf.contrastive.grad(x1, x2, y, out=(np.empty_like(x1),))
    with pytest.raises(ValueError, match=r"out\[0\]: overlaps the input 'x1'"):
        lf.contrastive.grad(x1, x2, y, out=(x1, np.empty_like(x1)))
    with pytest.raises(ValueError, match="reduction"):
        lf.hinge_embedding(x1, np.sign(x1), reduction="avg")


# -- the center loss ----------------------------------------------------------------------------------

def center_inputs(rng, n=40, d=7, classes=6, dtype=np.float64):
    labels = rng.integers(0, classes - 1, n)  # the last class absent from the batch
    centers = rng.normal(0, 1, (classes, d))
    x = centers[labels] + rng.normal(0, 0.5, (n, d))
    return x.astype(dtype), labels, centers.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_center_loss_matches_reference(dtype, reduction, isa):
    x, y, c = center_inputs(np.random.default_rng(10), dtype=dtype)
    v, (gx, gc) = lf.center_loss.value_and_grad(x, y, c, reduction=reduction)
    rv, (rgx, rgc) = lf.reference.center_loss.value_and_grad(x, y, c, reduction=reduction)
    tol = tolerance(dtype)
    np.testing.assert_allclose(v, rv, **tol)
    for a, b in ((gx, rgx), (gc, rgc)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * np.abs(b).max())
    assert np.all(gc[-1] == 0)  # the absent class


def test_center_loss_grad_output_out_and_threads(threads):
    rng = np.random.default_rng(11)
    x, y, c = center_inputs(rng, n=30000, d=64, classes=500)
    up = rng.normal(0, 1, len(y))
    gx, gc = lf.center_loss.grad(x, y, c, reduction="none", grad_output=up)
    rgx, rgc = lf.reference.center_loss.grad(x, y, c, reduction="none", grad_output=up)
    np.testing.assert_allclose(gx, rgx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gc, rgc, rtol=1e-10, atol=1e-12 * np.abs(rgc).max())
    out = (np.empty_like(x), np.empty_like(c))
    returned = lf.center_loss.grad(x, y, c, out=out)
    assert returned[0] is out[0] and returned[1] is out[1]
    results = []
    for n in (1, 2, 3, 7):
        lf.set_num_threads(n)
        v, (a, b) = lf.center_loss.value_and_grad(x, y, c, reduction="none")
        updated = lf.center_loss.update(c.copy(), x, y, alpha=0.3)
        results.append((v.tobytes(), a.tobytes(), b.tobytes(), updated.tobytes()))
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_center_update_is_wen_et_al_rule(dtype):
    x, y, c = center_inputs(np.random.default_rng(12), dtype=dtype)
    before = c.copy()
    returned = lf.center_loss.update(c, x, y, alpha=0.5)
    assert returned is c
    expected = lf.reference.center_loss.update(before, x, y, alpha=0.5)
    np.testing.assert_allclose(c, expected, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-6)
    assert np.array_equal(c[-1], before[-1])  # the absent class keeps its center


def test_center_reference_gradient_is_the_derivative():
    rng = np.random.default_rng(13)
    x, y, c = center_inputs(rng, n=8, d=4, classes=4)
    ref = lf.reference.center_loss
    gx, gc = ref.grad(x, y, c, reduction="sum")
    for g, k in ((gx, 0), (gc, 2)):
        for _ in range(8):
            index = tuple(rng.integers(0, n) for n in g.shape)
            args_up, args_down = [x.copy(), y, c.copy()], [x.copy(), y, c.copy()]
            args_up[k][index] += 1e-6
            args_down[k][index] -= 1e-6
            fd = (ref(*args_up, reduction="sum") - ref(*args_down, reduction="sum")) / 2e-6
            assert fd == pytest.approx(g[index], rel=1e-6, abs=1e-8)


def test_center_loss_matches_torch():
    torch = pytest.importorskip("torch")
    x, y, c = center_inputs(np.random.default_rng(14))
    tx, tc = torch.tensor(x, requires_grad=True), torch.tensor(c, requires_grad=True)
    # KaiyangZhou's CenterLoss is the mean of |x - c_y|^2: twice this loss.
    loss = ((tx - tc[torch.tensor(y)]) ** 2).sum(dim=1).mean() / 2
    loss.backward()
    v, (gx, gc) = lf.center_loss.value_and_grad(x, y, c)
    assert v == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gc, tc.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_center_loss_bad_input():
    x, y, c = center_inputs(np.random.default_rng(15), n=5, d=3, classes=4)
    with pytest.raises(ValueError, match=r"center_loss: labels: 4 at sample 1 is outside \[0, 4\)"):
        lf.center_loss(x, np.array([0, 4, 1, 1, 2]), c)
    with pytest.raises(ValueError, match=r"center_loss: labels: -1 at sample 0"):
        lf.center_loss.grad(x, np.array([-1, 0, 1, 1, 2]), c)
    with pytest.raises(TypeError, match="labels: integers required"):
        lf.center_loss(x, y.astype(float), c)
    with pytest.raises(ValueError, match=r"centers: expected \(classes, 3\)"):
        lf.center_loss(x, y, c[:, :2])
    with pytest.raises(ValueError, match=r"features: expected \(N, D\)"):
        lf.center_loss(x[0], y, c)
    with pytest.raises(ValueError, match=r"labels: shape \(4,\) does not match the samples' shape \(5,\)"):
        lf.center_loss(x, y[:4], c)
    with pytest.raises(ValueError, match=r"center_loss.update: labels: 9 at sample 0"):
        lf.center_loss.update(c, x, np.array([9, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="alpha: must be a finite number >= 0"):
        lf.center_loss.update(c, x, y, alpha=-1.0)
    with pytest.raises(TypeError, match="centers: dtype int64 cannot be updated in place"):
        lf.center_loss.update(np.zeros((4, 3), dtype=np.int64), x, y)
    with pytest.raises(ValueError, match="centers: must be C-contiguous"):
        lf.center_loss.update(np.zeros((3, 4)).T, x, y)
    with pytest.raises(ValueError, match="centers: overlaps the input 'features'"):
        buf = np.zeros((9, 3))
        lf.center_loss.update(buf[:4], buf[2:7], y)
    with pytest.raises(ValueError, match=r"out\[1\]: overlaps the input 'centers'"):
        lf.center_loss.grad(x, y, c, out=(np.empty_like(x), c))
