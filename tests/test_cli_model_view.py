"""The model-file commands' view of a file (``mlplab.commands._common.Model``): the classes
of a classifier, typed as an array, and a clear error where a file does not name them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlplab
from mlplab.cli import main
from mlplab.commands._common import Model


def _csv(path, n_features):
    header = ",".join(f"x{j}" for j in range(n_features))
    rows = "\n".join(",".join(["0.5"] * n_features) for _ in range(3))
    path.write_text(f"{header}\n{rows}\n", encoding="utf-8")
    return path


def test_labels_are_the_stored_classes(tmp_path):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    clf = mlplab.MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):  # 5 epochs
        clf.fit(X, np.array(["a", "b", "c", "a"]))
    path = tmp_path / "clf.npz"
    mlplab.save(clf, path)
    model = Model(path)
    assert model.labels.tolist() == ["a", "b", "c"]
    assert model.labels is model.classes


def test_multilabel_network_without_classes_is_a_clear_error(tmp_path, capsys):
    net = mlplab.Network([2, 3], output="binary", seed=0)  # three labels, no names stored
    path = tmp_path / "net.npz"
    mlplab.save(net, path)
    model = Model(path)
    assert model.multilabel and model.classes is None
    with pytest.raises(ValueError, match="does not name its classes"):
        model.labels  # noqa: B018
    assert main(["predict", str(path), str(_csv(tmp_path / "x.csv", 2))]) == 2
    err = capsys.readouterr().err
    assert "net.npz: the model file does not name its classes" in err
    assert "NoneType" not in err
