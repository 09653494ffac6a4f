"""The core on other array libraries: NumPy, array-api-strict and PyTorch (CPU) agree.

Every test runs once per backend. array-api-strict is the standard and nothing more: any
NumPy-only call in the core fails there. Its arrays are put on a second device
(``Device("device1")``), where combining them with an array of the default device, or
reading them with ``np.asarray``, raises: training must stay where the data are.
PyTorch is the library people use on GPUs; on the CPU it runs the same code.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab import GradientNormLogger, Network, fit
from mlplab import _array_api as _xp
from mlplab.core import optimizers as O
from mlplab.train.callbacks import Callback

BACKENDS = ["numpy", "array_api_strict", "torch"]
ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
HEADS = ["binary", "multiclass", "regression"]
OPTIMIZERS = {
    "sgd": lambda: O.sgd(0.1),
    "momentum": lambda: O.momentum(0.2, 0.9),
    "nesterov": lambda: O.nesterov(0.2, 0.8),
    "rmsprop": lambda: O.rmsprop(0.01),
    "adam": lambda: O.adam(0.01),
}


class Backend(NamedTuple):
    name: str
    xp: Any  # the namespace its arrays report (numpy for NumPy)
    device: Any  # None for NumPy

    def asarray(self, a: Any) -> Any:
        a = np.asarray(a)
        if self.xp is np:
            return a
        return self.xp.asarray(a, device=self.device)

    def owns(self, a: Any) -> bool:
        """Whether ``a`` is an array of this backend, on its device."""
        if self.xp is np:
            return type(a) is np.ndarray
        return _xp.is_foreign(a) and _xp.namespace(a) is self.xp and _xp.device_of(a) == self.device


def make_backend(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", np, None)
    lib = pytest.importorskip(name)
    pytest.importorskip("array_api_compat")
    if name == "array_api_strict":
        dev = lib.Device("device1")  # not the default device: mixing them raises
        probe = lib.zeros(1, device=dev)
    else:
        probe = lib.zeros(1)
    return Backend(name, _xp.namespace(probe), _xp.device_of(probe))


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    return make_backend(request.param)


@pytest.fixture(params=BACKENDS[1:])
def other(request) -> Backend:
    """A backend other than NumPy."""
    return make_backend(request.param)


def _data(head: str, n_out: int, n: int, n0: int, rng: np.random.Generator):
    X = rng.normal(size=(n, n0))
    if head == "binary":
        y = rng.integers(0, 2, size=(n, n_out))
        y = y[:, 0] if n_out == 1 else y
    elif head == "multiclass":
        y = rng.integers(0, n_out, size=n)
    else:
        y = rng.normal(size=(n, n_out))
    return X, y


def host(a: Any) -> np.ndarray:
    return _xp.to_numpy(a)


# ------------------------------------------------------------------ forward, backward
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("head", HEADS)
def test_loss_and_grads_agree_with_numpy(other, act, head, rng):
    n_out = 1 if head == "binary" else 3
    ref = Network([3, 5, 4, n_out], hidden=act, output=head, seed=1, dtype="float64", l2=0.1)
    ref.biases = [rng.normal(size=b.shape) * 0.1 for b in ref.biases]
    X, y = _data(head, n_out, 9, 3, rng)
    J0, g0 = ref.loss_and_grads(X, y)
    net = ref.copy().to(other.xp, device=other.device)
    assert net.xp is other.xp and net.device == other.device
    J1, g1 = net.loss_and_grads(other.asarray(X), other.asarray(y))
    assert isinstance(J1, float)
    assert J1 == pytest.approx(J0, rel=1e-12)
    for a, b in zip(g0, g1, strict=True):
        assert other.owns(b.W) and other.owns(b.b)
        np.testing.assert_allclose(host(b.W), a.W, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(host(b.b), a.b, rtol=1e-10, atol=1e-14)
    for method in ("forward", "logits", "predict"):
        out = getattr(net, method)(other.asarray(X))
        assert other.owns(out)
        np.testing.assert_allclose(host(out), getattr(ref, method)(X), rtol=1e-12, atol=1e-15)
    assert net.score(other.asarray(X), other.asarray(y)) == pytest.approx(ref.score(X, y))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("head", HEADS)
def test_gradcheck_every_activation_and_head(backend, act, head, rng):
    n_out = 1 if head == "binary" else 3
    net = Network([3, 5, 4, n_out], hidden=act, output=head, seed=1, dtype="float64", l2=0.1)
    net.biases = [rng.normal(size=b.shape) * 0.1 for b in net.biases]
    net.to(backend.xp, device=backend.device)
    X, y = _data(head, n_out, 7, 3, rng)
    assert mlplab.gradcheck(net, backend.asarray(X), backend.asarray(y)) < 1e-7
    assert backend.owns(net._theta)  # the check ran on a copy; the network stays put


@pytest.mark.parametrize("name", BACKENDS[1:])
@settings(max_examples=12)
@given(
    hidden_sizes=st.lists(st.integers(1, 5), min_size=0, max_size=2),
    n0=st.integers(1, 4),
    n_out=st.integers(1, 3),
    act=st.sampled_from(ACTS),
    head=st.sampled_from(HEADS),
    n_samples=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_backprop_matches_numerical_gradient(
    name, hidden_sizes, n0, n_out, act, head, n_samples, seed
):
    be = make_backend(name)
    if head == "multiclass":
        n_out = max(n_out, 2)
    rng = np.random.default_rng(seed)
    net = Network(
        [n0, *hidden_sizes, n_out], hidden=act, output=head, seed=seed, dtype="float64", l2=0.2
    )
    net.biases = [rng.normal(size=b.shape) * 0.5 for b in net.biases]
    X, y = _data(head, n_out, n_samples, n0, rng)
    if act in ("relu", "leaky_relu"):  # skip points near the kink, where g' jumps
        assume(all(np.all(np.abs(c.Z) > 1e-4) for c in net.forward_cache(X)[:-1]))
    net.to(be.xp, device=be.device)
    assert mlplab.gradcheck(net, be.asarray(X), be.asarray(y)) < 1e-7


def test_sigmoid_is_stable_and_matches_expit(other):
    from scipy.special import expit

    z = np.array([-1000.0, -40.0, -5.0, -1e-8, 0.0, 3.0, 40.0, 1000.0])
    got = host(mlplab.activations.stable_sigmoid(other.asarray(z)))
    np.testing.assert_allclose(got, expit(z), rtol=1e-15, atol=0)
    z32 = other.asarray(z.astype(np.float32))
    assert host(mlplab.activations.stable_sigmoid(z32)).dtype == np.float32


# ------------------------------------------------------------------ training
def _fit_run(be: Backend, opt: str, head: str, batch_size, dtype="float64", **kw):
    rng = np.random.default_rng(3)
    n_out = {"binary": 2, "multiclass": 3, "regression": 2}[head]
    X, y = _data(head, n_out, 40, 4, rng)
    Xv, yv = _data(head, n_out, 10, 4, rng)
    net = Network([4, 6, 5, n_out], hidden="tanh", output=head, seed=2, dtype=dtype, l2=0.05)
    logger = GradientNormLogger(biases=True)
    hist = fit(
        net,
        be.asarray(X),
        be.asarray(y),
        optimizer=OPTIMIZERS[opt](),
        epochs=4,
        batch_size=batch_size,
        seed=5,
        validation_data=(be.asarray(Xv), be.asarray(yv)),
        callbacks=[logger],
        **kw,
    )
    return net, hist


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize(
    ("head", "batch_size"), [("binary", 8), ("multiclass", None), ("regression", 16)]
)
def test_training_agrees_with_numpy(other, opt, head, batch_size):
    ref, h0 = _fit_run(make_backend("numpy"), opt, head, batch_size)
    net, h1 = _fit_run(other, opt, head, batch_size)
    assert net.xp is other.xp and net.device == other.device  # fit moved it to the data
    assert other.owns(net._theta) and all(other.owns(W) for W in net.weights)
    assert h1.history.keys() == h0.history.keys()
    for key, values in h0.history.items():
        assert all(isinstance(v, float) for v in h1.history[key])
        np.testing.assert_allclose(h1.history[key], values, rtol=1e-9, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(host(net.get_flat_params()), ref.get_flat_params(), rtol=1e-9)


def test_float32_training_agrees_with_numpy(other):
    ref, h0 = _fit_run(make_backend("numpy"), "adam", "multiclass", 8, dtype="float32")
    net, h1 = _fit_run(other, "adam", "multiclass", 8, dtype="float32")
    assert host(net._theta).dtype == np.float32
    np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(host(net.get_flat_params()), ref.get_flat_params(), atol=1e-5)


def test_numpy_data_train_where_the_network_is(other, rng):
    X, y = _data("binary", 1, 30, 3, rng)
    ref = Network([3, 4, 1], seed=0, dtype="float64")
    net = ref.copy().to(other.xp, device=other.device)
    h1 = fit(net, X, y, optimizer=O.momentum(0.3), epochs=3, batch_size=8)
    h0 = fit(ref, X, y, optimizer=O.momentum(0.3), epochs=3, batch_size=8)
    assert net.xp is other.xp  # NumPy data did not pull it back
    np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-10)
    assert other.owns(net.predict(X))
    net.to(np)  # and back: the NumPy fast path again
    assert type(net._theta) is np.ndarray and net.device is None
    np.testing.assert_allclose(net.get_flat_params(), ref.get_flat_params(), rtol=1e-10)


def test_trainer_follows_the_network_between_fits(other, rng):
    X, y = _data("regression", 1, 24, 2, rng)
    ref = Network([2, 3, 1], output="regression", seed=0, dtype="float64")
    net = ref.copy()
    t0 = mlplab.Trainer(ref, O.adam(0.05), seed=1)
    t1 = mlplab.Trainer(net, O.adam(0.05), seed=1)
    for t in (t0, t1):
        t.fit(X, y, epochs=2, batch_size=6)  # NumPy first (fast path, NumPy state)
    t1.fit(other.asarray(X), other.asarray(y), epochs=2, batch_size=6)  # then moved
    t0.fit(X, y, epochs=2, batch_size=6)
    assert other.owns(t1.opt_state.v) and other.owns(t1._grad_flat)
    assert t1.step == t0.step == 16
    np.testing.assert_allclose(host(net.get_flat_params()), ref.get_flat_params(), rtol=1e-10)


def test_standardizer_and_early_stopping_on_the_device(other, rng):
    X = rng.normal(loc=5.0, scale=3.0, size=(60, 3))
    y = (X[:, 0] > 5).astype(int)
    std = mlplab.Standardizer().fit(X[:40])
    runs = []
    for be in (make_backend("numpy"), other):
        net = Network([3, 8, 1], seed=0, standardizer=std)
        es = mlplab.EarlyStopping(patience=2, restore_best=True)
        h = fit(
            net,
            be.asarray(X[:40]),
            be.asarray(y[:40]),
            optimizer=O.adam(0.2),
            epochs=40,
            validation_data=(be.asarray(X[40:]), be.asarray(y[40:])),
            callbacks=[es],
        )
        runs.append((net, h, es))
    (ref, h0, es0), (net, h1, es1) = runs
    assert es1.stopped_epoch == es0.stopped_epoch is not None
    np.testing.assert_allclose(h1.history["val_loss"], h0.history["val_loss"], rtol=1e-4)
    np.testing.assert_allclose(host(net.get_flat_params()), ref.get_flat_params(), atol=1e-5)
    assert net.loss(X[40:], y[40:]) == pytest.approx(min(h1.history["val_loss"]), rel=1e-5)


def test_divergence_is_found_on_the_device(other):
    X = np.array([[1e4, -1e4], [2e4, 3e4], [-1e4, 5e3], [3e3, 1e3]])
    y = np.array([0.0, 1.0, 2.0, 3.0])
    runs = []
    for be in (make_backend("numpy"), other):
        net = Network([2, 8, 8, 1], output="regression", init="normal(10)", dtype="float32")
        trainer = mlplab.Trainer(net, O.momentum(10.0), seed=0)
        with pytest.raises(mlplab.DivergenceError, match="epoch .*step .*learning rate") as info:
            trainer.fit(be.asarray(X), be.asarray(y), epochs=50, batch_size=2)
        runs.append((net, trainer, info.value))
    (ref, t0, e0), (net, t1, e1) = runs
    assert (e1.epoch, e1.step, e1.layer) == (e0.epoch, e0.step, e0.layer)
    assert str(e1) == str(e0)
    assert t1.step == t0.step and t1.opt_state.count == t0.opt_state.count
    theta, theta0 = host(net.get_flat_params()), ref.get_flat_params()
    assert np.isfinite(theta).all()
    # float32 near overflow (|θ| ~ 1e13): equal up to rounding relative to the largest
    np.testing.assert_allclose(theta, theta0, atol=1e-5 * np.abs(theta0).max())
    v, v0 = host(t1.opt_state.v), t0.opt_state.v
    np.testing.assert_allclose(v, v0, atol=1e-5 * np.abs(v0).max())


def test_bad_device_input_names_the_problem(other):
    net = Network([3, 2, 1])
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN \(first at row 2, column 1\)"):
        fit(net, other.asarray(X), other.asarray([0, 1, 0, 1]), epochs=1)
    with pytest.raises(ValueError, match="X has 2 features, but the network expects n\\[0\\]=3"):
        net.predict(other.asarray(np.ones((4, 2))))
    with pytest.raises(ValueError, match="binary head must hold only 0 and 1"):
        fit(net, other.asarray(np.ones((4, 3))), other.asarray([0, 1, 2, 1]), epochs=1)


def test_saved_model_loads_on_numpy(other, tmp_path, rng):
    X, y = _data("multiclass", 3, 30, 4, rng)
    net = Network([4, 5, 3], output="multiclass", seed=0)
    h = fit(net, other.asarray(X), other.asarray(y), optimizer=O.adam(0.05), epochs=3)
    path = mlplab.save(net, tmp_path / "model", history=h)
    back = mlplab.load(path)
    assert back.xp is np and type(back.weights[0]) is np.ndarray
    np.testing.assert_array_equal(back.get_flat_params(), host(net.get_flat_params()))
    np.testing.assert_array_equal(back.predict(X), host(net.predict(other.asarray(X))))


def test_saved_trainer_resumes_on_numpy_or_back_on_the_device(other, tmp_path, rng):
    from mlplab.persist.modelfile import load_trainer

    X, y = _data("binary", 1, 24, 3, rng)
    runs = {}
    for be in (make_backend("numpy"), other):
        net = Network([3, 4, 1], seed=0, dtype="float64")
        trainer = mlplab.Trainer(net, O.adam(0.05), seed=1)
        trainer.fit(be.asarray(X), be.asarray(y), epochs=2, batch_size=8)
        path = mlplab.save(trainer, tmp_path / f"{be.name}.npz")
        back = load_trainer(path)
        assert type(back.opt_state.v) is np.ndarray
        back.fit(be.asarray(X), be.asarray(y), epochs=2, batch_size=8)  # and on again
        runs[be.name] = (back, host(back.net.get_flat_params()))
    np.testing.assert_allclose(runs[other.name][1], runs["numpy"][1], rtol=1e-10)
    assert other.owns(runs[other.name][0].opt_state.v)


def test_checkpoints_are_refused_off_numpy(other, tmp_path):
    net = Network([2, 3, 1])
    X, y = other.asarray(np.ones((4, 2))), other.asarray(np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="checkpoints are written from NumPy training only"):
        fit(net, X, y, epochs=1, checkpoint=tmp_path / "ck")
    trainer = mlplab.Trainer(net)
    trainer.fit(X, y, epochs=1)
    with pytest.raises(ValueError, match="checkpoints are written from NumPy training only"):
        trainer.save_checkpoint(tmp_path / "ck")


def test_to_accepts_modules_names_and_arrays(other):
    net = Network([2, 3, 1], seed=0)
    theta = net.get_flat_params()
    name = other.name
    assert net.to(name, device=other.device) is net
    assert other.owns(net._theta)
    np.testing.assert_array_equal(host(net.get_flat_params()), theta)
    net.to(np)
    net.to(other.asarray(np.zeros(1)))  # an array: its namespace and device
    assert other.owns(net._theta)
    net.weights[0] = np.ones((3, 2))  # assignment converts to the network's arrays
    assert other.owns(net.weights[0]) and float(host(net.weights[0]).sum()) == 6.0
    copy = net.copy()
    assert other.owns(copy._theta)
    copy.biases[0] = np.ones(3)
    assert float(host(net.biases[0]).sum()) == 0.0  # the copy does not share θ
    assert name in repr(net) and "arrays:" in net.summary()


def test_pickle_and_deepcopy_keep_theta_and_its_views(backend):
    import copy
    import pickle

    net = Network([2, 3, 1], seed=0).to(backend.xp, device=backend.device)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert clone.xp is net.xp and clone.device == net.device
        np.testing.assert_array_equal(host(clone.get_flat_params()), host(net.get_flat_params()))
        clone.weights[0] = np.ones((3, 2))  # W[1] is still a view of the clone's own θ
        assert float(host(clone.get_flat_params())[:6].sum()) == 6.0
        assert float(host(net.get_flat_params())[:6].sum()) != 6.0


def test_to_refuses_what_it_cannot_use():
    net = Network([2, 3, 1])
    with pytest.raises(ValueError, match="NumPy arrays live on the CPU"):
        net.to(np, device="cuda")
    with pytest.raises(TypeError, match="expected an array namespace"):
        net.to(42)
    with pytest.raises(ValueError, match="cannot import the array library 'no_such_lib'"):
        net.to("no_such_lib")


# ------------------------------------------------------------------ no host reads
class _EpochReads(Callback):
    """Counts the host reads between each epoch's start and its logs (the loop's own)."""

    def __init__(self, reads: list[str]) -> None:
        self.reads = reads
        self.per_epoch: list[list[str]] = []
        self.losses: list[Any] = []

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._start = len(self.reads)

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self.losses.append(logs["loss"])  # kept as given: no float() here

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.per_epoch.append(self.reads[self._start :])


def test_training_loop_reads_the_device_once_per_epoch(monkeypatch, rng):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X, y = _data("multiclass", 3, 64, 4, rng)
    Xt, yt = torch.asarray(X), torch.asarray(y)
    reads: list[str] = []
    for name in ("__float__", "__bool__", "__int__", "__index__", "item", "tolist", "numpy"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)

    counts = {}
    for batch_size in (32, 4):  # 2 and 16 steps per epoch
        net = Network([4, 6, 3], output="multiclass", seed=0)
        net.to(torch)  # before counting: moving θ is one copy, outside the loop
        marker = _EpochReads(reads)
        trainer = mlplab.Trainer(net, O.adam(0.01), [marker, GradientNormLogger()])
        reads.clear()
        trainer.fit(Xt, yt, epochs=3, batch_size=batch_size, validation_data=(Xt, yt))
        counts[batch_size] = list(reads)
        # per epoch: the divergence flag, then the loss, accuracy, val_loss, val_accuracy
        assert [len(r) for r in marker.per_epoch] == [5, 5, 5]
        assert len(marker.losses) == 3 * 64 // batch_size
        assert all(isinstance(J, torch.Tensor) for J in marker.losses)
    assert counts[4] == counts[32]  # 8 times the steps, not one read more


def test_docs_gpu_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "guide" / "gpu.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/guide/gpu.md", "exec"), {})
    device, kind, same = capsys.readouterr().out.split()
    assert device in ("cpu", "cuda:0") and kind == "Tensor" and same == "True"


def test_numpy_training_never_imports_array_api_compat():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, mlplab\n"
        "X = np.random.default_rng(0).normal(size=(20, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "net = mlplab.Network([3, 4, 1]); mlplab.fit(net, X, y, epochs=2)\n"
        "net.predict(X); mlplab.gradcheck(net, X, y)\n"
        "print('array_api_compat' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
