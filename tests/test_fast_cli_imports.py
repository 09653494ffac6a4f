"""Time to a trained model (issue 19): ``mlplab train`` on a CSV file does its whole job —
read, split, standardize, train, evaluate — without importing scikit-learn (SciPy's
``expit`` is σ, loaded on first use: its results are those every saved model was checked
against), ``import mlplab`` and the train command's parser load no heavy package, and the
NumPy split and confusion matrix that replace scikit-learn's give the same rows and counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split as sk_split

from mlplab.core.data import train_test_split
from mlplab.train.metrics import _confusion


@pytest.mark.parametrize("stratify", [True, False])
@pytest.mark.parametrize("test_size", [0.25, 0.1, 0.5, 7, 0.33])
def test_split_is_scikit_learns_row_for_row(stratify, test_size):
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(20, 120))
        k = int(rng.integers(2, 6))
        y = rng.integers(0, k, n)
        y[:k] = np.arange(k)  # every class at least twice
        y[k : 2 * k] = np.arange(k)
        X = rng.standard_normal((n, 3))
        seed = int(rng.integers(0, 2**31))
        try:
            theirs = sk_split(
                X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
            )
        except ValueError as exc:  # e.g. fewer test rows than classes: the same refusal
            with pytest.raises(ValueError, match=str(exc)[:30]):
                train_test_split(X, y, test_size=test_size, seed=seed, stratify=stratify)
            continue
        ours = train_test_split(X, y, test_size=test_size, seed=seed, stratify=stratify)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"trial {trial}")


@pytest.mark.parametrize("stratify", [True, False])
def test_split_rows_are_scikit_learns_as_4_byte_indices(stratify):
    from mlplab.core.split import split_rows

    y = np.random.default_rng(1).integers(0, 3, 500).astype(np.uint8)  # labels, one byte
    rows = np.broadcast_to(np.int8(0), (500,))  # only the count of the rows is read
    train, test = split_rows(rows, y, 0.3, 7, y if stratify else None)
    assert train.dtype == test.dtype == np.int32  # an MPI rank holds them for all rows
    theirs = sk_split(
        np.arange(500), test_size=0.3, random_state=7, stratify=y if stratify else None
    )
    np.testing.assert_array_equal(train, theirs[0])
    np.testing.assert_array_equal(test, theirs[1])


def test_split_leaves_what_it_does_not_handle_to_scikit_learn():
    X, y = np.zeros((10, 2)), np.array([0] * 9 + [1])  # one row of class 1
    with pytest.raises(ValueError, match="least populated class"):
        train_test_split(X, y, seed=0)
    X_tr, X_te, _, _ = train_test_split(X.tolist(), np.zeros(10, int), seed=0, stratify=False)
    assert len(X_tr) + len(X_te) == 10


def test_confusion_matrix_counts_as_scikit_learns():
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 4, 200), rng.integers(0, 5, 200)  # class 4: not a label
    np.testing.assert_array_equal(
        _confusion(y, pred, 4), confusion_matrix(y, pred, labels=range(4))
    )
    np.testing.assert_array_equal(
        _confusion(y % 2, pred % 2, 2)[::-1],
        confusion_matrix(y % 2, pred % 2, labels=range(2))[::-1],
    )


def test_cli_train_on_a_csv_imports_no_scikit_learn(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,t", comments="")
    code = (
        "import sys, mlplab.cli as c\n"
        f"c.main(['train', '--data', {str(path)!r}, '--target', 't', '--epochs', '2',"
        " '--quiet', '--json', '--layers', '4'])\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'sklearn'})\n"
        "sys.exit(f'imported {bad}' if bad else 0)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert '"test_confusion_matrix"' in p.stdout


HEAVY = ("pandas", "scipy", "sklearn", "matplotlib", "torch", "numba", "jax", "array_api_compat")


def _imported(code: str) -> list[str]:
    """The heavy packages a fresh interpreter has imported after running ``code``."""
    tops = "{m.split('.')[0] for m in sys.modules}"
    probe = f"import sys\n{code}\nprint(sorted({tops} & {set(HEAVY)!r}))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    return eval(p.stdout.strip().splitlines()[-1])  # a printed list of names


def test_import_mlplab_and_the_train_parser_load_no_heavy_package():
    assert _imported("import mlplab") == []
    help_text = (
        "import contextlib, io, mlplab.cli as c\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    c.main(['train', '--help'])"
    )
    assert _imported(help_text) == []


def test_mlplab_train_registers_only_its_own_subcommand():
    code = "import mlplab.cli as c\nc.main(['info', '--help'])"
    p = subprocess.run([sys.executable, "-c", code + "\n"], capture_output=True, text=True)
    assert p.returncode == 0 and "usage: mlplab info" in p.stdout
    probe = (
        "import contextlib, io, sys, mlplab.cli as c\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    c.main(['train', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('mlplab.commands.')))"
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    loaded = set(eval(p.stdout.strip().splitlines()[-1]))
    others = {f"mlplab.commands.{n}" for n in ("data", "evaluate", "info", "plot", "predict")}
    assert "mlplab.commands.train" in loaded and not loaded & others
    p = subprocess.run([sys.executable, "-m", "mlplab", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and all(c in p.stdout for c in ("train", "predict", "playground"))
    p = subprocess.run([sys.executable, "-m", "mlplab", "trian"], capture_output=True, text=True)
    assert p.returncode == 2 and "invalid choice: 'trian'" in p.stderr and "predict" in p.stderr
