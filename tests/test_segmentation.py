"""Generic tests of the overlap losses (lossfn.registry.SEGMENT_SPECS: dice, jaccard, tversky,
focal_tversky, bce_dice): the kernels against the NumPy reference for every variant, dtype, reduction,
layout (NCHW, NHWC, no class axis), target kind (masks, labels) and ISA; the reference against
central differences; thread-count determinism; the cases a segmentation loss must get right;
bad input."""

import numpy as np
import pytest

import lossfn as lf
from lossfn.registry import SEGMENT_SPECS

SPECS = {spec.name: spec for spec in SEGMENT_SPECS}
NAMES = list(SPECS)
REDUCTIONS = ("mean", "sum", "none")
CASES = [(name, dict(v)) for name in NAMES for v in [{}, *SPECS[name].variants]]


def case_id(case):
    name, v = case
    return name + ("-" + "-".join(f"{k}={val}" for k, val in v.items()) if v else "")


def tolerances(dtype):
    # float64: the same sums in another order. float32: the inputs are the same float32 numbers,
    # the sums are float64 in both; the kernel's probabilities (from logits) and gradient are
    # float32 roundings.
    return dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=3e-5, atol=3e-7)


def draw(rng, layout, classes, hyper, target="masks", batch=3, height=5, width=7, dtype=np.float64):
    """(pred, target, keywords) for a layout: nchw (axis=1), nhwc (axis=-1), flat (axis=None)."""
    if layout == "flat":
        classes = 1
        shape, axis = (batch, height, width), None
    elif layout == "nchw":
        shape, axis = (batch, classes, height, width), 1
    else:
        shape, axis = (batch, height, width, classes), -1
    if hyper.get("from_logits"):
        pred = rng.normal(0, 2, shape)
    elif classes > 1 and target == "labels":
        pred = rng.dirichlet(np.ones(classes), shape[:1] + shape[2:] if axis == 1 else shape[:-1])
        pred = np.moveaxis(pred, -1, 1) if axis == 1 else pred
    else:
        pred = rng.uniform(0.02, 0.98, shape)
    pixel_shape = tuple(s for k, s in enumerate(shape) if axis is None or k != axis % len(shape))
    if target == "labels" and classes > 1:
        t = rng.integers(0, classes, pixel_shape)
    elif target == "soft":
        t = rng.uniform(0, 1, shape)
    else:
        t = (rng.random(shape) < 0.4).astype(np.float64)
    kw = dict(hyper, axis=axis)
    return pred.astype(dtype), t, kw


LAYOUTS = [("nchw", 4, "masks"), ("nchw", 4, "labels"), ("nhwc", 3, "labels"), ("nchw", 1, "masks"),
           ("flat", 1, "soft"), ("nhwc", 5, "soft")]


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: "-".join(map(str, l)))
def test_matches_reference(case, dtype, layout, isa):
    name, hyper = case
    rng = np.random.default_rng(11)
    pred, t, kw = draw(rng, layout[0], layout[1], hyper, layout[2], dtype=dtype)
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    tol = tolerances(dtype)
    for reduction in REDUCTIONS:
        v, g = loss.value_and_grad(pred, t, reduction=reduction, **kw)
        assert g.dtype == dtype and g.shape == pred.shape
        np.testing.assert_allclose(v, ref(pred, t, reduction=reduction, **kw), **tol)
        np.testing.assert_allclose(loss(pred, t, reduction=reduction, **kw), v, rtol=0, atol=0)
        np.testing.assert_allclose(g, ref.grad(pred, t, reduction=reduction, **kw), **tol)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("per_class", [False, True])
