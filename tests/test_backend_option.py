"""``mlplab train --backend torch`` (issue 19): the same run on PyTorch CPU tensors, the
model back on NumPy for its metrics and files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab import cli, recipes

torch = pytest.importorskip("torch")


def _train(capsys, *extra):
    code = cli.main(["train", "--dataset", "digits", "--layers", "16", "--epochs", "3",
                     "--json", "--quiet", *extra])  # fmt: skip
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_backend_torch_trains_the_same_model(capsys, tmp_path):
    on_numpy = _train(capsys)
    on_torch = _train(capsys, "--backend", "torch", "--out", str(tmp_path))
    assert on_torch["final_cost"] == pytest.approx(on_numpy["final_cost"], rel=1e-5)
    assert on_torch["test_accuracy"] == pytest.approx(on_numpy["test_accuracy"], abs=0.01)
    assert (tmp_path / "model.npz").exists()


def test_backend_is_checked():
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'torch', got 'jax'"):
        recipes.train_arrays(X, y, backend="jax", epochs=1)
    with pytest.raises(ValueError, match="MPI trains on NumPy arrays"):
        recipes.train_arrays(X, y, backend="torch", comm=object(), epochs=1)
