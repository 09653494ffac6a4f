"""What users call to train: :func:`fit`, one line from a network and data to a History.

It builds a :class:`~mlplab.train.loop.Trainer` — with the MPI strategy when given a
communicator — and runs it. The names of the old ``mlplab.training`` module are here too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from mlplab.core.network import Network
from mlplab.core.optimizers import Optimizer
from mlplab.train.callbacks import Callback, History
from mlplab.train.loop import DivergenceError, InputScaleWarning, Trainer

__all__ = ["DivergenceError", "InputScaleWarning", "Trainer", "fit"]


def fit(
    net: Network,
    X: Any,
    y: Any,
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | str | None = "auto",
    seed: Any = 0,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
    comm: Any = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    restore_best: bool | str = False,
    sample_weight: Any = None,
) -> History:
    """Train ``net`` in place by mini-batch gradient descent; return its History.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n[0])
        Used exactly as given (attach a Standardizer to the network to normalize). It
        is never modified; read-only and non-contiguous arrays are fine. A PyTorch
        tensor (CPU or CUDA), CuPy array or other array API array trains in that library
        on its device: the network is moved there first (``Network.to``).
    y : array-like
        0/1 labels (binary head), class indices or one-hot rows (multiclass), values
        (regression). Classification targets need at least two classes.
    optimizer : Optimizer, default=adam(0.001)
        From :mod:`mlplab.optimizers`, e.g. ``momentum(lr=0.1, beta=0.9)``.
    epochs : int, default=100
    batch_size : int, None or "auto", default="auto"
        None (or n_samples) is batch gradient descent; otherwise mini-batch GD over a
        fresh shuffle of the indices each epoch, the last smaller batch kept. "auto" is
        min(32, n_samples); an explicit size larger than n_samples is an error.
    seed : int or Generator, default=0
        Seed of the shuffles.
    validation_data : (X_val, y_val), optional
        Adds ``val_loss`` (and ``val_accuracy``) to the history after each epoch.
    callbacks : list of Callback
        E.g. ``EarlyStopping``, ``GradientNormLogger``; History is always attached.
    verbose : bool, default=False
        Show a progress bar on stderr (tqdm on a terminal, plain lines otherwise).
    checkpoint : str or Path, optional
        Checkpoint file (or folder, for ``checkpoint.npz`` inside it) written during
        training and when it ends or is interrupted; the previous one is kept as
        ``*.prev.npz``. See :mod:`mlplab.train.checkpoint`.
    checkpoint_every : int, optional
        Write a checkpoint every this many steps (parameter updates); by default at the
        end of every epoch.
    resume : bool, default=False
        Continue from ``checkpoint`` if it exists (else start afresh): the run ends with
        exactly the parameters and History of an uninterrupted run of ``epochs`` epochs.
        The network, optimizer, batch size, data and callbacks must be the same.
    restore_best : bool or {"loss", "val_loss"}, default=False
        When training ends — normally, by Ctrl-C or by divergence — put back the
        best parameters seen: for ``"val_loss"`` (True with validation data) those
        after the epoch with the lowest ``val_loss``; for ``"loss"`` (True without)
        those at the start of the epoch with the lowest ``loss`` (the cost measured from
        there on; for batch GD, exactly their J).
    comm : mpi4py.MPI.Comm, optional
        Data-parallel training over MPI ranks (:mod:`mlplab.train.mpi`): X, y are this
        rank's contiguous shard of the training rows, ``batch_size`` the global batch;
        every rank ends with the same parameters. Only rank 0 shows progress and writes
        ``checkpoint``; ``resume`` restores it on every rank, whatever their number.
    sample_weight : array-like of shape (n_samples,), optional
        One weight w_i >= 0 per row (finite, Σw > 0): each batch's cost becomes
        J = Σ_i w_i L(i) / Σ_i w_i with dZ[L] = w_i (a − y)_i / Σw
        (:func:`mlplab.core.heads.weighted_loss_and_grad`), and λ is scaled by n/Σw
        (n rows, Σw over the training set) so that the L2 term is the repeated data's.
        Integer weights train exactly like the data with row i repeated w_i times for
        batch GD (``batch_size=None``), and a weight of 0 like dropping the row;
        mini-batches differ (the repeated data has more rows to shuffle). The logged
        ``loss`` is the batches' weighted costs averaged by batch size; ``val_loss`` is
        unweighted. Not with ``comm``.

    Returns
    -------
    History
        ``history.history["loss"]`` etc., one value per completed epoch.

    Raises
    ------
    DivergenceError
        When the cost, a gradient or an update becomes NaN/inf. The step is not applied,
        so the parameters are the last finite ones (the best ones with ``restore_best``).

    Notes
    -----
    Ctrl-C stops training at the end of the current step (a second Ctrl-C aborts at
    once): ``fit`` warns, writes the checkpoint if one was asked for, and returns the
    History of the completed epochs.

    Examples
    --------
    >>> import numpy as np, mlplab
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> net = mlplab.Network([2, 1], seed=0)
    >>> h = mlplab.fit(net, X, [0, 1, 1, 1], optimizer=mlplab.optimizers.sgd(1.0), epochs=3)
    >>> len(h.history["loss"])
    3
    """
    strategy = None
    if comm is not None:  # one shard per MPI rank, gradients all-reduced each step
        from mlplab.train.mpi import MPI

        strategy = MPI(comm)
    trainer = Trainer(net, optimizer, callbacks, seed, strategy=strategy, verbose=verbose)
    trainer.require_two_classes = comm is None  # one rank's shard may hold one class
    return trainer.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        restore_best=restore_best,
        sample_weight=sample_weight,
    )
