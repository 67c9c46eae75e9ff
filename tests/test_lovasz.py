"""The Lovász hinge (lossfn.registry.ORDER_SPECS): the kernel against the NumPy reference for every
variant, dtype, reduction, mask dtype and ISA; sorts over one thread and several (per-sample work
items, one segment over every thread) with the same bits; the reference against central
differences; ties, zeros, empty and ignored segments, extreme logits; bad input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import ORDER_SPECS

SPEC = {spec.name: spec for spec in ORDER_SPECS}["lovasz_hinge"]
VARIANTS = [{}, *SPEC.variants]
REDUCTIONS = ("mean", "sum", "none")


def tolerances(dtype):
    # The kernel and the reference sort the same margins; the sums and J values are float64 in
    # both, added in another order; a float32 gradient is the rounding of the float64 one.
    return dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-7, atol=1e-9)


def draw(rng, shape, dtype=np.float64, positives=0.4, ignore=None):
    logits = rng.normal(0, 2, shape).astype(dtype)
    masks = (rng.random(shape) < positives).astype(np.int64)
    if ignore is not None:
        masks[rng.random(shape) < 0.2] = ignore
    return logits, masks


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) or "default")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask_dtype", [np.int64, np.uint8, np.float64, np.float32, bool])
def test_matches_reference(variant, dtype, mask_dtype, isa):
    rng = np.random.default_rng(7)
    ignore = variant.get("ignore_index")
    logits, masks = draw(rng, (3, 17, 19), dtype, ignore=None if mask_dtype is bool else ignore)
    masks = masks.astype(mask_dtype)
    kw = dict(variant) if mask_dtype is not bool else {k: v for k, v in variant.items() if k != "ignore_index"}
    tol = tolerances(dtype)
    for reduction in REDUCTIONS:
        v, g = lf.lovasz_hinge.value_and_grad(logits, masks, reduction=reduction, **kw)
        assert g.dtype == dtype and g.shape == logits.shape
        np.testing.assert_allclose(v, lf.reference.lovasz_hinge(logits, masks, reduction=reduction, **kw), **tol)
        np.testing.assert_array_equal(lf.lovasz_hinge(logits, masks, reduction=reduction, **kw), v)
        np.testing.assert_allclose(g, lf.reference.lovasz_hinge.grad(logits, masks, reduction=reduction, **kw), **tol)
        np.testing.assert_array_equal(lf.lovasz_hinge.grad(logits, masks, reduction=reduction, **kw), g)


@pytest.mark.parametrize("per_sample", [True, False])
def test_grad_output_none_shapes_and_out(per_sample):
    rng = np.random.default_rng(3)
    logits, masks = draw(rng, (4, 6, 5))
    v = lf.lovasz_hinge(logits, masks, per_sample=per_sample, reduction="none")
    shape = (4,) if per_sample else ()
    assert v.shape == shape
    go = rng.uniform(0.5, 2.0, shape)
    np.testing.assert_allclose(lf.lovasz_hinge.grad(logits, masks, per_sample=per_sample, reduction="none", grad_output=go),
                               lf.reference.lovasz_hinge.grad(logits, masks, per_sample=per_sample, reduction="none",
                                                              grad_output=go), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lf.lovasz_hinge.grad(logits, masks, per_sample=per_sample, grad_output=2.5),
                               2.5 * lf.lovasz_hinge.grad(logits, masks, per_sample=per_sample), rtol=1e-15)
    out = np.full_like(logits, np.nan)
    g = lf.lovasz_hinge.grad(logits, masks, per_sample=per_sample, out=out)
    assert g is out or np.shares_memory(g, out)
    np.testing.assert_array_equal(out, lf.lovasz_hinge.grad(logits, masks, per_sample=per_sample))


def test_reference_and_kernel_match_central_differences():
    # Piecewise linear in the logits: away from ties and from e = 0 a small step changes neither
    # the order nor the active set, so central differences are exact up to rounding.
    rng = np.random.default_rng(5)
    logits, masks = draw(rng, (2, 4, 5))
    masks[1, 0, :2] = 2
    h = 1e-7
    for kw in [{}, {"per_sample": False}, {"reduction": "sum", "ignore_index": 2}]:
        if "ignore_index" not in kw:
            masks = np.where(masks == 2, 1, masks)
        f = lambda x: lf.reference.lovasz_hinge(x, masks, **kw)
        fd = np.zeros_like(logits)
        for i in np.ndindex(logits.shape):
            up, down = logits.copy(), logits.copy()
            up[i] += h
            down[i] -= h
            fd[i] = (f(up) - f(down)) / (2 * h)
        np.testing.assert_allclose(lf.reference.lovasz_hinge.grad(logits, masks, **kw), fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(lf.lovasz_hinge.grad(logits, masks, **kw), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape,per_sample", [((3, 120, 130), True), ((1, 300, 290), True), ((2, 200, 210), False),
                                              ((5, 64, 64), False)])
def test_same_bits_for_any_thread_count(shape, per_sample, threads):
    # Per-sample work items (batch >= threads) and one segment sorted over every thread (a batch
    # of one, per_sample=False) give the one stable order; the sums go in fixed blocks.
    rng = np.random.default_rng(9)
    logits, masks = draw(rng, shape, np.float32, ignore=255)
    logits[0, :4, :4] = 0.25  # ties
    results = []
    for n in (1, 2, 3):
        lf.set_num_threads(n)
        results.append(lf.lovasz_hinge.value_and_grad(logits, masks, per_sample=per_sample, ignore_index=255))
    for v, g in results[1:]:
        assert v == results[0][0]
        assert np.array_equal(g, results[0][1])
    v, g = results[0]
    ref = lf.reference.lovasz_hinge
    np.testing.assert_allclose(v, ref(logits, masks, per_sample=per_sample, ignore_index=255), rtol=1e-12)
    np.testing.assert_allclose(g, ref.grad(logits, masks, per_sample=per_sample, ignore_index=255), rtol=2e-7, atol=1e-12)


def test_double_keys_sort_every_digit():
    # float64 keys take six radix passes; values that differ only in their low bits test the
    # first passes, values of every magnitude and sign the last ones.
    rng = np.random.default_rng(4)
    base = 1.0 + np.arange(4000) * 2.0**-50
    logits = np.concatenate([rng.permutation(base), rng.normal(0, 1e-3, 3000), rng.normal(0, 1e6, 3000),
                             -rng.permutation(base)])[None]
    masks = (rng.random(logits.shape) < 0.5).astype(np.float64)
    v, g = lf.lovasz_hinge.value_and_grad(logits, masks)
    np.testing.assert_allclose(v, lf.reference.lovasz_hinge(logits, masks), rtol=1e-12)
    # g_i = J_i - J_(i-1) with J in [0, 1]: the two computations of J (the reference's 1 - I/U, the
    # kernel's (i + 1)/U) differ by an ulp of 1, so the differences agree to 1e-15 absolutely.
    np.testing.assert_allclose(g, lf.reference.lovasz_hinge.grad(logits, masks), rtol=1e-12, atol=1e-15)


def test_ties_zeros_and_the_error_at_zero():
    rng = np.random.default_rng(8)
    masks = (rng.random((2, 40)) < 0.5).astype(np.float64)
    # Equal logits: the value does not depend on the order of equal errors; the subgradient is the
    # stable order's (pixel order), as the reference's stable argsort.
    logits = np.full((2, 40), 0.3)
    np.testing.assert_allclose(lf.lovasz_hinge(logits, masks), lf.reference.lovasz_hinge(logits, masks), rtol=1e-14)
    np.testing.assert_allclose(lf.lovasz_hinge.grad(logits, masks), lf.reference.lovasz_hinge.grad(logits, masks),
                               rtol=0, atol=1e-15)
    # -0.0 and +0.0 are one value.
    signed = np.where(np.arange(40) % 2, -0.0, 0.0)[None].repeat(2, 0)
    np.testing.assert_array_equal(lf.lovasz_hinge.grad(signed, masks), lf.lovasz_hinge.grad(np.zeros((2, 40)), masks))
    # A margin of exactly 1 (error 0) adds nothing and gets a zero gradient (ReLU's derivative at 0).
    logits = np.where(masks == 1, 1.0, -1.0)
    assert lf.lovasz_hinge(logits, masks) == 0.0
    assert not np.any(lf.lovasz_hinge.grad(logits, masks))


def test_empty_ignored_and_one_class_segments():
    rng = np.random.default_rng(6)
    logits = rng.normal(0, 1, (3, 5, 5))
    ignored = np.full((3, 5, 5), 255)
    v, g = lf.lovasz_hinge.value_and_grad(logits, ignored, ignore_index=255, reduction="none")
    np.testing.assert_array_equal(v, np.zeros(3))
    np.testing.assert_array_equal(g, np.zeros_like(logits))
    for masks in (np.zeros((3, 5, 5)), np.ones((3, 5, 5))):  # nothing to find; everything to find
        for kw in ({}, {"per_sample": False}):
            np.testing.assert_allclose(lf.lovasz_hinge(logits, masks, **kw), lf.reference.lovasz_hinge(logits, masks, **kw),
                                       rtol=1e-13)
            np.testing.assert_allclose(lf.lovasz_hinge.grad(logits, masks, **kw),
                                       lf.reference.lovasz_hinge.grad(logits, masks, **kw), rtol=1e-13, atol=1e-16)
    # One pixel, a batch of one, an empty batch.
    assert lf.lovasz_hinge(np.array([[0.5]]), np.array([[1]])) == pytest.approx(0.5)
    assert lf.lovasz_hinge(np.array([[0.5]]), np.array([[0]])) == pytest.approx(1.5)
    np.testing.assert_array_equal(lf.lovasz_hinge.grad(np.array([[0.5]]), np.array([[0]])), [[1.0]])
    empty = np.zeros((0, 4))
    assert lf.lovasz_hinge(empty, empty, reduction="none").shape == (0,)
    assert lf.lovasz_hinge(empty, empty, reduction="sum") == 0.0
    assert lf.lovasz_hinge(empty, empty, per_sample=False) == 0.0
    assert lf.lovasz_hinge.grad(empty, empty).shape == (0, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits(dtype):
    big = np.finfo(dtype).max
    logits = np.array([[big, -big, np.inf, -np.inf, 1e-30, -1e-30, 0.0, 3.0]], dtype=dtype)
    masks = np.array([[1, 0, 1, 0, 1, 0, 1, 0]])
    v, g = lf.lovasz_hinge.value_and_grad(logits, masks)
    assert np.isfinite(v) and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, lf.reference.lovasz_hinge(logits, masks), rtol=1e-6)
    np.testing.assert_allclose(g, lf.reference.lovasz_hinge.grad(logits, masks), rtol=1e-6)
    # A confidently wrong pixel has an infinite error: the loss is infinite, never NaN.
    wrong = np.array([[np.inf, 0.5, -2.0]], dtype=dtype)
    v, g = lf.lovasz_hinge.value_and_grad(wrong, np.array([[0, 1, 0]]))
    assert v == np.inf and np.all(np.isfinite(g))
    # A NaN logit gives a NaN loss.
    assert np.isnan(lf.lovasz_hinge(np.array([[np.nan, 0.5]], dtype=dtype), np.array([[0, 1]])))


def test_bad_input():
    logits = np.zeros((2, 3, 4))
    masks = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"masks: shape \(2, 12\) is not the logits' shape \(2, 3, 4\)"):
        lf.lovasz_hinge(logits, masks.reshape(2, 12))
    for value, shown in [(2, "label 2"), (-1, "label -1")]:
        bad = masks.astype(np.int64)
        bad[1, 2, 3] = value
        with pytest.raises(ValueError, match=rf"masks: {shown} at pixel 23 of the labels is not 0 or 1"):
            lf.lovasz_hinge(logits, bad)
    for value in (0.5, np.nan, 255.0):
        bad = masks.copy()
        bad[0, 0, 1] = value
        with pytest.raises(ValueError, match=r"masks: value .* at pixel 1 of the masks is not 0 or 1"):
            lf.lovasz_hinge.grad(logits, bad)
    bad = masks.copy()
    bad[0, 0, 1] = 7
    with pytest.raises(ValueError, match=r"is not 0 or 1 \(nor ignore_index, 255\)"):
        lf.lovasz_hinge(logits, bad, ignore_index=255)
    with pytest.raises(TypeError, match="ignore_index: expected an int or None"):
        lf.lovasz_hinge(logits, masks, ignore_index=1.5)
    with pytest.raises(TypeError, match="per_sample: expected a bool"):
        lf.lovasz_hinge(logits, masks, per_sample=1)
    with pytest.raises(ValueError, match="reduction: must be"):
        lf.lovasz_hinge(logits, masks, reduction="avg")
    with pytest.raises(ValueError, match="logits: needs a batch axis"):
        lf.lovasz_hinge(np.float64(1.0), np.float64(1.0))
    with pytest.raises(TypeError, match="logits"):
        lf.lovasz_hinge(np.array([["a"]]), np.array([[1]]))
    with pytest.raises(ValueError, match="grad_output"):
        lf.lovasz_hinge.grad(logits, masks, reduction="none", grad_output=np.ones(3))
    with pytest.raises(ValueError, match="out"):
        lf.lovasz_hinge.grad(logits, masks, out=np.zeros((2, 12)))
    with pytest.raises(ValueError, match="out: overlaps the input 'logits'"):
        lf.lovasz_hinge.grad(logits, masks, out=logits)
    with pytest.raises(TypeError, match="unexpected keyword"):
        lf.lovasz_hinge(logits, masks, smooth=1.0)
    # Nothing is written when a mask is bad.
    out = np.full_like(logits, 5.0)
    bad = masks.copy()
    bad[1, 2, 3] = 3
    with pytest.raises(ValueError):
        lf.lovasz_hinge.grad(logits, bad, out=out)
    assert np.all(out == 5.0)
