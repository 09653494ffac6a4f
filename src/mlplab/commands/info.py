"""``mlplab info MODEL``: what a model file holds, without running it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from mlplab._array_api import to_numpy
from mlplab.commands._common import Model, add_output_options, print_json

HELP = "describe a model file: architecture, parameters, activations, optimizer, training"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help=HELP, description=HELP)
    p.add_argument("model", type=Path, help="model file (.npz)")
    add_output_options(p)
    return p


def describe(model: Model) -> dict[str, Any]:
    """The model file's summary as plain data."""
    net, header = model.net, model.header
    meta = header.get("metadata") or {}
    options = meta.get("options") or {}
    training = header.get("training") or {}
    est = header.get("estimator")
    hist = header.get("history") or {}
    layers = []
    for l in range(1, net.L + 1):
        n, m = net.layer_sizes[l], net.layer_sizes[l - 1]
        layers.append(
            {
                "layer": l,
                "W_shape": [n, m],
                "activation": net.hidden[l - 1].name if l < net.L else f"{net.head.name} head",
                "init": net.init[l - 1],
                "params": n * m + n,
            }
        )
    optimizer = training.get("optimizer") or options.get("optimizer")
    hyper = training.get("hyperparams") or options.get("hyperparams")
    if est is not None:
        p = est["params"]
        optimizer = p.get("solver")
        hyper = {"learning_rate_init": p.get("learning_rate_init"), "alpha": p.get("alpha")}
    out: dict[str, Any] = {
        "file": str(model.path),
        "format_version": header["version"],
        "kind": est["class"] if est is not None else "Network",
        "layer_sizes": net.layer_sizes,
        "n_params": net.n_params,
        "dtype": net.dtype.name,
        "output": net.head.name,
        "l2": net.l2,
        "normalized_inputs": net.standardizer is not None,
        "layers": layers,
        "optimizer": optimizer,
        "hyperparams": hyper,
        "task": model.task,
        "target": model.target,
        "feature_names": model.feature_names,
        "classes": None if model.classes is None else model.classes.tolist(),
        "epochs": len(hist.get("loss", [])),
        "final_loss": hist["loss"][-1] if hist.get("loss") else None,
        "history_keys": sorted(hist),
        "metrics": meta.get("metrics"),
    }
    if est is not None:
        out["estimator_params"] = est["params"]
    out.update(_preprocessing(model))
    return out


def _preprocessing(model: Model) -> dict[str, Any]:
    """The stored plan and the standardizer's moments (its last step, per network input);
    nothing for a model without a plan (files written before plans: as they were)."""
    plan = (model.header.get("data") or {}).get("preprocessing")
    if plan is None:
        return {}
    out: dict[str, Any] = {"preprocessing": plan, "standardizer": None}
    std = model.net.standardizer
    if std is not None:
        out["standardizer"] = {
            "mean": to_numpy(std.mean_).astype(np.float64).ravel().tolist(),
            "scale": to_numpy(std.scale_).astype(np.float64).ravel().tolist(),
        }
    return out


def _print_preprocessing(plan: dict[str, Any], standardized: bool) -> None:
    """The stored preprocessing: one line per feature column."""
    extra = [f"empty cells: {plan['missing']}"]
    extra.append(f"unknown categories: {plan['unknown_categories']}")
    if plan.get("id_column"):
        extra.append(f"id column {plan['id_column']!r}")
    if plan.get("ignored"):
        extra.append(f"not used: {', '.join(plan['ignored'])}")
    print("preprocessing (" + "; ".join(extra) + "):")
    for c in plan["columns"]:
        fill = f", fill {c['fill']!r}" if c.get("fill") is not None else ""
        if c["kind"] == "number":
            print(f"  {c['name']}: number{fill}")
        else:
            cats = ", ".join(map(repr, c["categories"][:12]))
            cats += " ..." if len(c["categories"]) > 12 else ""
            print(f"  {c['name']}: category, one-hot over {len(c['categories'])} ({cats}){fill}")
    if standardized:
        print("  then each network input standardized (mean and scale stored)")


def run(args: argparse.Namespace) -> int:
    info = describe(Model(args.model))
    if args.json:
        print_json(info)
        return 0
    print(f"{info['file']}: {info['kind']} (mlplab model format {info['format_version']})")
    print(
        f"architecture {info['layer_sizes']}, {info['n_params']} parameters, {info['dtype']}, "
        f"{info['output']} head" + (", inputs standardized" if info["normalized_inputs"] else "")
    )
    if not args.quiet:
        for layer in info["layers"]:
            print(
                f"  layer {layer['layer']}: W {tuple(layer['W_shape'])}  g={layer['activation']}"
                f"  init={layer['init']}  params={layer['params']}"
            )
    if info["optimizer"]:
        print(f"optimizer: {info['optimizer']} {info['hyperparams'] or ''}".rstrip())
    if info["l2"]:
        print(f"L2 penalty λ = {info['l2']}")
    line = f"task: {info['task']}"
    if info["target"]:
        line += f", target column {info['target']!r}"
    if info["classes"] is not None:
        line += f", classes {info['classes']}"
    print(line)
    if info.get("preprocessing") and not args.quiet:
        _print_preprocessing(info["preprocessing"], info["normalized_inputs"])
    elif info["feature_names"] and not args.quiet:
        print(f"features ({len(info['feature_names'])}): {', '.join(info['feature_names'])}")
    if info["epochs"]:
        print(f"trained {info['epochs']} epochs, final cost J = {info['final_loss']:.6g}")
    m = info["metrics"] or {}
    shown = {k: v for k, v in m.items() if isinstance(v, float)}
    if shown:
        print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in shown.items()))
    return 0
