"""Typed use of lossfn: CI runs mypy on this file against the installed package's stubs."""

import numpy as np

import lossfn as lf

pred = np.linspace(-1.0, 1.0, 8)
target = np.zeros(8)

mean: float = lf.mse(pred, target)
total: float = lf.huber(pred, target, reduction="sum", delta=0.5)
per_element: np.ndarray = lf.huber(pred, target, reduction="none")
value, grad = lf.huber.value_and_grad(pred, target)
value_f: float = value
grad_a: np.ndarray = grad
g_pred, g_var = lf.gaussian_nll.grad(pred, target, np.ones(8))
logits = np.zeros((4, 3))
ce: float = lf.softmax_cross_entropy(logits, np.array([0, 1, 2, 0]))
rows: np.ndarray = lf.softmax_cross_entropy(logits, np.array([0, 1, 2, 0]), reduction="none")
probs: np.ndarray = lf.softmax(logits)
masks = np.zeros((2, 4, 4))
dice: float = lf.dice(masks + 0.5, masks, axis=None)
lovasz: np.ndarray = lf.lovasz_hinge(masks, masks, reduction="none")
embeddings, weights, labels = np.zeros((4, 3)), np.ones((5, 3)), np.array([0, 1, 2, 3])
face: float = lf.arcface(embeddings, weights, labels)
g_emb, g_weights = lf.cosface.grad(embeddings, weights, labels)
views: np.ndarray = lf.info_nce(embeddings, embeddings, reduction="none")
g_triplet: np.ndarray = lf.batch_triplet.grad(embeddings, labels, mining="semihard")
reference = lf.huber.reference
print(mean, total, per_element.shape, value_f, grad_a.shape, g_pred.shape, g_var.shape, ce, rows.shape,
      probs.shape, dice, lovasz.shape, face, g_emb.shape, g_weights.shape, views.shape, g_triplet.shape, reference)
