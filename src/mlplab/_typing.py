"""Role aliases used across mlplab's type hints (optax ``base.py`` style)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating[Any]]
"""A floating-point array; rows are samples wherever a batch axis exists."""


class DenseParams(NamedTuple):
    """Parameters of one dense layer l (or their gradients dW, db).

    Attributes
    ----------
    W : ndarray of shape (n[l], n[l-1])
        Weights, exactly as in the lecture: row j holds the weights of unit j.
    b : ndarray of shape (n[l],)
        Biases.
    """

    W: Array
    b: Array


Params = list[DenseParams]
"""W[1], b[1], ..., W[L], b[L] as one ``DenseParams`` per layer."""

Grads = list[DenseParams]
"""dJ/dW[l], dJ/db[l] per layer, with the parameters' shapes."""

OptState = Any
"""An optimizer's state: a NamedTuple of arrays (or trees of arrays)."""
