"""scikit-learn's Adam update written out as NumPy calls into given buffers.

The same eleven ufuncs, in scikit-learn's order, that ``sklearn_dropin_overhead.py`` times
against mlplab's step and ``sklearn_dropin_pieces.py`` times piece by piece; one copy so
both scripts measure the same code.
"""

from __future__ import annotations

import numpy as np


def adam_into(
    g: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    lr_t: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    """v' = β₁v + (1−β₁)g, s' = β₂s + (1−β₂)g², u = −lr_t · v' / (√s' + ε).

    ``out`` is ``(v', s', u, t0)``: the new moments, the update and one scratch buffer,
    all of g's shape.
    """
    v_new, s_new, u, t0 = out
    np.multiply(v, b1, out=v_new)
    np.multiply(g, 1 - b1, out=t0)
    np.add(v_new, t0, out=v_new)
    np.multiply(s, b2, out=s_new)
    np.multiply(g, g, out=t0)
    np.multiply(t0, 1 - b2, out=t0)
    np.add(s_new, t0, out=s_new)
    np.sqrt(s_new, out=t0)
    np.add(t0, eps, out=t0)
    np.multiply(v_new, -lr_t, out=u)
    np.divide(u, t0, out=u)
