"""Another thread rewriting the inputs during a call (the GIL is released) never makes lossfn
read or write outside the buffers: labels are copied as they are checked, the aux scans stay
within the array, and nothing is written around out=. The results of such calls are
unspecified; they either finish or raise ValueError. Run under the sanitizer build in CI."""

import sys
import threading

import numpy as np
import pytest

import lossfn as lf

GUARD = 4096
CALLS = 60


def guarded(shape, dtype=np.float64):
    """(view of `shape` in the middle of a buffer, the buffer): the guards around it hold 7.0."""
    n = int(np.prod(shape))
    buf = np.full(n + 2 * GUARD, 7.0, dtype=dtype)
    return buf[GUARD : GUARD + n].reshape(shape), buf


def assert_guards_intact(buf):
    assert (buf[:GUARD] == 7.0).all() and (buf[-GUARD:] == 7.0).all(), "written outside out="


def race(target, values, call, calls=CALLS):
    """Runs call() `calls` times while a thread keeps writing `values` into `target`."""
    stop = threading.Event()
    rng = np.random.default_rng(0)
    idx = rng.integers(0, target.size, 64)
    flat = target.reshape(-1)

    original = flat[idx].copy()

    def writer():
        # A bad value appears and disappears again: most calls pass the checks, and some
        # of those meet the bad value in the kernel.
        k = 0
        while not stop.is_set():
            i = k % 64
            flat[idx[i]] = values[k % len(values)]
            for _ in range(k % 50):  # held for a varying while
                pass
            flat[idx[i]] = original[i]
            for _ in range((k * 7) % 50):  # and gone for a varying while
                pass
            k += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=writer)
    thread.start()
    errors = 0
    try:
        for _ in range(calls):
            try:
                call()
            except ValueError:
                errors += 1
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    return errors


@pytest.mark.parametrize("name", ["nll", "softmax_cross_entropy", "sparse_categorical_crossentropy",
                                  "softmax_focal", "multi_margin"])
@pytest.mark.parametrize("layout", ["rows", "nchw"])
def test_labels_rewritten_during_a_call(name, layout):
    loss = getattr(lf, name)
    rng = np.random.default_rng(1)
    if layout == "rows":
        shape, axis, batch = (3000, 40), -1, (3000,)
    else:
        shape, axis, batch = (4, 21, 40, 40), 1, (4, 40, 40)
    x = rng.normal(size=shape)
    if loss.spec.pred == "logprob_rows":
        x = lf.log_softmax(x, axis=axis)
    elif loss.spec.pred == "prob_rows":
        x = lf.softmax(x, axis=axis)
    labels = rng.integers(0, shape[axis], batch)
    out, buf = guarded(shape)
    kw = {"class_weight": np.ones(shape[axis])} if name in ("nll", "softmax_cross_entropy") else {}
    race(labels, [10**6, -5, 2**40, 1, -(2**62), 0],
         lambda: loss.value_and_grad(x, labels, axis=axis, out=out, **kw))
    assert_guards_intact(buf)
    labels[...] = 0
    race(labels, [10**6, -5, 2**40, 1], lambda: loss.grad(x, labels, axis=axis, out=out, ignore_index=-5)
         if loss.spec.hyper.get("ignore_index", 0) is None else loss.grad(x, labels, axis=axis, out=out))
    assert_guards_intact(buf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_variance_rewritten_during_a_call(dtype):
    n = 1 << 18
    rng = np.random.default_rng(2)
    p, y = rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)
    var = rng.uniform(0.5, 2.0, n).astype(dtype)
    g, gbuf = guarded((n,), dtype)
    gv, gvbuf = guarded((n,), dtype)
    race(var, [-1.0, 1.0, -3.0, 0.5], lambda: lf.gaussian_nll.grad(p, y, var, out=(g, gv)))
    assert_guards_intact(gbuf)
    assert_guards_intact(gvbuf)


def test_sign_labels_rewritten_during_a_call():
    n = 1 << 18
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=n), rng.choice([-1.0, 1.0], n)
    g, buf = guarded((n,))
    race(y, [5.0, 1.0, 0.0, -1.0], lambda: lf.hinge.value_and_grad(x, y, out=g))
    assert_guards_intact(buf)


@pytest.mark.parametrize("what", ["targets", "input_lengths", "target_lengths"])
def test_ctc_targets_and_lengths_rewritten_during_a_call(what):
    """CTC indexes the scores, its scratch and the gradient with labels and lengths: the call
    driver copies them as it checks them."""
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    from samples import draw_ctc
    rng = np.random.default_rng(4)
    x, targets, il, tl = draw_ctc(rng, batch=16, frames=60, classes=30, max_labels=20, padded=True)
    inputs = {"targets": targets, "input_lengths": il, "target_lengths": tl}
    out, buf = guarded(x.shape)
    race(inputs[what], [10**6, -5, 2**40, 0, 61, 30, -(2**62)],
         lambda: lf.ctc.value_and_grad(x, targets, il, tl, out=out, from_logits=True), calls=30)
    assert_guards_intact(buf)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_overlap_labels_rewritten_during_a_call(layout):
    """The overlap losses read each label to compare it with the classes, never to address memory:
    a label rewritten out of range mid-call changes the sums (or raises), nothing else."""
    rng = np.random.default_rng(5)
    shape, axis = ((4, 5, 64, 64), 1) if layout == "nchw" else ((4, 64, 64, 5), -1)
    x = rng.normal(size=shape)
    y = rng.integers(0, 5, (4, 64, 64))
    out, buf = guarded(shape)
    race(y, [10**6, -5, 2**40, 5, -(2**62), 255],
         lambda: lf.dice.value_and_grad(x, y, out=out, axis=axis, from_logits=True, ignore_index=255), calls=30)
    assert_guards_intact(buf)


@pytest.mark.parametrize("per_sample", [True, False])
def test_lovasz_masks_rewritten_during_a_call(per_sample):
    """The Lovász hinge keys each pixel by its mask as it reads it; the pixel index that addresses
    the gradient comes from the loop, never from the data: masks rewritten mid-call change the
    result (or raise), nothing else."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 96, 96))
    m = (rng.random((4, 96, 96)) < 0.5).astype(np.int64)
    out, buf = guarded(x.shape)
    race(m, [10**6, -5, 2**40, 1, 0, 255],
         lambda: lf.lovasz_hinge.value_and_grad(x, m, out=out, per_sample=per_sample, ignore_index=255), calls=30)
    assert_guards_intact(buf)


@pytest.mark.parametrize("name", ["ssim", "ms_ssim", "total_variation"])
def test_images_rewritten_during_a_call(name):
    """The band kernels address rows and columns from the shape only: pixels rewritten mid-call
    (to NaN, infinities, huge values) change the result, nothing else (MS-SSIM's value and
    gradient passes may see different pixels)."""
    rng = np.random.default_rng(7)
    x, y = rng.random((2, 3, 96, 80)), rng.random((2, 3, 96, 80))
    out, buf = guarded(x.shape)
    args = (x, y) if name != "total_variation" else (x,)
    kw = {"win_size": 5, "weights": (0.3, 0.3, 0.4)} if name == "ms_ssim" else {}
    race(x, [np.nan, np.inf, -1e300, 0.5], lambda: getattr(lf, name).value_and_grad(*args, out=out, **kw), calls=30)
    assert_guards_intact(buf)
