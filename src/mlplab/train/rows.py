r"""Training rows that stay on disk: memory-mapped ``.npy`` files, gathered batch by batch.

``mlplab.fit(net, X, y)`` with X a ``numpy.memmap`` (``np.load(path, mmap_mode="r")``),
or a :class:`MappedRows` over several such arrays (a folder of ``.npy`` shards,
:func:`mlplab.persist.npydata.open_rows`), never loads X: the trainer checks it in one
streaming pass (shape, finiteness, scale), then each mini-batch gathers its rows by
index from the file, converts them to the network's dtype and standardizes them:

    x_B = ((X[rows B] as dtype) − μ) / σ      (as dtype)

which is, row by row, what the in-memory path computes once for the whole X
(``Standardizer.transform(check_X(X, dtype))``), so the batches, and the weights, are
the same bits. Resident memory is the pages of the rows of recent batches (the kernel
drops them under pressure), not the file.

The files are watched: their size before every gather (a file cut short under a
memory map would crash the process), and at the end of every epoch a fingerprint (size,
modification time, and when that changed, a digest of the ``.npy`` header and of its
first and last MiB): a change is a :class:`DataChangedError` naming the file.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from mlplab._validation import SCALE_WARNING, check_input_scale

BLOCK_BYTES = 2**20
"""Streaming passes read about this many bytes of rows at a time (small: each block
makes a few temporaries of its size, in every rank)."""


class DataChangedError(RuntimeError):
    """A memory-mapped training file changed (size or content) while training on it."""


class _Watched:
    """One file's fingerprint: size, mtime, and a digest of its header and ends."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)  # fstat before every gather: cheap
        st = os.fstat(self.fd)
        self.size, self.mtime = st.st_size, st.st_mtime_ns
        self.digest = self._digest()

    def _digest(self) -> str:
        import hashlib  # (OpenSSL: 2-3 ms that `import mlplab` need not pay)

        h = hashlib.blake2b(digest_size=16)
        with open(self.path, "rb") as f:
            h.update(f.read(2**20))
            f.seek(max(self.size - 2**20, 0))
            h.update(f.read(2**20))
        return h.hexdigest()

    def size_ok(self) -> bool:
        return os.fstat(self.fd).st_size == self.size

    def check(self) -> None:
        st = os.stat(self.path)
        if st.st_size != self.size:
            raise DataChangedError(
                f"{self.path}: the training file changed during training (size {self.size} "
                f"-> {st.st_size} bytes); restart on a file that stays as it is"
            )
        if st.st_mtime_ns != self.mtime and self._digest() != self.digest:
            raise DataChangedError(
                f"{self.path}: the training file changed during training (its contents "
                "differ from when training began); restart on a file that stays as it is"
            )

    def close(self) -> None:
        os.close(self.fd)


