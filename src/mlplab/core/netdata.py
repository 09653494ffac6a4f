"""A :class:`~mlplab.core.network.Network` as plain data: its summary, state dict and
running statistics (the methods of the same names call these)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab.core import layer_options as _opts


def initializers(init: Any, layer_acts: list[str]) -> list[Any]:
    """The L weight initializers of ``Network(init=...)``: the default for each layer's
    activation (None), one for all, or one per layer."""
    from mlplab.core import initializers as _init

    L = len(layer_acts)
    if init is None:
        return [_init.default_for(a) for a in layer_acts]
    if isinstance(init, str) or callable(init):
        return [_init.get(init)] * L
    init = list(init)
    if len(init) != L:
        raise ValueError(f"init has {len(init)} entries, but the network has L={L} layers")
    return [_init.get(i) for i in init]


def config(net: Any) -> dict[str, Any]:
    """See :meth:`Network.config`: dropout and batch norm only when the network has them."""
    return {
        "layer_sizes": list(net.layer_sizes),
        "hidden": [g.name for g in net.hidden],
        "output": net.head.name,
        "init": list(net.init),
        "dtype": net.dtype.name,
        "l2": net.l2,
        **_opts.config(net.options),  # only what differs from the lecture's network
    }


def from_config(cls: Any, cfg: dict[str, Any]) -> Any:
    """See :meth:`Network.from_config`."""
    net = cls(
        cfg["layer_sizes"],
        hidden=cfg["hidden"],
        output=cfg["output"],
        init="zeros",
        dtype=cfg["dtype"],
        l2=cfg.get("l2", 0.0),
        **_opts.from_config(cfg),
    )
    net.init = list(cfg.get("init", net.init))
    return net


def getstate(net: Any) -> dict[str, Any]:
    """What pickle (and deepcopy) store of a Network.

    θ itself, with W[l] by rows as in every file mlplab writes (and as pickles made
    before θ stored W[l]ᵀ): the namespace (a module), the device, the views W[l], b[l]
    and cached copies are derived from it on load.
    """
    state: dict[str, Any] = net.__dict__.copy()
    for key in ("_xp", "_device", "_params", "_std_arrays"):
        state.pop(key, None)
    state["_theta"] = net._to_rows(net._theta)
    return state


def setstate(net: Any, state: dict[str, Any]) -> None:
    """Inverse of :func:`getstate`; pickles from before dropout and batch norm load as
    networks without them."""
    if "options" not in state:  # a pickle from before dropout and batch norm
        state["options"] = _opts.parse(len(state["layer_sizes"]) - 1)
        state["_bn_stats"] = np.empty(0, dtype=state["_theta"].dtype)
    net.__dict__.update(state)
    net._theta = net._from_rows(net._theta)
    net._xp = _xp.namespace(net._theta)
    net._device = _xp.device_of(net._theta)
    net._params = net._views(net._theta)


def summary(net: Any) -> str:
    """One line per layer with W's shape, g, the initializer, parameters and options."""
    lines = [f"Network: L={net.L}, output head '{net.head.name}', dtype {net.dtype.name}"]
    for l in range(1, net.L + 1):
        g = net.hidden[l - 1].name if l < net.L else f"{net.head.name} head"
        n, m = net.layer_sizes[l], net.layer_sizes[l - 1]
        lines.append(
            f"  layer {l}: W[{l}] ({n}, {m}), b[{l}] ({n},)  g={g:<14} "
            f"init={net.init[l - 1]:<10} params={n * m + n}"
            + (_opts.describe(net.options, l) if l < net.L else "")
        )
    if net.options.normalized:
        lines.append(f"  batch norm γ, β: {_opts.n_norm_params(net.layer_sizes, net.options)}")
    lines.append(f"  total parameters: {net.n_params}")
    if net._xp is not np:
        lines.append(f"  arrays: {_xp.describe(net._xp, net._device)}")
    return "\n".join(lines)


def describe(net: Any) -> str:
    """``Network([...], hidden=..., output=..., dtype=...)`` (and the options if any)."""
    hidden = sorted({g.name for g in net.hidden})
    h = hidden[0] if len(hidden) == 1 else [g.name for g in net.hidden]
    where = "" if net._xp is np else f", arrays={_xp.describe(net._xp, net._device)!r}"
    extra = "".join(f", {k}={v!r}" for k, v in _opts.config(net.options).items())
    return (
        f"Network({net.layer_sizes}, hidden={h!r}, output={net.head.name!r}, "
        f"dtype={net.dtype.name!r}{extra}{where})"
    )


def state_dict(net: Any) -> dict[str, Any]:
    """See :meth:`Network.state_dict`."""
    std, moments = net.standardizer, None
    if std is not None:
        moments = (np.array(std.mean_, np.float64), np.array(std.scale_, np.float64))
    theta = _xp.to_numpy(net.get_flat_params())
    state = {"config": net.config(), "theta": theta, "standardizer": moments}
    if net.options.normalized:  # the running averages of batch norm
        state["bn_stats"] = np.array(_xp.to_numpy(net._bn_stats))
    return state


def from_state_dict(cls: Any, state: dict[str, Any]) -> Any:
    """See :meth:`Network.from_state_dict`."""
    from mlplab.core.data import Standardizer

    net = cls.from_config(state["config"])
    net.set_flat_params(np.asarray(state["theta"]))
    if state.get("bn_stats") is not None:
        net.set_running_stats(state["bn_stats"])
    if state.get("standardizer") is not None:
        std = Standardizer.from_moments(*state["standardizer"])
        if std._moments()[0].shape != (net.layer_sizes[0],):
            raise ValueError("the standardizer does not match n[0]")
        net.standardizer = std
    return net


def set_running_stats(net: Any, stats: Any) -> None:
    """See :meth:`Network.set_running_stats`: shape, finiteness and σ² >= 0 checked."""
    arr = _xp.to_numpy(stats) if _xp.is_foreign(stats) else np.asarray(stats)
    shape = tuple(net._bn_stats.shape)
    if arr.shape != shape:
        raise ValueError(f"the running statistics must have shape {shape}, got {arr.shape}")
    if arr.dtype.kind not in "biuf" or not np.isfinite(arr).all():
        raise ValueError("the running statistics must be finite numbers")
    for s in _opts.stats_views(arr, net.layer_sizes, net.options):
        if s is not None and (s.var < 0).any():
            raise ValueError("a running variance σ²[l] is negative")
    if net._xp is not np:
        arr = _xp.convert(arr, net._xp, net._device, net.dtype)
    net._bn_stats[...] = arr
