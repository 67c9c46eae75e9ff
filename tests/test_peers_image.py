"""The image losses against their peers: pytorch-msssim's ssim and ms_ssim (values and autograd
gradients, several data ranges, windows, constants and pyramids), scikit-image's structural_similarity with its flags, kornia's
ssim with valid padding and its total_variation (per channel plane: summed over the channels) (values and autograd gradients). Each peer is a
test extra, skipped when absent."""

import numpy as np
import pytest

import lossfn as lf


def images(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    x = rng.random(shape)
    y = np.clip(x + rng.normal(0, 0.2, shape), 0, 1)
    return x * scale, y * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", [{}, {"data_range": 255.0}, {"win_size": 7, "sigma": 1.0}, {"k1": 0.02, "k2": 0.05},
                                {"win_size": 5, "sigma": 0.8, "data_range": 2.0}],
                         ids=["default", "range255", "win7", "k", "win5"])
def test_ssim_matches_pytorch_msssim(kw, dtype):
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    data_range = kw.get("data_range", 1.0)
    x, y = images(1, (3, 3, 40, 37), data_range)
    x, y = x.astype(dtype), y.astype(dtype)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = torch.tensor(y.astype(np.float64), requires_grad=True)
    # pytorch-msssim's own window is float32 (its value then differs from float64 arithmetic by
    # about 2e-7): the same Gaussian, built in float64, passed as its `win`.
    win_size, sigma = kw.get("win_size", 11), kw.get("sigma", 1.5)
    k = torch.arange(win_size, dtype=torch.float64) - win_size // 2
    win = torch.exp(-(k**2) / (2 * sigma**2))
    win = (win / win.sum()).reshape(1, 1, 1, -1).repeat(3, 1, 1, 1)
    per_image = pytorch_msssim.ssim(tx, ty, data_range=data_range, size_average=False, win=win,
                                    K=(kw.get("k1", 0.01), kw.get("k2", 0.03)))
    loss = (1 - per_image).mean()
    loss.backward()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lf.ssim(x, y, reduction="none", **kw), 1 - per_image.detach().numpy(), **tol)
    v, (gx, gy) = lf.ssim.value_and_grad(x, y, wrt="both", **kw)
    np.testing.assert_allclose(v, loss.item(), **tol)
    scale = np.abs(tx.grad.numpy()).max()
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=tol["rtol"], atol=tol["rtol"] * scale)
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=tol["rtol"], atol=tol["rtol"] * scale)


def gaussian_window(torch, win_size, sigma, channels):
    """pytorch-msssim's window, built in float64 (its own is float32)."""
    k = torch.arange(win_size, dtype=torch.float64) - win_size // 2
    win = torch.exp(-(k**2) / (2 * sigma**2))
    return (win / win.sum()).reshape(1, 1, 1, -1).repeat(channels, 1, 1, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 180, 171), {}),
    ((1, 1, 161, 200), {"data_range": 255.0, "k2": 0.05}),
    ((2, 2, 100, 97), {"win_size": 7, "sigma": 1.0}),
    ((1, 3, 40, 35), {"win_size": 3, "sigma": 0.8, "weights": (0.2, 0.3, 0.5)}),
], ids=["default", "range255", "win7", "three-levels"])
def test_ms_ssim_matches_pytorch_msssim(shape, kw, dtype):
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    data_range = kw.get("data_range", 1.0)
    x, y = images(6, shape, data_range)
    x, y = x.astype(dtype), y.astype(dtype)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = torch.tensor(y.astype(np.float64), requires_grad=True)
    win = gaussian_window(torch, kw.get("win_size", 11), kw.get("sigma", 1.5), shape[1])
    per_image = pytorch_msssim.ms_ssim(tx, ty, data_range=data_range, size_average=False, win=win,
                                       weights=list(kw["weights"]) if "weights" in kw else None,
                                       K=(kw.get("k1", 0.01), kw.get("k2", 0.03)))
    loss = (1 - per_image).sum()
    loss.backward()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-8)
    np.testing.assert_allclose(lf.ms_ssim(x, y, reduction="none", **kw), 1 - per_image.detach().numpy(), **tol)
    v, (gx, gy) = lf.ms_ssim.value_and_grad(x, y, wrt="both", reduction="sum", **kw)
    np.testing.assert_allclose(v, loss.item(), **tol)
    scale = np.abs(tx.grad.numpy()).max()
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=tol["rtol"], atol=tol["rtol"] * scale)
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=tol["rtol"], atol=tol["rtol"] * scale)


