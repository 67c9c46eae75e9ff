"""E. Segmentation and overlap losses: dice, jaccard, tversky, focal_tversky, bce_dice and the Lovász
hinge, in plain NumPy.

The class axis is moved next to the batch axis, labels become one-hot masks, the statistics are
sums over the pixels (and the batch, unless ``per_sample``), and each loss's score and its
derivatives are written out for that loss alone. The objects take the arguments of ``lf.dice``.
``lovasz_hinge`` follows Berman et al.'s lovasz_hinge_flat with a stable argsort.
"""

from __future__ import annotations

import numpy as np

from ._common import _sigmoid, check_reduction

COMMON = {"axis": 1, "weight": None, "class_weight": None, "smooth": 1.0, "squared": False, "per_sample": False,
          "per_class": False, "from_logits": False, "ignore_index": None}


def _dice(I, P, G, smooth, **_):
    """score = (2 I + s) / (P + G + s): (score, d score/dI, d score/dP, denominator)."""
    num, den = 2 * I + smooth, P + G + smooth
    return num / den, 2 / den, -num / den**2, den


def _jaccard(I, P, G, smooth, **_):
    """score = (I + s) / (P + G - I + s)."""
    num, den = I + smooth, P + G - I + smooth
    return num / den, 1 / den + num / den**2, -num / den**2, den


def _tversky(I, P, G, smooth, alpha, beta, **_):
    """score = (I + s) / (I + alpha (P - I) + beta (G - I) + s): alpha weighs false positives."""
    num, den = I + smooth, I + alpha * (P - I) + beta * (G - I) + smooth
    return num / den, 1 / den - num * (1 - alpha - beta) / den**2, -alpha * num / den**2, den


SCORES = {"dice": _dice, "jaccard": _jaccard, "tversky": _tversky, "focal_tversky": _tversky, "bce_dice": _dice}
HYPER = {"dice": {}, "jaccard": {}, "tversky": {"alpha": 0.5, "beta": 0.5},
         "focal_tversky": {"alpha": 0.3, "beta": 0.7, "gamma": 0.75}, "bce_dice": {"w_bce": 1.0, "w_dice": 1.0}}


def _bce(p, t, x):
    """Binary cross-entropy per element and its derivative w.r.t. p (torch's BCELoss: logs clamped at
    -100, the derivative's denominator at 1e-12), or from the logits x (derivative w.r.t. x)."""
    if x is not None:
        return np.maximum(x, 0) - t * x + np.log1p(np.exp(-np.abs(x))), p - t
    with np.errstate(divide="ignore"):
        l = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
    return l, (p - t) / np.maximum(p * (1 - p), 1e-12)


