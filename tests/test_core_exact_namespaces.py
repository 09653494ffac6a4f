"""The core's equations in another array library, value for value (issue 21's mutants).

Every core function computes in its input's namespace (``mlplab._array_api``). A mutant
that computes with NumPy instead (``namespace(None)``) or takes the NumPy branch for
another library's array is invisible to NumPy inputs; these tests give the same inputs
as array-api-strict arrays (the array API's reference library, on a non-default device)
and hold every result to NumPy's, in the input's namespace, dtype and device.
"""

import numpy as np
import pytest

from mlplab import _array_api as _xp
from mlplab.core import activations, heads

xps = pytest.importorskip("array_api_strict")
DEVICE = xps.Device("device1")  # not the default device: mixing them raises


def _strict(a, dtype=None):
    return xps.asarray(np.asarray(a, dtype=dtype), device=DEVICE)


def _same(got, want, rtol=1e-6):
    """``got`` is an array-api-strict array on DEVICE equal to NumPy's ``want``."""
    assert type(got) is type(_strict(0.0)), type(got)
    assert got.device == DEVICE
    host = _xp.to_numpy(got)
    np.testing.assert_allclose(host, want, rtol=rtol, atol=1e-12)
    assert host.dtype == np.asarray(want).dtype


Z_VALUES = np.array([[-40.0, -1.5, 0.0], [0.5, 2.0, 35.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [*activations.ACTIVATIONS, "leaky_relu(0.2)"])
def test_activations_compute_in_the_inputs_namespace(name, dtype):
    act = activations.get(name)
    Z = Z_VALUES.astype(dtype)
    A = act.forward(Z)
    A_s = act.forward(_strict(Z))
    _same(A_s, A)
    _same(act.derivative(_strict(Z), A_s), act.derivative(Z, A))


def test_stable_sigmoid_in_the_inputs_namespace():
    Z = Z_VALUES.astype(np.float32)
    _same(activations.stable_sigmoid(_strict(Z)), activations.stable_sigmoid(Z))


Y_OF = {
    "binary": np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
    "multiclass": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    "regression": np.array([[0.5, -1.0, 2.0], [0.0, 3.0, 1.0]]),
    "poisson": np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]]),
}
Z_HEAD = np.array([[-3.0, 0.5, 1.0], [0.25, 2.0, -1.0]])


@pytest.mark.parametrize("name", sorted(heads.HEADS))
def test_heads_compute_in_the_inputs_namespace(name):
    head = heads.get(name)
    Z, Y = Z_HEAD, Y_OF[name]
    Zs, Ys = _strict(Z), _strict(Y)
    J, dZ = head.loss_and_grad(Z.copy(), Y)
    J_s, dZ_s = head.loss_and_grad(_strict(Z), Ys)
    _same(J_s, np.float64(J))
    _same(dZ_s, dZ)
    _same(head.loss(Zs, Ys), np.float64(head.loss(Z, Y)))
    _same(head.link(Zs), head.link(Z))
    L = heads.per_sample_loss(name, Z, Y)
    _same(heads.per_sample_loss(name, Zs, Ys), L)
    assert L.mean() == pytest.approx(J, rel=1e-12)
    w = np.array([2.0, 0.5])
    Jw, dZw = heads.weighted_loss_and_grad(head, Z.copy(), Y, w)
    Jw_s, dZw_s = heads.weighted_loss_and_grad(head, _strict(Z), Ys, _strict(w))
    _same(Jw_s, np.float64(Jw))
    _same(dZw_s, dZw)
    assert Jw == pytest.approx((w @ L) / w.sum(), rel=1e-12)


def test_weighted_loss_with_all_weights_zero_in_the_inputs_namespace():
    w = np.zeros(2)
    J, dZ = heads.weighted_loss_and_grad(
        heads.binary, _strict(Z_HEAD), _strict(Y_OF["binary"]), _strict(w)
    )
    _same(J, np.float64(0.0))
    _same(dZ, np.zeros_like(Z_HEAD))


def test_binary_cross_entropy_in_the_inputs_namespace():
    A = np.array([[0.0], [0.25], [1.0]], dtype=np.float32)
    Y = np.array([[0.0], [1.0], [1.0]], dtype=np.float32)
    want = heads.binary_cross_entropy(A, Y)
    got = heads.binary_cross_entropy(_strict(A), _strict(Y))
    assert isinstance(got, float) and got == pytest.approx(want, rel=1e-6)
    assert got == pytest.approx(-np.log(np.float32(0.25)) / 3, rel=1e-6)  # a clipped: log(1) = 0


def test_namespace_helper_sees_the_strict_arrays():
    """The premise of this file: array-api-strict arrays are not NumPy's."""
    assert _xp.namespace(_strict([1.0])) is not np and _xp.is_foreign(_strict([1.0]))
