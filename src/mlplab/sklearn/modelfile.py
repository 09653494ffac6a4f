"""The estimator section of model files: a fitted MLPClassifier or MLPRegressor as data.

An estimator file is a network model file (:mod:`mlplab.persist.modelfile`) of kind
``"estimator"`` whose header also holds ``"estimator": {"class", "params", "fitted"}``:
the constructor parameters and the fitted attributes, as JSON. :mod:`mlplab.saving` sends
estimators here; nothing here runs code from the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from mlplab._archive import jsonable, labels_from_json, labels_to_json
from mlplab.persist import modelfile
from mlplab.sklearn.estimators import MLPClassifier, MLPRegressor

ESTIMATORS: dict[str, type] = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}


# ====================================================================== writing
def _params_json(est: Any) -> dict[str, Any]:
    params = {}
    for key, value in est.get_params(deep=False).items():
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a Generator is state, not a setting: it is not stored
        if key == "dtype" and value is not None:  # None: the training data's (float64/32)
            value = np.dtype(value).name
        params[key] = jsonable(value, f"parameter {key}")
    return params


def _fitted_json(est: Any) -> dict[str, Any]:
    fitted: dict[str, Any] = {
        "n_features_in": int(est.n_features_in_),
        "n_iter": int(est.n_iter_),
        "t": int(est.t_),
        "loss": est.loss_,
        "best_loss": getattr(est, "best_loss_", None),
        "validation_scores": getattr(est, "validation_scores_", None),
        "best_validation_score": getattr(est, "best_validation_score_", None),
        "step": int(est._step),
        "solver": est._opt_solver,
        "no_improvement_count": int(getattr(est, "_no_improvement_count", 0) or 0),
    }
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in"] = [str(v) for v in est.feature_names_in_]
    if hasattr(est, "classes_"):
        fitted["classes"] = labels_to_json(est.classes_)
        fitted["mode"] = est._mode_
    fitted_json: dict[str, Any] = jsonable(fitted)
    return fitted_json


def save(
    est: Any,
    path: str | os.PathLike[str],
    *,
    history: Any = None,
    metadata: dict[str, Any] | None = None,
    data_info: dict[str, Any] | None = None,
    include_optimizer: bool = True,
) -> Path:
    """Save a fitted estimator (see :func:`mlplab.save`)."""
    check_is_fitted(est)
    path = modelfile.model_path(path)
    section: dict[str, Any] = {
        "class": type(est).__name__,
        "params": _params_json(est),
        "fitted": _fitted_json(est),
    }
    training: dict[str, Any] | None = None
    arrays: dict[str, np.ndarray] = {}
    if include_optimizer and est._opt_state is not None:
        desc, arrays = modelfile.opt_state_to_file(est._opt_state, est.network_)
        training = {"state": desc, "rng": modelfile.rng_state(est._random)}
    if data_info is None:
        data_info = {"task": "regression" if isinstance(est, MLPRegressor) else "classification"}
        names = section["fitted"].get("feature_names_in")
        if names:
            data_info["feature_names"] = names
    return modelfile.write_model(
        path,
        est.network_,
        kind="estimator",
        arrays=arrays,
        training=training,
        estimator=section,
        history=est.history_ if history is None else history,
        data_info=data_info,
        metadata=metadata,
    )


# ====================================================================== reading
def _with_params(cls: type[Any], params: dict[str, Any], net: Any) -> Any:
    """An unfitted estimator with the stored constructor parameters, checked."""
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise ValueError(f"unknown estimator parameters {sorted(unknown)}")
    for key, value in params.items():
        if isinstance(value, (dict, list)) and key != "hidden_layer_sizes":
            raise ValueError(f"parameter {key} must be a plain value")
    params = dict(params)
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(
            modelfile.int_list(params["hidden_layer_sizes"], "sizes")
        )
    est = cls(**params)
    est._check_params()
    if est.dtype is not None and est.dtype != net.dtype.name:
        raise ValueError("estimator dtype does not match the network's")
    return est


def _set_features(est: Any, fitted: dict[str, Any], net: Any) -> None:
    n_features = fitted.get("n_features_in")
    if n_features != net.layer_sizes[0]:
        raise ValueError("n_features_in does not match n[0]")
    est.network_ = net
    est.n_features_in_ = n_features
    names = fitted.get("feature_names_in")
    if names is not None:
        if (
            not isinstance(names, list)
            or len(names) != n_features
            or not all(isinstance(s, str) for s in names)
        ):
            raise ValueError("feature_names_in must be n[0] strings")
        est.feature_names_in_ = np.array(names, dtype=object)


def _set_classes(est: Any, fitted: dict[str, Any], net: Any) -> None:
    classes = labels_from_json(fitted.get("classes"))
    mode: Any = fitted.get("mode")  # checked below: one of ok's keys
    n_out = net.layer_sizes[-1]
    ok = {
        "binary": classes.shape[0] == 2 and n_out == 1 and net.head.name == "binary",
        "multiclass": classes.shape[0] == n_out >= 3 and net.head.name == "multiclass",
        "multilabel": classes.shape[0] == n_out and net.head.name == "binary",
    }
    if not ok.get(mode, False):
        raise ValueError("the label encoding does not match the network's outputs")
    est.classes_, est._mode_ = classes, mode


def _set_progress(est: Any, fitted: dict[str, Any], history: Any) -> None:
    """History, iteration counters and the scores of the fit so far."""
    est.history_ = modelfile.history_from(history)
    est.loss_curve_ = list(est.history_.get("loss", []))
    for attr in ("n_iter", "t", "step"):
        v = fitted.get(attr, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{attr} must be an integer >= 0")
    est.n_iter_, est.t_, est._step = (fitted.get(a, 0) for a in ("n_iter", "t", "step"))
    for attr in ("loss", "best_loss", "best_validation_score"):
        v = fitted.get(attr)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ValueError(f"{attr} must be a number")
        setattr(est, f"{attr}_", v)
    count = fitted.get("no_improvement_count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError("no_improvement_count must be an integer >= 0")
    est._no_improvement_count = count
    vs = fitted.get("validation_scores")
    est.validation_scores_ = None if vs is None else modelfile.history_from({"v": vs})["v"]


def _set_optimizer(
    est: Any, fitted: dict[str, Any], training: Any, arrays: dict[str, np.ndarray]
) -> None:
    """The optimizer state and shuffling RNG to continue from (warm_start, partial_fit)."""
    est._opt_state, est._opt_solver = None, None
    rs = est.random_state if isinstance(est.random_state, int) else None
    est._random = np.random.default_rng(rs)
    if training and training.get("state") is not None:
        est._opt_state = modelfile.opt_state_from_file(training["state"], arrays, est.network_)
        est._opt_solver = fitted.get("solver")
        est._random = modelfile.rng_from(training.get("rng"), rs)


def build(header: dict[str, Any], net: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The estimator of an estimator file, from the header, network and arrays that
    :func:`mlplab.persist.modelfile.read` returned (ValueError for anything malformed)."""
    sec = header["estimator"]
    cls = ESTIMATORS.get(sec.get("class"))
    if cls is None:
        raise ValueError(f"unknown estimator class {sec.get('class')!r}")
    params, fitted = sec.get("params"), sec.get("fitted")
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise ValueError("estimator params/fitted must be objects")
    est = _with_params(cls, params, net)
    _set_features(est, fitted, net)
    if cls is MLPClassifier:
        _set_classes(est, fitted, net)
    elif net.head.name != ("poisson" if est.loss == "poisson" else "regression"):
        raise ValueError("an MLPRegressor needs the head of its loss (regression or poisson)")
    _set_progress(est, fitted, header.get("history"))
    _set_optimizer(est, fitted, header.get("training"), arrays)
    return est
