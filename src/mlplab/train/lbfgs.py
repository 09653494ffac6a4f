r"""Full-batch training by L-BFGS: ``scipy.optimize`` on the flat θ, mlplab's own gradient.

Quasi-Newton methods need J(θ) and ∇J(θ) on the whole training set, nothing else: this
module hands SciPy's L-BFGS-B the network's flat parameter vector θ and a function that
computes, for all rows at once, the same cost and backpropagated gradient as one batch
of the training loop (:meth:`mlplab.fast.workspace.Workspace.loss_and_grads`, then the
L2 term (λ/2n)Σ‖W[l]‖² of :func:`mlplab.train.step.add_l2`). It is a separate, small
minimizer and not a strategy of :class:`~mlplab.train.loop.Trainer`: there are no
mini-batches, epochs or optimizer state, and SciPy decides the steps (line search).

SciPy is imported when :func:`minimize_lbfgs` runs, never by ``import mlplab``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab.fast import workspace as _ws
from mlplab.train.step import add_l2


class LossAndGradient:
    """θ ↦ (J(θ), ∇J(θ)) on all rows of (X, Y), for SciPy (float64 θ and gradient).

    Parameters
    ----------
    net : Network
        Its θ is overwritten with each point SciPy asks about (in the network's dtype).
    X : ndarray of shape (n_samples, n[0])
        Already standardized if the network has a Standardizer (the trainer's input).
    Y : ndarray of shape (n_samples, n[L])
        Targets as the head takes them (one-hot rows for ``multiclass``).
    sample_weight : ndarray of shape (n_samples,), optional
        J = Σ w_i L(i) / Σ w_i, and the L2 term λ/(2Σw) Σ‖W‖².
    """

    def __init__(
        self, net: Any, X: np.ndarray, Y: np.ndarray, sample_weight: Any = None,
        data_loss_scale: float = 1.0,
    ):  # fmt: skip
        self.net, self.X, self.Y, self.w = net, X, Y, sample_weight
        self.data_loss_scale = data_loss_scale
        self.flat = np.zeros_like(net._theta)
        self.grads = net._views(self.flat)
        self.ws = _ws.Workspace(net, X.shape[0])
        n = X.shape[0]
        self.lam = net.l2 if self.w is None else net.l2 * n / float(np.sum(self.w))
        self.calls = 0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        net = self.net
        net._theta[...] = theta  # cast to the network's dtype
        J = self.ws.loss_and_grads(net._params, self.X, self.Y, self.grads, self.w)
        J = J * self.data_loss_scale  # the value only: ∇J stays that of the unscaled J
        if net.l2:
            J = add_l2(net, self.grads, J, self.X.shape[0], self.lam)
        self.calls += 1
        return float(J), self.flat.astype(np.float64)


def minimize_lbfgs(
    net: Any,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    max_iter: int,
    max_fun: int,
    tol: float,
    sample_weight: Any = None,
    verbose: bool = False,
    data_loss_scale: float = 1.0,
) -> Any:
    """Minimize J(θ) by L-BFGS-B from the network's current θ; θ ends at the minimizer.

    Parameters
    ----------
    net : Network
    X, Y, sample_weight
        As for :class:`LossAndGradient`.
    max_iter : int
        SciPy's ``maxiter`` (iterations).
    max_fun : int
        SciPy's ``maxfun`` (evaluations of J and ∇J).
    tol : float
        SciPy's ``gtol``: stop when every entry of the projected gradient is ≤ tol.
    verbose : bool, default=False
        SciPy's progress output (``iprint=1``, for SciPy versions that still have it).
    data_loss_scale : float, default=1.0
        The value of J's data term is multiplied by it, its gradient is not (scikit-learn's
        squared error with several outputs: ``1 / n_outputs``).

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``fun`` (the final J), ``nit``, ``nfev``, ``status`` and ``message``.

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab.core.network import Network
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1)
    >>> net = Network([1, 1], output="regression", dtype="float64", seed=0)
    >>> res = minimize_lbfgs(net, X, 3 * X - 1, max_iter=100, max_fun=1000, tol=1e-10)
    >>> np.round([net.weights[0][0, 0], net.biases[0][0]], 6).tolist()
    [3.0, -1.0]
    """
    import scipy
    import scipy.optimize

    fun = LossAndGradient(net, X, Y, sample_weight, data_loss_scale)
    # Any: the options SciPy takes depend on its version (iprint went away in 1.15).
    options: Any = {"maxfun": int(max_fun), "maxiter": int(max_iter), "gtol": tol}
    if tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 15):
        options["iprint"] = 1 if verbose else -1  # removed from SciPy 1.15
    x0 = net._theta.astype(np.float64)
    result = scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True, options=options)
    net._theta[...] = result.x
    return result
