"""What a Keras or PyTorch user expects of the call: inputs by their names, and a signature that
help() and inspect show."""

import inspect

import numpy as np
import pytest

import lossfn as lf


def test_elementwise_inputs_by_keyword():
    rng = np.random.default_rng(0)
    p, y, v = rng.normal(size=10), rng.normal(size=10), rng.uniform(0.5, 2, 10)
    assert lf.huber(pred=p, target=y) == lf.huber(p, y)
    assert lf.huber(p, target=y, delta=0.5) == lf.huber(p, y, delta=0.5)
    np.testing.assert_array_equal(lf.huber.grad(pred=p, target=y, reduction="sum"), lf.huber.grad(p, y, reduction="sum"))
    np.testing.assert_array_equal(lf.huber.hess(pred=p, target=y), lf.huber.hess(p, y))
    assert lf.gaussian_nll(p, y, var=v) == lf.gaussian_nll(p, y, v)
    g1, g2 = lf.gaussian_nll.grad(pred=p, target=y, var=v)
    np.testing.assert_array_equal(g2, lf.gaussian_nll.grad(p, y, v)[1])
    with pytest.raises(TypeError, match="huber\\(\\) got multiple values for input 'pred'"):
        lf.huber(p, pred=p, target=y)
    with pytest.raises(TypeError, match="huber\\(\\) missing input 'pred' \\(given: 'target'\\)"):
        lf.huber(target=y)
    with pytest.raises(TypeError, match="huber\\(\\) missing input 'pred' \\(given: 'target'\\)"):
        lf.huber(prediction=p, target=y)
    with pytest.raises(TypeError, match="unexpected keyword argument 'prediction'"):
        lf.huber(p, y, prediction=p)


def test_other_shapes_take_inputs_by_keyword():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(4, 5)), rng.integers(0, 5, 4)
    assert lf.softmax_cross_entropy(logits=logits, target=labels) == lf.softmax_cross_entropy(logits, labels)
    masks = (rng.random((2, 3, 3)) < 0.5).astype(np.float64)
    x = rng.normal(size=(2, 3, 3))
    assert lf.lovasz_hinge(logits=x, masks=masks) == lf.lovasz_hinge(x, masks)
    assert lf.dice(pred=masks * 0.5, target=masks, axis=None) == lf.dice(masks * 0.5, masks, axis=None)


@pytest.mark.parametrize("loss", lf.losses(), ids=lambda loss: loss.name)
def test_every_loss_has_a_signature(loss):
    sig = inspect.signature(loss)
    params = list(sig.parameters.values())
    assert tuple(p.name for p in params[: len(loss.inputs)]) == tuple(loss.inputs)
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[: len(loss.inputs)])
    keywords = {p.name: p.default for p in params[len(loss.inputs):]}
    assert all(p.kind is p.KEYWORD_ONLY for p in params[len(loss.inputs):])
    for k, v in loss.spec.hyper.items():
        assert keywords[k] == v or (keywords[k] is None and v is None)
    if not isinstance(loss, lf.RowFunction):
        assert keywords["reduction"] == "mean"
    assert str(sig).startswith("(" + loss.inputs[0])


def test_a_class_weight_passed_as_weight_is_named():
    x, y = np.random.default_rng(2).normal(size=(4, 3)), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"weight: shape \(3,\) cannot be broadcast to the batch shape \(4,\) "
                                         r"\(weight= is one weight per sample; .* goes in class_weight=\)"):
        lf.softmax_cross_entropy(x, y, weight=np.ones(3))