def test_ms_ssim_of_anti_correlated_images_matches_pytorch_msssim_value():
    # Negative cs: relu makes MS-SSIM 0 in both; pytorch-msssim's gradient there is NaN, ours 0.
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    x = np.random.default_rng(7).random((1, 3, 170, 165))
    ref = pytorch_msssim.ms_ssim(torch.tensor(x), torch.tensor(1 - x), data_range=1.0, size_average=False,
                                 win=gaussian_window(torch, 11, 1.5, 3))
    np.testing.assert_allclose(lf.ms_ssim(x, 1 - x, reduction="none"), 1 - ref.numpy(), atol=1e-15)
    assert np.all(lf.ms_ssim.grad(x, 1 - x) == 0)


@pytest.mark.parametrize("flags", [
    {},                                                                   # skimage's defaults: uniform 7, sample
    {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False},  # Wang et al.'s, as its docs say
    {"gaussian_weights": True, "sigma": 1.5},
    {"win_size": 5},
], ids=["defaults", "wang", "gaussian-sample", "uniform5"])
def test_ssim_matches_scikit_image(flags):
    metrics = pytest.importorskip("skimage.metrics")
    x, y = images(2, (2, 3, 32, 29))
    data_range = 1.0
    expected = [metrics.structural_similarity(a, b, data_range=data_range, channel_axis=0, **flags) for a, b in zip(x, y)]
    # Ours: skimage's gaussian_weights=True means 11 taps (truncate 3.5 sigma); its default window is uniform 7.
    ours = {"gaussian_weights": flags.get("gaussian_weights", False),
            "use_sample_covariance": flags.get("use_sample_covariance", True),
            "win_size": 11 if flags.get("gaussian_weights") else flags.get("win_size", 7)}
    if "sigma" in flags:
        ours["sigma"] = flags["sigma"]
    np.testing.assert_allclose(1 - lf.ssim(x, y, reduction="none", data_range=data_range, **ours), expected,
                               rtol=1e-10)


def test_ssim_matches_kornia_valid_map():
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    x, y = images(3, (2, 3, 30, 33))
    ssim_map = kornia.metrics.ssim(torch.tensor(x), torch.tensor(y), 11, max_val=1.0, eps=0.0, padding="valid")
    np.testing.assert_allclose(lf.ssim(x, y, reduction="none"), 1 - ssim_map.mean(dim=(1, 2, 3)).numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_total_variation_matches_kornia(dtype):
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    x = np.random.default_rng(4).normal(size=(3, 2, 17, 23)).astype(dtype)
    x[0, 0, 3, 4] = x[0, 0, 3, 5]  # a zero difference: sign(0) = 0 in both
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    # kornia returns one sum per channel plane, (N, C); lossfn's image loss adds the channels.
    tv = kornia.losses.total_variation(tx, reduction="sum")
    tol = dict(rtol=1e-12) if dtype == np.float64 else dict(rtol=1e-6)
    np.testing.assert_allclose(lf.total_variation(x, reduction="none"), tv.sum(dim=1).detach().numpy(), **tol)
    tx.grad = None
    kornia.losses.total_variation(tx).sum().backward()
    np.testing.assert_allclose(lf.total_variation.grad(x, reduction="sum"), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_isotropic_total_variation_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).normal(size=(2, 3, 9, 11))
    tx = torch.tensor(x, requires_grad=True)
    dh = torch.nn.functional.pad(tx[..., :, 1:] - tx[..., :, :-1], (0, 1))
    dv = torch.nn.functional.pad(tx[..., 1:, :] - tx[..., :-1, :], (0, 0, 0, 1))
    tv = torch.sqrt(dh * dh + dv * dv + 1e-300).sum(dim=(1, 2, 3))  # no zero norm in random data but the corner
    tv.sum().backward()
    np.testing.assert_allclose(lf.total_variation(x, isotropic=True, reduction="none"), tv.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lf.total_variation.grad(x, isotropic=True, reduction="sum"), tx.grad.numpy(),
                               rtol=1e-10, atol=1e-12)
