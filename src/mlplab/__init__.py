r"""mlplab: fully connected neural networks in NumPy, backpropagation written out by hand.

Notation (the lecture's): layers l = 1..L with n[l] units, n[0] = input features;
W[l] of shape (n[l], n[l-1]), b[l] of shape (n[l],); rows of X are samples, so for a
batch z[l] = W[l] a[l-1] + b[l] is ``Z = A_prev @ W.T + b`` and a[l] = g(z[l]).
The cost is J = (1/n) Σ L(i); the update W[l] ← W[l] − α ∂J/∂W[l].

Examples
--------
>>> import numpy as np, mlplab
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> y = np.array([0, 1, 1, 1])
>>> net = mlplab.Network([2, 1], output="binary", seed=0)   # logistic regression
>>> history = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.sgd(1.0), epochs=300,
...                      batch_size=None)
>>> net.predict(X).tolist()
[0, 1, 1, 1]
"""

from typing import TYPE_CHECKING

from mlplab._version import __version__
from mlplab.core import activations, heads, initializers, optimizers, schedules
from mlplab.core.data import Standardizer, load_dataset
from mlplab.core.diagnostics import gradcheck
from mlplab.core.network import Network
from mlplab.train.api import DivergenceError, Trainer, fit
from mlplab.train.callbacks import (
    Callback,
    EarlyStopping,
    GradientNormLogger,
    History,
    ReduceLROnPlateau,
)

_LAZY = {
    "MLPClassifier": "mlplab.sklearn.estimators",
    "MLPRegressor": "mlplab.sklearn.estimators",
    "read_csv": "mlplab.persist.csvdata",  # CSV reading loads only when a file is read
    # model files (zipfile, tempfile, hashlib, JSON): loaded when one is saved or read
    "save": "mlplab.saving",
    "load": "mlplab.saving",
    "load_with_header": "mlplab.saving",
    "ModelFileError": "mlplab.persist.modelfile",
}
# Modules that moved into the layer folders; ``mlplab.io`` etc. still reach them.
_OLD_PATHS = frozenset(
    (
        "activations", "callbacks", "checkpoint", "csvdata", "data", "diagnostics",
        "distributed", "estimators", "heads", "initializers", "io", "layers", "network",
        "optimizers", "progress", "training",
    )
)  # fmt: skip

if TYPE_CHECKING:  # what __getattr__ loads on first use, as type checkers see it
    from mlplab import callbacks as callbacks
    from mlplab import checkpoint as checkpoint
    from mlplab import csvdata as csvdata
    from mlplab import data as data
    from mlplab import diagnostics as diagnostics
    from mlplab import distributed as distributed
    from mlplab import estimators as estimators
    from mlplab import io as io
    from mlplab import layers as layers
    from mlplab import network as network
    from mlplab import progress as progress
    from mlplab import training as training
    from mlplab.persist.csvdata import read_csv
    from mlplab.persist.modelfile import ModelFileError
    from mlplab.saving import load, load_with_header, save
    from mlplab.sklearn.estimators import MLPClassifier, MLPRegressor


def __getattr__(name: str) -> object:
    import importlib

    # The estimators import scikit-learn, the CSV readers and model files their modules:
    # load them on first use so `import mlplab` stays fast.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _OLD_PATHS:
        return importlib.import_module(f"mlplab.{name}")
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")


__all__ = [
    "Callback",
    "DivergenceError",
    "EarlyStopping",
    "GradientNormLogger",
    "History",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "Network",
    "ReduceLROnPlateau",
    "Standardizer",
    "Trainer",
    "__version__",
    "activations",
    "fit",
    "gradcheck",
    "heads",
    "initializers",
    "load",
    "load_dataset",
    "load_with_header",
    "optimizers",
    "read_csv",
    "save",
    "schedules",
]
