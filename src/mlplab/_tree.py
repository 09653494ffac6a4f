"""``tree_map`` over the containers mlplab uses for parameters: arrays, lists, tuples,
NamedTuples and dicts of them (a 20-line stand-in for jax's pytrees)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leaf by leaf to ``tree`` and the trees in ``rest`` (same structure)."""
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # NamedTuple
        return type(tree)(*(tree_map(f, *xs) for xs in zip(tree, *rest, strict=True)))
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(f, *xs) for xs in zip(tree, *rest, strict=True))
    if isinstance(tree, dict):
        return {k: tree_map(f, tree[k], *(r[k] for r in rest)) for k in tree}
    return f(tree, *rest)


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in order."""
    if isinstance(tree, (list, tuple)):
        return [leaf for sub in tree for leaf in tree_leaves(sub)]
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in tree_leaves(tree[k])]
    return [tree]


def tree_unflatten(template: Any, leaves: Iterable[Any]) -> Any:
    """``template``'s structure filled with ``leaves`` in order (inverse of tree_leaves)."""
    it = iter(leaves)

    def fill(t: Any) -> Any:
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return type(t)(*(fill(x) for x in t))
        if isinstance(t, (list, tuple)):
            return type(t)(fill(x) for x in t)
        if isinstance(t, dict):
            return {k: fill(t[k]) for k in t}
        return next(it)

    return fill(template)
