"""CTC against torch.nn.functional.ctc_loss (skipped without torch).

torch's ctc_loss takes log-probabilities and returns, through its own backward, the gradient
w.r.t. the logits of a log_softmax in front of it (its backward assumes one). So the comparison is
made on logits x: torch's loss of log_softmax(x) and the gradient autograd gives w.r.t. x, against
lf.ctc(x, from_logits=True), and against lf.ctc(log_softmax(x)) whose gradient (the true
derivative w.r.t. the log-probabilities) is chained through log_softmax here.
"""

import numpy as np
import pytest

import lossfn as lf
from samples import draw_ctc

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_ctc(x, targets, il, tl, reduction, blank=0, zero_infinity=False):
    xt = torch.tensor(x, requires_grad=True)
    loss = F.ctc_loss(F.log_softmax(xt, -1), torch.tensor(targets), torch.tensor(il), torch.tensor(tl),
                      blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    loss.sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "concatenated"])
@pytest.mark.parametrize("blank", [0, 4])
def test_matches_torch_ctc_loss(dtype, reduction, padded, blank):
    rng = np.random.default_rng(21)
    x, targets, il, tl = draw_ctc(rng, batch=6, frames=30, classes=9, max_labels=10, blank=blank, logits=True,
                                  padded=padded, dtype=dtype)
    want_v, want_g = torch_ctc(x, targets, il, tl, reduction, blank)
    v, g = lf.ctc.value_and_grad(x, targets, il, tl, blank=blank, from_logits=True, reduction=reduction)
    # float32: torch computes in float32 (its log-space DP rounds each cell); lossfn in double.
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(v, want_v, **tol)
    np.testing.assert_allclose(g, want_g, **tol)
    # Log-probabilities in: the true gradient, chained through log_softmax, is torch's.
    lp = log_softmax(x.astype(np.float64)).astype(dtype)
    v2, g_lp = lf.ctc.value_and_grad(lp, targets, il, tl, blank=blank, reduction=reduction)
    g_lp = g_lp.astype(np.float64)
    chained = g_lp - np.exp(lp.astype(np.float64)) * g_lp.sum(-1, keepdims=True)
    np.testing.assert_allclose(v2, want_v, **tol)
    np.testing.assert_allclose(chained, want_g, **tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_infinity_as_torch(reduction):
    rng = np.random.default_rng(22)
    x, targets, il, tl = draw_ctc(rng, batch=4, frames=8, classes=5, max_labels=3, logits=True)
    targets = np.array([[1, 2, 3, 4, 1, 2, 3, 4, 1], [1, 2, 0, 0, 0, 0, 0, 0, 0],
                        [3, 3, 3, 3, 3, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0, 0, 0]])
    targets[targets == 0] = 1
    tl = np.array([9, 2, 5, 1])
    il = np.array([8, 8, 8, 8])
    want_v, want_g = torch_ctc(x, targets, il, tl, reduction, zero_infinity=True)
    v, g = lf.ctc.value_and_grad(x, targets, il, tl, from_logits=True, zero_infinity=True, reduction=reduction)
    np.testing.assert_allclose(v, want_v, rtol=1e-9)
    np.testing.assert_allclose(g, want_g, rtol=1e-9, atol=1e-12)


def test_float32_gradient_is_closer_to_float64_than_torchs():
    """The issue's accuracy goal: lossfn's float32 gradient within 1e-6 of a float64 computation."""
    rng = np.random.default_rng(23)
    x, targets, il, tl = draw_ctc(rng, batch=4, frames=150, classes=28, max_labels=40, logits=True)
    _, exact = lf.ctc.value_and_grad(x, targets, il, tl, from_logits=True, reduction="sum")
    _, g32 = lf.ctc.value_and_grad(x.astype(np.float32), targets, il, tl, from_logits=True, reduction="sum")
    _, t32 = torch_ctc(x.astype(np.float32), targets, il, tl, "sum")
    err, torch_err = np.abs(g32 - exact).max(), np.abs(t32 - exact).max()
    assert err <= 1e-6, err
    assert err <= torch_err
