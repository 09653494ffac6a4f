"""What a playground request may contain, and the checks every request goes through.

:func:`validate_config` completes a (possibly partial) JSON configuration from a base and
checks every value against :data:`LIMITS`; anything else is refused with a
:class:`RequestError` that names the field and the allowed values.
"""

from __future__ import annotations

import math
import re
from typing import Any

SYNTHETIC = ("circles", "moons", "xor", "spiral", "gaussian")
"""The 2-D datasets of :func:`mlplab.data.load_dataset` the playground offers."""

DATASETS = (*SYNTHETIC, "csv")

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")

INITS = (
    "auto",
    "he",
    "xavier",
    "glorot",
    "he_uniform",
    "xavier_uniform",
    "normal",
    "large",
    "zeros",
    "identity(1.5)",
    "identity(0.5)",
)
"""``auto`` is the lecture's rule (He for ReLU-like layers, Xavier otherwise)."""

OPTIMIZERS = ("gd", "minibatch", "momentum", "adam")
"""``gd`` is batch gradient descent, ``minibatch`` mini-batch GD (both :func:`sgd`)."""

SCHEDULES: dict[str, str] = {
    "constant": "constant",
    "step": "step:100:0.5",
    "exponential": "exponential:0.99",
    "inverse_time": "inverse_time:0.02",
    "cosine": "cosine:300",
    "warmup": "warmup:20",
}
"""Learning-rate schedules by name, counted in epochs (:func:`mlplab.core.schedules.parse`):
α halves every 100 epochs, shrinks 1 % per epoch, α₀/(1 + 0.02·epoch), a cosine to 0
over 300 epochs, a linear warm-up over 20 epochs."""

LIMITS: dict[str, Any] = {
    "n_points": (20, 2000),
    "noise": (0.0, 1.0),
    "test_fraction": (0.1, 0.9),
    "x2_scale": (0.001, 1000.0),
    "hidden_layers": (0, 12),
    "units": (1, 32),
    "lr": (1e-6, 10.0),
    "beta": (0.0, 0.999),
    "batch_size": (1, 2000),
    "l2": (0.0, 10.0),
    "dropout": (0.0, 0.9),
    "seed": (0, 2**31 - 1),
    "epochs": (1, 100),
    "csv_bytes": 256 * 1024,
    "csv_rows": (10, 2000),
}
"""Every bound a request is checked against (inclusive)."""

CSV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.csv$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.npz$")

DEFAULT_CONFIG: dict[str, Any] = {
    "dataset": "circles",
    "csv_file": None,
    "csv_text": None,
    "n_points": 500,
    "noise": 0.1,
    "test_fraction": 0.5,
    "x2_scale": 1.0,
    "normalize": True,
    "hidden": [{"units": 8, "activation": "relu"}, {"units": 8, "activation": "relu"}],
    "init": "auto",
    "optimizer": "adam",
    "lr": 0.03,
    "beta": 0.9,
    "batch_size": 10,
    "l2": 0.0,
    "dropout": 0.0,
    "batch_norm": False,
    "lr_schedule": "constant",
    "seed": 0,
}
"""The page's starting point: a [2, 8, 8, 1] ReLU network on 500 circle points."""


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP code, ``field`` the culprit."""

    def __init__(self, message: str, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# ----------------------------------------------------------------- validation


def _number(cfg: dict[str, Any], key: str, integer: bool = False) -> float | int:
    """``cfg[key]`` as a number (an integer with ``integer``) inside ``LIMITS[key]``."""
    lo, hi = LIMITS[key]
    value = cfg[key]
    # bool is a subclass of int in Python; JSON true/false is never a number here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise RequestError(f"{key} must be {kind}, got {value!r}", field=key)
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise RequestError(f"{key} must be an integer, got {value!r}", field=key)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise RequestError(f"{key} must lie in [{lo}, {hi}], got {value!r}", field=key)
    return int(value) if integer else float(value)


def _choice(cfg: dict[str, Any], key: str, options: tuple[str, ...]) -> str:
    """``cfg[key]``, which must be one of ``options``."""
    value = cfg[key]
    if not isinstance(value, str) or value not in options:
        raise RequestError(f"{key} must be one of {list(options)}, got {value!r}", field=key)
    return value


def validate_config(raw: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check a (possibly partial) configuration and complete it from ``base``.

    Parameters
    ----------
    raw : dict
        JSON object from the request; keys missing from it keep their value in ``base``.
    base : dict, optional
        A configuration already validated (default :data:`DEFAULT_CONFIG`).

    Returns
    -------
    dict
        A full configuration, every value of the right type and inside :data:`LIMITS`.

    Raises
    ------
    RequestError
        Naming the field and the allowed values, for anything else.
    """
    _check_fields(raw)
    base = DEFAULT_CONFIG if base is None else base
    cfg = {**base, **raw}
    # the fields are checked, and the result is filled, in DEFAULT_CONFIG's order
    out: dict[str, Any] = {}
    out.update(_data_source(cfg))
    out.update(_data_options(cfg))
    out["hidden"] = _hidden_layers(cfg)
    out.update(_training_options(cfg))
    return out