class MappedRows:
    """The rows of one or more memory-mapped 2-D arrays (shards, in order), optionally
    through an index (row i is row ``index[i]`` of the shards), read as one table.

    Parameters
    ----------
    parts : list of ndarray (n_k, n_features)
        Memory-mapped (or any) arrays of the same width, concatenated by rows; or
        array-likes read when indexed (a slice, an array of ints, ``numpy.asarray``:
        :class:`mlplab.persist.csvspill.FileRows`).
    index : ndarray of int, optional
        The rows of the table, in order (e.g. a training split); default all.
    """

    def __init__(self, parts: Sequence[Any], index: Any = None) -> None:
        if not parts:
            raise ValueError("MappedRows needs at least one array")
        widths = {p.shape[1] if p.ndim == 2 else None for p in parts}
        if len(widths) != 1 or None in widths:
            shapes = [p.shape for p in parts]
            raise ValueError(f"the parts must be 2-D with the same number of columns: {shapes}")
        self.parts = parts
        self.starts = np.cumsum([0] + [p.shape[0] for p in parts])
        self.index = None if index is None else _index(index)
        n = int(self.starts[-1]) if self.index is None else self.index.shape[0]
        self.shape = (n, int(widths.pop()))  # type: ignore[arg-type]
        self.dtype = np.result_type(*[p.dtype for p in parts])
        self.ndim = 2
        names = cast("set[str]", {_filename(p) for p in parts} - {None})
        self.files = [_Watched(f) for f in names]
        self.layout: list[list[Any]] | None = None
        """[[file name, rows], ...] of the shards opened (open_rows); in checkpoints."""
        self.relabel: np.ndarray | None = None
        self.order_source: Any = None
        """Instead of :attr:`relabel` on every rank: the batches drawn on one rank
        (:class:`mlplab.train.rootorder.RootOrder`, :attr:`EpochPlan.source
        <mlplab.train.batches.EpochPlan.source>`)."""
        self.transform: Callable[[np.ndarray], np.ndarray] | None = None
        """For training rows kept in the file's order rather than the split's: each row of
        the split's order, its place in the file's order (:attr:`EpochPlan.relabel
        <mlplab.train.batches.EpochPlan.relabel>`; :func:`mlplab.persist.npydata.file_blocks`)."""

    def __len__(self) -> int:
        return self.shape[0]

    def select(self, index: Any) -> MappedRows:
        """Rows ``index`` of the table (e.g. a training split), still on disk (an int32
        index stays int32: 4 bytes a row)."""
        idx = _index(index)
        return self._through(idx if self.index is None else self.index[idx])

    def _through(self, idx: np.ndarray) -> MappedRows:
        out = MappedRows.__new__(MappedRows)
        out.__dict__.update(self.__dict__)
        out.index, out.shape = idx, (int(idx.shape[0]), self.shape[1])
        return out

    def __getitem__(self, key: slice) -> MappedRows:
        """Rows ``key`` (a slice) of the table, still on disk (through a view of the
        index: no copy of it; a view of the one part when there is no index)."""
        if not isinstance(key, slice):
            raise TypeError("MappedRows are cut by slices; read rows with rows(indices)")
        if self.index is not None:
            return self._through(self.index[key])
        if len(self.parts) == 1:  # a view of the one part: still no index
            out = MappedRows.__new__(MappedRows)
            out.__dict__.update(self.__dict__)
            out.parts = [self.parts[0][key]]
            out.starts = np.array([0, out.parts[0].shape[0]])
            out.shape = (int(out.parts[0].shape[0]), self.shape[1])
            return out
        return self.select(np.arange(self.shape[0])[key])

    def encoded(self, fn: Callable[[np.ndarray], np.ndarray], width: int) -> MappedRows:
        """These rows passed through ``fn`` as they are read (e.g. a table plan's fill
        values and one-hot codes, :meth:`~mlplab.persist.tableplan.TablePlan.expand`):
        ``width`` columns of float64. The stored rows stay as they are (narrower)."""
        out = MappedRows.__new__(MappedRows)
        out.__dict__.update(self.__dict__)
        out.transform, out.shape, out.dtype = fn, (self.shape[0], int(width)), np.dtype(float)
        return out

    def rows(self, idx: Any) -> np.ndarray:
        """Rows ``idx`` (table order), as stored (through :meth:`encoded`'s function)."""
        for f in self.files:
            if not f.size_ok():
                f.check()  # raises DataChangedError naming the file
        idx = np.asarray(idx, dtype=np.int64)
        at = idx if self.index is None else self.index[idx]
        if len(self.parts) == 1:
            return self._out(self.parts[0][at])
        width = self.parts[0].shape[1]
        out = np.empty((at.shape[0], width), dtype=np.result_type(*[p.dtype for p in self.parts]))
        k = np.searchsorted(self.starts, at, side="right") - 1
        for j in np.unique(k).tolist():
            sel = k == j
            out[sel] = self.parts[j][at[sel] - self.starts[j]]
        return self._out(out)

    def _out(self, raw: np.ndarray) -> np.ndarray:
        return raw if self.transform is None else self.transform(raw)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as stored (contiguous reads when there is no index)."""
        if self.index is None and len(self.parts) == 1:
            return self._out(np.asarray(self.parts[0][start:stop]))
        return self.rows(np.arange(start, stop))

    def blocks(self) -> Any:
        """(start, rows) blocks of about :data:`BLOCK_BYTES`, in order."""
        step = max(1, BLOCK_BYTES // max(1, self.shape[1] * self.dtype.itemsize))
        for s in range(0, self.shape[0], step):
            yield s, self.block(s, min(s + step, self.shape[0]))

    def check_unchanged(self) -> None:
        """Raise :class:`DataChangedError` when a file changed since it was opened."""
        for f in self.files:
            f.check()


def _index(index: Any) -> np.ndarray:
    """Row indices as int64, or as they are when int32 (4 bytes a row: a rank's rows of
    a large file, :mod:`mlplab.persist.csvshard`)."""
    idx = np.asarray(index)
    return idx if idx.dtype in (np.int32, np.int64) else idx.astype(np.int64)


def _filename(a: Any) -> str | None:
    while a is not None:
        name = getattr(a, "filename", None)
        if name:
            return str(name)
        a = getattr(a, "base", None)
    return None


def is_mapped(X: Any) -> bool:
    """Whether X is trained on out of core: a MappedRows or a numpy.memmap."""
    return isinstance(X, (MappedRows, np.memmap))


class RowsOnRead(ABC):
    """Rows made when they are read, gathered as ``ndarray.take`` gathers on axis 0 (the
    trainer's batches: :class:`PreparedRows`, :class:`mlplab.train.targets.Targets`)."""

    @abstractmethod
    def _rows(self, idx: Any, mode: str) -> np.ndarray:
        """Rows ``idx`` made; ``mode`` as ``ndarray.take``'s (the indices are in range)."""

    def take(
        self, idx: Any, axis: int = 0, out: np.ndarray | None = None, mode: str = "clip"
    ) -> np.ndarray:
        """Rows ``idx`` (into ``out`` when given), like ``ndarray.take`` on axis 0."""
        if axis != 0:
            raise ValueError(f"{type(self).__name__} are read by rows (axis=0)")
        rows = self._rows(idx, mode)
        if out is None:
            return rows
        out[...] = rows
        return out


class PreparedRows(RowsOnRead):
    """A :class:`MappedRows` as the network sees it: in its dtype, standardized, gathered
    by the trainer's batches (``take``) and read in slices (the data digest)."""

    def __init__(self, source: MappedRows, dtype: Any, standardizer: Any) -> None:
        self.source, self.std = source, standardizer
        self.dtype = np.dtype(dtype)
        self.shape, self.ndim = source.shape, 2
        self.layout, self.relabel = source.layout, source.relabel
        self.order_source = source.order_source

    def _prepare(self, raw: np.ndarray) -> np.ndarray:
        X = raw.astype(self.dtype, copy=False)
        if self.std is None:
            return np.ascontiguousarray(X)
        Xs = (X - self.std.mean_) / self.std.scale_  # (a fitted Standardizer: μ, σ set)
        return cast(np.ndarray, Xs.astype(self.dtype, copy=False))

    def _rows(self, idx: Any, mode: str) -> np.ndarray:
        return self._prepare(self.source.rows(idx))  # in range: a permutation's rows

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("out-of-core rows are read by slices or take(indices)")
        start, stop, step = key.indices(self.shape[0])
        if step != 1:
            raise TypeError("out-of-core rows are read by slices of step 1")
        return self._prepare(self.source.block(start, stop))

    def check_unchanged(self) -> None:
        self.source.check_unchanged()


def prepare(net: Any, X: Any, name: str = "X") -> PreparedRows:
    """X checked in one streaming pass (2-D, the network's width, finite, not too large),
    as the rows the trainer gathers: what ``net._prepare_X`` does in memory."""
    src = X if isinstance(X, MappedRows) else MappedRows([X])
    n0 = net.layer_sizes[0]
    if src.shape[0] == 0:
        raise ValueError(f"{name} has 0 samples (shape {src.shape}); need at least 1")
    if src.shape[1] != n0:
        raise ValueError(f"{name} has {src.shape[1]} features, but the network expects n[0]={n0}")
    rows = PreparedRows(src, net.dtype, net.standardizer)
    lo, hi = np.inf, -np.inf
    for start, raw in src.blocks():
        block = rows._prepare(raw)
        bad = ~np.isfinite(block)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            value = raw[r, c]
            what = "NaN" if np.isnan(value) else "infinite values"
            if np.isfinite(value):
                raise ValueError(
                    f"{name} has a value too large for {net.dtype} at row {start + r}, column "
                    f"{c} ({float(value)!r}); rescale the data or use dtype='float64'"
                )
            raise ValueError(f"{name} contains {what} (first at row {start + r}, column {c})")
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    if max(hi, -lo) > SCALE_WARNING:  # the message of the in-memory check, on one block
        big = next(b for _, b in src.blocks() if np.abs(rows._prepare(b)).max() >= max(hi, -lo))
        check_input_scale(rows._prepare(big), net.standardizer is not None, name, (lo, hi))
    return rows


def sample_rows(X: MappedRows, max_rows: int = 256) -> np.ndarray:
    """The rows :class:`~mlplab.train.callbacks.ActivationLogger` samples from X (the
    same seed and choice), read from disk: the logger then needs no other rows."""
    n = X.shape[0]
    if n <= max_rows:
        return X.rows(np.arange(n))
    rows = np.random.default_rng(0).choice(n, max_rows, replace=False)
    return X.rows(np.sort(rows))
