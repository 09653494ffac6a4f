r"""mlplab: fully connected neural networks in NumPy, backpropagation written out by hand.

Notation (the lecture's): layers l = 1..L with n[l] units, n[0] = input features;
W[l] of shape (n[l], n[l-1]), b[l] of shape (n[l],); rows of X are samples, so for a
batch z[l] = W[l] a[l-1] + b[l] is ``Z = A_prev @ W.T + b`` and a[l] = g(z[l]).
The cost is J = (1/n) Σ L(i); the update W[l] ← W[l] − α ∂J/∂W[l].

>>> import numpy as np, mlplab
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> y = np.array([0, 1, 1, 1])
>>> net = mlplab.Network([2, 1], output="binary", seed=0)   # logistic regression
>>> history = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.sgd(1.0), epochs=300,
...                      batch_size=None)
>>> net.predict(X).tolist()
[0, 1, 1, 1]
"""

from mlplab import activations, heads, initializers, optimizers
from mlplab.callbacks import Callback, EarlyStopping, GradientNormLogger, History
from mlplab.data import Standardizer, load_dataset
from mlplab.diagnostics import gradcheck
from mlplab.io import ModelFileError, load, save
from mlplab.network import Network
from mlplab.training import DivergenceError, Trainer, fit

__version__ = "0.1.0"

_LAZY = {"MLPClassifier": "mlplab.estimators", "MLPRegressor": "mlplab.estimators"}


def __getattr__(name: str):
    # The estimators import scikit-learn: load them on first use so `import mlplab` stays fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
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
    "optimizers",
    "save",
]
