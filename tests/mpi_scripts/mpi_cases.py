"""Small training problems shared by the MPI scripts and the tests (float64, fast)."""

from __future__ import annotations

from typing import Any

import numpy as np

import mlplab
from mlplab.core import optimizers as opt

CASES = (
    "binary_adam_l2",
    "multiclass_momentum_tiny_batches",
    "regression_batch_gd",
    "batchnorm_dropout_tiny_batches",
)


def make_case(name: str) -> tuple[mlplab.Network, np.ndarray, np.ndarray, dict[str, Any]]:
    """A fresh network, the full data set and the fit keyword arguments of case ``name``."""
    rng = np.random.default_rng(7)
    if name == "binary_adam_l2":
        # 45 rows: shards of 23/22 (K=2), 12/11/11/11 (K=4); last batch smaller (45 = 5·8 + 5)
        X = rng.normal(size=(45, 5))
        y = (X[:, 0] - X[:, 1] > 0).astype(int)
        net = mlplab.Network([5, 6, 4, 1], hidden="tanh", l2=0.1, seed=1, dtype="float64")
        kw = {"optimizer": opt.adam(0.01), "epochs": 3, "batch_size": 8, "seed": 3}
    elif name == "multiclass_momentum_tiny_batches":
        # batches of 3 rows: most batches miss some ranks entirely
        X = rng.normal(size=(31, 4))
        y = np.argmax(X[:, :3], axis=1)
        net = mlplab.Network([4, 7, 3], hidden="relu", output="multiclass", seed=2, dtype="float64")
        kw = {"optimizer": opt.momentum(0.1, 0.9), "epochs": 2, "batch_size": 3, "seed": 5}
    elif name == "regression_batch_gd":
        X = rng.normal(size=(26, 3))
        y = np.c_[X.sum(axis=1), X[:, 0] * X[:, 1]]
        net = mlplab.Network(
            [3, 5, 2], hidden="sigmoid", output="regression", seed=3, dtype="float64"
        )
        kw = {"optimizer": opt.sgd(0.1), "epochs": 5, "batch_size": None}
    elif name == "batchnorm_dropout_tiny_batches":
        # batch statistics over the global batch, dropout masks by global row, cosine α;
        # batches of 5 rows miss some ranks (shards of 9/8/8/8 with K=4)
        from mlplab.core import schedules

        X = rng.normal(size=(33, 4)) * 2 + 1
        y = (X[:, 0] + X[:, 1] * X[:, 2] > 1).astype(int)
        net = mlplab.Network(
            [4, 6, 5, 1],
            hidden="tanh",
            batch_norm=True,
            keep_prob=[0.8, 1.0],
            seed=4,
            dtype="float64",
        )
        lr = schedules.cosine_decay(0.02, 15)
        kw = {"optimizer": opt.adam(lr), "epochs": 3, "batch_size": 5, "seed": 9}
    else:
        raise KeyError(name)
    return net, X, y, kw


def estimator_case(name: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """An unfitted estimator and the full data of case ``name`` ("classifier", "regressor").

    The classifier's labels are strings, sorted, so contiguous shards hold different
    classes (with 3 ranks, rank 0 sees only "ant"); the features have different scales,
    so that the Standardizer matters.
    """
    from mlplab import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -3.0]
    if name == "classifier":
        y = np.repeat(np.array(["ant", "bee", "cat"]), [14, 13, 13])
        X[:, 0] += np.repeat([0.0, 2.0, 4.0], [14, 13, 13])
        est = MLPClassifier(
            hidden_layer_sizes=(5,),
            normalize=True,  # the Standardizer of all ranks' rows is part of what is tested
            batch_size=8,
            max_iter=4,
            random_state=0,
            dtype="float64",
            solver="adam",
            learning_rate_init=0.01,
        )
    elif name == "regressor":
        y = np.c_[X[:, 0] + X[:, 2], X[:, 1] * 0.1]
        est = MLPRegressor(
            hidden_layer_sizes=(4,),
            normalize=True,
            activation="tanh",
            batch_size=7,
            max_iter=3,
            random_state=1,
            dtype="float64",
            solver="momentum",
            learning_rate_init=0.05,
            alpha=0.01,
        )
    else:
        raise KeyError(name)
    return est, X, y