def _layout(pred, target, axis):
    """pred as (N, C, pixels); the target as masks of that shape (labels one-hot) or labels (N, pixels)."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target)
    if axis is None:
        p = pred.reshape(pred.shape[0], 1, -1)
        return p, target.astype(np.float64).reshape(p.shape), None
    axis = axis % pred.ndim
    p = np.moveaxis(pred, axis, 1)
    n, c = p.shape[:2]
    p = p.reshape(n, c, -1)
    if target.shape == pred.shape:
        return p, np.moveaxis(target.astype(np.float64), axis, 1).reshape(p.shape), None
    if c == 1:
        return p, target.astype(np.float64).reshape(p.shape), None
    return p, None, target.reshape(n, -1).astype(np.int64)


class OverlapReference:
    """dice / jaccard / tversky / focal_tversky over (N, ..., C, ...) probabilities or logits."""

    def __init__(self, name):
        self.name = name
        self._score = SCORES[name]

    def __repr__(self):
        return f"<lossfn.reference.{self.name}>"

    def _forward(self, pred, target, kw):
        opts = dict(COMMON, **HYPER[self.name])
        unknown = set(kw) - set(opts) - {"reduction"}
        if unknown:
            raise TypeError(f"{self.name}() got unexpected keywords {sorted(unknown)}")
        opts.update(kw)
        check_reduction(opts.get("reduction", "mean"))
        x, t, labels = _layout(pred, target, opts["axis"])
        n, c, npix = x.shape
        w = np.ones((n, npix))
        if opts["weight"] is not None:
            pix_shape = np.delete(np.shape(pred), opts["axis"] % np.ndim(pred)) if opts["axis"] is not None \
                else np.shape(pred)
            w = np.broadcast_to(np.asarray(opts["weight"], dtype=np.float64), tuple(pix_shape)).reshape(n, npix).copy()
        ign = opts["ignore_index"]
        if labels is not None:
            if ign is not None:
                w[labels == ign] = 0.0
            t = (labels[:, None, :] == np.arange(c)[None, :, None]).astype(np.float64)
        elif ign is not None:
            w[t[:, 0, :] == ign] = 0.0
        if opts["from_logits"]:
            if c == 1 or self.name == "bce_dice":  # bce_dice: a sigmoid per score, never a softmax
                p = _sigmoid(x)
            else:
                z = x - x.max(axis=1, keepdims=True)
                e = np.exp(z)
                p = e / e.sum(axis=1, keepdims=True)
        else:
            p = x
        wb = w[:, None, :]
        sq = opts["squared"]
        I = (wb * p * t).sum(-1)
        P = (wb * p * p).sum(-1) if sq else (wb * p).sum(-1)
        G = (wb * t * t).sum(-1) if sq else (wb * t).sum(-1)
        if not opts["per_sample"]:
            I, P, G = I.sum(0, keepdims=True), P.sum(0, keepdims=True), G.sum(0, keepdims=True)
        bce = None
        if self.name == "bce_dice":
            terms, dterms = _bce(p, t, x if opts["from_logits"] else None)
            B = (wb * terms).sum(-1)
            N = np.broadcast_to(w.sum(-1)[:, None], B.shape).copy()
            if not opts["per_sample"]:
                B, N = B.sum(0, keepdims=True), N.sum(0, keepdims=True)
            bce = dict(B=B, N=N, dterms=dterms)
        hyper = {k: opts[k] for k in HYPER[self.name] if k not in ("w_bce", "w_dice")}
        with np.errstate(divide="ignore", invalid="ignore"):
            score, dI, dP, den = self._score(I, P, G, opts["smooth"], **hyper)
        empty = den == 0  # nothing predicted, nothing to find, smooth = 0: loss 0, gradient 0
        loss = 1.0 - score
        dL = np.ones_like(loss)  # d loss / d (1 - score)
        if self.name == "focal_tversky":
            gamma = opts["gamma"]
            base = np.maximum(loss, 0.0)
            loss = base**gamma
            with np.errstate(divide="ignore"):
                dL = np.where(base > 0, gamma * base ** (gamma - 1), 0.0)
        loss = np.where(empty, 0.0, loss)
        dI, dP = np.where(empty, 0.0, -dL * dI), np.where(empty, 0.0, -dL * dP)
        dB = np.zeros_like(loss)
        if bce is not None:
            wd, wbce = opts["w_dice"], opts["w_bce"]
            with np.errstate(divide="ignore", invalid="ignore"):
                mean_bce = np.where(bce["N"] > 0, bce["B"] / bce["N"], 0.0)
                dB = np.where(bce["N"] > 0, wbce / bce["N"], 0.0)
            loss, dI, dP = wd * loss + wbce * mean_bce, wd * dI, wd * dP
        cw = np.ones(c) if opts["class_weight"] is None else np.asarray(opts["class_weight"], dtype=np.float64)
        return dict(opts=opts, x=x, p=p, t=t, w=w, loss=loss, dI=dI, dP=dP, dB=dB, bce=bce, cw=cw,
                    shape=np.shape(pred))

    @staticmethod
    def _reduce(f, reduction):
        loss, cw, opts = f["loss"], f["cw"], f["opts"]
        sample = (loss * cw).sum(-1) / cw.sum()
        if reduction == "none":
            out = loss if opts["per_class"] else sample
            return out if opts["per_sample"] else out[0]
        if opts["per_class"]:
            raise ValueError("per_class: per-class losses are written only for reduction none")
        return float(sample.sum() if reduction == "sum" else sample.mean())

    def __call__(self, pred, target, *, reduction="mean", **kw):
        return self._reduce(self._forward(pred, target, kw), reduction)

    def grad(self, pred, target, *, reduction="mean", grad_output=None, **kw):
        f = self._forward(pred, target, kw)
        self._reduce(f, reduction)  # same checks
        opts, cw, loss = f["opts"], f["cw"], f["loss"]
        segments = loss.shape[0]
        # d value / d loss[s, c]
        if reduction == "none" and opts["per_class"]:
            up = np.broadcast_to(np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64),
                                 (segments, loss.shape[1]) if opts["per_sample"] else (loss.shape[1],))
            up = np.asarray(up).reshape(segments, -1)
        else:
            g = np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64)
            g = np.broadcast_to(g, (segments,)) if opts["per_sample"] else g.reshape(1)
            if reduction == "mean":
                g = g / segments
            up = g[:, None] * cw[None, :] / cw.sum()
        a, b, k = up * f["dI"], up * f["dP"], up * f["dB"]          # (segments, C)
        if not opts["per_sample"]:
            n = f["x"].shape[0]
            a, b, k = (np.broadcast_to(v, (n,) + v.shape[1:]) for v in (a, b, k))
        p, t, w = f["p"], f["t"], f["w"][:, None, :]
        dp = w * (a[..., None] * t + b[..., None] * (2 * p if opts["squared"] else 1.0))
        if opts["from_logits"]:
            if p.shape[1] == 1 or self.name == "bce_dice":
                dp = dp * p * (1 - p)
            else:
                dp = p * (dp - (p * dp).sum(axis=1, keepdims=True))
        if f["bce"] is not None:  # w.r.t. p, or with from_logits w.r.t. the logits
            dp = dp + w * k[..., None] * f["bce"]["dterms"]
        # back to pred's layout
        shape = f["shape"]
        axis = opts["axis"]
        if axis is None:
            return dp.reshape(shape)
        axis = axis % len(shape)
        moved = (shape[0], shape[axis]) + tuple(s for k, s in enumerate(shape) if k not in (0, axis))
        return np.moveaxis(dp.reshape(moved), 1, axis)

    def value_and_grad(self, pred, target, *, reduction="mean", **kw):
        return self(pred, target, reduction=reduction, **kw), self.grad(pred, target, reduction=reduction, **kw)


OVERLAPS = {name: OverlapReference(name) for name in SCORES}


class LovaszHingeReference:
    """Berman et al.'s Lovász hinge (lovasz_hinge_flat per segment), with its subgradient."""

    name = "lovasz_hinge"

    @staticmethod
    def _segments(logits, masks, per_sample, ignore_index):
        x = np.asarray(logits, dtype=np.float64)
        t = np.asarray(masks)
        if t.shape != x.shape:
            raise ValueError(f"masks: shape {t.shape} is not the logits' shape {x.shape}")
        n = x.shape[0]
        x, t = x.reshape(n, -1), t.reshape(n, -1)
        if not per_sample:
            x, t = x.reshape(1, -1), t.reshape(1, -1)
        keep = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
        if not np.all((t == 0) | (t == 1) | ~keep):
            raise ValueError("masks: values must be 0 or 1 (or ignore_index)")
        return x, (t == 1), keep

    @staticmethod
    def _flat(x, positive):
        """(loss, d loss / d x) of one segment's kept pixels."""
        if x.size == 0:
            return 0.0, np.zeros(0)
        s = np.where(positive, 1.0, -1.0)
        margin = s * x
        # Decreasing errors 1 - margin: increasing margins, ties in pixel order. (1 - margin in
        # floating point could round two different margins equal; their order is the exact one.)
        order = np.argsort(margin + 0.0, kind="stable")
        errors = 1.0 - margin[order]
        gt = positive[order].astype(np.float64)
        G = gt.sum()
        jaccard = 1.0 - (G - np.cumsum(gt)) / (G + np.cumsum(1.0 - gt))
        g = np.diff(jaccard, prepend=0.0)
        active = errors > 0
        with np.errstate(invalid="ignore"):  # inf * 0, discarded
            terms = np.where(active & (g != 0), errors * g, 0.0)
        terms = np.where(np.isnan(errors), errors, terms)
        grad = np.zeros_like(x)
        grad[order] = np.where(active, -s[order] * g, 0.0)
        return float(terms.sum()), grad

    def _forward(self, logits, masks, per_sample, ignore_index):
        x, positive, keep = self._segments(logits, masks, per_sample, ignore_index)
        losses, grads = np.zeros(x.shape[0]), np.zeros_like(x)
        for k in range(x.shape[0]):
            losses[k], grads[k, keep[k]] = self._flat(x[k, keep[k]], positive[k, keep[k]])
        return losses, grads

    def __call__(self, logits, masks, *, per_sample=True, ignore_index=None, reduction="mean"):
        check_reduction(reduction)
        losses, _ = self._forward(logits, masks, per_sample, ignore_index)
        if reduction == "none":
            return losses if per_sample else losses[0]
        return float(losses.sum() if reduction == "sum" else losses.mean())

    def grad(self, logits, masks, *, per_sample=True, ignore_index=None, reduction="mean", grad_output=None):
        check_reduction(reduction)
        losses, grads = self._forward(logits, masks, per_sample, ignore_index)
        up = np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64)
        up = np.broadcast_to(up, losses.shape) if reduction == "none" else np.full(losses.shape, float(up))
        if reduction == "mean":
            up = up / losses.shape[0]
        return (up[:, None] * grads).reshape(np.shape(logits))

    def value_and_grad(self, logits, masks, **kw):
        return self(logits, masks, **kw), self.grad(logits, masks, **kw)


lovasz_hinge = LovaszHingeReference()