def _check_fields(raw: Any) -> None:
    """Refuse anything but a JSON object whose keys all name configuration fields."""
    if not isinstance(raw, dict):
        raise RequestError(f"the configuration must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULT_CONFIG))
    if unknown:
        raise RequestError(
            f"unknown configuration field(s) {unknown}; known: {sorted(DEFAULT_CONFIG)}",
            field=unknown[0],
        )


def _data_source(cfg: dict[str, Any]) -> dict[str, Any]:
    """``dataset``, ``csv_file`` and ``csv_text``: a synthetic dataset or exactly one CSV."""
    out: dict[str, Any] = {}
    out["dataset"] = _choice(cfg, "dataset", DATASETS)
    for key in ("csv_file", "csv_text"):
        if cfg[key] is not None and not isinstance(cfg[key], str):
            raise RequestError(f"{key} must be a string or null", field=key)
    out["csv_file"] = cfg["csv_file"]
    out["csv_text"] = cfg["csv_text"]
    if out["csv_text"] is not None and len(out["csv_text"].encode()) > LIMITS["csv_bytes"]:
        raise RequestError(
            f"csv_text is larger than {LIMITS['csv_bytes'] // 1024} KiB",
            status=413,
            field="csv_text",
        )
    if out["dataset"] == "csv":
        if (out["csv_file"] is None) == (out["csv_text"] is None):
            raise RequestError(
                "dataset 'csv' needs exactly one of csv_file (a file in the data folder) "
                "or csv_text (an uploaded file's content)",
                field="csv_file",
            )
    else:  # a stale CSV must not ride along with a synthetic dataset
        out["csv_file"] = out["csv_text"] = None
    if out["csv_file"] is not None and not CSV_NAME.match(out["csv_file"]):
        raise RequestError(
            f"csv_file must be a plain file name ending in .csv (letters, digits, '.', '_', "
            f"'-'; no folders), got {out['csv_file']!r}",
            field="csv_file",
        )
    return out


def _data_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """``n_points``, ``noise``, ``test_fraction``, ``x2_scale`` and ``normalize``."""
    out: dict[str, Any] = {}
    out["n_points"] = _number(cfg, "n_points", integer=True)
    out["noise"] = _number(cfg, "noise")
    out["test_fraction"] = _number(cfg, "test_fraction")
    out["x2_scale"] = _number(cfg, "x2_scale")
    if not isinstance(cfg["normalize"], bool):
        raise RequestError(
            f"normalize must be true or false, got {cfg['normalize']!r}", field="normalize"
        )
    out["normalize"] = cfg["normalize"]
    return out


def _hidden_layers(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """``hidden``: a list of LIMITS["hidden_layers"] layers, each ``{"units", "activation"}``."""
    hidden = cfg["hidden"]
    lo, hi = LIMITS["hidden_layers"]
    if not isinstance(hidden, list) or not lo <= len(hidden) <= hi:
        raise RequestError(
            f"hidden must be a list of {lo} to {hi} layers, got {hidden!r}"[:200], field="hidden"
        )
    return [_hidden_layer(i, layer) for i, layer in enumerate(hidden, start=1)]


def _hidden_layer(i: int, layer: Any) -> dict[str, Any]:
    """Hidden layer ``i`` (counted from 1), checked; errors name the layer."""
    if not isinstance(layer, dict) or set(layer) != {"units", "activation"}:
        raise RequestError(
            f"hidden[{i - 1}] (layer {i}) must be an object with 'units' and 'activation', "
            f"got {layer!r}"[:200],
            field="hidden",
        )
    try:
        units = _number({"units": layer["units"]}, "units", integer=True)
        act = _choice({"activation": layer["activation"]}, "activation", ACTIVATIONS)
    except RequestError as exc:
        raise RequestError(f"layer {i}: {exc}", field="hidden") from None
    return {"units": units, "activation": act}


def _training_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """``init``, ``optimizer``, ``lr``, ``beta``, ``batch_size``, ``l2``, ``dropout``,
    ``batch_norm``, ``lr_schedule`` and ``seed``."""
    if not isinstance(cfg["batch_norm"], bool):
        raise RequestError(
            f"batch_norm must be true or false, got {cfg['batch_norm']!r}", field="batch_norm"
        )
    return {
        "init": _choice(cfg, "init", INITS),
        "optimizer": _choice(cfg, "optimizer", OPTIMIZERS),
        "lr": _number(cfg, "lr"),
        "beta": _number(cfg, "beta"),
        "batch_size": _number(cfg, "batch_size", integer=True),
        "l2": _number(cfg, "l2"),
        "dropout": _number(cfg, "dropout"),
        "batch_norm": cfg["batch_norm"],
        "lr_schedule": _choice(cfg, "lr_schedule", tuple(SCHEDULES)),
        "seed": _number(cfg, "seed", integer=True),
    }


def validate_epochs(raw: Any) -> int:
    """The ``epochs`` of a step request: an integer in LIMITS["epochs"]."""
    return int(_number({"epochs": raw}, "epochs", integer=True))
