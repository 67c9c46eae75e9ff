"""Sample inputs for the generic tests, drawn from the registry's input domains."""

from __future__ import annotations

import numpy as np

import lossfn as lf

SHAPE = (37, 11)  # 407 elements: not a multiple of any vector width


def draw(domain, shape, rng):
    if domain in ("real", "logit"):
        return rng.normal(0.0, 2.0, shape)
    if domain == "prob":
        return rng.uniform(0.02, 0.98, shape)
    if domain == "positive":
        return rng.uniform(0.1, 3.0, shape)
    if domain == "soft01":
        return rng.uniform(0.0, 1.0, shape)
    if domain == "binary01":
        return rng.integers(0, 2, shape).astype(np.float64)
    if domain == "sign":
        return rng.choice([-1.0, 1.0], shape)
    if domain == "count":
        return rng.integers(0, 6, shape).astype(np.float64)
    if domain == "unit":
        return rng.uniform(0.05, 0.95, shape)
    raise ValueError(domain)


def inputs(loss, shape=SHAPE, seed=0):
    """Positional float64 inputs (pred, target[, aux]) for a loss."""
    rng = np.random.default_rng(seed)
    spec = loss.spec
    args = [draw(spec.pred, shape, rng), draw(spec.target, shape, rng)]
    if spec.aux:
        args.append(draw(spec.aux, shape, rng))
    return args


def draw_logits(domain, shape, rng, axis=-1):
    x = rng.normal(0.0, 2.0, shape)
    if domain == "logit":
        return x
    logp = lf.reference.log_softmax(x, axis=axis)
    return logp if domain == "logprob_rows" else np.exp(logp)


def draw_target(domain, shape, rng, axis=-1):
    """A target of kind `domain` for logits of `shape` with the classes on `axis`."""
    C = shape[axis]
    batch = tuple(np.delete(np.array(shape), axis % len(shape)))
    if domain == "labels":
        return rng.integers(0, C, batch)
    if domain == "binary01":
        return rng.integers(0, 2, shape).astype(np.float64)
    if domain == "onehot":
        labels = rng.integers(0, C, batch)
        return np.moveaxis((labels[..., None] == np.arange(C)).astype(np.float64), -1, axis)
    if domain == "probs":
        return np.moveaxis(rng.dirichlet(np.ones(C), batch), -1, axis)
    raise ValueError(domain)


def hyper_settings(loss, shape=SHAPE, seed=1):
    """The default keywords and every registered variant, with 'per-column' made concrete."""
    rng = np.random.default_rng(seed)
    out = [{}]
    for variant in loss.spec.variants:
        concrete = {}
        for key, value in variant.items():
            if value == "per-column":
                value = rng.uniform(0.1, 0.9, shape[-1]) if key == "tau" else rng.uniform(0.5, 3.0, shape[-1])
            concrete[key] = value
        out.append(concrete)
    return out


def hyper_id(hyper):
    if not hyper:
        return "default"
    return ",".join(f"{k}={'array' if isinstance(v, np.ndarray) else v}" for k, v in hyper.items())


def tolerance(dtype):
    """(rtol, atol relative to the largest reference magnitude) for comparing with the reference."""
    return (2e-5, 2e-6) if np.dtype(dtype) == np.float32 else (1e-11, 1e-13)


def assert_close(actual, expected, dtype, what):
    rtol, atol_rel = tolerance(dtype)
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol_rel * scale + 1e-300, err_msg=what)


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


# The elementwise losses (SPEC §2 A, B); the row losses and utilities are in test_multiclass.py.
ALL_LOSSES = [loss for loss in lf.losses() if isinstance(loss, lf.ElementwiseLoss)]
LOSS_IDS = [loss.name for loss in ALL_LOSSES]


def draw_ctc(rng, batch=4, frames=30, classes=6, max_labels=8, blank=0, logits=False, padded=True,
             repeats=True, dtype=np.float64):
    """A feasible CTC call: (scores (T, N, C), targets, input_lengths, target_lengths).

    Scores are log-probabilities (log_softmax of normals) or, with `logits`, the normals
    themselves; labels avoid `blank`, with repeated neighbours when `repeats`; each input length
    leaves room for the labels and the blanks their repeats need.
    """
    x = rng.normal(0.0, 2.0, (frames, batch, classes))
    if not logits:
        x = x - np.log(np.sum(np.exp(x - x.max(-1, keepdims=True)), -1, keepdims=True)) - x.max(-1, keepdims=True)
    others = np.array([c for c in range(classes) if c != blank])
    labels, target_lengths, input_lengths = [], [], []
    for _ in range(batch):
        length = int(rng.integers(0, max_labels + 1))
        seq = rng.choice(others, length)
        if repeats and length >= 2 and rng.random() < 0.5:
            seq[1] = seq[0]
        needed = length + int(np.sum(seq[1:] == seq[:-1]))
        while needed > frames:  # shorten until it fits
            seq = seq[:-1]
            needed = len(seq) + int(np.sum(seq[1:] == seq[:-1]))
        labels.append(seq)
        target_lengths.append(len(seq))
        input_lengths.append(int(rng.integers(max(needed, 1), frames + 1)))
    if padded:
        width = max(target_lengths + [1])
        targets = np.zeros((batch, width), dtype=np.int64)
        for b, seq in enumerate(labels):
            targets[b, :len(seq)] = seq
            targets[b, len(seq):] = others[0]  # padding is never read
    else:
        targets = np.concatenate([np.asarray(s, dtype=np.int64) for s in labels]) if labels else np.zeros(0, np.int64)
    return (x.astype(dtype), targets, np.array(input_lengths, dtype=np.int64),
            np.array(target_lengths, dtype=np.int64))
