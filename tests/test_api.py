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


@pytest.mark.parametrize("name", ["bce", "binary_focal"])
def test_binary_probability_losses_take_logits(name):
    # Keras's from_logits=True: the stable logit form, the gradient w.r.t. the logits. Against the
    # probability form of sigmoid(x) (no clipping at eps in this range) through the sigmoid's
    # derivative.
    rng = np.random.default_rng(4)
    x = rng.normal(0, 3, 60)
    y = (rng.random(60) < 0.4).astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    loss = getattr(lf, name)
    kw = {"alpha": 0.3} if name == "binary_focal" else {"class_weight": (0.5, 2.0)}
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(loss(x, y, from_logits=True, reduction=reduction, **kw),
                                   loss(p, y, reduction=reduction, **kw), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(loss.grad(x, y, from_logits=True, **kw), loss.grad(p, y, **kw) * p * (1 - p),
                               rtol=1e-6, atol=1e-12)
    v, g = loss.value_and_grad(pred=x, target=y, from_logits=True, **kw)
    np.testing.assert_array_equal(g, loss.grad(x, y, from_logits=True, **kw))
    assert loss(p, y, from_logits=False, **kw) == loss(p, y, **kw)
    with pytest.raises(TypeError, match="from_logits: expected a bool"):
        loss(x, y, from_logits=1)
    assert inspect.signature(loss).parameters["from_logits"].default is False


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_categorical_probability_losses_take_logits(name):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, (7, 4))
    labels = rng.integers(0, 4, 7)
    target = np.eye(4)[labels] if name == "categorical_crossentropy" else labels
    kw = {"label_smoothing": 0.1} if name == "categorical_crossentropy" else {"ignore_index": 2}
    p = lf.softmax(x, axis=-1)
    loss = getattr(lf, name)
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(loss(x, target, from_logits=True, reduction=reduction, **kw),
                                   loss(p, target, reduction=reduction, **kw), rtol=1e-7, atol=1e-12)
    # The logits' gradient is the softmax's vector-Jacobian product of the probabilities' one.
    np.testing.assert_allclose(loss.grad(x, target, from_logits=True, **kw),
                               lf.softmax.grad(x, grad_output=loss.grad(p, target, **kw)), rtol=1e-6, atol=1e-12)
    assert inspect.signature(loss).parameters["from_logits"].default is False


def test_the_keras_example_from_logits():
    # 2.256 when the logits are taken for probabilities; the intended 0.0128 with from_logits.
    logits = np.array([[4.0, -2.0, 1.0], [0.5, 6.0, -1.0]])
    y = np.array([0, 1])
    expected = np.mean([-np.log(np.exp(r[k]) / np.exp(r).sum()) for r, k in zip(logits, y)])
    assert lf.sparse_categorical_crossentropy(logits, y, from_logits=True) == pytest.approx(expected, rel=1e-12)


def test_row_inputs_are_named_for_what_they_hold():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(5, 4)), rng.integers(0, 4, 5)
    p = lf.softmax(x)
    assert lf.sparse_categorical_crossentropy.inputs == ("probs", "target")
    assert lf.nll.inputs == ("log_probs", "target")
    assert lf.sparse_categorical_crossentropy(probs=p, target=y) == lf.sparse_categorical_crossentropy(p, y)
    assert lf.nll(log_probs=np.log(p), target=y) == lf.nll(np.log(p), y)
    assert str(inspect.signature(lf.categorical_crossentropy)).startswith("(probs, target, *, axis=-1")
    with pytest.raises(TypeError, match=r"softmax_cross_entropy\(\) takes 2 inputs \(logits, target\), got 1"):
        lf.softmax_cross_entropy(x)


@pytest.mark.parametrize("loss", lf.losses(), ids=lambda loss: loss.name)
def test_every_loss_has_a_docstring_with_its_parameters(loss):
    doc = loss.__doc__
    assert doc.startswith(f"{loss.name}: {loss.formula}")
    for name in loss.inputs:
        assert f"\n    {name}: " in doc
    for name, p in inspect.signature(loss).parameters.items():
        if p.default is not p.empty:
            assert f"\n    {name} = {p.default!r}" in doc
    assert "\nGradient: " in doc and f"\nPeer: {loss.peer}." in doc
