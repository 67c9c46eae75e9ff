"""G. Sequence losses: CTC as the plain log-space dynamic programme of Graves et al. (2006).

Alpha and beta over every state of the extended label sequence, in float64, with
``np.logaddexp``: slow and obviously right. The loss object takes the arguments of ``lf.ctc``.
"""

from __future__ import annotations

import numpy as np

from ._common import check_reduction


def _log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def ctc_sample(lp, labels, blank):
    """(-log p, d(-log p)/d lp) for one sample: lp (T, C) log-probabilities, labels 1-D."""
    frames, classes = lp.shape
    labels = np.asarray(labels, dtype=np.int64)
    states = 2 * len(labels) + 1
    ext = np.full(states, blank, dtype=np.int64)
    ext[1::2] = labels
    grad = np.zeros_like(lp)
    if frames == 0:
        return (0.0 if len(labels) == 0 else np.inf), grad
    # The move s-2 -> s: into a label different from the one two states before.
    skip = np.zeros(states, dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    emit = lp[:, ext]                                    # (T, S)
    neg = np.full(states, -np.inf)
    alpha = np.full((frames, states), -np.inf)
    alpha[0, :2] = emit[0, :2]
    for t in range(1, frames):
        prev = np.concatenate(([-np.inf, -np.inf], alpha[t - 1]))  # prev[s + 2] = alpha[t - 1, s]
        jump = np.where(skip, prev[:-2], neg)
        alpha[t] = np.logaddexp(np.logaddexp(prev[2:], prev[1:-1]), jump) + emit[t]
    log_p = np.logaddexp(alpha[-1, -1], alpha[-1, -2] if states > 1 else -np.inf)
    if not np.isfinite(log_p):
        return np.inf, grad
    beta = np.full((frames, states), -np.inf)            # emission at t included
    beta[-1, -2:] = emit[-1, -2:]
    skip_next = np.concatenate((skip, [False, False]))[2:]  # the move s -> s+2
    for t in range(frames - 2, -1, -1):
        nxt = np.concatenate((beta[t + 1], [-np.inf, -np.inf]))    # nxt[s] = beta[t + 1, s]
        jump = np.where(skip_next, nxt[2:], neg)
        beta[t] = np.logaddexp(np.logaddexp(nxt[:-2], nxt[1:-1]), jump) + emit[t]
    posterior = np.exp(alpha + beta - emit - log_p)      # (T, S): P(state s at frame t | labels)
    for s in range(states):
        grad[:, ext[s]] -= posterior[:, s]
    return -log_p, grad


def _batch(log_probs, targets, input_lengths, target_lengths, batch_first):
    """(scores (T, N, C), per-sample label lists, input lengths, target lengths, unbatched)."""
    x = np.asarray(log_probs, dtype=np.float64)
    unbatched = x.ndim == 2
    if unbatched:
        x = x[:, None, :]
        targets = np.asarray(targets)[None]
        input_lengths = np.reshape(input_lengths, 1)
        target_lengths = np.reshape(target_lengths, 1)
    elif batch_first:
        x = np.swapaxes(x, 0, 1)
    targets = np.asarray(targets, dtype=np.int64)
    input_lengths = np.asarray(input_lengths, dtype=np.int64)
    target_lengths = np.asarray(target_lengths, dtype=np.int64)
    if targets.ndim == 2:
        labels = [targets[b, :target_lengths[b]] for b in range(x.shape[1])]
    else:
        offsets = np.concatenate(([0], np.cumsum(target_lengths)))
        labels = [targets[offsets[b]:offsets[b + 1]] for b in range(x.shape[1])]
    return x, labels, input_lengths, target_lengths, unbatched


class CtcReference:
    """torch.nn.functional.ctc_loss's reductions over ``ctc_sample``."""

    name = "ctc"

    def __repr__(self):
        return "<lossfn.reference.ctc>"

    def _terms(self, log_probs, targets, input_lengths, target_lengths, blank, from_logits, batch_first):
        x, labels, input_lengths, target_lengths, unbatched = _batch(
            log_probs, targets, input_lengths, target_lengths, batch_first)
        losses = np.zeros(x.shape[1])
        grads = np.zeros_like(x)
        for b in range(x.shape[1]):
            frames = input_lengths[b]
            scores = x[:frames, b]
            lp = _log_softmax(scores) if from_logits else scores
            losses[b], g = ctc_sample(lp, labels[b], blank)
            if from_logits:  # through log_softmax: g - softmax * sum(g)
                g = g - np.exp(lp) * np.sum(g, axis=-1, keepdims=True)
            grads[:frames, b] = g
        return losses, grads, target_lengths, unbatched

    @staticmethod
    def _reduce(losses, target_lengths, reduction, zero_infinity):
        losses = np.where(zero_infinity & np.isinf(losses), 0.0, losses)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return float(np.sum(losses))
        return float(np.mean(losses / np.maximum(target_lengths, 1))) if losses.size else float("nan")

    def __call__(self, log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False,
                 from_logits=False, batch_first=False, reduction="mean"):
        check_reduction(reduction)
        losses, _, lengths, unbatched = self._terms(log_probs, targets, input_lengths, target_lengths, blank,
                                                    from_logits, batch_first)
        v = self._reduce(losses, lengths, reduction, zero_infinity)
        return v.reshape(()) if unbatched and reduction == "none" else v

    def grad(self, log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False,
             from_logits=False, batch_first=False, reduction="mean", grad_output=None):
        check_reduction(reduction)
        losses, grads, lengths, unbatched = self._terms(log_probs, targets, input_lengths, target_lengths, blank,
                                                        from_logits, batch_first)
        go = np.ones(losses.shape) if grad_output is None else np.broadcast_to(
            np.asarray(grad_output, dtype=np.float64).reshape(-1) if reduction == "none" else
            np.asarray(grad_output, dtype=np.float64), losses.shape)
        k = go / (losses.size * np.maximum(lengths, 1)) if reduction == "mean" else go
        k = np.where(np.isfinite(losses), k, 0.0)      # an impossible sample has gradient 0
        g = grads * k[None, :, None]
        if unbatched:
            return g[:, 0]
        return np.swapaxes(g, 0, 1) if batch_first else g

    def value_and_grad(self, *args, reduction="mean", **kw):
        kw.pop("grad_output", None)
        return self(*args, reduction=reduction, **kw), self.grad(*args, reduction=reduction, **kw)


ctc = CtcReference()