def test_grad_output_and_none_shapes(name, per_sample, per_class):
    rng = np.random.default_rng(3)
    pred, t, kw = draw(rng, "nchw", 3, {"per_sample": per_sample, "per_class": per_class}, "labels", batch=4)
    loss, ref = getattr(lf, name), getattr(lf.reference, name)
    v = loss(pred, t, reduction="none", **kw)
    shape = ((4,) if per_sample else ()) + ((3,) if per_class else ())
    assert v.shape == shape
    go = rng.uniform(0.5, 2.0, shape)
    np.testing.assert_allclose(loss.grad(pred, t, reduction="none", grad_output=go, **kw),
                               ref.grad(pred, t, reduction="none", grad_output=go, **kw), rtol=1e-10, atol=1e-14)
    if not per_class:
        np.testing.assert_allclose(loss.grad(pred, t, grad_output=2.5, **kw),
                                   2.5 * loss.grad(pred, t, **kw), rtol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_matches_central_differences(case):
    name, hyper = case
    rng = np.random.default_rng(5)
    for layout in [("nchw", 3, "soft"), ("nhwc", 1, "masks")]:
        pred, t, kw = draw(rng, layout[0], layout[1], hyper, layout[2], batch=2, height=3, width=2)
        if hyper.get("smooth") == 0.0:
            t = np.maximum(t, 0.1)  # keep every segment non-empty: no kink at the empty convention
        cw = rng.uniform(0.5, 2.0, layout[1])
        ref = getattr(lf.reference, name)
        for reduction, extra in [("mean", {}), ("sum", {"class_weight": cw})]:
            f = lambda x: ref(x, t, reduction=reduction, **kw, **extra)
            g = ref.grad(pred, t, reduction=reduction, **kw, **extra)
            h = 1e-6
            fd = np.zeros_like(pred)
            for i in np.ndindex(pred.shape):
                up, down = pred.copy(), pred.copy()
                up[i] += h
                down[i] -= h
                fd[i] = (f(up) - f(down)) / (2 * h)
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_same_bits_for_any_thread_count(name, threads):
    rng = np.random.default_rng(9)
    for shape, axis in [((3, 5, 64, 80), 1), ((2, 70, 90, 6), -1), ((2, 1, 150, 151), 1)]:
        pred = rng.normal(0, 1, shape).astype(np.float32)
        labels = rng.integers(0, shape[axis], tuple(s for k, s in enumerate(shape) if k != axis % 4))
        if shape[axis] == 1:
            labels = (rng.random(pred.shape) < 0.3).astype(np.float32)
        results = []
        for n in (1, 2, 3):
            lf.set_num_threads(n)
            results.append(getattr(lf, name).value_and_grad(pred, labels, axis=axis, from_logits=True,
                                                            per_sample=True))
        for v, g in results[1:]:
            assert v == results[0][0]
            assert np.array_equal(g, results[0][1])


def test_layouts_read_as_their_contiguous_copy():
    rng = np.random.default_rng(2)
    pred = rng.uniform(0.05, 0.95, (4, 3, 9, 10))
    t = (rng.random(pred.shape) < 0.5).astype(np.float64)
    want = lf.dice.value_and_grad(pred, t, per_sample=True)
    # A Fortran-order copy and a view with negative strides of the same values.
    v, g = lf.dice.value_and_grad(np.asfortranarray(pred), np.asfortranarray(t), per_sample=True)
    assert v == want[0] and np.array_equal(g, want[1])
    flipped, tf = pred[:, :, ::-1], t[:, :, ::-1]
    v, g = lf.dice.value_and_grad(flipped, tf, per_sample=True)
    ref = lf.dice.value_and_grad(np.ascontiguousarray(flipped), np.ascontiguousarray(tf), per_sample=True)
    assert v == ref[0] and np.array_equal(g, ref[1])


def test_nchw_and_nhwc_agree():
    rng = np.random.default_rng(4)
    pred = rng.normal(0, 1, (2, 4, 6, 5))
    y = rng.integers(0, 4, (2, 6, 5))
    for name in NAMES:
        a = getattr(lf, name).value_and_grad(pred, y, from_logits=True)
        b = getattr(lf, name).value_and_grad(np.moveaxis(pred, 1, -1), y, axis=-1, from_logits=True)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        np.testing.assert_allclose(np.moveaxis(a[1], 1, -1), b[1], rtol=1e-12, atol=1e-16)


def test_labels_equal_one_hot_masks():
    rng = np.random.default_rng(6)
    pred = rng.dirichlet(np.ones(5), (3, 8, 8)).transpose(0, 3, 1, 2).copy()
    y = rng.integers(0, 5, (3, 8, 8))
    one_hot = np.moveaxis(np.eye(5)[y], -1, 1)
    for name in NAMES:
        a = getattr(lf, name).value_and_grad(pred, y, per_sample=True)
        b = getattr(lf, name).value_and_grad(pred, one_hot, per_sample=True)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-13, atol=1e-17)


