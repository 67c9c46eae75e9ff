"""H. Image losses: a filter over bands of rows of each image plane, and its adjoint."""

from __future__ import annotations

from .specs import BandLossSpec

SPECS = [
    BandLossSpec(
        "ssim", "image", "pytorch-msssim ssim, scikit-image structural_similarity",
        "l = 1 - mean over channels and valid positions of S, S = (2 mu_x mu_y + C1)(2 s_xy + C2) / "
        "((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2)), moments under a Gaussian (or uniform) window, "
        "C1 = (k1 data_range)^2, C2 = (k2 data_range)^2",
        inputs=("x", "y"),
        hyper={"data_range": 1.0, "win_size": 11, "sigma": 1.5, "k1": 0.01, "k2": 0.03, "gaussian_weights": True,
               "use_sample_covariance": False, "channel_axis": 1},
        variants=[{"win_size": 7, "gaussian_weights": False, "use_sample_covariance": True},
                  {"data_range": 255.0}, {"win_size": 5, "sigma": 0.8}, {"channel_axis": -1}],
        bad_hyper=[{"data_range": 0.0}, {"win_size": 4}, {"win_size": 0}, {"sigma": 0.0}, {"k1": 0.0}, {"k2": -1.0},
                   {"channel_axis": 2}],
        note="valid filtering (no padding) and population covariance as pytorch-msssim (data_range=1.0 here, "
             "255 there); gaussian_weights=False, win_size=7, use_sample_covariance=True reproduce "
             "scikit-image, whose map is filtered with reflected borders and then cropped to the same "
             "valid positions; an image's loss averages its channels; the moments are formed in "
             "float64 for float32 images, and a variance below 0 by rounding counts as 0"),
    BandLossSpec(
        "total_variation", "image", "kornia total_variation",
        "l = sum over channels and pixels of |x[i, j+1] - x[i, j]| + |x[i+1, j] - x[i, j]| "
        "(isotropic: sqrt(dh^2 + dv^2), a difference past the border 0)",
        inputs=("x",),
        hyper={"isotropic": False, "channel_axis": 1},
        variants=[{"isotropic": True}, {"channel_axis": -1}],
        bad_hyper=[{"channel_axis": 0}],
        note="an image's loss is its sum over channels and pixels (kornia's total_variation, which returns "
             "one sum per channel plane, added over the channels); sign(0) = 0, and the isotropic gradient "
             "is 0 where both differences are 0"),
]
