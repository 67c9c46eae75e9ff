"""H. Image losses: a filter over bands of rows of each image plane, and its adjoint; and the
perceptual and style losses over a network's feature maps."""

from __future__ import annotations

from .specs import BandLossSpec, FeatureLossSpec

# The window and constants: pytorch-msssim's defaults with data_range=1.0.
SSIM_HYPER = {"data_range": 1.0, "win_size": 11, "sigma": 1.5, "k1": 0.01, "k2": 0.03, "gaussian_weights": True,
              "use_sample_covariance": False}

SPECS = [
    BandLossSpec(
        "ssim", "image", "pytorch-msssim ssim, scikit-image structural_similarity",
        "l = 1 - mean over channels and valid positions of S, S = (2 mu_x mu_y + C1)(2 s_xy + C2) / "
        "((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2)), moments under a Gaussian (or uniform) window, "
        "C1 = (k1 data_range)^2, C2 = (k2 data_range)^2",
        inputs=("x", "y"),
        hyper={**SSIM_HYPER, "channel_axis": 1},
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
        "ms_ssim", "image", "pytorch-msssim ms_ssim",
        "l = 1 - mean over channels of prod_l relu(cs_l)^w_l (the last level: relu(SSIM)^w_L), cs_l the mean "
        "contrast-structure term (2 s_xy + C2) / (s_xx + s_yy + C2) of level l, level l + 1 the 2x2 average "
        "pooling of level l",
        inputs=("x", "y"),
        hyper={**SSIM_HYPER, "weights": (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), "channel_axis": 1},
        variants=[{"win_size": 3, "sigma": 0.8, "weights": (0.2, 0.3, 0.5)},
                  {"win_size": 5, "weights": (0.0, 1.0), "data_range": 255.0},
                  {"win_size": 3, "weights": (1.0,), "gaussian_weights": False, "use_sample_covariance": True},
                  {"win_size": 3, "weights": (0.25, 0.25, 0.5), "channel_axis": -1}],
        bad_hyper=[{"data_range": 0.0}, {"win_size": 4}, {"weights": ()}, {"weights": (0.5, -0.1)},
                   {"weights": (float("nan"),)}, {"k2": -1.0}, {"channel_axis": 2}],
        note="pytorch-msssim's pyramid: torch's avg_pool2d(kernel_size=2, padding=(H % 2, W % 2)) (the padding "
             "counted), relu before the powers; a plane with a factor <= 0 (weight > 0) has MS-SSIM 0 and a "
             "zero gradient, where pytorch-msssim's backward gives NaN; every level must hold the window "
             "(pytorch-msssim asks for a smaller side above (win_size - 1) 16); data_range=1.0 here, 255 there"),
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

FEATURE_SPECS = [
    FeatureLossSpec(
        "perceptual", "image", "Johnson et al. 2016 (perceptual), Gatys et al. 2016 (style)",
        "l = sum over layers of w_l mean over (c, i, j) of (F_l(x) - F_l(y))^2 per image; gram=True: w_l mean over "
        "(a, b) of (G_l(x) - G_l(y))^2, G = F F^T / (C H W) with F the (C, pixels) matrix of a layer's features",
        inputs=("features_x", "features_y"),
        hyper={"layer_weights": None, "gram": False},
        variants=[{"gram": True}, {"layer_weights": (0.5, 2.0)}, {"gram": True, "layer_weights": (1.0, 0.0)}],
        bad_hyper=[{"layer_weights": (1.0, -1.0)}, {"layer_weights": (float("nan"), 1.0)}, {"layer_weights": (1.0,)},
                   {"layer_weights": ()}],
        note="features are lists of (N, C, ...) arrays, one per layer (a network's activations for x and y); "
             "for 'mean' the value is sum_l w_l mse_loss(F_l(x), F_l(y)) in torch (of the Gram matrices with "
             "gram=True, for a batch of one image: the style loss of the PyTorch neural-transfer tutorial, whose "
             "gram_matrix divides F F^T by C H W; each image has its own Gram matrix here); the gradient is w.r.t. the x features; the "
             "Gram products run through the GEMM engine, one image's layer per thread"),
]
