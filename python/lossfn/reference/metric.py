"""F. Metric learning: on given pairs and triplets each loss per row with NumPy, the center loss,
and the pairwise losses (cosface, arcface, info_nce) on the full N x C or N x N matrices; every
gradient written out by hand (the tests check it against central differences)."""

from __future__ import annotations

import numpy as np

from ._common import check_reduction


def _reduce(losses, reduction):
    check_reduction(reduction)
    if reduction == "none":
        return losses
    return float(losses.sum() if reduction == "sum" else losses.mean())


def _upstream(losses, reduction, grad_output):
    up = np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64)
    up = np.broadcast_to(up, losses.shape) if reduction == "none" else np.full(losses.shape, float(up))
    return up / max(losses.size, 1) if reduction == "mean" else up


def _norm_grad(u, p):
    """d ||u||_p / d u per row (0 for a zero row)."""
    norm = np.sum(np.abs(u) ** p, axis=-1, keepdims=True) ** (1.0 / p)
    safe = np.where(norm > 0, norm, 1.0)
    g = np.sign(u) * np.abs(u) ** (p - 1) / safe ** (p - 1)
    return norm[..., 0], np.where(norm > 0, g, 0.0)


def _contrastive(x1, x2, y, margin=1.0):
    u = x1 - x2
    d = np.sqrt(np.sum(u * u, axis=-1))
    h = np.maximum(margin - d, 0.0)
    loss = 0.5 * (y * d * d + (1 - y) * h * h)
    k = y - (1 - y) * np.where(d > 0, h / np.where(d > 0, d, 1.0), 0.0)
    g = k[..., None] * u
    return loss, (g, -g)


def _triplet(a, p_, n, margin=1.0, p=2.0, eps=1e-6, swap=False):
    dp, gu = _norm_grad(a - p_ + eps, p)
    dn, gv = _norm_grad(a - n + eps, p)
    swapped = np.zeros(dp.shape, dtype=bool)
    if swap:
        ds, gw = _norm_grad(p_ - n + eps, p)
        swapped = ds < dn
        dn = np.where(swapped, ds, dn)
        gv = np.where(swapped[..., None], gw, gv)
    hinge = dp - dn + margin
    active = (hinge > 0)[..., None]
    ga = np.where(active, np.where(swapped[..., None], gu, gu - gv), 0.0)
    gp = np.where(active, np.where(swapped[..., None], -gu - gv, -gu), 0.0)
    gn = np.where(active, gv, 0.0)
    return np.maximum(hinge, 0.0), (ga, gp, gn)


def _cosine_embedding(x1, x2, y, margin=0.0):
    A = np.sum(x1 * x1, axis=-1) + 1e-12
    B = np.sum(x2 * x2, axis=-1) + 1e-12
    r = 1.0 / np.sqrt(A * B)
    cos = np.sum(x1 * x2, axis=-1) * r
    pos, neg = y == 1, y == -1
    loss = np.where(pos, 1 - cos, 0.0) + np.where(neg, np.maximum(cos - margin, 0.0), 0.0)
    dl = np.where(pos, -1.0, 0.0) + np.where(neg & (cos - margin > 0), 1.0, 0.0)
    g1 = dl[..., None] * (r[..., None] * x2 - (cos / A)[..., None] * x1)
    g2 = dl[..., None] * (r[..., None] * x1 - (cos / B)[..., None] * x2)
    return loss, (g1, g2)


def _margin_ranking(x1, x2, y, margin=0.0):
    h = -y * (x1 - x2) + margin
    g = np.where(h > 0, y, 0.0)
    return np.maximum(h, 0.0), (-g, g)


def _hinge_embedding(x, y, margin=1.0):
    h = margin - x
    loss = np.where(y != 1, np.maximum(h, 0.0), 0.0) + np.where(y != -1, x, 0.0)
    g = np.where((y != 1) & (h > 0), -1.0, 0.0) + np.where(y != -1, 1.0, 0.0)
    return loss, (g,)


