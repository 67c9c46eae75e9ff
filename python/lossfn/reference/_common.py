"""Helpers shared by the reference families."""

import numpy as np

LN2 = np.log(2.0)


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sign_labels(y):
    return np.where(y == 0, -1.0, y)


def check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction: must be 'mean', 'sum' or 'none', got {reduction!r}")
