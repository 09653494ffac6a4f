"""``mlplab.save`` and ``mlplab.load``: one entry for every kind of model file.

A file's header says its kind: ``"network"`` (a Network, or a Trainer to resume) is read
and written by :mod:`mlplab.persist.modelfile`, ``"estimator"`` (MLPClassifier,
MLPRegressor) by :mod:`mlplab.sklearn.modelfile`. scikit-learn is imported only when an
estimator is saved or loaded. ``mlplab.io`` is this module (the old import path).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mlplab.persist import modelfile
from mlplab.persist.modelfile import (
    FORMAT,
    MAX_FILE_BYTES,
    VERSION,
    ModelFileError,
    load_trainer,
)

__all__ = [
    "FORMAT",
    "MAX_FILE_BYTES",
    "VERSION",
    "ModelFileError",
    "load",
    "load_trainer",
    "load_with_header",
    "read_header",
    "save",
]


def _is_estimator(obj: Any) -> bool:
    # An estimator exists only once its module is imported: asking does not import it.
    est = sys.modules.get("mlplab.sklearn.estimators")
    return est is not None and type(obj) in (est.MLPClassifier, est.MLPRegressor)


def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    history: Any = None,
    metadata: dict[str, Any] | None = None,
    data_info: dict[str, Any] | None = None,
    trainer: Any = None,
    include_optimizer: bool = True,
) -> Path:
    """Save a Network, a Trainer or a fitted estimator as a data-only ``.npz`` model file.

    Parameters
    ----------
    obj : Network, Trainer, MLPClassifier or MLPRegressor
        A Trainer saves its network plus what resuming needs: optimizer name,
        hyperparameters and state, step and epoch counters, the shuffle RNG and the
        history (load it back with :func:`load_trainer`).
    path : str or Path
        Target file; ``.npz`` is appended when missing. Written atomically.
    history : History or dict, optional
        Per-epoch training values to keep (default: the trainer's or estimator's).
    metadata : dict, optional
        Extra JSON-serializable information (dataset, options, metrics...).
    data_info : dict, optional
        What the inputs and outputs mean: ``feature_names``, ``target``, ``task`` and the
        label encoding ``classes`` (output k of the network is ``classes[k]``).
    trainer : Trainer, optional
        With a Network: also save this trainer's optimizer state (as for a Trainer).
    include_optimizer : bool, default=True
        Whether to store the optimizer state (Adam's moments double or triple the file).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, numpy as np, mlplab
    >>> net = mlplab.Network([3, 4, 1], seed=0)
    >>> path = mlplab.save(net, tempfile.mkdtemp() + "/model.npz")
    >>> X = np.ones((2, 3))
    >>> bool((mlplab.load(path).forward(X) == net.forward(X)).all())
    True
    """
    options = {"history": history, "metadata": metadata, "data_info": data_info}
    options["include_optimizer"] = include_optimizer
    if not _is_estimator(obj):
        return modelfile.save(obj, path, trainer=trainer, **options)
    if trainer is not None:
        raise ValueError("trainer= must be the Trainer of the network being saved")
    from mlplab.sklearn import modelfile as estimator_file

    return estimator_file.save(obj, path, **options)


def load_with_header(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[Any, dict[str, Any]]:
    """Load a model file; return (Network or estimator, header dict).

    Raises
    ------
    ModelFileError
        For any file that is not a valid, complete, consistent mlplab model file.
    FileNotFoundError
        When ``path`` does not exist.
    """
    path = modelfile.check_path(path)
    net, header, arrays = modelfile.read(path, max_bytes)
    if header["kind"] != "estimator":
        return net, header
    from mlplab.sklearn import modelfile as estimator_file

    with modelfile.model_file_errors(path):
        return estimator_file.build(header, net, arrays), header


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Load what :func:`save` wrote: a Network, or an MLPClassifier/MLPRegressor.

    No code is ever executed; predictions of the loaded model are bitwise equal to the
    saved one's. ``max_bytes`` bounds the file size and the arrays' total size.
    """
    return load_with_header(path, max_bytes=max_bytes)[0]


def read_header(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """The validated JSON header of a model file (loads and checks the whole file)."""
    return load_with_header(path, max_bytes=max_bytes)[1]
