r"""Diagnostics: gradient checking and the lecture's vanishing/exploding gradients.

Gradient checking compares backprop's dJ/dθ with two-sided differences

.. math:: \hat g_i = \frac{J(\theta + \varepsilon e_i) - J(\theta - \varepsilon e_i)}{2\varepsilon}

over every weight and bias, and reports ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) (below ~1e-7 in float64
means backprop is right).

A network moved to another array library (``Network.to``) is checked there: every J
and gradient is computed by that library, and only the results are read back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab.core import layer_options as _opts
from mlplab.core import network as _net
from mlplab.core.network import Network


def _float64_copy(net: Network) -> Network:
    net64 = Network(
        net.layer_sizes,
        hidden=net.hidden,
        output=net.head,
        init="zeros",
        dtype="float64",
        l2=net.l2,
        standardizer=net.standardizer,
        **_opts.from_config(_opts.config(net.options)),
    )
    net64.to(net._xp, device=net._device)
    net64.set_flat_params(_xp.astype(net.get_flat_params(), _xp.dtype_in(net._xp, net64.dtype)))
    if net.options.normalized:
        net64.set_running_stats(net._bn_stats)
    return net64


def _loss(net64: Network, Xc: Any, Y: Any, training: bool, masks: Any) -> tuple[Any, Any]:
    """(J, gradients) of the float64 copy: the lecture's network, or through batch norm
    (batch statistics if ``training``) and the fixed dropout ``masks``."""
    if net64.options.plain and masks is None:
        return _net.loss_and_grads(net64._params, Xc, Y, net64.hidden, net64.head, net64.l2)
    norms = _opts.inference_norms(net64)
    args = (net64._params, Xc, Y, net64.hidden, net64.head, net64.l2, norms, masks)
    J, grads = _net.loss_and_all_grads(*args, training=training)
    return J, grads


def numerical_gradient(
    net: Network, X: Any, y: Any, eps: float = 1e-7, *, training: bool = False, masks: Any = None
) -> Array:
    """ĝ, the two-sided difference estimate of dJ/dθ for every parameter (float64).

    Laid out like :meth:`Network.get_flat_params`. ``training`` and ``masks`` as in
    :func:`gradcheck`.
    """
    net64 = _float64_copy(net)
    Xc = net64._prepare_X(X)
    Y = net64._prepare_y(y, Xc.shape[0])
    theta = net64._theta  # the network's own flat storage: perturb in place
    g_hat = np.empty(theta.shape[0])
    for i in range(theta.shape[0]):
        old = float(theta[i])  # a number, not a view of θ[i] (PyTorch's indexing)
        theta[i] = old + eps
        J_plus, _ = _loss(net64, Xc, Y, training, masks)
        theta[i] = old - eps
        J_minus, _ = _loss(net64, Xc, Y, training, masks)
        theta[i] = old
        g_hat[i] = (float(J_plus) - float(J_minus)) / (2 * eps)
    return net64._to_rows(g_hat)  # laid out like get_flat_params (W[l] by rows)


def backprop_gradient(
    net: Network, X: Any, y: Any, *, training: bool = False, masks: Any = None
) -> Array:
    """g, backprop's dJ/dθ as one flat vector (float64), laid out like θ."""
    net64 = _float64_copy(net)
    Xc = net64._prepare_X(X)
    _, grads = _loss(net64, Xc, net64._prepare_y(y, Xc.shape[0]), training, masks)
    norms: list[Any] = []
    if not isinstance(grads, list):  # Gradients: dW, db, then dγ, dβ of the normalized layers
        grads, norms = grads.dense, [(p.gamma, p.beta) for p in grads.norms if p is not None]
    host = [(_xp.to_numpy(g.W).ravel(), _xp.to_numpy(g.b)) for g in grads]
    host += [(_xp.to_numpy(a), _xp.to_numpy(b)) for a, b in norms]
    return np.concatenate([np.concatenate(pair) for pair in host])


def gradcheck(
    net: Network, X: Any, y: Any, eps: float = 1e-7, *, training: bool = False, masks: Any = None
) -> float:
    """‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) between backprop and two-sided differences.

    Runs in float64 on a copy of ``net`` (central differences in float32 are noise);
    ``net`` itself is not changed. Costs 2 forward passes per parameter: use small
    networks and batches. θ includes batch norm's γ[l], β[l].

    ``training=True`` checks the training cost: batch normalization with the batch's
    μ_B, σ²_B (through which the gradient flows), not the running averages; ``masks``
    (a list of d[l]/p per hidden layer, :func:`mlplab.core.dropout.dropout_mask`) fixes
    the dropout masks. By default the cost as the network predicts.

    Examples
    --------
    >>> import numpy as np, mlplab
    >>> rng = np.random.default_rng(0)
    >>> net = mlplab.Network([3, 4, 1], hidden="tanh", dtype="float64")
    >>> X, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    >>> mlplab.gradcheck(net, X, y) < 1e-7
    True
    """
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    g = backprop_gradient(net, X, y, training=training, masks=masks)
    g_hat = numerical_gradient(net, X, y, eps, training=training, masks=masks)
    denom = np.linalg.norm(g) + np.linalg.norm(g_hat)
    if denom == 0:
        return 0.0
    return float(np.linalg.norm(g - g_hat) / denom)


def gradient_norms(net: Network, X: Any, y: Any) -> list[float]:
    """‖dW[l]‖_F for l = 1..L on (X, y): the vanishing/exploding picture in one call."""
    _, grads = net.loss_and_grads(X, y)
    return [float(_xp.norm(g.W)) for g in grads]


def activation_stats(net: Network, X: Any) -> list[dict[str, float]]:
    """Per layer: mean and std of a[l], and the fraction of saturated/dead units.

    ``saturated`` is the fraction of entries with g'(z) < 0.01 (sigmoid/tanh saturation,
    ReLU's zero side); the output layer reports z[L].
    """
    out = []
    xp = net.xp
    for l, cache in enumerate(net.forward_cache(X)):
        g = net.hidden[l] if l < len(net.hidden) else None
        stats = {"mean": float(xp.mean(cache.A)), "std": float(xp.std(cache.A))}
        if g is not None:
            d = g.derivative(cache.Z, cache.A)
            stats["saturated"] = _xp.mean_true(xp.abs(d) < 0.01)
        out.append(stats)
    return out


def identity_network(L: int, scale: float, dtype: Any = "float64") -> Network:
    """The lecture's example: L layers of 2×2 weights W[l] = scale·I, b = 0, g = identity.

    Then ŷ = W[L] ⋯ W[1] x = scale^L x: 1.5^L explodes and 0.5^L vanishes.
    """
    from mlplab.core import initializers

    return Network(
        [2] * (L + 1),
        hidden="identity",
        output="regression",
        init=initializers.identity(scale),
        dtype=dtype,
    )
