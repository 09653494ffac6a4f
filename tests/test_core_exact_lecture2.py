"""Exact tests of the next lecture's core (dropout, batch norm) that mutation testing asked for.

Issue 21: each test here kills a mutant that the module's other tests let survive.
"""

import numpy as np

from mlplab.core import dropout as D


class _Draws:
    """A stand-in Generator whose ``random`` returns given uniforms (u in [0, 1))."""

    def __init__(self, u):
        self.u = np.asarray(u, dtype=np.float64)

    def random(self, shape):
        return self.u.reshape(shape)


def test_dropout_keeps_a_unit_exactly_when_u_is_below_p():
    """d = [u < p]: P(d = 1) = p for u ~ U[0, 1); a draw equal to p is dropped."""
    mask = D.dropout_mask(_Draws([0.0, 0.25, 0.5, 0.75]), (2, 2), 0.5, np.float64)
    np.testing.assert_array_equal(mask, [[2.0, 2.0], [0.0, 0.0]])
    mask = D.dropout_mask(_Draws([0.8, 0.79]), (1, 2), 0.8, np.float32)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, np.array([[0.0, 1 / 0.8]], dtype=np.float32))
