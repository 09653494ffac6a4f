"""θ in two vectors for the NumPy loop, and the entry-by-entry check of a refused step.

The trainer's checked step (:meth:`CheckedStep.step_into
<mlplab.fast.step.CheckedStep.step_into>`) writes θ + u into a second vector; this module
holds the pair of vectors (:class:`AlternatingTheta`) and :func:`non_finite`, which a
step whose check u·g is not finite runs to decide. Moved out of :mod:`mlplab.fast.step`
unchanged.

Notation: θ is every parameter in one flat vector, g = dJ/dθ, u the update.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def non_finite(J: float, g: np.ndarray, new_theta: np.ndarray) -> bool:
    """Entry by entry: is J, the gradient or θ + update NaN or inf?

    θ is finite, so θ + update is finite exactly when the update is and the sum does
    not overflow.
    """
    return not (math.isfinite(J) and np.isfinite(g).all() and np.isfinite(new_theta).all())


class AlternatingTheta:
    """θ in two vectors for the NumPy loop: a step writes θ + update into the other one.

    Adding the update in place would change θ before the step is checked; computing the
    update first and adding it after takes two passes over memory. So each step reads θ
    from one vector and writes the new θ into the other (:meth:`CheckedStep.step_into`),
    and :meth:`use` points the network at it once the step is accepted: a refused step
    leaves θ as it was. In between, the network's parameters are views of whichever
    vector is current (callbacks, checkpoints and validation see the current θ);
    :meth:`restore` copies θ back into the network's own vector at the end of the fit,
    so arrays taken from the network before it stay its parameters.
    """

    def __init__(self, net: Any) -> None:
        self.net = net
        self.home: tuple[np.ndarray, list[Any]] = (net._theta, net._params)
        self.other: tuple[np.ndarray, list[Any]] | None = None

    def spare(self) -> np.ndarray:
        """The vector that does not hold the current θ."""
        if self.net._theta is not self.home[0]:
            return self.home[0]
        if self.other is None:
            flat = np.empty_like(self.home[0])
            self.other = (flat, self.net._views(flat))
        return self.other[0]

    def use(self, theta: np.ndarray) -> None:
        pair = self.home if theta is self.home[0] else self.other
        self.net._theta, self.net._params = pair  # type: ignore[misc]

    def restore(self) -> None:
        theta = self.net._theta
        if theta is not self.home[0]:
            self.home[0][...] = theta
            self.net._theta, self.net._params = self.home
