"""Sample weights: the weighted head, and fit(..., sample_weight=w) in the training loop."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import heads, optimizers
from mlplab.core.heads import weighted_loss_and_grad
from mlplab.train.checkpoint import CheckpointError
from mlplab.train.checks import check_sample_weight
from mlplab.train.mpi import MPI, DistributedError


def _targets(head_name, rng, n, n_out):
    if head_name == "multiclass":
        return np.eye(n_out)[rng.integers(0, n_out, n)]
    if head_name == "binary":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    return rng.normal(size=(n, n_out))


# ---------------------------------------------------------------- the weighted head
@pytest.mark.parametrize(
    ("head", "n_out"),
    [(heads.binary, 1), (heads.binary, 3), (heads.multiclass, 3), (heads.regression, 2)],
)
def test_weighted_loss_gradient_matches_finite_differences(head, n_out, rng):
    Z = rng.normal(size=(6, n_out))
    Y = _targets(head.name, rng, 6, n_out)
    w = np.array([0.0, 1.0, 2.5, 0.3, 1.0, 4.0])
    J, dZ = weighted_loss_and_grad(head, Z, Y, w)
    numeric = np.zeros_like(Z)
    h = 1e-6
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        Jp, Jm = (
            weighted_loss_and_grad(head, Zp, Y, w)[0],
            weighted_loss_and_grad(head, Zm, Y, w)[0],
        )
        numeric[idx] = (Jp - Jm) / (2 * h)
    np.testing.assert_allclose(dZ, numeric, rtol=1e-6, atol=1e-9)
    assert not dZ[0].any()  # a row of weight 0 has no gradient
    # J = Σ w_i L(i) / Σ w_i, and unit weights give the head's own cost and gradient
    losses = heads.per_sample_loss(head.name, Z, Y)
    assert J == pytest.approx(float(w @ losses) / w.sum(), rel=1e-12)
    J1, dZ1 = weighted_loss_and_grad(head, Z, Y, np.ones(6))
    J0, dZ0 = head.loss_and_grad(Z, Y)
    assert J1 == pytest.approx(J0, rel=1e-12)
    np.testing.assert_allclose(dZ1, dZ0, rtol=1e-12)


@pytest.mark.parametrize("head", [heads.binary, heads.multiclass, heads.regression])
def test_all_zero_weights_give_zero_cost_and_gradient(head, rng):
    Z = rng.normal(size=(4, 3))
    J, dZ = weighted_loss_and_grad(head, Z, _targets(head.name, rng, 4, 3), np.zeros(4))
    assert J == 0.0 and not dZ.any()


def test_weighted_head_on_torch_matches_numpy(rng):
    torch = pytest.importorskip("torch")
    Z, w = rng.normal(size=(5, 3)), np.array([0.0, 1.0, 2.0, 0.5, 3.0])
    for head in (heads.binary, heads.multiclass, heads.regression):
        Y = _targets(head.name, rng, 5, 3)
        J, dZ = weighted_loss_and_grad(head, Z, Y, w)
        Jt, dZt = weighted_loss_and_grad(head, *map(torch.asarray, (Z, Y, w)))
        assert float(Jt) == pytest.approx(J, rel=1e-12)
        np.testing.assert_allclose(dZt.numpy(), dZ, rtol=1e-12)
        J0, dZ0 = weighted_loss_and_grad(head, *map(torch.asarray, (Z, Y, np.zeros(5))))
        assert float(J0) == 0.0 and not dZ0.any()


# ---------------------------------------------------------------- fit(sample_weight=...)
def _data(head_name, rng, n=24):
    X = rng.normal(size=(n, 3))
    if head_name == "binary":
        return X, (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int), 1
    if head_name == "multiclass":
        return X, np.digitize(X[:, 0], [-0.5, 0.5]), 3
    return X, np.stack([X @ [1.0, -2.0, 0.5], X[:, 1] ** 2], axis=1), 2


def _train(X, y, n_out, head, opt, batch_size=None, l2=0.3, epochs=15, **kw):
    net = mlplab.Network([X.shape[1], 5, n_out], output=head, seed=0, dtype="float64", l2=l2)
    history = mlplab.fit(net, X, y, optimizer=opt, epochs=epochs, batch_size=batch_size, **kw)
    return net.get_flat_params(), np.array(history.history["loss"])


OPTIMIZERS = [lambda: optimizers.sgd(0.2), lambda: optimizers.adam(0.05)]


@pytest.mark.parametrize("head", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("make_opt", OPTIMIZERS, ids=["sgd", "adam"])
def test_integer_weights_equal_repeated_rows_batch_gd(head, make_opt, rng):
    """Batch GD (batch_size=None): the same cost, gradient and L2 term as the data with
    row i repeated w_i times, so the same steps (float64, to rounding)."""
    X, y, n_out = _data(head, rng)
    w = rng.integers(0, 4, size=X.shape[0])
    repeated = _train(X.repeat(w, axis=0), y.repeat(w, axis=0), n_out, head, make_opt())
    weighted = _train(X, y, n_out, head, make_opt(), sample_weight=w)
    np.testing.assert_allclose(weighted[0], repeated[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("head", ["binary", "multiclass", "regression"])
def test_zero_weights_equal_dropping_the_rows(head, rng):
    X, y, n_out = _data(head, rng)
    w = np.ones(X.shape[0])
    w[::3] = 0
    kept = w > 0
    dropped = _train(X[kept], y[kept], n_out, head, optimizers.momentum(0.2))
    weighted = _train(X, y, n_out, head, optimizers.momentum(0.2), sample_weight=w)
    np.testing.assert_allclose(weighted[0], dropped[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weighted[1], dropped[1], rtol=1e-12, atol=1e-12)


def test_unit_weights_equal_unweighted_minibatches(rng):
    """Mini-batches draw the same shuffles with and without weights, and weight 1
    leaves dZ[L] and λ as they are: the same parameters."""
    X, y, n_out = _data("multiclass", rng, n=40)
    plain = _train(X, y, n_out, "multiclass", optimizers.adam(0.05), batch_size=7)
    ones = _train(
        X, y, n_out, "multiclass", optimizers.adam(0.05), batch_size=7, sample_weight=np.ones(40)
    )
    np.testing.assert_array_equal(ones[0], plain[0])
    np.testing.assert_allclose(ones[1], plain[1], rtol=1e-12)


def test_minibatch_weights_reach_each_batch(rng):
    """With mini-batches, a row's weight follows the row through the shuffle, and only
    ratios of weights matter: training on 4·w is training on w (without L2, whose
    λ·n/Σw would shrink with the scale of w), and differs from unweighted training."""
    X, y, n_out = _data("binary", rng, n=30)
    w = rng.uniform(0.5, 2.0, size=30)
    a = _train(X, y, n_out, "binary", optimizers.sgd(0.3), batch_size=8, l2=0.0, sample_weight=w)
    b = _train(
        X, y, n_out, "binary", optimizers.sgd(0.3), batch_size=8, l2=0.0, sample_weight=4 * w
    )
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-13)
    c = _train(X, y, n_out, "binary", optimizers.sgd(0.3), batch_size=8, l2=0.0)
    assert not np.allclose(a[0], c[0])  # and the weights do change the result


def test_trainer_fit_takes_sample_weight_per_call(rng):
    X, y, n_out = _data("regression", rng)
    w = rng.integers(1, 3, size=X.shape[0])
    net = mlplab.Network([3, 4, n_out], output="regression", seed=0, dtype="float64")
    trainer = mlplab.Trainer(net, optimizers.sgd(0.05))
    trainer.fit(X, y, epochs=2, batch_size=None, sample_weight=w)
    trainer.fit(X, y, epochs=2, batch_size=None)  # the next fit is unweighted again
    net2 = mlplab.Network([3, 4, n_out], output="regression", seed=0, dtype="float64")
    trainer2 = mlplab.Trainer(net2, optimizers.sgd(0.05))
    trainer2.fit(X.repeat(w, axis=0), y.repeat(w, axis=0), epochs=2, batch_size=None)
    trainer2.fit(X, y, epochs=2, batch_size=None)
    np.testing.assert_allclose(net.get_flat_params(), net2.get_flat_params(), rtol=1e-12)


def test_weighted_training_on_torch_matches_numpy(rng):
    torch = pytest.importorskip("torch")
    X, y, n_out = _data("multiclass", rng, n=30)
    w = rng.uniform(0, 2, size=30)
    ref = _train(X, y, n_out, "multiclass", optimizers.adam(0.05), batch_size=8, sample_weight=w)
    net = mlplab.Network([3, 5, n_out], output="multiclass", seed=0, dtype="float64", l2=0.3)
    Xt, yt, wt = torch.asarray(X), torch.asarray(y), torch.asarray(w)
    h = mlplab.fit(
        net, Xt, yt, optimizer=optimizers.adam(0.05), epochs=15, batch_size=8, sample_weight=wt
    )
    net.to("numpy")
    np.testing.assert_allclose(net.get_flat_params(), ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.history["loss"], ref[1], rtol=1e-10)


# ---------------------------------------------------------------- checks
@pytest.mark.parametrize(
    ("w", "exc", "msg"),
    [
        (np.ones((4, 1)), ValueError, r"sample_weight must have shape \(4,\), one weight per row"),
        (np.ones(3), ValueError, r"sample_weight must have shape \(4,\).*got shape \(3,\)"),
        ([1.0, np.nan, 1.0, 1.0], ValueError, "sample_weight contains NaN"),
        ([1.0, 1.0, np.inf, 1.0], ValueError, "sample_weight contains infinite values"),
        ([1.0, -2.0, 1.0, 1.0], ValueError, r"sample_weight must be >= 0.*-2.0 at row 1"),
        (np.zeros(4), ValueError, "sample_weight is all zero"),
        ([1e308, 1e308, 1.0, 1.0], ValueError, "sample_weight sums to infinity"),
        ("heavy", TypeError, "sample_weight is a string"),
        ([1.0, None, 1.0, 1.0], ValueError, "sample_weight has missing values"),
    ],
)
def test_bad_sample_weights_are_named(w, exc, msg):
    X, y = np.eye(4)[:, :2], np.array([0, 1, 0, 1])
    net = mlplab.Network([2, 1], seed=0)
    with pytest.raises(exc, match=msg):
        mlplab.fit(net, X, y, epochs=1, sample_weight=w)


def test_check_sample_weight_returns_a_float64_copy_and_its_sum():
    w = np.array([1, 2, 3])
    out, total = check_sample_weight(w, 3)
    assert out.dtype == np.float64 and total == 6.0 and not np.shares_memory(out, w)
    assert check_sample_weight(None, 3) == (None, None)
    with pytest.raises(ValueError, match="sample_weight is not supported with MPI"):
        check_sample_weight(w, 3, distributed=True)


class _OneRankComm:
    """The part of an mpi4py communicator the MPI strategy touches, for one rank."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def allgather(self, value):
        return [value]

    def bcast(self, value, root=0):
        return value

    def Allreduce(self, *args, **kwargs):
        pass

    def Bcast(self, *args, **kwargs):
        pass

    def Abort(self, code=1):
        raise AssertionError("Abort called")