def test_ignore_index_equals_zero_weight():
    rng = np.random.default_rng(8)
    pred = rng.dirichlet(np.ones(3), (2, 6, 7)).transpose(0, 3, 1, 2).copy()
    y = rng.integers(0, 3, (2, 6, 7))
    ignored = rng.random(y.shape) < 0.3
    y_ign = np.where(ignored, 255, y)
    for name in NAMES:
        a = getattr(lf, name).value_and_grad(pred, y_ign, ignore_index=255)
        b = getattr(lf, name).value_and_grad(pred, y, weight=(~ignored).astype(float))
        np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-13, atol=1e-17)
        assert np.all(a[1][np.broadcast_to(ignored[:, None], pred.shape)] == 0)
    # Every pixel ignored: nothing counts, smooth / smooth = 1, loss 0.
    assert lf.dice(pred, np.full_like(y, 255), ignore_index=255) == 0.0
    # A one-class mask whose value marks the ignored pixels.
    p1 = pred[:, :1]
    mask = np.where(ignored, 255.0, (y == 0).astype(float))
    np.testing.assert_allclose(lf.dice(p1, mask, ignore_index=255),
                               lf.dice(p1, (y == 0).astype(float), weight=(~ignored).astype(float)), rtol=1e-14)


def test_empty_masks_and_absent_classes():
    p = np.zeros((2, 1, 4, 4))
    t = np.zeros_like(p)
    for name in NAMES:
        loss = getattr(lf, name)
        kw = {"w_bce": 0.0} if name == "bce_dice" else {}  # the overlap term alone
        # Nothing predicted, nothing to find: smooth / smooth = 1, loss 0 (and with smooth 0, by convention).
        for smooth in (1.0, 0.0):
            v, g = loss.value_and_grad(p, t, smooth=smooth)
            assert v == 0.0
            if smooth == 0.0:
                assert np.all(g == 0)
        # Something predicted where there is nothing: smooth keeps the loss below 1.
        q = np.full_like(p, 0.5)
        assert 0 < loss(q, t, **kw) < 1
        assert loss(q, t, smooth=0.0, **kw) == pytest.approx(1.0)
    # A class absent from the batch scores 0 through smooth, not a special case.
    pred = np.zeros((2, 3, 4, 4))
    pred[:, 0] = 1.0
    y = np.zeros((2, 4, 4), dtype=np.int64)
    np.testing.assert_allclose(lf.dice(pred, y, reduction="none", per_class=True), [0.0, 0.0, 0.0], atol=1e-15)


def test_one_pixel_images_batch_of_one_and_empty_batch():
    rng = np.random.default_rng(1)
    for shape in [(5, 3, 1, 1), (1, 3, 4, 4), (1, 1, 1, 1)]:
        pred = rng.uniform(0.1, 0.9, shape)
        t = (rng.random(shape) < 0.5).astype(float)
        for name in NAMES:
            for per_sample in (False, True):
                np.testing.assert_allclose(getattr(lf, name).grad(pred, t, per_sample=per_sample),
                                           getattr(lf.reference, name).grad(pred, t, per_sample=per_sample),
                                           rtol=1e-12, atol=1e-15)
    empty = np.zeros((0, 3, 4, 4))
    assert lf.dice(empty, empty, per_sample=True, reduction="sum") == 0.0
    assert np.isnan(lf.dice(empty, empty, per_sample=True))
    assert lf.dice(empty, empty, per_sample=True, reduction="none").shape == (0,)
    assert lf.dice.grad(empty, empty).shape == empty.shape


def test_extreme_logits_stay_finite():
    pred = np.array([[[-1e4, 30.0, 1e4, -800.0]], [[0.0, 88.0, -88.0, 745.0]]])
    t = np.array([[[0.0, 1.0, 1.0, 0.0]], [[1.0, 0.0, 1.0, 1.0]]])
    for dtype in (np.float32, np.float64):
        for name in NAMES:
            v, g = getattr(lf, name).value_and_grad(pred.astype(dtype), t, from_logits=True, per_sample=True)
            assert np.isfinite(v) and np.all(np.isfinite(g))
            np.testing.assert_allclose(v, getattr(lf.reference, name)(pred, t, from_logits=True, per_sample=True),
                                       rtol=1e-5)
    multi = np.stack([pred[:, 0], -pred[:, 0], np.zeros_like(pred[:, 0])], axis=1)
    y = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])
    for dtype in (np.float32, np.float64):
        v, g = lf.dice.value_and_grad(multi.astype(dtype), y, from_logits=True)
        assert np.isfinite(v) and np.all(np.isfinite(g))