class PairReference:
    """A loss on given pairs or triplets: per-row (per-element) losses and their gradients."""

    def __init__(self, name, fn, takes_labels=True):
        self.name, self._fn, self._labels = name, fn, takes_labels

    def _forward(self, inputs, kw):
        arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
        return self._fn(*arrays, **kw)

    def __call__(self, *inputs, reduction="mean", **kw):
        return _reduce(np.asarray(self._forward(inputs, kw)[0], dtype=np.float64), reduction)

    def grad(self, *inputs, reduction="mean", grad_output=None, **kw):
        check_reduction(reduction)
        losses, grads = self._forward(inputs, kw)
        up = _upstream(np.asarray(losses, dtype=np.float64), reduction, grad_output)
        rows = np.asarray(inputs[0]).ndim > np.asarray(losses).ndim
        out = tuple((up[..., None] if rows else up) * g for g in grads)
        return out[0] if len(out) == 1 else out

    def value_and_grad(self, *inputs, **kw):
        return self(*inputs, **kw), self.grad(*inputs, **kw)


contrastive = PairReference("contrastive", _contrastive)
triplet = PairReference("triplet", _triplet, takes_labels=False)
cosine_embedding = PairReference("cosine_embedding", _cosine_embedding)
margin_ranking = PairReference("margin_ranking", _margin_ranking)
hinge_embedding = PairReference("hinge_embedding", _hinge_embedding)
PAIRS = {r.name: r for r in (contrastive, triplet, cosine_embedding, margin_ranking, hinge_embedding)}


class CenterReference:
    """1/2 |x - c_y|^2 per sample; gradients w.r.t. the features and the centers; Wen et al.'s update."""

    name = "center_loss"

    @staticmethod
    def _forward(features, labels, centers):
        x = np.asarray(features, dtype=np.float64)
        c = np.asarray(centers, dtype=np.float64)
        y = np.asarray(labels)
        u = x - c[y]
        return 0.5 * np.sum(u * u, axis=-1), u, y, c

    def __call__(self, features, labels, centers, *, reduction="mean"):
        return _reduce(self._forward(features, labels, centers)[0], reduction)

    def grad(self, features, labels, centers, *, reduction="mean", grad_output=None):
        check_reduction(reduction)
        losses, u, y, c = self._forward(features, labels, centers)
        gx = _upstream(losses, reduction, grad_output)[:, None] * u
        gc = np.zeros_like(c)
        np.add.at(gc, y, -gx)
        return gx, gc

    def value_and_grad(self, features, labels, centers, **kw):
        return self(features, labels, centers, **kw), self.grad(features, labels, centers, **kw)

    @staticmethod
    def update(centers, features, labels, *, alpha=0.5):
        """The updated centers (a new array)."""
        c = np.array(centers, dtype=np.float64)
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels)
        out = c.copy()
        for j in np.unique(y):
            members = x[y == j]
            out[j] = c[j] - alpha * np.sum(c[j] - members, axis=0) / (1 + len(members))
        return out


center_loss = CenterReference()


# ---------------------------------------------------------------------------------------------
# The pairwise losses, with the plain N x C (N x N) matrices.
# ---------------------------------------------------------------------------------------------
def _unit(x):
    """x / max(|x|, 1e-12) per row (torch's F.normalize), and the adjoint of that map."""
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    denom = np.maximum(norm, 1e-12)

    def adjoint(g):
        u = x / denom
        projected = g - u * np.sum(u * g, axis=-1, keepdims=True)
        return np.where(norm > 1e-12, projected, g) / denom

    return x / denom, adjoint


def _logsumexp(z, axis):
    m = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(z - m), axis=axis))


def _margin_phi(c, arcface, m, easy_margin):
    """The label's cosine mapped (phi) and its slope; arcface's slope divides by max(sin, sqrt(eps))."""
    if not arcface:
        return c - m, np.ones_like(c)
    sin_t = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    angular = c > 0 if easy_margin else c > np.cos(np.pi - m)
    phi = np.where(angular, c * np.cos(m) - sin_t * np.sin(m), c if easy_margin else c - np.sin(np.pi - m) * m)
    slope = np.cos(m) + np.sin(m) * c / np.maximum(sin_t, np.sqrt(np.finfo(np.float64).eps))
    return phi, np.where(angular, slope, 1.0)


