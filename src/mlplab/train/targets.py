r"""Targets built batch by batch: the labels (or values) held once, Y made for the rows asked for.

``check_y`` turns y into Y, shape (n, n[L]) in the network's dtype: for a class label
a one-hot row (multiclass) or a 0/1 column (binary), for a value the value. The rows of
a file read in parts by MPI ranks (:mod:`mlplab.persist.csvshard`) keep their labels,
one byte a row, for the metrics; holding Y as well would keep a second copy of them
(4 bytes a row for a float32 binary column, n[L] × 4 for one-hot rows). :class:`Targets`
holds y alone and writes the Y rows of a batch into the trainer's buffer as it gathers
them:

    Y[rows] = check_y(y[rows])                  (the same numbers, row by row)

so every batch's Y, and the weights, are the bits of the Y that ``check_y`` makes once
for all rows. A :class:`Targets` is read by ``take`` (a batch), by slices (the data
digest, the validation cost) and, for the multiclass head, through :attr:`labels` (the
accuracy count).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab._validation import as_float_array, check_y
from mlplab.train.rows import RowsOnRead

__all__ = ["Targets", "class_indices", "targets"]

BLOCK_ROWS = 1 << 16
"""Rows checked at a time (a few temporaries of this many rows)."""


class Targets(RowsOnRead):
    """The rows of Y (n, n[L]) made from y (n,) when read.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Class labels 0..n[L]−1 (multiclass), 0/1 (binary) or values (regression), as
        ``check_y`` takes them; checked (:func:`targets`).
    head : str
        The network's head name.
    n_out : int
        n[L], the number of Y's columns.
    dtype : numpy dtype
        The network's dtype, Y's.
    """

    def __init__(self, y: np.ndarray, head: str, n_out: int, dtype: Any) -> None:
        self.y, self.head = y, head
        self.shape = (int(y.shape[0]), int(n_out))
        self.dtype = np.dtype(dtype)
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def labels(self) -> np.ndarray | None:
        """The class index of each row (multiclass: ``argmax`` of Y's rows), else None."""
        return self.y if self.head == "multiclass" else None

    def _make(self, part: np.ndarray) -> np.ndarray:
        """Y of the labels or values ``part``: :func:`check_y`'s numbers, unchecked."""
        m = part.shape[0]
        if self.head == "multiclass":
            Y = np.zeros((m, self.shape[1]), dtype=self.dtype)
            Y[np.arange(m), part.astype(np.intp)] = 1
            return Y
        return as_float_array(part, "y", np.dtype(np.float64)).reshape(m, 1).astype(self.dtype)

    def _rows(self, idx: Any, mode: str) -> np.ndarray:
        """Rows ``idx`` of Y (:meth:`RowsOnRead.take <mlplab.train.rows.RowsOnRead.take>`)."""
        return self._make(self.y.take(idx, mode=mode))  # type: ignore[call-overload]

    def __getitem__(self, key: slice) -> np.ndarray:
        """Rows ``key`` (a slice) of Y."""
        if not isinstance(key, slice):
            raise TypeError("Targets are read by slices or take(indices)")
        return self._make(self.y[key])


def targets(y: Any, head: str, n_out: int, n_samples: int, dtype: Any, name: str = "y") -> Any:
    """:func:`check_y` of y, as :class:`Targets` when y is one number a row for a head
    that makes Y of it (checked a block of rows at a time; on an error, ``check_y`` of
    the whole y raises it with its message), else as ``check_y``'s Y."""
    one_column = head in ("binary", "regression") and n_out == 1
    if (
        not isinstance(y, np.ndarray)
        or y.ndim != 1
        or y.dtype.kind not in "biuf"
        or y.shape[0] != n_samples
        or n_samples == 0
        or not (one_column or (head == "multiclass" and n_out > 1))
    ):
        return check_y(y, head, n_out, n_samples, dtype, name)
    try:
        for s in range(0, n_samples, BLOCK_ROWS):
            part = y[s : s + BLOCK_ROWS]
            check_y(part, head, n_out, part.shape[0], dtype, name)
    except (TypeError, ValueError):
        check_y(y, head, n_out, n_samples, dtype, name)  # names the row of all rows
        raise
    return Targets(y, head, n_out, dtype)


def class_indices(net: Any, Y: Any) -> Any:
    """The class index of each row of Y for the multiclass head's accuracy, else None."""
    if net.head.name != "multiclass":
        return None
    if isinstance(Y, Targets):
        return Y.labels
    return net._xp.argmax(Y, axis=1)