def test_bright_soft_targets_and_weights_match_reference():
    rng = np.random.default_rng(12)
    pred = rng.uniform(0, 1, (3, 2, 6, 6))
    t = rng.uniform(0, 1, pred.shape)
    w = rng.uniform(0, 3, (3, 6, 6))
    for name in NAMES:
        kw = dict(weight=w, class_weight=[0.3, 2.0], per_sample=True)
        np.testing.assert_allclose(getattr(lf, name).value_and_grad(pred, t, **kw)[1],
                                   getattr(lf.reference, name).grad(pred, t, **kw), rtol=1e-12, atol=1e-15)
    # A weight broadcast over the pixels (per sample).
    ws = np.array([1.0, 0.0, 2.0])[:, None, None]
    np.testing.assert_allclose(lf.dice(pred, t, weight=ws, per_sample=True, reduction="none"),
                               lf.reference.dice(pred, t, weight=ws, per_sample=True, reduction="none"), rtol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input(name):
    loss = getattr(lf, name)
    p = np.full((2, 3, 4, 4), 0.3)
    y = np.zeros((2, 4, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="target"):
        loss(p, np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="target"):
        loss(p, y.astype(np.float64))
    bad = y.copy()
    bad[1, 2, 3] = 3
    with pytest.raises(ValueError, match=r"target: label 3 .* outside \[0, 3\)"):
        loss(p, bad)
    with pytest.raises(ValueError, match="target: label -4 .* not ignore_index"):
        loss(p, bad - 4, ignore_index=255)
    with pytest.raises(ValueError, match="ignore_index"):
        loss(p, np.zeros_like(p), ignore_index=0)
    with pytest.raises(ValueError, match="axis"):
        loss(p, y, axis=0)
    with pytest.raises(ValueError, match="axis"):
        loss(p, y, axis=4)
    with pytest.raises(TypeError, match="axis"):
        loss(p, y, axis=1.0)
    with pytest.raises(ValueError, match="class_weight"):
        loss(p, y, class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="class_weight"):
        loss(p, y, class_weight=[1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="class_weight"):
        loss(p, y, class_weight=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="weight"):
        loss(p, y, weight=np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="per_class"):
        loss(p, y, per_class=True)
    with pytest.raises(ValueError, match="reduction"):
        loss(p, y, reduction="batchmean")
    with pytest.raises(TypeError, match="per_sample"):
        loss(p, y, per_sample=1)
    with pytest.raises(TypeError, match="smooth"):
        loss(p, y, smooth="1")
    with pytest.raises(TypeError, match="unexpected"):
        loss(p, y, delta=1.0)
    with pytest.raises(TypeError):
        loss(p.astype(complex), y)
    with pytest.raises(ValueError, match="pred"):
        loss(np.float64(0.5), 1.0)
    with pytest.raises(ValueError, match="grad_output"):
        loss.grad(p, y, reduction="none", per_sample=True, grad_output=np.ones(3))
    with pytest.raises(ValueError, match="out"):
        loss.grad(p, y, out=p)
    for hyper in SPECS[name].bad_hyper:
        with pytest.raises(ValueError):
            loss(p, y, **hyper)


def test_bce_dice_is_its_two_terms():
    rng = np.random.default_rng(13)
    x = rng.normal(0, 3, (3, 2, 6, 5))
    t = (rng.random(x.shape) < 0.4).astype(np.float64)
    for from_logits in (False, True):
        pred = x if from_logits else 1 / (1 + np.exp(-x))
        p = 1 / (1 + np.exp(-x))
        bce = np.mean(-(t * np.log(p) + (1 - t) * np.log1p(-p)))
        # dice with a sigmoid per channel: the probabilities given to dice
        want = 0.7 * bce + 1.3 * lf.dice(p, t)
        np.testing.assert_allclose(lf.bce_dice(pred, t, from_logits=from_logits, w_bce=0.7, w_dice=1.3), want,
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="w_bce"):
        lf.bce_dice(x, t, w_bce=-1.0)


@pytest.mark.parametrize("shape,axis", [((2, 4, 1030, 1030), 1), ((1, 3, 4, 700, 1000), 2)])
def test_gradients_beyond_the_cache(shape, axis):
    # A gradient of 32 MB or more leaves the class-major pass through streaming stores: here into
    # an out= one element off the vector alignment, and (axis 2) in runs cut at each outer index.
    rng = np.random.default_rng(10)
    p = rng.random(shape, dtype=np.float32)
    t = (rng.random(shape) < 0.3).astype(np.float32)
    buf = np.full(p.size + 2, 7.0, np.float32)
    out = buf[1:-1].reshape(shape)
    v, g = lf.dice.value_and_grad(p, t, axis=axis, per_sample=True, out=out)
    assert buf[0] == 7.0 and buf[-1] == 7.0
    ref = lf.reference.dice.grad(p, t, axis=axis, per_sample=True)
    np.testing.assert_allclose(g, ref, rtol=3e-5, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(v, lf.reference.dice(p, t, axis=axis, per_sample=True), rtol=1e-10)
