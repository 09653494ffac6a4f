r"""Output heads: the last activation fused with its loss, computed from logits z[L].

Working from logits with the canonical link makes the gradient at the output

.. math::  \frac{\partial J}{\partial z^{[L]}} = \frac{a^{[L]} - y}{n_{samples}},

the lecture's :math:`-(y - a^{[3]})` divided by n, and lets every loss be evaluated
without ever taking log(0) or overflowing e^z:

* ``binary``: a = σ(z), :math:`\mathcal L = -[y\log a + (1-y)\log(1-a)] = \log(1+e^{z}) - yz`,
  one column per independent 0/1 target (one column is the lecture's case);
* ``multiclass``: a = softmax(z), :math:`\mathcal L = \log\sum_k e^{z_k} - \sum_k y_k z_k`;
* ``regression``: a = z, :math:`\mathcal L = \tfrac12\sum_k (z_k - y_k)^2` — summed over
  outputs, so that the loss and the gradient agree for several outputs too
  (scikit-learn issue #8349 is what happens when they don't);
* ``poisson``: a = e^z (counts, y ≥ 0), half the Poisson deviance
  :math:`\mathcal L = \sum_k [y_k\log(y_k/a_k) - y_k + a_k]`, whose gradient is a − y too.

J = (1/n) Σ_i L(i) in every case; with sample weights w ≥ 0,
:func:`weighted_loss_and_grad` gives J = Σ_i w_i L(i) / Σ_i w_i and dZ[L] = w_i (a − y)_i / Σw.

Every head computes in the namespace of Z (NumPy, PyTorch, CuPy, ...; see
:mod:`mlplab._array_api`). With NumPy the cost J is a Python float; with other libraries
it is a 0-D array on Z's device, so that training never waits to read it (``float(J)``
reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab.core.activations import stable_sigmoid


class Head(NamedTuple):
    """Output activation fused with its loss.

    Attributes
    ----------
    name : str
    link : callable
        a[L] = link(z[L]), used by ``predict_proba``/``forward``.
    loss_and_grad : callable
        ``(Z, Y) -> (J, dZ)`` with J = (1/n) Σ L(i) and dZ = (a − y)/n, from logits.
        J is a float for NumPy arrays, a 0-D array of Z's namespace otherwise.
    loss : callable
        ``(Z, Y) -> J`` alone (validation curves; no gradient).
    """

    name: str
    link: Callable[[Array], Array]
    loss_and_grad: Callable[[Array, Array], tuple[float, Array]]
    loss: Callable[[Array, Array], float]


# ---------------------------------------------------------------- binary
def _binary_loss(Z: Array, Y: Array) -> float:
    # log(1 + e^z) − yz is the lecture's cross-entropy rewritten in z: no log(0),
    # and logaddexp(0, z) never overflows.
    xp = _xp.namespace(Z)
    zero = 0 if xp is np else _xp.scalar(0, Z)
    return _xp.cost(xp.logaddexp(zero, Z) - Y * Z, Z.shape[0])


def _binary_loss_and_grad(Z: Array, Y: Array) -> tuple[float, Array]:
    n_samples = Z.shape[0]
    dZ = stable_sigmoid(Z)  # a[L] = σ(z[L])
    dZ -= Y  # a − y
    dZ *= 1.0 / n_samples  # dJ/dz[L] = (a − y)/n
    return _binary_loss(Z, Y), dZ


# ------------------------------------------------------------ multiclass
def _log_softmax(Z: Array) -> Array:
    # Subtracting the row maximum keeps every e^z ≤ 1 (no overflow).
    xp = _xp.namespace(Z)
    Zs = Z - _xp.max(Z, axis=1, keepdims=True)
    return Zs - xp.log(_xp.sum(xp.exp(Zs), axis=1, keepdims=True))


def softmax(Z: Array) -> Array:
    """softmax(z)_k = e^{z_k} / Σ_j e^{z_j}, row by row, max-shifted (never overflows)."""
    E = _xp.namespace(Z).exp(Z - _xp.max(Z, axis=1, keepdims=True))
    E /= _xp.sum(E, axis=1, keepdims=True)
    return E


def _multiclass_loss(Z: Array, Y: Array) -> float:
    return -_xp.cost(Y * _log_softmax(Z), Z.shape[0])


def _multiclass_loss_and_grad(Z: Array, Y: Array) -> tuple[float, Array]:
    xp = _xp.namespace(Z)
    n_samples = Z.shape[0]
    logp = _log_softmax(Z)
    J = -_xp.cost(Y * logp, n_samples)
    dZ = xp.exp(logp)  # a[L] = softmax(z[L])
    dZ -= Y
    dZ *= 1.0 / n_samples
    return J, dZ


# ------------------------------------------------------------ regression
def _regression_loss(Z: Array, Y: Array) -> float:
    n_samples = Z.shape[0]
    R = Z - Y
    return _xp.cost(R * R, 2 * n_samples)


def _regression_loss_and_grad(Z: Array, Y: Array) -> tuple[float, Array]:
    n_samples = Z.shape[0]
    dZ = Z - Y  # a − y with a = z
    J = _xp.cost(dZ * dZ, 2 * n_samples)
    dZ *= 1.0 / n_samples
    return J, dZ


def _identity(Z: Array) -> Array:
    return Z


# ------------------------------------------------------------ poisson (log link)
def _poisson_terms(Z: Array, Y: Array) -> Array:
    # Half the Poisson deviance with a = e^z: L = y log(y/a) − y + a = y log y − yz − y + e^z
    # (y log y = 0 for y = 0), so that the best possible model has L = 0; dL/dz = a − y.
    xp = _xp.namespace(Z)
    ylogy = xp.where(Y > 0, Y * xp.log(xp.where(Y > 0, Y, xp.ones_like(Y))), xp.zeros_like(Y))
    return ylogy - Y * Z - Y + xp.exp(Z)


def _poisson_loss(Z: Array, Y: Array) -> float:
    return _xp.cost(_poisson_terms(Z, Y), Z.shape[0])


def _poisson_loss_and_grad(Z: Array, Y: Array) -> tuple[float, Array]:
    n_samples = Z.shape[0]
    J = _poisson_loss(Z, Y)
    dZ = _xp.namespace(Z).exp(Z)  # a[L] = e^{z[L]}
    dZ -= Y
    dZ *= 1.0 / n_samples
    return J, dZ


def _exp(Z: Array) -> Array:
    return _xp.namespace(Z).exp(Z)


binary = Head("binary", stable_sigmoid, _binary_loss_and_grad, _binary_loss)
multiclass = Head("multiclass", softmax, _multiclass_loss_and_grad, _multiclass_loss)
regression = Head("regression", _identity, _regression_loss_and_grad, _regression_loss)
poisson = Head("poisson", _exp, _poisson_loss_and_grad, _poisson_loss)

HEADS: dict[str, Head] = {
    "binary": binary,
    "multiclass": multiclass,
    "regression": regression,
    "poisson": poisson,
}


# ------------------------------------------------------------ per sample, weighted
def per_sample_loss(head_name: str, Z: Array, Y: Array) -> Array:
    r"""The loss L(i) of every row, from the logits as the heads compute it.

    * ``binary``: L(i) = Σ_k [log(1 + e^{z_k}) − y_k z_k] (one term per 0/1 output);
    * ``multiclass``: L(i) = −Σ_k y_k log softmax(z)_k (max-shifted);
    * ``regression``: L(i) = ½ Σ_k (z_k − y_k)²;
    * ``poisson``: L(i) = Σ_k [y_k log(y_k/a_k) − y_k + a_k], a = e^z.

    Parameters
    ----------
    head_name : {"binary", "multiclass", "regression", "poisson"}
    Z : array of shape (n_samples, n[L])
        Logits z[L].
    Y : array of shape (n_samples, n[L])
        Targets (0/1, one-hot rows, or values).

    Returns
    -------
    array of shape (n_samples,)
        L(i); their mean is the head's J.
    """
    xp = _xp.namespace(Z)
    if head_name == "binary":  # log(1 + e^z) − yz, summed over the independent outputs
        zero = 0 if xp is np else _xp.scalar(0, Z)
        return _xp.sum(xp.logaddexp(zero, Z) - Y * Z, axis=1)
    if head_name == "multiclass":  # log Σ_k e^{z_k} − Σ_k y_k z_k
        return -_xp.sum(Y * _log_softmax(Z), axis=1)
    if head_name == "poisson":  # y log(y/a) − y + a with a = e^z
        return _xp.sum(_poisson_terms(Z, Y), axis=1)
    R = Z - Y
    return 0.5 * _xp.sum(R * R, axis=1)


def weighted_loss_and_grad(head: Head, Z: Array, Y: Array, w: Array) -> tuple[Any, Array]:
    r"""The weighted cost and its gradient at the output, for sample weights w ≥ 0:

    .. math::
        J = \frac{\sum_i w_i \mathcal L(i)}{\sum_i w_i}, \qquad
        \frac{\partial J}{\partial z^{[L]}_i} = \frac{w_i\,(a^{[L]} - y)_i}{\sum_j w_j}

    Integer weights give exactly the cost of the data with row i repeated w_i times
    (w_i = 0 drops the row). The head's own gradient is (a − y)/n; multiplying row i
    by n·w_i/Σw gives the weighted one. With Σw = 0 (every row weighted 0) J = 0 and
    dZ[L] = 0.

    Parameters
    ----------
    head : Head
    Z, Y : arrays of shape (n_samples, n[L])
        Logits and targets, as for ``head.loss_and_grad``.
    w : array of shape (n_samples,)
        The rows' weights (NumPy: float64; other libraries: Z's namespace and device).

    Returns
    -------
    J : float for NumPy, a 0-D array on Z's device otherwise (never read there)
    dZ : array of shape (n_samples, n[L])
    """
    J, dZ = head.loss_and_grad(Z, Y)
    xp = _xp.namespace(Z)
    if xp is not np:  # no read from the device: Σw = 0 is handled by where
        w_sum = _xp.sum(w)
        safe = xp.where(w_sum > 0, w_sum, xp.ones_like(w_sum))  # w = 0 there anyway
        dZ *= xp.reshape(_xp.astype(w * (Z.shape[0] / safe), dZ.dtype), (-1, 1))
        return _xp.sum(w * per_sample_loss(head.name, Z, Y)) / safe, dZ
    total = float(w.sum())
    if total <= 0:
        dZ[...] = 0
        return 0.0, dZ
    dZ *= (w * (Z.shape[0] / total)).astype(dZ.dtype, copy=False)[:, None]
    J = float(w @ per_sample_loss(head.name, Z, Y)) / total
    return J, dZ


def get(head: str | Head) -> Head:
    """Look a head up by name (``binary``, ``multiclass``, ``regression``)."""
    if isinstance(head, Head):
        return head
    if not isinstance(head, str):
        raise TypeError(f"output must be a head name or a Head, got {type(head).__name__}")
    key = head.strip().lower()
    if key not in HEADS:
        raise ValueError(f"unknown output head {head!r}; choose one of {sorted(HEADS)}")
    return HEADS[key]


def binary_cross_entropy(A: Array, Y: Array) -> float:
    r"""The lecture's cost on probabilities, literally: J = −(1/n) Σ [y log a + (1−y) log(1−a)].

    For teaching only: it clips a into [eps, 1 − eps] (eps = machine epsilon of A's
    dtype) so that log(0) never happens, which also caps the loss of a confidently
    wrong prediction. Training uses the fused ``binary`` head, which needs no clipping.
    """
    xp = _xp.namespace(A, Y)
    if xp is np:
        A = np.asarray(A)
        eps = np.finfo(A.dtype).eps if np.issubdtype(A.dtype, np.floating) else 1e-15
    else:
        eps = float(xp.finfo(A.dtype).eps)
    A = xp.clip(A, eps, 1 - eps)
    n_samples = A.shape[0]
    return float(-xp.sum(Y * xp.log(A) + (1 - Y) * xp.log1p(-A)) / n_samples)
