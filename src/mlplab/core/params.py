r"""θ, all the parameters in one flat vector, and its per-layer views W[l], b[l].

The network keeps every W[l] and b[l] inside one vector θ, so that an optimizer updates
the whole network with a few vectorized operations; W[l] and b[l] are views into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mlplab import _array_api as _xp
from mlplab._typing import Array, DenseParams, Params


def views(flat: Array, layer_sizes: Sequence[int]) -> Params:
    """W[l], b[l] as views of a θ-sized vector in the network's storage order.

    Each layer's block holds W[l] column by column (W[l]ᵀ row by row: the (n[l-1],
    n[l]) layout of scikit-learn's ``coefs_``), then b[l]. W[l] itself is the
    transposed view, of shape (n[l], n[l-1]) as in the lecture. Storing Wᵀ makes the
    products of a training step faster: on mnist-shape's [784, 256, 128, 10] the
    eight matrix products of a step took 751 µs against 787 µs with W stored row by
    row, on the wide network 1 % less (benchmarks/RESULTS.md).

    This order is internal: :meth:`get_flat_params`, :meth:`set_flat_params`, model
    files and checkpoints use W[l] row by row (:func:`to_rows`, :func:`from_rows`).
    Entries after the dense layers (batch normalization's γ, β:
    :mod:`mlplab.core.layer_options`) are not views here and keep their order.
    """
    xp = _xp.namespace(flat)
    out, off = [], 0
    s = layer_sizes
    for l in range(1, len(s)):
        nW = s[l] * s[l - 1]
        W = xp.reshape(flat[off : off + nW], (s[l - 1], s[l])).T
        off += nW
        b = flat[off : off + s[l]]
        off += s[l]
        out.append(DenseParams(W, b))
    return out


def to_rows(flat: Array, layer_sizes: Sequence[int]) -> Array:
    """A θ-sized vector in storage order (:func:`views`) → a new one with W[l] by rows."""
    xp = _xp.namespace(flat)
    concat = getattr(xp, "concat", None) or xp.concatenate
    parts = []
    for p in views(flat, layer_sizes):
        parts += [xp.reshape(p.W, (-1,)), p.b]  # reshape reads W row by row
    n_dense = n_dense_params(layer_sizes)
    if flat.shape[0] > n_dense:  # batch norm's γ, β after the dense layers: as they are
        parts.append(flat[n_dense:])
    return concat(parts)


def n_dense_params(layer_sizes: Sequence[int]) -> int:
    """Σ_l n[l]·n[l-1] + n[l]: the entries of every W[l] and b[l]."""
    s = layer_sizes
    return sum(s[l] * s[l - 1] + s[l] for l in range(1, len(s)))


def from_rows(rows: Array, layer_sizes: Sequence[int], out: Array | None = None) -> Array:
    """Inverse of :func:`to_rows`: ``rows`` (W[l] by rows) written in storage order."""
    xp = _xp.namespace(rows)
    if out is None:
        out = xp.empty_like(rows)
    s, off = layer_sizes, 0
    for l, p in enumerate(views(out, layer_sizes), start=1):
        nW = s[l] * s[l - 1]
        p.W[...] = xp.reshape(rows[off : off + nW], (s[l], s[l - 1]))
        p.b[...] = rows[off + nW : off + nW + s[l]]
        off += nW + s[l]
    if rows.shape[0] > off:  # γ, β of batch norm: stored as they are
        out[off:] = rows[off:]
    return out


class LayerList(list[Array]):
    """A list of per-layer arrays whose item assignment writes into the network."""

    def __init__(self, items: Iterable[Array], setter: Callable[[int, Any], None]):
        super().__init__(items)
        self._setter = setter

    def __setitem__(self, l: Any, value: Any) -> None:
        if isinstance(l, slice):
            raise TypeError("assign one layer at a time, e.g. net.weights[0] = W1")
        self._setter(l, value)
        super().__setitem__(l, value)
