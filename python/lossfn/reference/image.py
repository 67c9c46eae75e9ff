"""H. Image losses: SSIM and MS-SSIM from direct (not separable) window sums over the valid
positions (MS-SSIM's pyramid by reshaping), total variation from np.diff, and the perceptual and
style losses from plain differences and einsum Gram matrices, each with its gradient written out
by hand (the tests check both against central differences)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._common import check_reduction


def _nchw(a, channel_axis):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"x: expected images (N, C, H, W), got shape {a.shape}")
    return a if channel_axis in (1, -3) else np.moveaxis(a, -1, 1)


def _from_nchw(a, channel_axis):
    return a if channel_axis in (1, -3) else np.moveaxis(a, 1, -1)


def _upstream(losses, reduction, grad_output):
    """d value / d loss_n times the upstream gradient, per image."""
    up = np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64)
    up = np.broadcast_to(up, losses.shape) if reduction == "none" else np.full(losses.shape, float(up))
    return up / losses.shape[0] if reduction == "mean" else up


def _reduce(losses, reduction):
    check_reduction(reduction)
    if reduction == "none":
        return losses
    return float(losses.sum() if reduction == "sum" else losses.mean())


def _window(win_size=11, sigma=1.5, gaussian_weights=True):
    if gaussian_weights:
        k = np.arange(win_size) - win_size // 2
        w = np.exp(-(k * k) / (2.0 * sigma * sigma))
        w /= w.sum()
    else:
        w = np.full(win_size, 1.0 / win_size)
    return np.outer(w, w)


def _ssim_maps(x, y, data_range=1.0, win_size=11, sigma=1.5, k1=0.01, k2=0.03, gaussian_weights=True,
               use_sample_covariance=False, contrast_only=False):
    """Per plane (N, C): the mean of the SSIM map (or of its contrast-structure term alone) over
    the valid positions, and a function of per-plane weights of the map's pixels giving the
    gradient of the weighted map sums w.r.t. x and y."""
    H, W = x.shape[2:]
    if H < win_size or W < win_size:
        raise ValueError(f"x: the images ({H} x {W}) are smaller than the {win_size} x {win_size} window")
    w2 = _window(win_size, sigma, gaussian_weights)

    def blur(a):  # valid correlation with the window
        return np.einsum("...ijkl,kl->...ij", sliding_window_view(a, w2.shape, axis=(-2, -1)), w2)

    k = win_size**2 / (win_size**2 - 1.0) if use_sample_covariance else 1.0
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = np.maximum(k * (blur(x * x) - mx * mx), 0.0)
    vy = np.maximum(k * (blur(y * y) - my * my), 0.0)
    cxy = k * (blur(x * y) - mx * my)
    if contrast_only:
        num_l = den_l = np.ones_like(mx)
    else:
        num_l, den_l = 2 * mx * my + c1, mx * mx + my * my + c1
    num_cs, den_cs = 2 * cxy + c2, vx + vy + c2
    S = num_l * num_cs / (den_l * den_cs)

    def gradient(scale):
        # dS w.r.t. the means, the variances and the covariance; then through the moments'
        # definitions to x and y; each map's adjoint is the full correlation with the window.
        if contrast_only:
            dS_mx_direct = dS_my_direct = 0.0
        else:
            dS_mx_direct = 2 * my * num_cs / (den_l * den_cs) - S * 2 * mx / den_l
            dS_my_direct = 2 * mx * num_cs / (den_l * den_cs) - S * 2 * my / den_l
        dS_var = -S / den_cs
        dS_cov = 2 * num_l / (den_l * den_cs)
        s = np.asarray(scale, dtype=np.float64)[:, :, None, None]

        def spread(m):  # adjoint of blur
            out = np.zeros(x.shape)
            Ho, Wo = m.shape[2:]
            for i in range(win_size):
                for j in range(win_size):
                    out[:, :, i:i + Ho, j:j + Wo] += w2[i, j] * m
            return out

        # d S / d x = blur^T(dmx) + 2 x blur^T(dexx) + y blur^T(dexy), with
        # mx's total derivative through vx = k (E[x^2] - mx^2) and cxy = k (E[xy] - mx my).
        dexx, dexy = k * dS_var * s, k * dS_cov * s
        dmx = dS_mx_direct * s - 2 * mx * dexx - my * dexy
        dmy = dS_my_direct * s - 2 * my * dexx - mx * dexy
        ex, exy = spread(dexx), spread(dexy)
        return spread(dmx) + 2 * x * ex + y * exy, spread(dmy) + 2 * y * ex + x * exy

    return S.mean(axis=(2, 3)), gradient


def _image_pair(x, y, channel_axis):
    x, y = _nchw(x, channel_axis), _nchw(y, channel_axis)
    if x.shape != y.shape:
        raise ValueError(f"y: shape {y.shape} does not match x shape {x.shape}")
    return x, y


class _TwoImageReference:
    """value, grad (wrt="x" or "both") and value_and_grad from _forward(x, y, upstream, **kw)."""

    def __call__(self, x, y, *, reduction="mean", **kw):
        return _reduce(self._forward(x, y, None, **kw)[0], reduction)

    def grad(self, x, y, *, reduction="mean", grad_output=None, wrt="x", **kw):
        check_reduction(reduction)
        losses = self._forward(x, y, None, **kw)[0]
        up = _upstream(losses, reduction, grad_output)
        gx, gy = self._forward(x, y, up, **kw)[1]
        axis = kw.get("channel_axis", 1)
        gx, gy = _from_nchw(gx, axis), _from_nchw(gy, axis)
        return (gx, gy) if wrt == "both" else gx

    def value_and_grad(self, x, y, **kw):
        grad_kw = dict(kw)
        kw.pop("wrt", None)
        return self(x, y, **kw), self.grad(x, y, **grad_kw)


class SsimReference(_TwoImageReference):
    """1 - SSIM per image (Wang et al. 2004) with a 2-D window applied directly."""

    name = "ssim"
    window = staticmethod(_window)

    def _forward(self, x, y, upstream, channel_axis=1, **kw):
        x, y = _image_pair(x, y, channel_axis)
        means, gradient = _ssim_maps(x, y, **kw)
        losses = 1.0 - means.mean(axis=1)
        if upstream is None:
            return losses, None
        C = x.shape[1]
        map_pixels = (x.shape[2] - kw.get("win_size", 11) + 1) * (x.shape[3] - kw.get("win_size", 11) + 1)
        scale = np.broadcast_to(-upstream[:, None] / (C * map_pixels), means.shape)
        return losses, gradient(scale)


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _pool(a):
    """2x2 average pooling with a zero padding of H % 2 rows and W % 2 columns on each side,
    counted (torch's avg_pool2d(a, 2, padding=(H % 2, W % 2)))."""
    N, C, H, W = a.shape
    ph, pw = H % 2, W % 2
    Ho, Wo = (H + ph) // 2, (W + pw) // 2
    padded = np.pad(a, ((0, 0), (0, 0), (ph, ph), (pw, pw)))[:, :, :2 * Ho, :2 * Wo]
    return padded.reshape(N, C, Ho, 2, Wo, 2).sum(axis=(3, 5)) / 4.0


def _unpool(g, shape):
    """The adjoint of _pool: each pixel of g spreads a quarter of itself over its 2x2 block."""
    H, W = shape[2:]
    ph, pw = H % 2, W % 2
    spread = np.repeat(np.repeat(g, 2, axis=2), 2, axis=3) / 4.0
    return spread[:, :, ph:ph + H, pw:pw + W]


class MsSsimReference(_TwoImageReference):
    """1 - MS-SSIM per image (Wang, Simoncelli and Bovik 2003) as pytorch-msssim: a pyramid of
    len(weights) levels by 2x2 average pooling, the contrast-structure mean of every level but the
    last, the SSIM mean of the last, each through relu and raised to its weight, multiplied."""

    name = "ms_ssim"

    def _forward(self, x, y, upstream, weights=MS_SSIM_WEIGHTS, channel_axis=1, **kw):
        x, y = _image_pair(x, y, channel_axis)
        w = np.asarray(weights, dtype=np.float64)
        L, win = len(w), kw.get("win_size", 11)
        xs, ys = [x], [y]
        for _ in range(L - 1):
            xs.append(_pool(xs[-1]))
            ys.append(_pool(ys[-1]))
        if min(xs[-1].shape[2:]) < win:
            raise ValueError(f"x: the images {x.shape[2:]} are too small for {L} levels and a {win} x {win} window")
        levels = [_ssim_maps(xs[l], ys[l], contrast_only=l < L - 1, **kw) for l in range(L)]
        F = np.stack([means for means, _ in levels])  # (L, N, C)
        wl = w[:, None, None]
        positive = np.maximum(F, 0.0)
        P = np.where(wl == 0, 1.0, positive**wl)
        losses = 1.0 - P.prod(axis=0).mean(axis=1)
        if upstream is None:
            return losses, None
        vanished = ((wl > 0) & (F <= 0)).any(axis=0)
        C = x.shape[1]
        gx = gy = None
        for l in reversed(range(L)):
            rest = np.prod([P[m] for m in range(L) if m != l], axis=0) if L > 1 else np.ones_like(F[l])
            d_factor = np.where(vanished | (w[l] == 0), 0.0, w[l] * np.where(F[l] > 0, F[l], 1.0) ** (w[l] - 1) * rest)
            map_pixels = (xs[l].shape[2] - win + 1) * (xs[l].shape[3] - win + 1)
            lx, ly = levels[l][1](-upstream[:, None] / C * d_factor / map_pixels)
            if gx is not None:
                lx, ly = lx + _unpool(gx, xs[l].shape), ly + _unpool(gy, xs[l].shape)
            gx, gy = lx, ly
        return losses, (gx, gy)


class TotalVariationReference:
    """Sum over channels and pixels of |dh| + |dv| (or sqrt(dh^2 + dv^2)), per image."""

    name = "total_variation"

    @staticmethod
    def _forward(x, isotropic=False, channel_axis=1):
        x = _nchw(x, channel_axis)
        dh = np.zeros(x.shape)
        dv = np.zeros(x.shape)
        dh[..., :, :-1] = np.diff(x, axis=3)
        dv[..., :-1, :] = np.diff(x, axis=2)
        if isotropic:
            n = np.sqrt(dh * dh + dv * dv)
            losses = n.sum(axis=(1, 2, 3))
            safe = np.where(n > 0, n, 1.0)
            uh, uv = np.where(n > 0, dh / safe, 0.0), np.where(n > 0, dv / safe, 0.0)
        else:
            losses = (np.abs(dh) + np.abs(dv)).sum(axis=(1, 2, 3))
            uh, uv = np.sign(dh), np.sign(dv)
        # Each term depends on x[i, j] with -1 and on its right / lower neighbour with +1.
        g = -uh - uv
        g[..., :, 1:] += uh[..., :, :-1]
        g[..., 1:, :] += uv[..., :-1, :]
        return losses, g

    def __call__(self, x, *, reduction="mean", **kw):
        return _reduce(self._forward(x, **kw)[0], reduction)

    def grad(self, x, *, reduction="mean", grad_output=None, **kw):
        check_reduction(reduction)
        losses, g = self._forward(x, **kw)
        up = _upstream(losses, reduction, grad_output)[:, None, None, None]
        return _from_nchw(up * g, kw.get("channel_axis", 1))

    def value_and_grad(self, x, **kw):
        return self(x, **kw), self.grad(x, **kw)


class PerceptualReference:
    """sum_l w_l mean (F_l(x) - F_l(y))^2 per image, or the same of the Gram matrices
    G = F F^T / (C H W) with gram=True; gradient w.r.t. each layer's x features."""

    name = "perceptual"

    @staticmethod
    def _layers(features_x, features_y, layer_weights):
        xs = [np.asarray(a, dtype=np.float64) for a in features_x]
        ys = [np.asarray(a, dtype=np.float64) for a in features_y]
        if len(xs) != len(ys) or not xs:
            raise ValueError("features_x, features_y: need the same number of layers, at least one")
        w = np.ones(len(xs)) if layer_weights is None else np.asarray(layer_weights, dtype=np.float64)
        return xs, ys, w

    def _forward(self, features_x, features_y, layer_weights=None, gram=False):
        xs, ys, w = self._layers(features_x, features_y, layer_weights)
        losses, grads = 0.0, []
        for wl, x, y in zip(w, xs, ys):
            n, c = x.shape[0], x.shape[1]
            fx, fy = x.reshape(n, c, -1), y.reshape(n, c, -1)
            if not gram:
                d = fx - fy
                losses = losses + wl * np.mean(d * d, axis=(1, 2))
                grads.append((2.0 * wl / (c * fx.shape[2]) * d).reshape(x.shape))
                continue
            norm = 1.0 / (c * fx.shape[2])
            d = norm * (np.einsum("ncp,nkp->nck", fx, fx) - np.einsum("ncp,nkp->nck", fy, fy))
            losses = losses + wl * np.mean(d * d, axis=(1, 2))
            grads.append((4.0 * wl * norm / (c * c) * np.einsum("nck,nkp->ncp", d, fx)).reshape(x.shape))
        return np.asarray(losses, dtype=np.float64), grads

    def __call__(self, features_x, features_y, *, reduction="mean", **kw):
        return _reduce(self._forward(features_x, features_y, **kw)[0], reduction)

    def grad(self, features_x, features_y, *, reduction="mean", grad_output=None, **kw):
        check_reduction(reduction)
        losses, grads = self._forward(features_x, features_y, **kw)
        up = _upstream(losses, reduction, grad_output)
        return [up.reshape((-1,) + (1,) * (g.ndim - 1)) * g for g in grads]

    def value_and_grad(self, features_x, features_y, **kw):
        return self(features_x, features_y, **kw), self.grad(features_x, features_y, **kw)


ssim = SsimReference()
ms_ssim = MsSsimReference()
total_variation = TotalVariationReference()
perceptual = PerceptualReference()
