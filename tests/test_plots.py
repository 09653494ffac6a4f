"""Plot functions: ax in, Axes out, drawn from what training recorded."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import mlplab
from mlplab import plots
from mlplab.train.callbacks import ActivationLogger


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = mlplab.Network([2, 8, 8, 1], hidden="tanh", seed=0)
    history = mlplab.fit(
        net,
        X,
        y,
        optimizer=mlplab.optimizers.adam(0.02),
        epochs=12,
        validation_data=(X[:30], y[:30]),
        callbacks=[mlplab.GradientNormLogger(), ActivationLogger(X)],
    )
    yield net, history, X, y
    plt.close("all")


def test_activation_logger_records_percentiles(trained):
    net, history, X, _ = trained
    h = history.history
    for l in (1, 2):
        p = [np.array(h[f"act/a{l}/p{q:02d}"]) for q in (5, 25, 50, 75, 95)]
        assert all(len(v) == 12 for v in p)
        assert all((a <= b + 1e-12).all() for a, b in zip(p, p[1:], strict=False))
        assert (np.abs(p[0]) <= 1).all() and (np.abs(p[-1]) <= 1).all()  # tanh
    assert "act/a3/p50" not in h  # the output layer is not a hidden activation
    final = np.percentile(net.forward_cache(X)[0].A, 50)
    assert h["act/a1/p50"][-1] == pytest.approx(final, rel=1e-5, abs=1e-6)


def test_loss_uses_the_given_axes_and_draws_both_curves(trained):
    _, history, _, _ = trained
    fig, ax = plt.subplots()
    assert plots.plot_loss(history, ax=ax) is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["training cost J", "validation cost"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), history.history["loss"])


def test_gradient_norms_one_line_per_layer(trained):
    _, history, _, _ = trained
    ax = plots.plot_gradient_norms(history)
    assert [line.get_label() for line in ax.get_lines()] == ["‖dW[1]‖", "‖dW[2]‖", "‖dW[3]‖"]
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), history.history["grad_norm/W3"])


def test_activation_views(trained):
    net, history, X, _ = trained
    ax = plots.plot_activations(history.history)
    medians = [line for line in ax.get_lines() if "median" in line.get_label()]
    assert len(medians) == 2 and "saturated" in medians[0].get_label()
    ax = plots.plot_activation_histograms(net, X)
    assert len(ax.patches) == 2  # one filled histogram per hidden layer


def test_missing_records_are_clear_errors():
    with pytest.raises(ValueError, match="GradientNormLogger"):
        plots.plot_gradient_norms({"loss": [1.0]})
    with pytest.raises(ValueError, match="ActivationLogger"):
        plots.plot_activations({"loss": [1.0]})
    with pytest.raises(ValueError, match="no 'loss'"):
        plots.plot_loss({})


def test_decision_boundary_binary_and_multiclass(trained):
    net, _, X, y = trained
    ax = plots.plot_decision_boundary(net, X, y, resolution=50)
    assert ax.get_xlim()[0] < X[:, 0].min() and ax.get_xlim()[1] > X[:, 0].max()
    assert len(ax.collections) >= 3  # filled contours, the 0.5 line, points
    rng = np.random.default_rng(1)
    X3 = rng.normal(size=(60, 2))
    y3 = np.argmax(X3 @ [[1, -1, 0], [0, 1, -1]], axis=1)
    net3 = mlplab.Network([2, 3], output="multiclass")
    ax = plots.plot_decision_boundary(net3, X3, y3, classes=["a", "b", "c"], resolution=40)
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (40, 40, 3)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="2 input features"):
        plots.plot_decision_boundary(mlplab.Network([3, 1]), np.zeros((2, 3)))


def test_confusion_matrix_counts():
    ax = plots.plot_confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], labels=[0, 1, 2])
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1", "1", "0", "0", "1", "0", "1", "0", "2"]
    ax = plots.plot_confusion_matrix(matrix=[[3, 1], [0, 4]], labels=["no", "yes"], normalize=True)
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "1.00"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["no", "yes"]


def test_save_figure_writes_png(tmp_path, trained):
    _, history, _, _ = trained
    out = tmp_path / "loss.png"
    plots.save_figure(plots.plot_loss(history), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "guide" / "plots.md"
    code = re.search(r"```python\n(.*?)```", page.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/guide/plots.md", "exec"), {})
    for name in ("boundary.png", "gradients.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
