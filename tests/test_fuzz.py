"""Malformed input drawn at random, for every loss in the registry (SPEC §1, "Bad input gets a
clear error and nothing else").

Each trial takes a valid call and spoils one to three of its parts: an input (wrong shape,
dtype, layout, special values, not an array at all), a keyword hyper-parameter, the weight, the
reduction, the class axis, grad_output or the out= buffer. The call must then either return or
raise ValueError/TypeError; it must not crash, hang, write outside the out= buffer (guard
elements on both sides) or write into its inputs. The seed is fixed, so a failure reproduces.
"""

import faulthandler
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest

import lossfn as lf
from samples import draw_ctc, draw_logits, draw_target
from samples import inputs as elementwise_inputs

TRIALS = 60
GUARD = 16
SENTINEL = 12345.0

ELEMENTWISE_METHODS = ("__call__", "grad", "value_and_grad", "hess", "grad_and_hess")
ROW_METHODS = ("__call__", "grad", "value_and_grad")

DTYPES = (np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_, np.complex64,
          object, "U3", "S2", ml_dtypes.bfloat16, np.dtype([("a", "f4"), ("b", "f4")]))
SPECIAL_VALUES = (np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, -1.0, 2.0, 0.5, 1e-310, 255.0, 1e4, -1e4)
BAD_KEYWORD_VALUES = (None, "x", np.nan, np.inf, -np.inf, -1, 0, 1, 0.5, 2, 1e300, -1e300, True, 2**70, -(2**70),
                      [], [1.0, 2.0], (1, 2, 3), 1j, object(), np.zeros((2, 2)), np.ones(7), "per-class")