def _margin_loss(arcface):
    def loss(embeddings, weights, labels, up, s, m, easy_margin=False):
        e, e_adjoint = _unit(embeddings)
        w, w_adjoint = _unit(weights)
        y = np.asarray(labels, dtype=np.int64)
        rows = np.arange(len(e))
        cos = np.clip(e @ w.T, -1.0, 1.0)
        phi, slope = _margin_phi(cos[rows, y], arcface, m, easy_margin)
        logits = s * cos
        logits[rows, y] = s * phi
        lse = _logsumexp(logits, 1)
        losses = lse - logits[rows, y]
        if up is None:
            return losses, None
        coef = np.exp(logits - lse[:, None])
        coef[rows, y] -= 1.0
        coef *= s * up[:, None]
        coef[rows, y] *= slope
        return losses, (e_adjoint(coef @ w), w_adjoint(coef.T @ e))
    return loss


def _info_nce(z1, z2, up, temperature=0.1, symmetric=True, mode="clip"):
    a, a_adjoint = _unit(z1)
    b, b_adjoint = _unit(z2)
    n = len(a)
    if mode == "simclr":
        z = np.concatenate([a, b])
        logits = z @ z.T / temperature
        np.fill_diagonal(logits, -np.inf)
        rows, pos = np.arange(2 * n), np.concatenate([np.arange(n, 2 * n), np.arange(n)])
        lse = _logsumexp(logits, 1)
        ce = lse - logits[rows, pos]
        losses = 0.5 * (ce[:n] + ce[n:])
        if up is None:
            return losses, None
        r = 0.5 * np.concatenate([up, up])
        coef = r[:, None] * np.exp(logits - lse[:, None])
        coef[rows, pos] -= r
        dz = (coef + coef.T) @ z / temperature
        return losses, (a_adjoint(dz[:n]), b_adjoint(dz[n:]))
    logits = a @ b.T / temperature
    diag = np.diagonal(logits)
    row, col = _logsumexp(logits, 1) - diag, _logsumexp(logits, 0) - diag
    losses = 0.5 * (row + col) if symmetric else row
    if up is None:
        return losses, None
    half = 0.5 if symmetric else 1.0
    eye = np.eye(n)
    coef = half * up[:, None] * (np.exp(logits - _logsumexp(logits, 1)[:, None]) - eye)
    if symmetric:
        coef += half * up[None, :] * (np.exp(logits - _logsumexp(logits, 0)[None, :]) - eye)
    coef /= temperature
    return losses, (a_adjoint(coef @ b), b_adjoint(coef.T @ a))


class PairwiseReference:
    """A pairwise loss: per-sample losses, and the gradients of the reduced loss (the weights'
    gradient sums over the samples, so the upstream enters before the products)."""

    def __init__(self, name, fn, labels=True):
        self.name, self._fn, self._labels = name, fn, labels

    def _arrays(self, inputs):
        arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
        if self._labels:
            arrays[-1] = np.asarray(inputs[-1], dtype=np.int64)
        return arrays

    def __call__(self, *inputs, reduction="mean", **kw):
        return _reduce(self._fn(*self._arrays(inputs), None, **kw)[0], reduction)

    def grad(self, *inputs, reduction="mean", grad_output=None, **kw):
        check_reduction(reduction)
        arrays = self._arrays(inputs)
        n = len(arrays[0])
        up = _upstream(np.zeros(n), reduction, grad_output)
        return self._fn(*arrays, np.asarray(up, dtype=np.float64), **kw)[1]

    def value_and_grad(self, *inputs, **kw):
        return self(*inputs, **kw), self.grad(*inputs, **kw)


def _cosface(embeddings, weights, labels, up, s=30.0, m=0.35):
    return _margin_loss(False)(embeddings, weights, labels, up, s, m)


def _arcface(embeddings, weights, labels, up, s=64.0, m=0.5, easy_margin=False):
    return _margin_loss(True)(embeddings, weights, labels, up, s, m, easy_margin)


cosface = PairwiseReference("cosface", _cosface)
arcface = PairwiseReference("arcface", _arcface)
info_nce = PairwiseReference("info_nce", _info_nce, labels=False)
PAIRWISE = {r.name: r for r in (cosface, arcface, info_nce)}


