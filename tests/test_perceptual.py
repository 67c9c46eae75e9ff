"""The perceptual and style losses (lossfn.registry.FEATURE_SPECS): the kernels against the NumPy
reference for every variant, dtype, reduction and ISA, over layers of several shapes (2-D to 5-D
feature maps); layouts read in place (channels-last, strided and reversed views); the same bits
for any thread count; Gram matrices large enough for the GEMM engine's blocking; the reference
against central differences; extremes; bad input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import FEATURE_SPECS

SPEC = FEATURE_SPECS[0]
VARIANTS = [{}, *SPEC.variants]
REDUCTIONS = ("mean", "sum", "none")


def variant_id(variant):
    return "-".join(f"{k}={v}" for k, v in variant.items()) or "default"


def features(rng, shapes, dtype=np.float64):
    """x features and y features near them, one pair of arrays per layer."""
    xs = [rng.normal(0, 1, s) for s in shapes]
    ys = [x + rng.normal(0, 0.5, x.shape) for x in xs]
    return [x.astype(dtype) for x in xs], [y.astype(dtype) for y in ys]


# Two layers of a small network: a wide shallow map and a deep narrow one.
TWO_LAYERS = [(2, 3, 9, 7), (2, 6, 4, 5)]


def tolerances(dtype, gram):
    # float64: both sides in float64, in other orders. float32: the features' squared differences
    # are formed in double (the rounding of the result alone); the Gram products run in float32,
    # as torch's do (a Gram entry sums C H W products: 1e-6 relative here).
    if dtype == np.float64:
        return dict(rtol=1e-11, atol=1e-13)
    return dict(rtol=2e-5 if gram else 2e-7, atol=1e-6 if gram else 1e-7)


def assert_close(actual, expected, dtype, gram, what):
    tol = tolerances(dtype, gram)
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=tol["rtol"],
                               atol=tol["atol"] * max(scale, 1e-300), err_msg=what)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_reference(variant, dtype, reduction, isa):
    xs, ys = features(np.random.default_rng(0), TWO_LAYERS, dtype)
    gram = variant.get("gram", False)
    v, g = lf.perceptual.value_and_grad(xs, ys, reduction=reduction, **variant)
    rv, rg = lf.reference.perceptual.value_and_grad(xs, ys, reduction=reduction, **variant)
    assert_close(v, rv, dtype, gram, "value")
    assert isinstance(g, list) and len(g) == 2
    for l, (a, b) in enumerate(zip(g, rg)):
        assert a.dtype == dtype and a.shape == xs[l].shape
        assert_close(a, b, dtype, gram, f"grad of layer {l}")
    assert_close(lf.perceptual(xs, ys, reduction=reduction, **variant), rv, dtype, gram, "value alone")
    for a, b in zip(lf.perceptual.grad(xs, ys, reduction=reduction, **variant), g):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("shapes", [[(3, 5)], [(2, 4, 30)], [(1, 2, 3, 4, 5)], [(2, 1, 1, 1)], [(1, 7, 1, 9), (1, 2, 8)]],
                         ids=["NC", "NCL", "NCDHW", "one-feature", "mixed"])
def test_feature_maps_of_any_rank(gram, shapes):
    xs, ys = features(np.random.default_rng(1), shapes)
    v, g = lf.perceptual.value_and_grad(xs, ys, gram=gram, reduction="none")
    rv, rg = lf.reference.perceptual.value_and_grad(xs, ys, gram=gram, reduction="none")
    assert_close(v, rv, np.float64, gram, "value")
    for a, b in zip(g, rg):
        assert a.shape == b.shape
        assert_close(a, b, np.float64, gram, "grad")


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_output_and_out(gram, dtype):
    xs, ys = features(np.random.default_rng(2), TWO_LAYERS, dtype)
    up = np.array([0.5, -2.0])
    g = lf.perceptual.grad(xs, ys, gram=gram, reduction="none", grad_output=up)
    rg = lf.reference.perceptual.grad(xs, ys, gram=gram, reduction="none", grad_output=up)
    for a, b in zip(g, rg):
        assert_close(a, b, dtype, gram, "grad with grad_output")
    out = [np.empty(x.shape, dtype) for x in xs]
    returned = lf.perceptual.grad(xs, ys, gram=gram, reduction="sum", grad_output=3.0, out=tuple(out))
    for r, o, b in zip(returned, out, lf.perceptual.grad(xs, ys, gram=gram, reduction="sum", grad_output=3.0)):
        assert r is o
        np.testing.assert_array_equal(o, b)
    v, returned = lf.perceptual.value_and_grad(xs, ys, gram=gram, out=out)
    assert v == lf.perceptual(xs, ys, gram=gram) and returned[0] is out[0]


@pytest.mark.parametrize("gram", [False, True])
def test_layouts_read_in_place(gram):
    rng = np.random.default_rng(3)
    xs, ys = features(rng, [(2, 5, 6, 7), (2, 8, 3, 4)])
    v, g = lf.perceptual.value_and_grad(xs, ys, gram=gram, reduction="none")
    views = [
        lambda a: np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1),  # channels-last memory
        lambda a: np.asfortranarray(a),
        lambda a: np.repeat(a, 2, axis=3)[..., ::2],                                 # every other pixel
        lambda a: np.ascontiguousarray(a[:, ::-1])[:, ::-1],                         # reversed channels
        lambda a: np.ascontiguousarray(a.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2),
    ]
    for view in views:
        vx = [view(a) for a in xs]
        vy = [view(a) for a in ys]
        assert all(np.array_equal(a, b) for a, b in zip(vx, xs))
        v2, g2 = lf.perceptual.value_and_grad(vx, vy, gram=gram, reduction="none")
        # The same numbers; the Gram products of another layout add in another order.
        np.testing.assert_allclose(v2, v, rtol=1e-12)
        for a, b in zip(g2, g):
            assert a.flags.c_contiguous
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13 * np.abs(b).max())


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_bits_for_any_thread_count(gram, dtype, threads):
    # Big enough for several threads: 4 images, 64 K features per layer (the features' items and
    # the Gram items spread over threads).
    xs, ys = features(np.random.default_rng(4), [(4, 16, 64, 64), (4, 64, 16, 16)], dtype)
    results = []
    for n in (1, 2, 3, 7):
        lf.set_num_threads(n)
        v, g = lf.perceptual.value_and_grad(xs, ys, gram=gram, reduction="none")
        results.append((v.tobytes(), [a.tobytes() for a in g], lf.perceptual(xs, ys, gram=gram)))
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_beyond_the_gemm_blocking(dtype):
    # 300 channels of 40 x 40 pixels: the products cut into several panels along each dimension.
    rng = np.random.default_rng(5)
    xs, ys = features(rng, [(1, 300, 40, 40)], dtype)
    v, g = lf.perceptual.value_and_grad(xs, ys, gram=True)
    rv, rg = lf.reference.perceptual.value_and_grad(xs, ys, gram=True)
    tol = dict(rtol=1e-10) if dtype == np.float64 else dict(rtol=2e-4)
    np.testing.assert_allclose(v, rv, **tol)
    np.testing.assert_allclose(g[0], rg[0], atol=tol["rtol"] * np.abs(rg[0]).max())


# -- the reference's gradients against central differences ------------------------------------

@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_reference_gradient_is_the_derivative(variant):
    ref = lf.reference.perceptual
    rng = np.random.default_rng(6)
    xs, ys = features(rng, [(2, 3, 4, 5), (2, 4, 3)])
    kw = dict(variant, reduction="sum")
    g = ref.grad(xs, ys, **kw)
    for l in range(2):
        for _ in range(10):
            index = tuple(rng.integers(0, n) for n in xs[l].shape)
            up = [a.copy() for a in xs]
            down = [a.copy() for a in xs]
            up[l][index] += 1e-6
            down[l][index] -= 1e-6
            fd = (ref(up, ys, **kw) - ref(down, ys, **kw)) / 2e-6
            assert fd == pytest.approx(g[l][index], rel=1e-5, abs=1e-9)


# -- peers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gram", [False, True])
def test_matches_torch_mse_of_features_and_gram_matrices(gram):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    # One image, as the PyTorch neural-transfer tutorial's style loss takes.
    xs, ys = features(rng, [(1, 3, 9, 7), (1, 6, 4, 5)])
    weights = (0.7, 1.3)
    tx = [torch.tensor(a, requires_grad=True) for a in xs]
    total = 0.0
    for w, a, b in zip(weights, tx, ys):
        b = torch.tensor(b)
        if gram:
            def gram_matrix(f):  # the tutorial's: F F^T / (a b c d) over the (a b, c d) features
                n, c, h, wd = f.shape
                m = f.reshape(n * c, h * wd)
                return m @ m.T / (n * c * h * wd)
            a, b = gram_matrix(a), gram_matrix(b)
        total = total + w * torch.nn.functional.mse_loss(a, b)
    total.backward()
    v, g = lf.perceptual.value_and_grad(xs, ys, gram=gram, layer_weights=weights)
    assert v == pytest.approx(total.item(), rel=1e-12)
    for a, t in zip(g, tx):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-10, atol=1e-14)


# -- extremes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("gram", [False, True])
def test_equal_features_give_zero(gram):
    xs, _ = features(np.random.default_rng(8), TWO_LAYERS)
    v, g = lf.perceptual.value_and_grad(xs, [a.copy() for a in xs], gram=gram)
    assert v == 0.0
    assert all(np.all(a == 0.0) for a in g)


def test_float32_features_of_large_magnitude_stay_finite():
    # Differences of 1e30 square to 1e60 in double: no float32 overflow inside the sum.
    x = np.full((1, 2, 3, 3), 1e30, np.float32)
    y = -x
    v, g = lf.perceptual.value_and_grad([x], [y])
    assert v == pytest.approx(4e60, rel=1e-6)
    np.testing.assert_allclose(g[0], 2 * 2e30 / 18, rtol=1e-6)


def test_zero_weight_layer_contributes_nothing():
    xs, ys = features(np.random.default_rng(9), TWO_LAYERS)
    v, g = lf.perceptual.value_and_grad(xs, ys, layer_weights=(1.0, 0.0))
    assert v == lf.perceptual(xs[:1], ys[:1])
    assert np.all(g[1] == 0.0)


def test_empty_batch():
    xs = [np.empty((0, 3, 4, 4)), np.empty((0, 2, 5))]
    assert np.isnan(lf.perceptual(xs, xs))
    assert lf.perceptual(xs, xs, reduction="sum") == 0.0
    assert lf.perceptual(xs, xs, reduction="none").shape == (0,)
    g = lf.perceptual.grad(xs, xs)
    assert [a.shape for a in g] == [(0, 3, 4, 4), (0, 2, 5)]


# -- bad input --------------------------------------------------------------------------------------

def test_bad_input():
    xs, ys = features(np.random.default_rng(10), TWO_LAYERS)
    p = lf.perceptual
    with pytest.raises(TypeError, match="features_x: expected a list of arrays"):
        p(xs[0], ys[0])
    with pytest.raises(ValueError, match="features_x: needs at least one layer"):
        p([], [])
    with pytest.raises(ValueError, match="features_y: 1 layers, features_x has 2"):
        p(xs, ys[:1])
    with pytest.raises(ValueError, match=r"features_y\[1\]: shape \(2, 6, 4, 4\) does not match features_x\[1\]"):
        p(xs, [ys[0], ys[1][..., :4]])
    with pytest.raises(ValueError, match=r"features_x\[1\]: a batch of 1 images, features_x\[0\] has 2"):
        p([xs[0], xs[1][:1]], [ys[0], ys[1][:1]])
    with pytest.raises(ValueError, match=r"features_x\[0\]: expected feature maps \(N, C, ...\)"):
        p([np.ones(3)], [np.ones(3)])
    with pytest.raises(ValueError, match=r"features_x\[0\]: the layer has no features"):
        p([np.ones((2, 0, 3))], [np.ones((2, 0, 3))])
    with pytest.raises(ValueError, match="layer_weights: 3 weights for 2 layers"):
        p(xs, ys, layer_weights=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="layer_weights: must be finite numbers >= 0, got -1 for layer 1"):
        p(xs, ys, layer_weights=(1.0, -1.0))
    with pytest.raises(TypeError, match="layer_weights: expected a sequence of numbers"):
        p(xs, ys, layer_weights=2.0)
    with pytest.raises(TypeError, match="gram: expected a bool"):
        p(xs, ys, gram=1)
    with pytest.raises(ValueError, match=r"out: 1 arrays for 2 layers"):
        p.grad(xs, ys, out=[np.empty(xs[0].shape)])
    with pytest.raises(ValueError, match=r"out\[1\]: shape"):
        p.grad(xs, ys, out=[np.empty(xs[0].shape), np.empty(xs[0].shape)])
    with pytest.raises(ValueError, match=r"out\[0\]: overlaps the input 'features_x\[0\]'"):
        p.grad(xs, ys, out=[xs[0], np.empty(xs[1].shape)])
    with pytest.raises(ValueError, match=r"out\[1\]: overlaps out\[0\]"):
        buf = np.empty(xs[0].size * 2)
        p.grad(xs, ys, out=[buf[: xs[0].size].reshape(xs[0].shape), buf[: xs[1].size].reshape(xs[1].shape)])
    with pytest.raises(ValueError, match="reduction"):
        p(xs, ys, reduction="avg")
