r"""The fast path with dropout or batch normalization: the same equations, into buffers.

:class:`~mlplab.fast.workspace.Workspace` runs the lecture's forward and backward pass
into buffers allocated once; a network without dropout and batch norm never meets this
module. :class:`RegularizedWorkspace` adds, per hidden layer,

* batch normalization (:mod:`mlplab.core.batchnorm`), from *sums over the batch's rows*:
  S₁ = Σ (z − c), S₂ = Σ (z − c)² and the row count, shifted by c = the running mean
  (the same on every process, and close to μ_B once training has begun, so that the
  one-pass variance S₂/m − (S₁/m)² loses nothing to cancellation). Under MPI those
  sums are added over the ranks (``sum_rows``) before μ_B and σ²_B are formed, so the
  batch statistics are the *global* batch's and K ranks compute what one process does.
  The backward pass uses the collected form dz = (γ/σ)(dz̃ − Σdz̃/m − ẑ ⊙ Σ(dz̃ ⊙ ẑ)/m),
  its two sums again over every rank;
* inverted dropout (:mod:`mlplab.core.dropout`) with masks d/p drawn by the caller
  (:meth:`draw_masks`) and kept for the backward pass.

The running averages are updated in the forward pass (as PyTorch does), in place in
the network's statistics vector. Results equal :func:`mlplab.core.backprop.loss_and_all_grads`
to rounding (tests/test_regularized_training.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from mlplab._typing import Array, Grads, Params
from mlplab.core import layer_options as _opts
from mlplab.fast.workspace import Workspace


class RegularizedWorkspace(Workspace):
    """:class:`Workspace` plus batch normalization and dropout (see the module docstring).

    Parameters
    ----------
    net : Network
    n_samples : int
        Rows of this process in the batches these buffers hold (0 is allowed: an MPI
        rank with no row of a batch still takes part in the batch's sums).
    sum_rows : callable, optional
        ``sum_rows(buf)`` adds a 1-D buffer over the processes in place (MPI); None for
        one process.
    """

    def __init__(
        self, net: Any, n_samples: int, sum_rows: Callable[[Array], None] | None = None
    ) -> None:
        super().__init__(net, n_samples)
        s, dt, opts = net.layer_sizes, net.dtype, net.options
        hidden = range(len(s) - 2)
        self.sum_rows = sum_rows
        self.options = opts
        self.running: list[Any] = net.running_stats  # views of the network's statistics vector

        def per_layer(on: Any, dtype: Any = dt) -> list[Array | None]:
            return [np.empty((n_samples, s[l + 1]), dtype) if on(l) else None for l in hidden]

        def normalized(l: int) -> bool:
            return bool(opts.batch_norm[l])

        def dropped(l: int) -> bool:
            return bool(opts.keep_prob[l] < 1)

        # Per hidden layer: a buffer, or None where the layer has no batch norm (no dropout);
        # typed Any, as each is read only for the layers that have one.
        self.Z_hat: list[Any] = per_layer(normalized)  # ẑ
        self.Z_in: list[Any] = per_layer(normalized)  # z̃ = γ ⊙ ẑ + β, the input of g
        self.A_drop: list[Any] = per_layer(dropped)  # a[l] ⊙ d/p, the next layer's input
        self.masks: list[Any] = per_layer(dropped)  # d/p
        self.kept: list[Any] = per_layer(dropped, bool)
        self.uniform: list[Any] = [None if not dropped(l) else np.empty(0) for l in hidden]
        self.sums: list[Any] = [
            np.empty(2 * s[l + 1] + 1, dt) if normalized(l) else None for l in hidden
        ]
        self.inv_std: list[Any] = [
            np.empty(s[l + 1], dt) if normalized(l) else None for l in hidden
        ]
        self.count = float(n_samples)  # |B|: the rows of the batch over every process

    def first_rows(self, m: int) -> RegularizedWorkspace:
        """:meth:`Workspace.first_rows`, with the per-row buffers of batch norm and dropout."""
        out = cast(RegularizedWorkspace, super().first_rows(m))
        for name in ("Z_hat", "Z_in", "A_drop", "masks", "kept"):
            setattr(out, name, [None if a is None else a[:m] for a in getattr(self, name)])
        out.uniform, out.count = list(self.uniform), float(m)
        return out

    # -- dropout ------------------------------------------------------------------------
    def draw_masks(self, rng: np.random.Generator, total: int, places: Any) -> None:
        """d[l]/p for this process's rows, from uniforms drawn for the whole batch.

        Each hidden layer with dropout draws ``rng.random((total, n[l]))`` (the global
        batch: every process draws the same numbers, so the streams stay together), and
        this process's row i takes row ``places[i]`` of them (``places``: m indices, or
        a slice of m rows).
        """
        for l, keep in enumerate(self.options.keep_prob):
            if keep >= 1:
                continue
            U = self.uniform[l]
            if U.shape != (total, self.masks[l].shape[1]):
                U = self.uniform[l] = np.empty((total, self.masks[l].shape[1]))
            rng.random(out=U)  # the batch's uniforms, as core's dropout_mask draws them
            mine = U[places]
            np.less(mine, keep, out=self.kept[l])  # d ~ Bernoulli(p)
            np.multiply(self.kept[l], self.masks[l].dtype.type(1.0 / keep), out=self.masks[l])

    # -- batch normalization ------------------------------------------------------------
    def _normalize(self, l: int, Z: Array, gamma: Array, beta: Array, training: bool) -> Array:
        """z̃ = γ ⊙ (z − μ_B)/√(σ²_B + ε) + β into ``Z_in[l]``; the running averages move."""
        n, eps, mom = Z.shape[1], self.options.bn_eps, self.options.bn_momentum
        running, Z_hat, sums = self.running[l], self.Z_hat[l], self.sums[l]
        inv_std = self.inv_std[l]
        c = running.mean  # the shift: the same on every process
        np.subtract(Z, c, out=Z_hat)  # z − c
        self.ones.dot(Z_hat, out=sums[:n])  # S₁ = Σ (z − c)
        np.multiply(Z_hat, Z_hat, out=self.Z_in[l])
        self.ones.dot(self.Z_in[l], out=sums[n : 2 * n])  # S₂ = Σ (z − c)²
        sums[2 * n] = Z.shape[0]
        if self.sum_rows is not None:
            self.sum_rows(sums)  # over every rank: the global batch
        total = float(sums[2 * n])
        self.count = total
        shift = sums[:n] / total  # μ_B − c
        var = np.maximum(sums[n : 2 * n] / total - shift * shift, 0)  # σ²_B (biased)
        np.sqrt(var + eps, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)  # 1/√(σ²_B + ε)
        Z_hat -= shift  # z − μ_B
        Z_hat *= inv_std  # ẑ
        if training:  # μ ← βμ + (1−β)μ_B, σ² ← βσ² + (1−β) m/(m−1) σ²_B
            unbiased = var * (total / (total - 1)) if total > 1 else var
            running.mean[...] = mom * running.mean + (1 - mom) * (c + shift)
            running.var[...] = mom * running.var + (1 - mom) * unbiased
        Z_in: Array = self.Z_in[l]
        np.multiply(Z_hat, gamma, out=Z_in)
        Z_in += beta  # z̃ = γ ⊙ ẑ + β
        return Z_in

    def _normalize_backward(self, l: int, dZ_in: Array, gamma: Array, grad: Any) -> Array:
        """dz from dz̃ in place; dγ, dβ (this process's sums) into ``grad``."""
        n, m, Z_hat, sums = dZ_in.shape[1], dZ_in.shape[0], self.Z_hat[l], self.sums[l]
        self.ones.dot(dZ_in, out=grad.beta)  # dβ = Σ dz̃
        tmp = self.Z_in[l]  # z̃ is no longer needed: scratch
        np.multiply(dZ_in, Z_hat, out=tmp)
        self.ones.dot(tmp, out=grad.gamma)  # dγ = Σ dz̃ ⊙ ẑ
        if self.sum_rows is None:
            S, T = grad.beta, grad.gamma
        else:  # the batch's sums, in this process's scale (its dz̃ are means over m rows)
            sums[:n], sums[n : 2 * n] = grad.beta, grad.gamma
            sums[: 2 * n] *= m
            self.sum_rows(sums[: 2 * n])
            sums[: 2 * n] *= 1.0 / self.count
            S, T = sums[:n], sums[n : 2 * n]
        if m == 0:
            return dZ_in
        np.multiply(Z_hat, T / m, out=tmp)
        dZ_in -= tmp
        dZ_in -= S / m
        dZ_in *= gamma * self.inv_std[l]  # dz = (γ/σ)(dz̃ − S/m − ẑ T/m)
        return dZ_in

    # -- one step -----------------------------------------------------------------------
    def loss_and_grads_with(
        self,
        params: Params,
        norms: list[Any],
        X: Array,
        Y: Array,
        grads: Grads,
        norm_grads: list[Any],
        *,
        dropout: bool = True,
        training: bool = True,
    ) -> float:
        """J on the batch; dW[l], db[l] into ``grads``, dγ[l], dβ[l] into ``norm_grads``.

        ``norms``: γ[l], β[l] (BNParams views, None where not normalized). The masks of
        the last :meth:`draw_masks` are used when ``dropout``. J is this process's mean
        over its m rows (0 for m = 0); the strategy combines the processes.
        """
        L = len(params)
        A_used = self._A_used
        A = A_used[0] = X  # a[0] = x
        for l in range(L):  # forward
            W, b = params[l]
            Z = self.Z[l]
            A.dot(W.T, out=Z)  # z[l] = W[l] a[l-1] + b[l]
            Z += b
            if l == L - 1:
                A = Z  # the logits z[L]
            else:
                if norms[l] is not None:
                    Z = self._normalize(l, Z, norms[l].gamma, norms[l].beta, training)
                A = self.kernels[l].forward_into(Z, self.A[l])  # a[l] = g(z̃[l])
                if dropout and self.masks[l] is not None:
                    A = np.multiply(A, self.masks[l], out=self.A_drop[l])  # a ⊙ d/p
            A_used[l + 1] = A
        m = X.shape[0]
        if m:
            J, dZ = self.head.loss_and_grad(A, Y)  # dZ[L] = (a[L] − y) / m
        else:  # no row here: nothing to add, but the collective sums below still run
            J, dZ = 0.0, np.zeros_like(A)
        for l in range(L - 1, -1, -1):  # backward
            gW, gb = grads[l]
            A_used[l].T.dot(dZ, out=gW.T)  # dW[l] = dZ[l]ᵀ a[l-1]
            if l < L - 1 and norms[l] is not None:
                # b[l] of a normalized layer: μ_B subtracts it again, so db = Σ_i dz = 0
                # exactly. Its rounding noise (~1e-17) is not written: Adam would turn it
                # into steps of up to α·noise/ε, different on K ranks and on one process.
                gb[...] = 0
            else:
                self.ones.dot(dZ, out=gb)  # db[l] = Σ_i dZ[l]
            if l == 0:
                break
            dA = self.dZ[l - 1]
            dZ.dot(params[l].W, out=dA)  # da[l-1] = dZ[l] W[l]
            if dropout and self.masks[l - 1] is not None:
                dA *= self.masks[l - 1]  # da ⊙ d/p
            Z_in = self.Z_in[l - 1] if norms[l - 1] is not None else self.Z[l - 1]
            dZ = self.kernels[l - 1].backward_into(dA, Z_in, self.A[l - 1])  # dz̃ = da ⊙ g'
            if norms[l - 1] is not None:
                dZ = self._normalize_backward(l - 1, dZ, norms[l - 1].gamma, norm_grads[l - 1])
        return float(J)


def norm_views_of(net: Any, theta: Array, cache: dict[int, Any]) -> list[Any]:
    """γ[l], β[l] views of ``theta`` (the trainer alternates θ between two vectors)."""
    views = cache.get(id(theta))
    if views is None or views[0] is not theta:
        views = cache[id(theta)] = (theta, _opts.norm_views(theta, net.layer_sizes, net.options))
    return views[1]
