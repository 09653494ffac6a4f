"""The lecture's experiments as ready-made playground configurations (:data:`PRESETS`)."""

from __future__ import annotations

from typing import Any

from mlplab.playground.config import RequestError, validate_config


def _layers(n: int, units: int, act: str) -> list[dict[str, Any]]:
    return [{"units": units, "activation": act} for _ in range(n)]


PRESETS: list[dict[str, Any]] = [
    {
        "id": "identity-1.5",
        "title": "Identity network, W = 1.5·I (exploding)",
        "text": "10 hidden layers of 2 linear units, W[l] = 1.5·I, b = 0: ŷ = 1.5^L x. "
        "The activations grow layer by layer and ‖dW[l]‖ is huge: gradient descent overshoots.",
        "config": {
            "dataset": "gaussian",
            "noise": 0.5,
            "hidden": _layers(10, 2, "identity"),
            "init": "identity(1.5)",
            "optimizer": "gd",
            "lr": 0.01,
        },
    },
    {
        "id": "identity-0.5",
        "title": "Identity network, W = 0.5·I (vanishing)",
        "text": "The same network with W[l] = 0.5·I: ŷ = 0.5^L x ≈ 0. The activations shrink "
        "layer by layer, ‖dW[l]‖ is tiny, and the cost hardly moves from log 2.",
        "config": {
            "dataset": "gaussian",
            "noise": 0.5,
            "hidden": _layers(10, 2, "identity"),
            "init": "identity(0.5)",
            "optimizer": "gd",
            "lr": 0.01,
        },
    },
    {
        "id": "zeros",
        "title": "Zeros initialization (symmetry)",
        "text": "W = 0: every unit of a layer computes the same thing and gets the same "
        "gradient, so the symmetry never breaks: the network acts like one unit per layer.",
        "config": {
            "dataset": "circles",
            "hidden": _layers(2, 8, "sigmoid"),
            "init": "zeros",
            "optimizer": "gd",
            "lr": 1.0,
        },
    },
    {
        "id": "he-depth10",
        "title": "Depth 10, ReLU, He init: Var(W) = 2/n[l-1]",
        "text": "He keeps the variance of a[l] steady through 10 ReLU layers: the activation "
        "strips look alike and the gradient norms stay near one another.",
        "config": {
            "dataset": "circles",
            "hidden": _layers(10, 8, "relu"),
            "init": "he",
            "optimizer": "momentum",
            "lr": 0.05,
            "batch_size": 32,
        },
    },
    {
        "id": "xavier-depth10",
        "title": "Depth 10, ReLU, Xavier init: Var(W) = 1/n[l-1]",
        "text": "Xavier halves the variance at every ReLU layer (ReLU zeroes half the inputs): "
        "a[l] shrinks towards 0 with depth and the gradients are much smaller than with He.",
        "config": {
            "dataset": "circles",
            "hidden": _layers(10, 8, "relu"),
            "init": "xavier",
            "optimizer": "momentum",
            "lr": 0.05,
            "batch_size": 32,
        },
    },
    {
        "id": "gd",
        "title": "Gradient descent, no momentum",
        "text": "Inputs left unnormalized, with x₂ stretched × 10, make the cost a long, narrow "
        "valley. Batch GD with α = 0.1 crawls along it (J ≈ 0.27 after 300 epochs). "
        "Then try the momentum preset.",
        "config": {
            "dataset": "moons",
            "noise": 0.15,
            "x2_scale": 10.0,
            "normalize": False,
            "hidden": _layers(1, 8, "tanh"),
            "init": "xavier",
            "optimizer": "gd",
            "lr": 0.1,
        },
    },
    {
        "id": "momentum",
        "title": "Momentum, β = 0.9 (same α)",
        "text": "The same valley and the same α = 0.1, with v = βv + (1−β)dW, W = W − αv: the "
        "average of past gradients builds up speed along the valley floor "
        "(J ≈ 0.02 after 300 epochs).",
        "config": {
            "dataset": "moons",
            "noise": 0.15,
            "x2_scale": 10.0,
            "normalize": False,
            "hidden": _layers(1, 8, "tanh"),
            "init": "xavier",
            "optimizer": "momentum",
            "lr": 0.1,
            "beta": 0.9,
        },
    },
]
"""The lecture's experiments; each ``config`` is applied on top of :data:`DEFAULT_CONFIG`."""


def preset_config(preset_id: str) -> dict[str, Any]:
    """The full, validated configuration of a preset."""
    for p in PRESETS:
        if p["id"] == preset_id:
            return validate_config(p["config"])
    raise RequestError(
        f"unknown preset {preset_id!r}; choose one of {[p['id'] for p in PRESETS]}", status=404
    )
