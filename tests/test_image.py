"""Image losses (lossfn.registry.BAND_SPECS: ssim, ms_ssim, total_variation): the kernels against
the NumPy reference for every variant, dtype, reduction and ISA; layouts read in place (NHWC,
strided and reversed views) with the bits of a contiguous copy; the same bits for any thread
count; images over several bands; the reference against central differences; constant,
anti-correlated, bright low-contrast and extreme images; MS-SSIM's pyramid at odd sizes; bad
input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import BAND_SPECS

SPECS = {spec.name: spec for spec in BAND_SPECS}
CASES = [(name, variant) for name, spec in SPECS.items() for variant in [{}, *spec.variants]]
REDUCTIONS = ("mean", "sum", "none")


def case_id(case):
    name, variant = case
    return name + ("-" + "-".join(f"{k}={v}" for k, v in variant.items()) if variant else "")


def tolerances(dtype, scale=1.0):
    # Both sides compute in float64 (the kernel separably, the reference with the 2-D window,
    # in other orders): about 1e-13 relative. A float32 result is the rounding of the float64
    # one: half an ulp, 6e-8 relative.
    if dtype == np.float64:
        return dict(rtol=1e-11, atol=1e-13 * scale)
    return dict(rtol=2e-7, atol=1e-7 * scale)


def images(rng, shape, dtype=np.float64, channel_axis=1):
    """x in [0, 1] and y a noisy, clipped copy (SSIM around 0.5 to 0.9)."""
    x = rng.random(shape)
    y = np.clip(x + rng.normal(0, 0.15, shape), 0, 1)
    if channel_axis == -1:
        x, y = np.ascontiguousarray(np.moveaxis(x, 1, -1)), np.ascontiguousarray(np.moveaxis(y, 1, -1))
    return x.astype(dtype), y.astype(dtype)


def inputs_of(name, x, y):
    return (x, y) if name != "total_variation" else (x,)


# MS-SSIM's default (five levels, an 11-pixel window) needs images of 161 pixels and more: on the
# small images of the generic tests it runs three levels of a 3-pixel window.
SMALL_PYRAMID = {"win_size": 3, "weights": (0.2, 0.3, 0.5)}


def fitted(name, variant=None):
    """The variant's keywords, with MS-SSIM's pyramid made to fit small images where it names none."""
    variant = dict(variant or {})
    return dict(SMALL_PYRAMID, **variant) if name == "ms_ssim" and "win_size" not in variant else variant


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 20, 23), (1, 2, 150, 37)], ids=["small", "bands"])
def test_matches_reference(case, dtype, shape, isa):
    name, variant = case
    variant = fitted(name, variant)
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    x, y = images(np.random.default_rng(1), shape, dtype, variant.get("channel_axis", 1))
    args = inputs_of(name, x, y)
    args64 = tuple(a.astype(np.float64) for a in args)
    for reduction in REDUCTIONS:
        v, g = loss.value_and_grad(*args, reduction=reduction, **variant)
        expected = ref(*args64, reduction=reduction, **variant)
        assert g.dtype == dtype and g.shape == x.shape
        np.testing.assert_allclose(v, expected, **tolerances(dtype, np.max(np.abs(expected))))
        np.testing.assert_array_equal(loss(*args, reduction=reduction, **variant), v)
        g_ref = ref.grad(*args64, reduction=reduction, **variant)
        np.testing.assert_allclose(g, g_ref, **tolerances(dtype, np.max(np.abs(g_ref))))
        np.testing.assert_array_equal(loss.grad(*args, reduction=reduction, **variant), g)


def test_total_variation_over_several_bands():
    # Rows of 1000 pixels: bands of 65 rows, each reading one row past its end.
    x = np.random.default_rng(2).random((1, 2, 200, 1000))
    for isotropic in (False, True):
        v, g = lf.total_variation.value_and_grad(x, isotropic=isotropic, reduction="none")
        np.testing.assert_allclose(v, lf.reference.total_variation(x, isotropic=isotropic, reduction="none"),
                                   rtol=1e-12)
        np.testing.assert_allclose(g, lf.reference.total_variation.grad(x, isotropic=isotropic, reduction="none"),
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("isotropic", [False, True])
def test_total_variation_gradient_beyond_the_cache(isotropic):
    # 37 MB of float32 gradient: written with streaming stores a row at a time (anisotropic), the
    # input rows prefetched; the same numbers as the reference.
    x = np.random.default_rng(17).random((2, 3, 1100, 1400), dtype=np.float32)
    v, g = lf.total_variation.value_and_grad(x, isotropic=isotropic, reduction="none")
    x64 = x.astype(np.float64)
    # The per-image losses are float32 for float32 images: the float64 sums rounded once.
    np.testing.assert_allclose(v, lf.reference.total_variation(x64, isotropic=isotropic, reduction="none"), rtol=6e-8)
    np.testing.assert_allclose(g, lf.reference.total_variation.grad(x64, isotropic=isotropic, reduction="none"),
                               rtol=2e-7, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ssim_gradient_wrt_both_images(dtype):
    x, y = images(np.random.default_rng(3), (2, 3, 16, 19), dtype)
    go = np.array([0.5, -2.0], dtype)
    gx, gy = lf.ssim.grad(x, y, wrt="both", reduction="none", grad_output=go)
    rx, ry = lf.reference.ssim.grad(x.astype(np.float64), y.astype(np.float64), wrt="both", reduction="none",
                                    grad_output=go.astype(np.float64))
    np.testing.assert_allclose(gx, rx, **tolerances(dtype, np.abs(rx).max()))
    np.testing.assert_allclose(gy, ry, **tolerances(dtype, np.abs(ry).max()))
    np.testing.assert_array_equal(gx, lf.ssim.grad(x, y, reduction="none", grad_output=go))
    v, (gx2, gy2) = lf.ssim.value_and_grad(x, y, wrt="both")
    np.testing.assert_array_equal(gx2, lf.ssim.grad(x, y))
    assert v == lf.ssim(x, y)
    # SSIM is symmetric: swapping the images swaps the gradients (up to the order of the
    # products in the coefficients).
    np.testing.assert_allclose(lf.ssim.grad(y, x), gy2, rtol=1e-10, atol=1e-12 * np.abs(gy2).max())
    out = (np.empty_like(x), np.empty_like(x))
    result = lf.ssim.grad(x, y, wrt="both", out=out)
    assert result[0] is out[0] and result[1] is out[1]
    np.testing.assert_array_equal(out[0], gx2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ms_ssim_gradient_wrt_both_images(dtype):
    x, y = images(np.random.default_rng(3), (2, 3, 21, 18), dtype)
    go = np.array([0.5, -2.0], dtype)
    kw = dict(SMALL_PYRAMID, reduction="none")
    gx, gy = lf.ms_ssim.grad(x, y, wrt="both", grad_output=go, **kw)
    rx, ry = lf.reference.ms_ssim.grad(x.astype(np.float64), y.astype(np.float64), wrt="both",
                                       grad_output=go.astype(np.float64), **kw)
    np.testing.assert_allclose(gx, rx, **tolerances(dtype, np.abs(rx).max()))
    np.testing.assert_allclose(gy, ry, **tolerances(dtype, np.abs(ry).max()))
    np.testing.assert_array_equal(gx, lf.ms_ssim.grad(x, y, grad_output=go, **kw))
    v, (gx2, gy2) = lf.ms_ssim.value_and_grad(x, y, wrt="both", **SMALL_PYRAMID)
    assert v == lf.ms_ssim(x, y, **SMALL_PYRAMID)
    np.testing.assert_array_equal(gx2, lf.ms_ssim.grad(x, y, **SMALL_PYRAMID))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 161, 170), (1, 1, 200, 333)], ids=["smallest-odd", "bands"])
def test_ms_ssim_default_pyramid_matches_reference(dtype, shape):
    # Five levels of an 11-pixel window: 161 -> 81 -> 41 -> 21 -> 11, every level odd and padded.
    x, y = images(np.random.default_rng(21), shape, dtype)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    v, g = lf.ms_ssim.value_and_grad(x, y, reduction="none")
    expected = lf.reference.ms_ssim(x64, y64, reduction="none")
    np.testing.assert_allclose(v, expected, **tolerances(dtype))
    g_ref = lf.reference.ms_ssim.grad(x64, y64)
    np.testing.assert_allclose(lf.ms_ssim.grad(x, y), g_ref, **tolerances(dtype, np.abs(g_ref).max()))


def test_ms_ssim_of_one_level_is_ssim_to_a_power():
    x, y = images(np.random.default_rng(22), (2, 1, 20, 20))
    s = 1.0 - lf.ssim(x, y, reduction="none")
    assert np.all(s > 0)
    np.testing.assert_allclose(lf.ms_ssim(x, y, weights=(1.0,), reduction="none"), 1.0 - s, rtol=1e-14)
    np.testing.assert_allclose(lf.ms_ssim(x, y, weights=(0.5,), reduction="none"), 1.0 - np.sqrt(s), rtol=1e-14)
    np.testing.assert_allclose(lf.ms_ssim.grad(x, y, weights=(1.0,)), lf.ssim.grad(x, y), rtol=1e-12, atol=1e-17)
    # A level of weight 0 is a factor 1: its map is computed and leaves no trace.
    pool = lf.reference.image._pool
    np.testing.assert_allclose(lf.ms_ssim(x, y, weights=(0.0, 1.0), win_size=5), lf.ssim(pool(x), pool(y), win_size=5),
                               rtol=1e-13)


@pytest.mark.parametrize("name", list(SPECS))
def test_grad_output_and_out(name):
    kw = fitted(name)
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    x, y = images(np.random.default_rng(4), (3, 2, 12, 14))
    args = inputs_of(name, x, y)
    go = np.array([1.0, -0.5, 3.0])
    np.testing.assert_allclose(loss.grad(*args, **kw, reduction="none", grad_output=go),
                               ref.grad(*args, **kw, reduction="none", grad_output=go), rtol=1e-11, atol=1e-15)
    g = loss.grad(*args, **kw, reduction="sum")
    np.testing.assert_allclose(loss.grad(*args, **kw, reduction="sum", grad_output=2.5), 2.5 * g, rtol=1e-14,
                               atol=1e-14 * np.abs(g).max())  # the scale applied before the terms' sums
    out = np.empty_like(x)
    v, g = loss.value_and_grad(*args, **kw, out=out)
    assert g is out
    with pytest.raises(ValueError, match="out: overlaps the input 'x'"):
        loss.grad(*args, **kw, out=x)
    with pytest.raises(ValueError, match="grad_output"):
        loss.grad(*args, **kw, grad_output=go)


@pytest.mark.parametrize("name", list(SPECS))
def test_layouts_read_in_place_give_the_same_bits(name):
    kw = fitted(name)
    loss = getattr(lf, name)
    rng = np.random.default_rng(5)
    base_x, base_y = rng.random((3, 4, 30, 40)), rng.random((3, 4, 30, 40))
    views = [
        lambda a: a[:, 1:3, ::2, 1::3],                                # strided
        lambda a: a[:, :, ::-1, ::-1],                                 # reversed
        lambda a: np.asfortranarray(a),                                # column-major
        lambda a: a.astype(np.float32)[::2],                           # float32, strided batch
    ]
    for view in views:
        x, y = view(base_x), view(base_y)
        args, copies = inputs_of(name, x, y), tuple(np.ascontiguousarray(a) for a in inputs_of(name, x, y))
        v, g = loss.value_and_grad(*args, **kw, reduction="none")
        v_c, g_c = loss.value_and_grad(*copies, **kw, reduction="none")
        np.testing.assert_array_equal(v, v_c)
        np.testing.assert_array_equal(g, g_c)
    # NHWC, a transposed view of NCHW data: the channels-last layout read in place.
    nhwc_x, nhwc_y = np.moveaxis(base_x, 1, -1), np.moveaxis(base_y, 1, -1)
    v, g = loss.value_and_grad(*inputs_of(name, nhwc_x, nhwc_y), **kw, channel_axis=-1, reduction="none")
    v_c, g_c = loss.value_and_grad(*inputs_of(name, base_x, base_y), **kw, reduction="none")
    np.testing.assert_array_equal(v, v_c)
    np.testing.assert_array_equal(g, np.moveaxis(g_c, 1, -1))


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_bits_for_any_thread_count(name, dtype, threads):
    loss = getattr(lf, name)
    x, y = images(np.random.default_rng(6), (2, 3, 200, 190), dtype)
    args = inputs_of(name, x, y)
    results = []
    for n in (1, 2, 3, 7):
        lf.set_num_threads(n)
        v, g = loss.value_and_grad(*args, reduction="none")
        results.append((v.tobytes(), g.tobytes(), loss(*args)))
    assert all(r == results[0] for r in results)


# -- the reference's gradients against central differences ------------------------------------

def central_difference(f, a, index, h):
    up, down = a.copy(), a.copy()
    up[index] += h
    down[index] -= h
    return (f(up) - f(down)) / (2 * h)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_gradient_is_the_derivative(case):
    name, variant = case
    ref = getattr(lf.reference, name)
    rng = np.random.default_rng(7)
    x, y = images(rng, (2, 2, 13, 12), channel_axis=variant.get("channel_axis", 1))
    kw = dict(fitted(name, variant), reduction="sum")
    if name != "total_variation":
        gx, gy = ref.grad(x, y, wrt="both", **kw)
        checks = [(gx, lambda a: ref(a, y, **kw), x), (gy, lambda a: ref(x, a, **kw), y)]
    else:
        checks = [(ref.grad(x, **kw), lambda a: ref(a, **kw), x)]
    for g, f, a in checks:
        for _ in range(12):
            index = tuple(rng.integers(0, n) for n in a.shape)
            assert central_difference(f, a, index, 1e-6) == pytest.approx(g[index], rel=1e-5, abs=1e-8)


# -- extremes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ssim_of_constant_and_equal_images(dtype):
    x = np.full((2, 1, 12, 12), 0.3, dtype)
    v, g = lf.ssim.value_and_grad(x, x.copy())
    # S = 1 at every position, a maximum: the gradient is rounding noise (a typical one is 1e-4).
    assert abs(v) < 1e-12 and np.abs(g).max() < 1e-12
    v, g = lf.ssim.value_and_grad(x, np.full_like(x, 0.7))  # zero variances: luminance alone
    c1 = 0.01**2
    assert v == pytest.approx(1 - (2 * 0.3 * 0.7 + c1) / (0.3**2 + 0.7**2 + c1), rel=1e-6)
    assert np.all(np.isfinite(g))
    y = np.random.default_rng(8).random(x.shape).astype(dtype)
    # Symmetric up to rounding: the covariance's products are (w x) y one way and (w y) x the other.
    assert lf.ssim(x, y) == pytest.approx(lf.ssim(y, x), rel=1e-14)
    assert np.all(np.isfinite(lf.ssim.grad(x, y)))


def test_ssim_of_anti_correlated_images_exceeds_one():
    x = np.random.default_rng(9).random((1, 3, 16, 16))
    v, g = lf.ssim.value_and_grad(x, 1.0 - x)
    assert 1.0 < v < 2.0 and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, lf.reference.ssim(x, 1.0 - x), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ms_ssim_of_anti_correlated_images_is_one_with_a_zero_gradient(dtype):
    # cs < 0 at every level: relu makes each plane's MS-SSIM 0 (pytorch-msssim's backward is NaN).
    x = np.random.default_rng(9).random((2, 3, 24, 20)).astype(dtype)
    v, (gx, gy) = lf.ms_ssim.value_and_grad(x, 1 - x, wrt="both", reduction="none", **SMALL_PYRAMID)
    np.testing.assert_array_equal(v, [1.0, 1.0])
    assert np.all(gx == 0) and np.all(gy == 0)
    # One image anti-correlated in one channel only: its other channels keep their gradient.
    x64 = x.astype(np.float64)
    y = np.clip(x64 + np.random.default_rng(10).normal(0, 0.1, x.shape), 0, 1)
    y[0, 1] = 1 - x64[0, 1]
    v, g = lf.ms_ssim.value_and_grad(x64, y, reduction="none", **SMALL_PYRAMID)
    np.testing.assert_allclose(v, lf.reference.ms_ssim(x64, y, reduction="none", **SMALL_PYRAMID), rtol=1e-12)
    assert np.all(g[0, 1] == 0) and np.all(g[0, 0] != 0)
    np.testing.assert_allclose(g, lf.reference.ms_ssim.grad(x64, y, reduction="none", **SMALL_PYRAMID), rtol=1e-10,
                               atol=1e-13 * np.abs(g).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ms_ssim_of_equal_and_constant_images(dtype):
    x = np.random.default_rng(23).random((1, 2, 20, 20)).astype(dtype)
    v, g = lf.ms_ssim.value_and_grad(x, x.copy(), **SMALL_PYRAMID)
    assert abs(v) < 1e-12 and np.abs(g).max() < 1e-12
    c = np.full((1, 2, 20, 20), 0.25, dtype)  # zero variances: every cs is 1, the last level luminance alone
    v, g = lf.ms_ssim.value_and_grad(c, np.full_like(c, 0.75), **SMALL_PYRAMID)
    c1 = 0.01**2
    assert v == pytest.approx(1 - ((2 * 0.25 * 0.75 + c1) / (0.25**2 + 0.75**2 + c1)) ** 0.5, rel=1e-6)
    assert np.all(np.isfinite(g))


def test_bright_low_contrast_float32_keeps_its_variance():
    # Values near 1.0 with a contrast of 1e-3: float32 E[x^2] - E[x]^2 would cancel to noise (or
    # below 0); the kernel forms the moments in float64 from the float32 values.
    rng = np.random.default_rng(10)
    x = (1.0 + 1e-3 * rng.standard_normal((2, 3, 32, 32))).astype(np.float32)
    y = (1.0 + 1e-3 * rng.standard_normal((2, 3, 32, 32))).astype(np.float32)
    for kw in ({}, {"data_range": 1e-2}):
        expected = lf.reference.ssim(x.astype(np.float64), y.astype(np.float64), reduction="none", **kw)
        got = lf.ssim(x, y, reduction="none", **kw)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        assert np.all(got >= 0)
        g = lf.ssim.grad(x, y, **kw)
        g_ref = lf.reference.ssim.grad(x.astype(np.float64), y.astype(np.float64), **kw)
        np.testing.assert_allclose(g, g_ref, rtol=2e-6, atol=2e-7 * np.abs(g_ref).max())


@pytest.mark.parametrize("name", list(SPECS))
def test_extreme_float32_values_stay_finite(name):
    loss = getattr(lf, name)
    rng = np.random.default_rng(11)
    x = (rng.choice([-1.0, 1.0], (1, 2, 12, 12)) * 3e38).astype(np.float32)
    y = rng.random((1, 2, 12, 12)).astype(np.float32)
    kw = fitted(name)
    v, g = loss.value_and_grad(*inputs_of(name, x, y), **kw)
    assert np.isfinite(v)
    np.testing.assert_allclose(v, getattr(lf.reference, name)(*inputs_of(name, x.astype(np.float64), y.astype(np.float64)),
                                                              **kw), rtol=1e-6)


def test_total_variation_float32_rows_that_overflow_float():
    # float32 rows take their differences in float32: rows whose differences pass the float
    # range (3e38 - (-3e38)) are summed again in float64; the signs, hence the gradient, hold.
    rng = np.random.default_rng(24)
    x = rng.random((2, 2, 9, 37)).astype(np.float32)
    x[0, 1, 4, 5], x[0, 1, 4, 6], x[1, 0, 8, 30] = 3e38, -3e38, -3.4e38
    x64 = x.astype(np.float64)
    # (The per-image float32 losses themselves pass the float range: "none" gives inf.)
    assert np.all(np.isinf(lf.total_variation(x, reduction="none")))
    for reduction in ("mean", "sum"):
        v, g = lf.total_variation.value_and_grad(x, reduction=reduction)
        np.testing.assert_allclose(v, lf.reference.total_variation(x64, reduction=reduction), rtol=6e-8)
        np.testing.assert_array_equal(g, lf.reference.total_variation.grad(x64, reduction=reduction).astype(np.float32))
    # Away from overflow, each float32 term is rounded once: the sum is within a few 1e-8.
    y = rng.random((3, 2, 50, 61)).astype(np.float32)
    np.testing.assert_allclose(lf.total_variation(y, reduction="none"),
                               lf.reference.total_variation(y.astype(np.float64), reduction="none"), rtol=6e-8)


@pytest.mark.parametrize("shape", [(1, 1, 11, 11), (1, 3, 11, 40), (2, 1, 40, 11), (1, 1, 12, 11)])
def test_ssim_images_the_size_of_the_window(shape):
    x, y = images(np.random.default_rng(12), shape)
    v, g = lf.ssim.value_and_grad(x, y, reduction="none")
    np.testing.assert_allclose(v, lf.reference.ssim(x, y, reduction="none"), rtol=1e-12)
    np.testing.assert_allclose(g, lf.reference.ssim.grad(x, y, reduction="none"), rtol=1e-10, atol=1e-15)


def test_ssim_window_of_one_pixel():
    x, y = images(np.random.default_rng(13), (1, 2, 5, 6))
    np.testing.assert_allclose(lf.ssim(x, y, win_size=1), lf.reference.ssim(x, y, win_size=1), rtol=1e-12)


def test_total_variation_of_tiny_images():
    for shape in [(1, 1, 1, 1), (2, 1, 1, 7), (1, 2, 9, 1)]:
        x = np.random.default_rng(14).random(shape)
        for isotropic in (False, True):
            v, g = lf.total_variation.value_and_grad(x, isotropic=isotropic, reduction="none")
            np.testing.assert_allclose(v, lf.reference.total_variation(x, isotropic=isotropic, reduction="none"),
                                       rtol=1e-12)
            np.testing.assert_allclose(g, lf.reference.total_variation.grad(x, isotropic=isotropic,
                                                                            reduction="none"), atol=1e-15)
    x = np.full((1, 1, 4, 4), 2.0)
    v, g = lf.total_variation.value_and_grad(x, isotropic=True)
    assert v == 0 and np.all(g == 0)  # the norm's subgradient 0 where both differences are 0


def test_empty_batch():
    x = np.zeros((0, 3, 12, 12))
    assert lf.ssim(x, x, reduction="none").shape == (0,)
    assert lf.ms_ssim(x, x, reduction="sum") == 0.0  # no image: the pyramid is not checked
    assert lf.ms_ssim.grad(x, x, wrt="both")[1].shape == x.shape
    assert lf.total_variation(x, reduction="sum") == 0.0
    assert lf.total_variation.grad(x).shape == x.shape


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SPECS))
def test_bad_input(name):
    kw = fitted(name)
    loss = getattr(lf, name)
    x, y = images(np.random.default_rng(15), (2, 3, 12, 12))
    args = inputs_of(name, x, y)
    for bad in SPECS[name].bad_hyper:
        with pytest.raises(ValueError, match=list(bad)[0]):
            loss(*args, **dict(kw, **bad))
    with pytest.raises(ValueError, match=r"x: expected images \(N, C, H, W\)"):
        loss(*inputs_of(name, x[0], y[0]), **kw)
    with pytest.raises(TypeError, match="channel_axis: expected an int"):
        loss(*args, **kw, channel_axis=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigmaa'"):
        loss(*args, **kw, sigmaa=1.0)
    with pytest.raises(ValueError, match="reduction"):
        loss(*args, **kw, reduction="avg")
    with pytest.raises(ValueError, match=r"out: shape"):
        loss.grad(*args, **kw, out=np.empty((2, 3, 12, 11)))
    with pytest.raises(TypeError, match=r"takes"):
        loss(x, y, x)


def test_ssim_bad_input():
    x, y = images(np.random.default_rng(16), (2, 3, 12, 12))
    with pytest.raises(ValueError, match=r"ssim: x: the images \(8 x 12\) are smaller than the 11 x 11 window"):
        lf.ssim(x[:, :, :8], y[:, :, :8])
    with pytest.raises(ValueError, match=r"y: shape \(1, 3, 12, 12\) does not match x shape \(2, 3, 12, 12\)"):
        lf.ssim(x, y[:1])
    with pytest.raises(ValueError, match="wrt: must be 'x' or 'both'"):
        lf.ssim.grad(x, y, wrt="y")
    with pytest.raises(TypeError, match="wrt"):
        lf.ssim(x, y, wrt="both")
    with pytest.raises(TypeError, match="win_size: expected an int"):
        lf.ssim(x, y, win_size=7.0)
    with pytest.raises(TypeError, match="out: expected a tuple of two arrays"):
        lf.ssim.grad(x, y, wrt="both", out=np.empty_like(x))
    with pytest.raises(ValueError, match="out\\[1\\]: overlaps the input 'y'"):
        lf.ssim.grad(x, y, wrt="both", out=(np.empty_like(x), y))
    with pytest.raises(ValueError, match="sample covariance"):
        lf.ssim(x, y, win_size=1, use_sample_covariance=True)


def test_ms_ssim_bad_input():
    x, y = images(np.random.default_rng(16), (2, 3, 40, 50))
    with pytest.raises(ValueError, match=r"ms_ssim: x: the images \(40 x 50\) are too small for 5 levels: the last is "
                                         r"3 x 4, smaller than the 11 x 11 window \(win_size\)"):
        lf.ms_ssim(x, y)
    with pytest.raises(ValueError, match=r"ms_ssim: x: the images \(8 x 50\) are smaller than the 11 x 11 window"):
        lf.ms_ssim(x[:, :, :8], y[:, :, :8])
    for bad in ("abc", 0.5, None, [[0.5, 0.5]], [True, False], ["a"]):
        with pytest.raises(TypeError, match="weights: expected a sequence of numbers"):
            lf.ms_ssim(x, y, win_size=3, weights=bad)
    with pytest.raises(ValueError, match="weights: must hold 1 to 32 levels, got 33"):
        lf.ms_ssim(x, y, win_size=1, weights=[0.1] * 33)
    with pytest.raises(ValueError, match="weights: must be finite numbers >= 0, got inf"):
        lf.ms_ssim(x, y, win_size=3, weights=[0.5, np.inf])
    with pytest.raises(ValueError, match="wrt: must be 'x' or 'both'"):
        lf.ms_ssim.grad(x, y, win_size=3, wrt="y")
    # Weights as any sequence of numbers: a tuple, a list, an array.
    assert lf.ms_ssim(x, y, win_size=3, weights=np.array([0.5, 0.5])) == lf.ms_ssim(x, y, win_size=3, weights=[0.5, 0.5])
