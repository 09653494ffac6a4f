"""Dropout, batch norm, schedules and clipping where users reach them: estimators, CLI,
playground."""

import json
import pickle

import numpy as np
import pytest

import mlplab
from mlplab import MLPClassifier, MLPRegressor
from mlplab.cli import main


@pytest.fixture(scope="module")
def moons():
    X, y = mlplab.load_dataset("moons", n_samples=200, noise=0.2, seed=0)
    return X, y


# ------------------------------------------------------------------ estimators


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_defaults_keep_the_old_behaviour(moons):
    X, y = moons
    # None is off, and get_params leaves the options out then: the parameters (and model
    # files) of an estimator that does not use them are what they were before
    params = MLPClassifier().get_params()
    assert not set(params) & {"dropout", "batch_norm", "lr_schedule", "max_grad_norm"}
    set_ = MLPClassifier().set_params(dropout=0.2, batch_norm=True)
    assert set_.get_params()["dropout"] == 0.2 and set_.get_params()["batch_norm"] is True
    from sklearn.base import clone

    assert clone(set_).get_params() == set_.get_params()
    clf = MLPClassifier((8,), max_iter=5, random_state=0, tol=0).fit(X, y)
    assert clf.network_.options.plain
    assert "lr" not in clf.history_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_with_every_option_trains_and_round_trips(moons, tmp_path):
    X, y = moons
    clf = MLPClassifier(
        (16, 16),
        solver="adamw",
        learning_rate_init=0.01,
        weight_decay=0.05,
        dropout=0.1,
        batch_norm=True,
        lr_schedule="cosine",
        max_grad_norm=5.0,
        max_iter=40,
        batch_size=32,
        random_state=0,
        dtype="float64",
    )
    clf.fit(X, y)
    assert clf.score(X, y) > 0.85
    net = clf.network_
    assert net.options.batch_norm == (True, True)
    assert net.options.keep_prob == pytest.approx((0.9, 0.9))
    assert clf.history_["lr"][-1] < clf.history_["lr"][0] / 10  # cosine to 0 over max_iter
    proba = clf.predict_proba(X)
    again = mlplab.load(mlplab.save(clf, tmp_path / "clf.npz"))
    np.testing.assert_array_equal(again.predict_proba(X), proba)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba)
    # prediction uses the running averages and drops nothing: the same rows, the same
    # probabilities whatever the batch they come in
    np.testing.assert_allclose(clf.predict_proba(X[:7]), proba[:7], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_with_batch_norm(moons):
    X, _ = moons
    Y = np.c_[X[:, 0] + X[:, 1], X[:, 0] * X[:, 1]]
    reg = MLPRegressor(
        hidden_layer_sizes=(16,),
        batch_norm=True,
        lr_schedule="step:10:0.5",
        batch_size=32,  # mini-batches: 30 epochs of one full batch under-train from Glorot init
        max_iter=30,
        random_state=0,
        learning_rate_init=0.01,
    ).fit(X, Y)
    assert reg.score(X, Y) > 0.5


def test_estimator_option_errors(moons):
    X, y = moons
    for bad, msg in (
        # scikit-learn's parameter validation, as for its own parameters (issue 15)
        ({"dropout": 1.0}, "'dropout' parameter of MLPClassifier must be a float in the range"),
        ({"batch_norm": "yes"}, "'batch_norm' parameter of MLPClassifier must be"),
        ({"lr_schedule": "sometimes"}, "unknown learning-rate schedule"),
        ({"max_grad_norm": 0}, "'max_grad_norm' parameter of MLPClassifier must be"),
        ({"weight_decay": -1}, "'weight_decay' parameter of MLPClassifier must be"),
    ):
        with pytest.raises(ValueError, match=msg):
            MLPClassifier((4,), max_iter=2, **bad).fit(X, y)
    with pytest.raises(ValueError, match="sample_weight is not supported together"):
        MLPClassifier((4,), dropout=0.2, max_iter=2).fit(X, y, sample_weight=np.arange(200) % 3)


# ------------------------------------------------------------------ command line


def test_cli_train_with_dropout_batchnorm_schedule_and_clip(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        "moons",
        "--layers",
        "8,8",
        "--epochs",
        "4",
        "--dropout",
        "0.25",
        "--batch-norm",
        "--lr-schedule",
        "warmup:1:cosine",
        "--clip",
        "2.0",
        "--optimizer",
        "adamw",
        "--json",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["epochs"] == 4
    net, header = mlplab.load_with_header(out / "model.npz")
    assert net.options.batch_norm == (True, True)
    assert net.options.keep_prob == pytest.approx((0.75, 0.75))
    options = header["metadata"]["options"]
    assert options["lr_schedule"] == "warmup:1:cosine" and options["clip"] == 2.0
    assert options["hyperparams"]["max_norm"] == 2.0  # the clip wrapper around adamw
    assert header["metadata"]["options"]["hyperparams"]["inner"]["name"] == "adamw"


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--dropout", "1.0"], "--dropout must lie in"),
        (["--clip", "0"], "--clip must be > 0"),
        (["--lr-schedule", "zigzag"], "unknown learning-rate schedule"),
    ],
)
def test_cli_rejects_bad_lecture2_options(args, msg, capsys):
    assert main(["train", "--dataset", "moons", "--epochs", "1", "--quiet", *args]) == 2
    assert msg in capsys.readouterr().err


# ------------------------------------------------------------------ playground


def test_playground_session_with_dropout_batchnorm_and_schedule():
    pytest.importorskip("starlette")
    from mlplab.playground import engine

    cfg = engine.validate_config(
        {"dropout": 0.3, "batch_norm": True, "lr_schedule": "cosine", "n_points": 200}
    )
    sess = engine.Session(cfg)
    assert sess.net.options.batch_norm == (True, True)
    lr0 = sess.frame()["lr"]
    assert lr0 == pytest.approx(cfg["lr"])
    sess.train(5)
    frame = sess.frame()
    assert 0 < frame["lr"] < lr0  # the cosine schedule is under way
    assert sess.history["lr"][-1] == frame["lr"]
    # the dropout slider applies live (no rebuild); the batch-norm toggle rebuilds
    assert not sess.reconfigure({**cfg, "dropout": 0.5})
    assert sess.net.options.keep_prob == (0.5, 0.5)
    assert sess.reconfigure({**sess.cfg, "batch_norm": False})
    assert sess.net.options.batch_norm == (False, False)
    with pytest.raises(engine.RequestError, match="lr_schedule must be one of"):
        engine.validate_config({"lr_schedule": "zigzag"})
    with pytest.raises(engine.RequestError, match="dropout must lie in"):
        engine.validate_config({"dropout": 0.95})


def test_playground_snippet_rebuilds_a_batchnorm_network():
    pytest.importorskip("starlette")
    from mlplab.playground import engine

    sess = engine.Session(
        engine.validate_config({"batch_norm": True, "dropout": 0.2, "n_points": 100})
    )
    sess.train(3)
    namespace: dict = {}
    exec(compile(sess.python_snippet(), "snippet.py", "exec"), namespace)
    net = namespace["net"]
    X = np.random.default_rng(2).uniform(-1.5, 1.5, (50, 2))
    np.testing.assert_array_equal(net.predict_proba(X), sess.net.predict_proba(X))