def spoil_array(a, rng):
    """A spoiled version of array a: another dtype, shape or layout, or special values, or no array."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiub":
        return a  # spoiled already
    if a.ndim == 0:
        return (a.reshape(1), np.float64(np.nan), a.astype(np.complex64))[rng.integers(0, 3)]
    choice = rng.integers(0, 6)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if choice == 0:
            dtype = DTYPES[rng.integers(0, len(DTYPES))]
            try:
                return a.astype(dtype)
            except (TypeError, ValueError):
                return np.zeros(a.shape, dtype=dtype)
        if choice == 1:
            shapes = [a.ravel()[: rng.integers(0, a.size + 1)], a[..., ::2], a.T, a[None], a.reshape(-1),
                      np.float64(a.flat[0]) if a.size else np.float64(0.0), np.empty((0,) + a.shape[1:]),
                      np.empty((0, 0)), np.broadcast_to(a.ravel()[:1], a.shape) if a.size else a, a[..., None]]
            return shapes[rng.integers(0, len(shapes))]
        if choice == 2:
            layouts = [a[::-1], a.T.copy().T, np.asfortranarray(a), a[..., ::-1]]
            return layouts[rng.integers(0, len(layouts))]
        if choice == 3:
            b = np.array(a, dtype=np.float64 if a.dtype.kind not in "iu" else a.dtype, copy=True)
            mask = rng.random(b.shape) < 0.3
            if b.dtype.kind in "iu":
                b[mask] = rng.choice([-1, -100, 2**31 - 1, -(2**31), 1000])
            else:
                b[mask] = rng.choice(SPECIAL_VALUES)
            return b
        if choice == 4:
            objects = [None, "abc", [1.0, [2.0, 3.0]], {}, 3.0, object(), b"xy", [[]], np.ma.masked_all(3)]
            return objects[rng.integers(0, len(objects))]
        return a.tolist() if a.size < 100 else a


def spoil_keyword(rng):
    return BAD_KEYWORD_VALUES[rng.integers(0, len(BAD_KEYWORD_VALUES))]


def guarded(shape, dtype, rng):
    """An out= buffer inside a larger one whose ends are guards, or something that is no buffer."""
    shape = tuple(shape)
    choice = rng.integers(0, 5)
    if choice == 4:
        return None, [0.0] * int(np.prod(shape))
    if choice == 3:
        shape = shape[:-1] + (shape[-1] + 1,) if shape else (2,)
    if choice == 2:
        dtype = (np.float32, np.float64, np.int32)[rng.integers(0, 3)]
    n = int(np.prod(shape))
    whole = np.full(n + 2 * GUARD, SENTINEL, dtype=dtype)
    out = whole[GUARD: GUARD + n].reshape(shape)
    if choice == 1:
        out.flags.writeable = False
    return whole, out


def unchanged(before, after):
    if isinstance(before, np.ndarray) and before.dtype != object:
        return before.tobytes() == after.tobytes()
    if isinstance(before, list):  # the layers of a feature-map loss
        return len(before) == len(after) and all(unchanged(b, a) for b, a in zip(before, after))
    return True


def snapshot(a):
    if isinstance(a, np.ndarray) and a.dtype != object:
        return a.copy()
    return [snapshot(b) for b in a] if isinstance(a, list) else a


def run_trial(loss, method, args, kwargs, guards):
    snapshots = [snapshot(a) for a in args]
    try:
        with warnings.catch_warnings():
            # Casting huge float64 data to float32 warns as NumPy does; only exceptions matter here.
            warnings.simplefilter("ignore")
            getattr(loss, method)(*args, **kwargs)
    except (ValueError, TypeError) as e:
        assert str(e), f"{loss.name}.{method}: an error without a message"
    for whole in guards:
        if whole is not None:
            assert np.all(whole[:GUARD] == SENTINEL) and np.all(whole[-GUARD:] == SENTINEL), \
                f"{loss.name}.{method} wrote outside out= ({kwargs})"
    for before, after in zip(snapshots, args):
        assert unchanged(before, after), f"{loss.name}.{method} wrote into an input"


def spoil_call(loss, rng, method, args, kwargs, shape, unreduced_shape):
    """Spoils one to three parts of a valid call; returns the arguments and the out= guards."""
    is_row = isinstance(loss, (lf.RowLoss, lf.RowFunction, lf.SegmentLoss))
    takes_weight = isinstance(loss, (lf.ElementwiseLoss, lf.RowLoss, lf.SegmentLoss))
    takes_reduction = not isinstance(loss, lf.RowFunction)
    guards = []
    for _ in range(rng.integers(1, 4)):
        part = rng.integers(0, 8)
        if part == 0 and args:
            i = rng.integers(0, len(args))
            args[i] = spoil_array(args[i], rng)
        elif part == 1 and loss.spec.hyper:
            keys = list(loss.spec.hyper)
            kwargs[keys[rng.integers(0, len(keys))]] = spoil_keyword(rng)
        elif part == 2 and takes_weight:
            kwargs["weight"] = spoil_array(np.ones(unreduced_shape), rng)
        elif part == 3 and takes_reduction:
            kwargs["reduction"] = ("none", "mean", "sum", "avg", None, 3, "MEAN", "")[rng.integers(0, 8)]
        elif part == 4 and is_row:
            kwargs["axis"] = (-5, -2, 0, 1, 2, 3, 4, 1.0, "1", None, 10**20)[rng.integers(0, 11)]
        elif part == 5 and (method == "grad" or (isinstance(loss, lf.RowFunction) and method != "__call__")):
            kwargs["grad_output"] = (spoil_keyword(rng) if rng.random() < 0.5
                                     else spoil_array(np.ones(unreduced_shape), rng))
        elif part == 6 and method in ("grad", "value_and_grad", "hess"):
            whole, kwargs["out"] = guarded(shape, (np.float32, np.float64)[rng.integers(0, 2)], rng)
            guards.append(whole)
        elif part == 7:
            args = args[: rng.integers(0, len(args) + 1)] if rng.random() < 0.5 else args + [np.ones(shape)]
    return args, guards


def elementwise_trial(loss, rng):
    shape = ((37, 11), (5,), (3, 1, 2), (300_000,))[rng.integers(0, 4)]
    args = [a.astype(np.float32) if rng.random() < 0.5 else a
            for a in elementwise_inputs(loss, shape=shape, seed=int(rng.integers(1 << 30)))]
    method = ELEMENTWISE_METHODS[rng.integers(0, len(ELEMENTWISE_METHODS))]
    kwargs = {}
    args, guards = spoil_call(loss, rng, method, args, kwargs, shape, shape)
    return method, args, kwargs, guards


def row_trial(loss, rng):
    shape = ((5, 7), (2, 7, 3, 2), (3, 2000), (7,))[rng.integers(0, 4)]
    axis = 1 if len(shape) == 4 else -1
    x = draw_logits(loss.spec.pred, shape, rng, axis)
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    batch = tuple(np.delete(np.array(shape), axis % len(shape)))
    args = [x]
    if loss.spec.targets:
        kind = loss.spec.targets[rng.integers(0, len(loss.spec.targets))]
        args.append(draw_target(kind, shape, rng, axis))
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {"axis": axis}
    args, guards = spoil_call(loss, rng, method, args, kwargs, shape,
                              batch if isinstance(loss, lf.RowLoss) else shape)
    return method, args, kwargs, guards


def sequence_trial(loss, rng):
    frames, batch = ((30, 4), (1, 1), (200, 2), (12, 7))[rng.integers(0, 4)]
    x, targets, il, tl = draw_ctc(rng, batch=batch, frames=frames, classes=int(rng.integers(2, 9)),
                                  max_labels=5, padded=rng.random() < 0.5)
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    args = [x, targets, il, tl]
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {}
    args, guards = spoil_call(loss, rng, method, args, kwargs, x.shape, (batch,))
    return method, args, kwargs, guards


def segment_trial(loss, rng):
    shape, axis = (((2, 3, 5, 4), 1), ((3, 6, 7, 2), -1), ((4, 9), None), ((2, 1, 300, 120), 1))[rng.integers(0, 4)]
    classes = 1 if axis is None else shape[axis]
    pixel_shape = shape if axis is None else tuple(np.delete(np.array(shape), axis % len(shape)))
    x = rng.uniform(0, 1, shape)
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    target = (rng.integers(0, classes, pixel_shape) if classes > 1 and rng.random() < 0.5
              else (rng.random(shape) < 0.5).astype(np.float64))
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {"axis": axis}
    if rng.random() < 0.3:
        kwargs["per_sample"] = True
    args, guards = spoil_call(loss, rng, method, [x, target], kwargs, shape,
                              (shape[0],) if kwargs.get("per_sample") else ())
    return method, args, kwargs, guards


def order_trial(loss, rng):
    shape = ((2, 5, 4), (3, 9), (1, 300, 120), (4, 1))[rng.integers(0, 4)]
    x = rng.normal(0, 2, shape)
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    masks = (rng.random(shape) < 0.5).astype(np.int64 if rng.random() < 0.5 else np.float64)
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {}
    if rng.random() < 0.3:
        kwargs["per_sample"] = False
    args, guards = spoil_call(loss, rng, method, [x, masks], kwargs, shape,
                              () if kwargs.get("per_sample") is False else (shape[0],))
    return method, args, kwargs, guards


def image_trial(loss, rng):
    shape, axis = (((2, 3, 12, 13), 1), ((1, 11, 11, 1), -1), ((2, 1, 70, 9), 1), ((1, 2, 4, 30), 1))[rng.integers(0, 4)]
    x = rng.uniform(0, 1, shape)
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    args = [x, rng.uniform(0, 1, shape)][: len(loss.inputs)]
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {"channel_axis": axis}
    if loss.name == "ms_ssim":  # a pyramid these small images hold (its default needs 161 pixels)
        kwargs.update(win_size=3, weights=(0.5, 0.5))
    args, guards = spoil_call(loss, rng, method, args, kwargs, shape, (shape[0],))
    return method, args, kwargs, guards


def feature_trial(loss, rng):
    """Lists of feature maps: a layer, a list or the out= list spoiled, besides the keywords."""
    shapes = (((2, 3, 5, 4), (2, 6, 2, 2)), ((1, 8, 30),), ((3, 4), (3, 2, 2, 2, 2)))[rng.integers(0, 3)]
    xs = [rng.normal(0, 1, s) for s in shapes]
    ys = [rng.normal(0, 1, s) for s in shapes]
    if rng.random() < 0.5:
        xs = [a.astype(np.float32) for a in xs]
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {"gram": bool(rng.random() < 0.5)}
    guards = []
    for _ in range(rng.integers(1, 4)):
        part = rng.integers(0, 6)
        layers = (xs, ys)[rng.integers(0, 2)]
        if part == 0:
            k = rng.integers(0, len(layers))
            layers[k] = spoil_array(layers[k], rng)
        elif part == 1:
            kwargs[("layer_weights", "gram")[rng.integers(0, 2)]] = spoil_keyword(rng)
        elif part == 2:
            kwargs["reduction"] = ("none", "mean", "sum", "avg", None, 3)[rng.integers(0, 6)]
        elif part == 3 and method == "grad":
            kwargs["grad_output"] = (spoil_keyword(rng) if rng.random() < 0.5
                                     else spoil_array(np.ones(shapes[0][:1]), rng))
        elif part == 4 and method != "__call__":
            outs = []
            for s in shapes[: rng.integers(0, len(shapes) + 1)] if rng.random() < 0.3 else shapes:
                whole, out = guarded(s, (np.float32, np.float64)[rng.integers(0, 2)], rng)
                guards.append(whole)
                outs.append(out)
            kwargs["out"] = outs if rng.random() < 0.8 else tuple(outs)
        elif part == 5:
            choice = rng.integers(0, 3)
            if choice == 0:
                layers.append(np.ones(shapes[0]))
            elif choice == 1 and layers:
                layers.pop()
            else:
                layers[:] = []
    return method, [xs, ys], kwargs, guards


def pair_trial(loss, rng):
    """Embeddings (rows, one row, or any shape for the elementwise losses) and labels."""
    spec = loss.spec
    if spec.elementwise:
        shape = ((7,), (3, 4), (40_000,))[rng.integers(0, 3)]
        batch = shape
    else:
        shape = ((5, 7), (9,), (2, 3000))[rng.integers(0, 3)]
        batch = shape[:1] if len(shape) == 2 else ()
    floats = len(spec.inputs) - (1 if spec.labels else 0)
    args = [rng.normal(0, 1, shape) for _ in range(floats)]
    if rng.random() < 0.5:
        args = [a.astype(np.float32) for a in args]
    if spec.labels:
        args.append(rng.choice([-1.0, 1.0], batch) if loss.name != "contrastive" else rng.integers(0, 2, batch))
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {}
    guards = []
    if method != "__call__" and floats > 1 and rng.random() < 0.3:
        outs = []
        for _ in range(floats if rng.random() < 0.7 else rng.integers(0, floats + 2)):
            whole, out = guarded(shape, (np.float32, np.float64)[rng.integers(0, 2)], rng)
            guards.append(whole)
            outs.append(out)
        kwargs["out"] = tuple(outs)
    args, more = spoil_call(loss, rng, method, args, kwargs, shape, batch)
    return method, args, kwargs, guards + more


def center_trial(loss, rng):
    """features (N, D), integer labels, centers (C, D); sometimes the update in place instead."""
    n, d, classes = ((5, 3, 4), (40, 16, 7), (3000, 8, 50))[rng.integers(0, 3)]
    x = rng.normal(0, 1, (n, d))
    centers = rng.normal(0, 1, (classes, d))
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    labels = rng.integers(0, classes, n)
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {}
    args, guards = spoil_call(loss, rng, method, [x, labels, centers], kwargs, (n, d), (n,))
    if "out" in kwargs and rng.random() < 0.5:  # a pair of buffers instead of one
        guards = []
        whole_x, out_x = guarded((n, d), x.dtype, rng)
        whole_c, out_c = guarded((classes, d), (np.float32, np.float64)[rng.integers(0, 2)], rng)
        kwargs["out"] = (out_x, out_c)
        guards = [whole_x, whole_c]
    return method, args, kwargs, guards


def pairwise_trial(loss, rng):
    """cosface/arcface: embeddings (N, D), weights (C, D) and integer labels; info_nce: two views;
    batch_triplet: embeddings and labels.
    Shapes around the GEMM tile (256), sometimes a pair of output buffers."""
    n, d, classes = ((5, 3, 4), (40, 16, 300), (257, 8, 600))[rng.integers(0, 3)]
    x = rng.normal(0, 1, (n, d))
    other = rng.normal(0, 1, (classes, d) if loss.spec.labels else (n, d))
    if rng.random() < 0.5:
        x = x.astype(np.float32)
    if loss.name == "batch_triplet":  # embeddings and any integer labels
        args = [x, rng.integers(-3, 3, n)]
        method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
        kwargs = {}
        args, guards = spoil_call(loss, rng, method, args, kwargs, (n, d), (n,))
        return method, args, kwargs, guards
    args = [x, other, rng.integers(0, classes, n)] if loss.spec.labels else [x, other]
    method = ROW_METHODS[rng.integers(0, len(ROW_METHODS))]
    kwargs = {}
    args, guards = spoil_call(loss, rng, method, args, kwargs, (n, d), (n,))
    if "out" in kwargs and rng.random() < 0.5:
        whole_x, out_x = guarded((n, d), x.dtype, rng)
        whole_o, out_o = guarded(other.shape, (np.float32, np.float64)[rng.integers(0, 2)], rng)
        kwargs["out"] = (out_x, out_o)
        guards = [whole_x, whole_o]
    return method, args, kwargs, guards


@pytest.fixture
def watchdog():
    """A hung kernel ends the run with every thread's traceback instead of stalling CI."""
    # The interpreter's own stderr: pytest may have replaced sys.stderr by one without a fileno.
    faulthandler.dump_traceback_later(120, exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("loss", lf.losses(), ids=lambda loss: loss.name)
def test_malformed_calls_raise_value_or_type_errors_only(loss, watchdog):
    rng = np.random.default_rng(sum(map(ord, loss.name)))
    make = (elementwise_trial if isinstance(loss, lf.ElementwiseLoss) else
            sequence_trial if isinstance(loss, lf.SequenceLoss) else
            segment_trial if isinstance(loss, lf.SegmentLoss) else
            order_trial if isinstance(loss, lf.LovaszHinge) else
            image_trial if isinstance(loss, lf.ImageLoss) else
            feature_trial if isinstance(loss, lf.PerceptualLoss) else
            pair_trial if isinstance(loss, lf.PairLoss) else
            center_trial if isinstance(loss, lf.CenterLoss) else
            pairwise_trial if isinstance(loss, lf.PairwiseLoss) else row_trial)
    for _ in range(TRIALS):
        method, args, kwargs, guards = make(loss, rng)
        run_trial(loss, method, args, kwargs, guards)
    if isinstance(loss, lf.CenterLoss):
        for _ in range(TRIALS):
            _, args, _, _ = make(loss, rng)
            centers = args[2] if len(args) > 2 else None
            alpha = (0.5, -1.0, np.nan, "x", None, 1e300)[rng.integers(0, 6)]
            try:
                loss.update(centers, *args[:2], alpha=alpha)
            except (ValueError, TypeError) as e:
                assert str(e)