def test_sample_weight_is_refused_under_mpi(rng):
    X, y = rng.normal(size=(8, 2)), np.array([0, 1] * 4)
    trainer = mlplab.Trainer(mlplab.Network([2, 1], seed=0), strategy=MPI(_OneRankComm()))
    with pytest.raises(DistributedError, match="sample_weight is not supported with MPI"):
        trainer.fit(X, y, epochs=1, sample_weight=np.ones(8))
    with pytest.raises(DistributedError, match="sample_weight is not supported with MPI"):
        mlplab.fit(
            mlplab.Network([2, 1], seed=0), X, y, comm=_OneRankComm(), sample_weight=np.ones(8)
        )


# ---------------------------------------------------------------- checkpoints
def test_weighted_run_resumes_exactly_and_checks_its_weights(tmp_path, rng):
    X, y, n_out = _data("binary", rng)
    w = rng.uniform(0, 2, size=X.shape[0])
    path = tmp_path / "ck.npz"

    def run(epochs, weights, **kw):
        net = mlplab.Network([3, 4, n_out], seed=0, dtype="float64", l2=0.1)
        trainer = mlplab.Trainer(net, optimizers.adam(0.05), seed=1)
        trainer.fit(X, y, epochs=epochs, batch_size=5, sample_weight=weights, **kw)
        return net.get_flat_params()

    straight = run(6, w)
    run(3, w, checkpoint=path)
    np.testing.assert_array_equal(run(6, w, checkpoint=path, resume=True), straight)
    other = w.copy()
    other[0] += 1.0
    with pytest.raises(CheckpointError, match="different training data"):
        run(9, other, checkpoint=path, resume=True)
    with pytest.raises(CheckpointError, match="different training data"):
        run(9, None, checkpoint=path, resume=True)
