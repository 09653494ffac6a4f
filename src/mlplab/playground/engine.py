r"""The playground's training sessions, independent of any web framework.

A :class:`Session` holds one browser tab's experiment: the data (train/test split), an
:class:`mlplab.Network`, an :class:`mlplab.Trainer` and what the charts have shown so
far. Every request's JSON is checked by :func:`validate_config` first, so a session is
only ever built from values inside the documented limits (:data:`LIMITS`).

A *frame* (:meth:`Session.frame`) is what the page draws after each training request:

* the decision boundary, P(y = 1 | x) = σ(z[L]) on a G × G grid, as bytes 0..255;
* the cost J (cross-entropy, without the L2 term) and the accuracy on train and test;
* ‖dW[l]‖_F for l = 1..L, the full-batch gradient on the training set;
* a histogram of every hidden layer's activations a[l] over the training set (from
  :meth:`mlplab.Network.forward_cache`), with their mean and standard deviation.

This module gathers the engine's public names; each part lives in its own module:

* :mod:`mlplab.playground.config` — the choices, :data:`LIMITS`, :data:`DEFAULT_CONFIG`,
  :class:`RequestError` and :func:`validate_config`;
* :mod:`mlplab.playground.data` — synthetic datasets and CSV files (:func:`load_data`);
* :mod:`mlplab.playground.session` — :class:`Session`, the network and its optimizer;
* :mod:`mlplab.playground.presets` — the lecture's experiments (:data:`PRESETS`).
"""

from __future__ import annotations

from mlplab.playground.config import (
    ACTIVATIONS,
    CSV_NAME,
    DATASETS,
    DEFAULT_CONFIG,
    INITS,
    LIMITS,
    MODEL_NAME,
    OPTIMIZERS,
    SYNTHETIC,
    RequestError,
    validate_config,
    validate_epochs,
)
from mlplab.playground.data import list_csv_files, load_data, parse_csv, resolve_in_folder
from mlplab.playground.presets import PRESETS, preset_config
from mlplab.playground.session import (
    GRID,
    HIST_BINS,
    MAX_HISTORY,
    MAX_SECONDS_PER_REQUEST,
    Session,
    build_network,
    build_optimizer,
)

__all__ = [
    "ACTIVATIONS",
    "CSV_NAME",
    "DATASETS",
    "DEFAULT_CONFIG",
    "GRID",
    "HIST_BINS",
    "INITS",
    "LIMITS",
    "MAX_HISTORY",
    "MAX_SECONDS_PER_REQUEST",
    "MODEL_NAME",
    "OPTIMIZERS",
    "PRESETS",
    "SYNTHETIC",
    "RequestError",
    "Session",
    "build_network",
    "build_optimizer",
    "list_csv_files",
    "load_data",
    "parse_csv",
    "preset_config",
    "resolve_in_folder",
    "validate_config",
    "validate_epochs",
]
