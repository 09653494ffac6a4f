r"""The next lecture's options of a Network's hidden layers: dropout and batch normalization.

A :class:`~mlplab.core.network.Network` holds one :class:`LayerOptions`: the keep
probability p[l] of each hidden layer (1: no dropout, :mod:`mlplab.core.dropout`) and
whether z[l] is batch-normalized (:mod:`mlplab.core.batchnorm`). The output layer has
neither.

Where the new numbers live:

* γ[l], β[l] are trained, so they are part of θ: after W[1], b[1], ..., W[L], b[L]
  come γ, β of each normalized layer in order (:func:`norm_views`). Optimizers, the
  trainer, checkpoints and MPI see one longer θ and nothing else changes.
* the running averages μ[l], σ²[l] are not trained: one more flat vector beside θ
  (:func:`stats_views`), updated by the trainer after each training batch, saved in
  model files and checkpoints.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab._validation import check_positive, check_unit_interval
from mlplab.core.batchnorm import BatchNorm, BNParams, BNStats
from mlplab.core.params import n_dense_params


class LayerOptions(NamedTuple):
    """Dropout and batch normalization of the hidden layers l = 1..L−1.

    Attributes
    ----------
    keep_prob : tuple of L − 1 floats
        p[l] in (0, 1]: the probability of keeping a unit of layer l in training.
    batch_norm : tuple of L − 1 bools
        Batch-normalize z[l].
    bn_momentum : float
        β of the running averages (PyTorch's momentum is 1 − β).
    bn_eps : float
        ε in √(σ² + ε).
    """

    keep_prob: tuple[float, ...]
    batch_norm: tuple[bool, ...]
    bn_momentum: float = 0.9
    bn_eps: float = 1e-5

    @property
    def dropout(self) -> bool:
        """Does any hidden layer drop units?"""
        return any(p < 1.0 for p in self.keep_prob)

    @property
    def normalized(self) -> bool:
        """Is any hidden layer batch-normalized?"""
        return any(self.batch_norm)

    @property
    def plain(self) -> bool:
        """Neither: the lecture's network, trained on the plain fast path."""
        return not (self.dropout or self.normalized)


def _per_layer(value: Any, n_hidden: int, name: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value] * n_hidden
    values = list(value)
    if len(values) != n_hidden:
        raise ValueError(
            f"{name} has {len(values)} entries, but the network has L-1={n_hidden} hidden layers"
        )
    return values


def parse(
    L: int,
    keep_prob: Any = 1.0,
    batch_norm: Any = False,
    bn_momentum: Any = 0.9,
    bn_eps: Any = 1e-5,
) -> LayerOptions:
    """The options checked: one value for every hidden layer, or one per hidden layer."""
    keep = []
    for p in _per_layer(keep_prob, L - 1, "keep_prob"):
        # (cast: typeshed's numbers.Real has no comparisons; p compares as the float it is)
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < cast(float, p) <= 1:
            raise ValueError(f"keep_prob must lie in (0, 1] (1: no dropout), got {p!r}")
        keep.append(float(p))
    norm = []
    for b in _per_layer(batch_norm, L - 1, "batch_norm"):
        if not isinstance(b, (bool, np.bool_)):
            raise TypeError(f"batch_norm must be True or False (per hidden layer), got {b!r}")
        norm.append(bool(b))
    momentum = check_unit_interval(bn_momentum, "bn_momentum")
    return LayerOptions(tuple(keep), tuple(norm), momentum, check_positive(bn_eps, "bn_eps"))


def normalized_sizes(layer_sizes: Sequence[int], opts: LayerOptions) -> list[int]:
    """n[l] of the batch-normalized layers, in order."""
    return [layer_sizes[l + 1] for l, on in enumerate(opts.batch_norm) if on]


def n_norm_params(layer_sizes: Sequence[int], opts: LayerOptions) -> int:
    """How many entries γ, β add to θ: 2 Σ n[l] over the normalized layers."""
    return 2 * sum(normalized_sizes(layer_sizes, opts))


def _split(
    flat: Array, start: int, layer_sizes: Sequence[int], opts: LayerOptions
) -> list[tuple[Array, Array] | None]:
    """Pairs of (n[l],) views from ``flat[start:]``, one pair per normalized hidden layer."""
    out: list[tuple[Array, Array] | None] = []
    off = start
    for l, on in enumerate(opts.batch_norm):
        if not on:
            out.append(None)
            continue
        n = layer_sizes[l + 1]
        out.append((flat[off : off + n], flat[off + n : off + 2 * n]))
        off += 2 * n
    return out


def norm_views(
    flat: Array, layer_sizes: Sequence[int], opts: LayerOptions
) -> list[BNParams | None]:
    """γ[l], β[l] as views of θ's tail (after every W, b), None for other layers."""
    n_dense = n_dense_params(layer_sizes)
    return [None if p is None else BNParams(*p) for p in _split(flat, n_dense, layer_sizes, opts)]


def stats_views(
    stats: Array, layer_sizes: Sequence[int], opts: LayerOptions
) -> list[BNStats | None]:
    """μ[l], σ²[l] (running averages) as views of the flat statistics vector."""
    return [None if p is None else BNStats(*p) for p in _split(stats, 0, layer_sizes, opts)]


def init_norms(theta: Array, stats: Array, layer_sizes: Sequence[int], opts: LayerOptions) -> None:
    """γ = 1, β = 0 in θ; running μ = 0, σ² = 1 (as PyTorch starts them)."""
    for p in norm_views(theta, layer_sizes, opts):
        if p is not None:
            p.gamma[...], p.beta[...] = 1, 0
    for s in stats_views(stats, layer_sizes, opts):
        if s is not None:
            s.mean[...], s.var[...] = 0, 1


def inference_norms(net: Any) -> list[BatchNorm | None] | None:
    """The BatchNorm of every hidden layer for ``forward`` (None for a network without)."""
    opts = net.options
    if not opts.normalized:
        return None
    params = norm_views(net._theta, net.layer_sizes, opts)
    stats = stats_views(net._bn_stats, net.layer_sizes, opts)
    return [
        None if p is None or s is None else BatchNorm(p, s, opts.bn_eps)
        for p, s in zip(params, stats, strict=True)
    ]


def config(opts: LayerOptions) -> dict[str, Any]:
    """The options that differ from the lecture's network, as JSON (for ``Network.config``).

    A plain network adds nothing, so its config (and every file written before these
    options existed) stays as it was.
    """
    out: dict[str, Any] = {}
    if opts.dropout:
        out["keep_prob"] = list(opts.keep_prob)
    if opts.normalized:
        out["batch_norm"] = list(opts.batch_norm)
        out["bn_momentum"] = opts.bn_momentum
        out["bn_eps"] = opts.bn_eps
    return out


def from_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The Network keyword arguments of :func:`config`'s entries (absent: the defaults)."""
    keys = ("keep_prob", "batch_norm", "bn_momentum", "bn_eps")
    return {k: cfg[k] for k in keys if k in cfg}


def describe(opts: LayerOptions, l: int) -> str:
    """The options of hidden layer l (1-based) for ``Network.summary``: '' if none."""
    parts = []
    if opts.batch_norm[l - 1]:
        parts.append("batch norm")
    if opts.keep_prob[l - 1] < 1:
        parts.append(f"dropout keep p={opts.keep_prob[l - 1]:g}")
    return f"  [{', '.join(parts)}]" if parts else ""


def stats_to(stats: Array, xp: Any, device: Any, dtype: Any) -> Array:
    """The running statistics moved with θ (:meth:`Network.to`)."""
    return _xp.convert(stats, xp, device, dtype)


_NORM_ARRAYS = ("gamma", "beta", "running_mean", "running_var")


def norm_arrays(net: Any) -> dict[str, np.ndarray]:
    """γ[l], β[l], μ[l], σ²[l] of the normalized layers as NumPy arrays named by the
    lecture's l: ``gamma1``, ``beta1``, ``running_mean1``, ``running_var1``, ... (model files)."""
    out: dict[str, np.ndarray] = {}
    for l, (p, s) in enumerate(zip(net.norm_params, net.running_stats, strict=True), start=1):
        if p is not None:
            for name, a in zip(_NORM_ARRAYS, (*p, *s), strict=True):
                out[f"{name}{l}"] = np.array(_xp.to_numpy(a))
    return out


def set_norm_arrays(net: Any, arrays: dict[str, np.ndarray]) -> None:
    """Inverse of :func:`norm_arrays`: each array present, (n[l],), of the network's dtype
    and finite, σ² >= 0 (ValueError naming the array otherwise)."""
    for l, p in enumerate(net.norm_params, start=1):
        if p is None:
            continue
        shape = (net.layer_sizes[l],)
        for name in _NORM_ARRAYS:
            a = arrays.get(f"{name}{l}")
            if a is None or a.shape != shape or a.dtype != net.dtype:
                raise ValueError(f"array {name}{l} must be {net.dtype.name} of shape {shape}")
            if not np.isfinite(a).all() or (name == "running_var" and (a < 0).any()):
                raise ValueError(f"array {name}{l} holds invalid values")
        p.gamma[...], p.beta[...] = arrays[f"gamma{l}"], arrays[f"beta{l}"]
        s = net.running_stats[l - 1]
        s.mean[...], s.var[...] = arrays[f"running_mean{l}"], arrays[f"running_var{l}"]