def _triplet_distances(x, distance):
    """The batch's distances (N x N, diagonal 0) and the map from per-pair coefficients C to
    d(sum C * dist)/dx (the clamps of the distances passed through)."""
    if distance == "cosine":
        u, adjoint = _unit(x)
        dist = np.clip(1.0 - u @ u.T, 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
        return dist, lambda c: adjoint(-(c + c.T) @ u)
    diff = x[:, None, :] - x[None, :, :]
    sq = np.sum(diff * diff, axis=-1)
    if distance == "squared":
        def grad(c):
            s = 2.0 * (c + c.T)
            return s.sum(1)[:, None] * x - s @ x
        return sq, grad
    dist = np.sqrt(sq)

    def grad(c):
        w = np.divide(c, dist, out=np.zeros_like(c), where=dist > 0)
        s = w + w.T
        return s.sum(1)[:, None] * x - s @ x
    return dist, grad


def _batch_triplets(embeddings, labels, margin, mining, distance):
    """Every kept triplet's loss by brute force: (per-anchor loss sums, kept count, count with a
    positive loss, per-pair coefficients d(loss sum of anchor a)/d dist(a, j), gradient map)."""
    dist, grad = _triplet_distances(embeddings, distance)
    n = len(embeddings)
    same = labels[:, None] == labels[None, :]
    losses, coef = np.zeros(n), np.zeros((n, n))
    kept = positive = 0
    for a in range(n):
        negatives = np.flatnonzero(~same[a])
        dn = dist[a, negatives]
        for p in np.flatnonzero(same[a]):
            if p == a:
                continue
            dp = dist[a, p]
            if mining == "semihard_tfa":
                outside = dn > dp
                k = (np.flatnonzero(outside)[np.argmin(dn[outside])] if outside.any()
                     else (np.argmax(dn) if len(dn) else None))
                loss = margin + dp - (dn[k] if k is not None else 0.0)
                kept += 1
                if loss > 0:
                    losses[a] += loss
                    positive += 1
                    coef[a, p] += 1.0
                    if k is not None:
                        coef[a, negatives[k]] -= 1.0
                continue
            gap = dn - dp
            keep = {"all": gap <= margin, "hard": gap <= 0, "semihard": (gap > 0) & (gap <= margin)}[mining]
            loss = dp - dn + margin
            active = keep & (loss > 0)
            kept += int(keep.sum())
            positive += int(active.sum())
            losses[a] += loss[active].sum()
            coef[a, p] += active.sum()
            coef[a, negatives[active]] -= 1.0
    return losses, kept, positive, coef, grad


class BatchTripletReference:
    """batch_triplet by brute force over the batch's triplets (pytorch-metric-learning's miner
    conditions, TF-Addons' semi-hard selection); the mean over the kept triplets (or the positive
    ones with reduction_mode="nonzero"), 0 when none; "none": per-anchor sums."""

    name = "batch_triplet"

    @staticmethod
    def _run(embeddings, labels, reduction, grad_output, margin=0.2, mining="all", distance="euclidean",
             reduction_mode="all", gradient=False):
        check_reduction(reduction)
        x = np.asarray(embeddings, dtype=np.float64)
        y = np.asarray(labels, dtype=np.int64)
        losses, kept, positive, coef, grad = _batch_triplets(x, y, margin, mining, distance)
        count = positive if reduction_mode == "nonzero" else kept
        if reduction == "none":
            value = losses
        elif reduction == "sum":
            value = float(losses.sum())
        else:
            value = float(losses.sum() / count) if count else 0.0
        if not gradient:
            return value
        up = 1.0 if grad_output is None else grad_output
        if reduction == "none":
            weight = np.broadcast_to(np.asarray(up, dtype=np.float64), losses.shape)
        else:
            weight = np.full(len(x), float(up) / (count if reduction == "mean" and count else 1.0))
            if reduction == "mean" and not count:
                weight = np.zeros(len(x))
        return grad(weight[:, None] * coef)

    def __call__(self, embeddings, labels, *, reduction="mean", **kw):
        return self._run(embeddings, labels, reduction, None, **kw)

    def grad(self, embeddings, labels, *, reduction="mean", grad_output=None, **kw):
        return self._run(embeddings, labels, reduction, grad_output, gradient=True, **kw)

    def value_and_grad(self, embeddings, labels, **kw):
        return self(embeddings, labels, **kw), self.grad(embeddings, labels, **kw)


batch_triplet = BatchTripletReference()
PAIRWISE["batch_triplet"] = batch_triplet
