"""H. Image losses: SSIM from direct (not separable) window sums over the valid positions, and
total variation from np.diff, each with its gradient written out by hand (the tests check both
against central differences)."""

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


class SsimReference:
    """1 - SSIM per image (Wang et al. 2004) with a 2-D window applied directly."""

    name = "ssim"

    @staticmethod
    def window(win_size=11, sigma=1.5, gaussian_weights=True):
        if gaussian_weights:
            k = np.arange(win_size) - win_size // 2
            w = np.exp(-(k * k) / (2.0 * sigma * sigma))
            w /= w.sum()
        else:
            w = np.full(win_size, 1.0 / win_size)
        return np.outer(w, w)

    def _forward(self, x, y, data_range=1.0, win_size=11, sigma=1.5, k1=0.01, k2=0.03, gaussian_weights=True,
                 use_sample_covariance=False, channel_axis=1, gradient=False):
        x, y = _nchw(x, channel_axis), _nchw(y, channel_axis)
        if x.shape != y.shape:
            raise ValueError(f"y: shape {y.shape} does not match x shape {x.shape}")
        H, W = x.shape[2:]
        if H < win_size or W < win_size:
            raise ValueError(f"x: the images ({H} x {W}) are smaller than the {win_size} x {win_size} window")
        w2 = self.window(win_size, sigma, gaussian_weights)

        def blur(a):  # valid correlation with the window
            return np.einsum("...ijkl,kl->...ij", sliding_window_view(a, w2.shape, axis=(-2, -1)), w2)

        k = win_size**2 / (win_size**2 - 1.0) if use_sample_covariance else 1.0
        c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
        mx, my = blur(x), blur(y)
        vx = np.maximum(k * (blur(x * x) - mx * mx), 0.0)
        vy = np.maximum(k * (blur(y * y) - my * my), 0.0)
        cxy = k * (blur(x * y) - mx * my)
        num_l, den_l = 2 * mx * my + c1, mx * mx + my * my + c1
        num_cs, den_cs = 2 * cxy + c2, vx + vy + c2
        S = num_l * num_cs / (den_l * den_cs)
        losses = 1.0 - S.mean(axis=(2, 3)).mean(axis=1)
        if not gradient:
            return losses, None
        # dS w.r.t. the means, the variances and the covariance; then through the moments'
        # definitions to x and y; each map's adjoint is the full correlation with the window.
        dS_mx_direct = 2 * my * num_cs / (den_l * den_cs) - S * 2 * mx / den_l
        dS_my_direct = 2 * mx * num_cs / (den_l * den_cs) - S * 2 * my / den_l
        dS_var = -S / den_cs
        dS_cov = 2 * num_l / (den_l * den_cs)
        per_pixel = 1.0 / (x.shape[1] * S.shape[2] * S.shape[3])

        def spread(m):  # adjoint of blur
            out = np.zeros(x.shape)
            Ho, Wo = m.shape[2:]
            for i in range(win_size):
                for j in range(win_size):
                    out[:, :, i:i + Ho, j:j + Wo] += w2[i, j] * m
            return out

        # d S / d x = blur^T(dmx) + 2 x blur^T(dexx) + y blur^T(dexy), with
        # mx's total derivative through vx = k (E[x^2] - mx^2) and cxy = k (E[xy] - mx my).
        dexx, dexy = k * dS_var, k * dS_cov
        dmx = dS_mx_direct - 2 * mx * dexx - my * dexy
        dmy = dS_my_direct - 2 * my * dexx - mx * dexy
        gx = -per_pixel * (spread(dmx) + 2 * x * spread(dexx) + y * spread(dexy))
        gy = -per_pixel * (spread(dmy) + 2 * y * spread(dexx) + x * spread(dexy))
        return losses, (gx, gy)

    def __call__(self, x, y, *, reduction="mean", **kw):
        return _reduce(self._forward(x, y, **kw)[0], reduction)

    def grad(self, x, y, *, reduction="mean", grad_output=None, wrt="x", **kw):
        check_reduction(reduction)
        losses, (gx, gy) = self._forward(x, y, gradient=True, **kw)
        up = _upstream(losses, reduction, grad_output)[:, None, None, None]
        axis = kw.get("channel_axis", 1)
        gx, gy = _from_nchw(up * gx, axis), _from_nchw(up * gy, axis)
        return (gx, gy) if wrt == "both" else gx

    def value_and_grad(self, x, y, **kw):
        grad_kw = dict(kw)
        kw.pop("wrt", None)
        return self(x, y, **kw), self.grad(x, y, **grad_kw)


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


ssim = SsimReference()
total_variation = TotalVariationReference()
