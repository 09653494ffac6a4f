"""A CSV file read in parts by MPI ranks (mlplab.persist.csvshard): K ranks = one process.

Each rank parses only its byte range of the file; the ranks agree on the row counts,
the plan (kinds, categories, fill values), the classes, the split and the standardizer;
the training rows stay in the file's order (only rows near the edges of the ranks'
parts move) and the batches are drawn in the split's order, as one process draws them.
Three launches (K = 1, 2, 4) train a classification file (text labels, a text column,
empty cells filled with the median) and a regression file (rows with empty cells
dropped), and check the single-process weights to 1e-10 in float64; the K = 2 launch
also writes a checkpoint that the K = 4 launch and one process resume exactly.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_distributed import SCRIPTS, mpirun, needs_mpi

pytestmark = needs_mpi
OPTS = dict(epochs=3, dtype="float64", layers="5", batch_size=16, seed=2)
MEMORY_ROWS = (300_000, 600_000)


def _files(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n = 240
    cls = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 3 + 1,
            "color": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["yes", "no", "maybe"], n),
        }
    )
    cls.loc[rng.choice(n, 20, replace=False), "a"] = np.nan
    cls.loc[rng.choice(n, 10, replace=False), "color"] = None
    reg = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(size=n)})
    reg["price"] = 3 * reg["x1"] - reg["x2"] + rng.normal(size=n) * 0.1
    reg.loc[rng.choice(n, 15, replace=False), "x2"] = np.nan
    reg.loc[rng.choice(n, 5, replace=False), "price"] = np.nan
    X = rng.normal(size=(n, 4)) * [1, 5, 0.2, 3]
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 2))
    paths = {"cls": folder / "cls.csv", "reg": folder / "reg.csv", "X": folder / "X.npy"}
    paths["y"] = folder / "y.npy"
    np.save(folder / "y_reg.npy", X @ [1.0, -0.5, 2.0, 0.1] + rng.normal(size=n) * 0.1)
    paths["y_reg"] = folder / "y_reg.npy"
    for name, parts in (("npy_shards", (X[:100], X[100:])), ("npy_wide", (X[:100], X[100:, :3]))):
        paths[name] = folder / name  # the same rows in two files; a second file too narrow
        paths[name].mkdir()
        for i, part in enumerate(parts):
            np.save(paths[name] / f"part{i}.npy", part)
    np.save(folder / "y_short.npy", np.load(paths["y"])[:-1])
    paths["y_short"] = folder / "y_short.npy"
    for big in MEMORY_ROWS:  # for the ranks' memory: one file and twice its rows
        Xb = np.random.default_rng(big).normal(size=(big, 2))
        np.save(folder / f"X{big}.npy", Xb)
        np.save(folder / f"y{big}.npy", (Xb[:, 0] > 0).astype(np.int64))
    num = pd.DataFrame(rng.normal(size=(n, 3)) * [1, 4, 0.5], columns=["u", "v", "w"])
    num["label"] = rng.choice(["lo", "hi"], n).astype(object)
    num.loc[rng.choice(n, 7, replace=False), "label"] = None  # no target: dropped
    paths["num"] = folder / "num.csv"  # finite numbers: the rows parsed straight to disk
    num.to_csv(paths["num"], index=False)
    paths["tiny"] = folder / "tiny.csv"  # 12 rows on 4 ranks: 3 test rows, one rank none
    tiny = cls[:12].fillna({"a": 0.0, "color": "red"}).assign(label=["yes", "no"] * 6)
    tiny.to_csv(paths["tiny"], index=False)
    cls.to_csv(paths["cls"], index=False)
    reg.to_csv(paths["reg"], index=False)
    lines = paths["reg"].read_text().splitlines()
    lines[200] += ",7"  # line 201, in the second rank's part: one cell too many
    paths["ragged"] = folder / "ragged.csv"
    paths["ragged"].write_text("\n".join(lines) + "\n")
    mixed = reg.fillna(0.5).astype({"x2": object})
    mixed.loc[200, "x2"] = "n/a"  # text in a column of numbers, in the second part only
    paths["mixed"] = folder / "mixed.csv"
    mixed.to_csv(paths["mixed"], index=False)
    labels = cls.assign(label=rng.choice(["1", "2"], n).astype(object))
    labels.loc[180:, "label"] = rng.choice(["1", "2", "cat"], n - 180)  # text: the last part
    paths["numtext"] = folder / "numtext.csv"  # a target of numbers on rank 0, text on 1
    labels.to_csv(paths["numtext"], index=False)
    return paths


def _cases(paths: dict[str, Path], ckpt: Path, k: int) -> dict[str, list]:
    cases = {
        "cls": [str(paths["cls"]), "label", {**OPTS, "columns": {"missing": "median"}}],
        "reg": [str(paths["reg"]), "price", {**OPTS, "columns": {"missing": "drop"}}],
        "num": [str(paths["num"]), "label", {**OPTS, "columns": {"missing": "drop"}}],
    }
    cases["npy"] = [str(paths["X"]), str(paths["y"]), {**OPTS, "kind": "npy"}]
    cases["npy_reg"] = [str(paths["X"]), str(paths["y_reg"]), {**OPTS, "kind": "npy"}]
    fit_opts = {"epochs": 3, "batch_size": 16, "seed": 2, "kind": "fit_npy"}
    cases["fit_npy"] = [str(paths["X"]), str(paths["y"]), fit_opts]
    drop = {**OPTS, "layers": "6,5", "network_options": {"keep_prob": [0.6, 0.8]}}
    cases["cls_drop"] = [str(paths["cls"]), "label", {**drop, "columns": {"missing": "median"}}]
    cases["npy_drop"] = [str(paths["X"]), str(paths["y"]), {**drop, "kind": "npy"}]
    fit = {"checkpoint": str(ckpt), "checkpoint_every": 5}
    npy_fit = {"checkpoint": str(ckpt.parent.parent / "npyckpt" / "checkpoint.npz")}
    npy_fit["checkpoint_every"] = 5
    if k == 2:  # the first two epochs, checkpointed mid-epoch and at the end
        npy = {**OPTS, "epochs": 2, "kind": "npy", "fit_kwargs": npy_fit}
        cases["npy_ckpt"] = [str(paths["X"]), str(paths["y"]), npy]
        for bad, target in (("npy_wide", "y"), ("X", "y_short")):
            cases[f"{bad}_{target}"] = [
                str(paths[bad]),
                str(paths[target]),
                {**OPTS, "kind": "npy"},
            ]
        cases["ckpt"] = [str(paths["cls"]), "label", {**OPTS, "epochs": 2, "fit_kwargs": fit}]
        cases["numtext"] = [
            str(paths["numtext"]),
            "label",
            {**OPTS, "columns": {"missing": "median"}},
        ]
        for bad in ("ragged", "mixed"):
            cases[bad] = [str(paths[bad]), "price", dict(OPTS)]
        cases["missing"] = [str(paths["cls"]) + ".gone", "label", dict(OPTS)]
        cases["unreadable"] = [str(paths["cls"]), "label", {**OPTS, "deny_rank": 1}]
    if k == 4:  # resumed on 4 ranks, to the end of the 4 epochs; and a tiny file
        npy = {**OPTS, "epochs": 4, "kind": "npy", "fit_kwargs": {**npy_fit, "resume": True}}
        cases["npy_resume"] = [str(paths["X"]), str(paths["y"]), npy]
        npy = {**npy, "epochs": 5}  # the same rows, from other shards: the layout differs
        cases["npy_other_shards"] = [str(paths["npy_shards"]), str(paths["y"]), npy]
        for big in MEMORY_ROWS:
            mem = {"epochs": 1, "layers": "4", "batch_size": 4096, "kind": "npy_memory"}
            cases[f"mem{big}"] = [str(paths["X"].parent / f"X{big}.npy"), "", mem]
            cases[f"mem{big}"][1] = str(paths["X"].parent / f"y{big}.npy")
        cases["tiny"] = [str(paths["tiny"]), "label", {**OPTS, "batch_size": 4}]
        fit = {**fit, "resume": True}
        cases["resume"] = [str(paths["cls"]), "label", {**OPTS, "epochs": 4, "fit_kwargs": fit}]
    for case in cases.values():
        if case[0] == str(paths["cls"]) and "columns" not in case[2]:  # the same plan
            case[2]["columns"] = {"missing": "median"}
    return cases


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    paths = _files(folder)
    out = {}
    for k in (1, 2, 4):
        target = folder / f"k{k}.json"
        cases = _cases(paths, folder / "ckpt" / "checkpoint.npz", k)
        proc, _ = mpirun(k, str(SCRIPTS / "csv_shards.py"), str(target), json.dumps(cases))
        assert proc.returncode == 0, proc.stderr
        out[k] = json.loads(target.read_text())
    return paths, out, folder


def _single(path: Path, target: str, missing: str, **kw):
    from mlplab.recipes import train_csv

    return train_csv(path, target, columns={"missing": missing}, **{**OPTS, **kw})


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize(
    ("case", "target", "missing"),
    [("cls", "label", "median"), ("reg", "price", "drop"), ("num", "label", "drop")],
)
def test_k_ranks_reading_their_byte_ranges_train_the_single_process_weights(
    runs, k, case, target, missing
):
    paths, out, _ = runs
    single = _single(paths[case], target, missing)
    got = out[k][case]
    assert "error" not in got, got
    assert got["same_on_all_ranks"]
    for held in got["held"]:  # the labels held once: Y made batch by batch (train.targets)
        assert (held["Y"], held["Yv"], held["floats"]) == ("Targets", "Targets", []), held
        assert held["X_index"] is None, held  # the training rows one slice: no index array
    theta = single.net.get_flat_params()
    np.testing.assert_allclose(got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
    np.testing.assert_allclose(got["loss"], single.history.history["loss"], rtol=1e-10)
    np.testing.assert_allclose(got["val_loss"], single.history.history["val_loss"], rtol=1e-10)
    m, s = got["metrics"], single.metrics
    assert (m["n_train"], m["n_test"]) == (s["n_train"], s["n_test"])
    assert m.get("n_dropped_rows") == s.get("n_dropped_rows")
    for key in ("train_accuracy", "test_accuracy", "train_log_loss", "test_r2", "train_mse"):
        if s.get(key) is not None:
            assert m[key] == pytest.approx(s[key], rel=1e-9), key
    if case == "cls":
        assert got["classes"] == ["maybe", "no", "yes"]
        assert m["test_confusion_matrix"] == s["test_confusion_matrix"]
    plan = single.data_info["preprocessing"]
    for mine, one in zip(got["preprocessing"]["columns"], plan["columns"], strict=True):
        assert mine.get("categories") == one.get("categories")
        if isinstance(one.get("fill"), float):
            assert mine["fill"] == pytest.approx(one["fill"], rel=1e-12)
        else:
            assert mine.get("fill") == one.get("fill")


def test_a_target_of_numbers_on_one_rank_and_text_on_another_has_the_one_process_classes(runs):
    paths, out, _ = runs
    single = _single(paths["numtext"], "label", "median")
    got = out[2]["numtext"]
    assert "error" not in got, got
    assert got["classes"] == single.metrics["classes"] == ["1", "2", "cat"]
    theta = single.net.get_flat_params()
    np.testing.assert_allclose(got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())


def test_a_sharded_checkpoint_resumes_exactly_on_other_ranks_and_in_one_process(runs):
    paths, out, folder = runs
    assert "error" not in out[2]["ckpt"] and "error" not in out[4]["resume"]
    whole = _single(paths["cls"], "label", "median", epochs=4)
    theta = whole.net.get_flat_params()
    tol = dict(rtol=1e-10, atol=1e-10 * np.abs(theta).max())
    np.testing.assert_allclose(out[4]["resume"]["theta"], theta, **tol)  # 2 ranks, then 4
    assert out[4]["resume"]["metrics"]["epochs"] == 4
    fit = {"checkpoint": folder / "ckpt" / "checkpoint.npz", "resume": True}
    from mlplab.train.checkpoint import read_checkpoint

    assert read_checkpoint(fit["checkpoint"]).epoch == 4  # the 4-rank run wrote it
    fit_kwargs = {**fit, "checkpoint": folder / "one" / "checkpoint.npz", "resume": False}
    _single(paths["cls"], "label", "median", epochs=2, fit_kwargs=fit_kwargs)
    resumed = _single(
        paths["cls"], "label", "median", epochs=4, fit_kwargs={**fit_kwargs, "resume": True}
    )
    np.testing.assert_allclose(resumed.net.get_flat_params(), theta, **tol)


def test_problems_on_one_rank_are_one_error_on_every_rank_naming_the_line(runs):
    paths, out, _ = runs
    ragged, mixed, missing = (out[2][name] for name in ("ragged", "mixed", "missing"))
    assert ragged["type"] == mixed["type"] == missing["type"] == "DistributedError"
    expected = f"rank 1 of 2: {paths['ragged']}, line 201: 4 cells, but the header (line 1)"
    assert ragged["error"].startswith(expected)
    assert mixed["error"].startswith(f"rank 1 of 2: {paths['mixed']}, line 202, column 'x2'")
    assert "'n/a' is not a number" in mixed["error"]
    assert missing["error"] == f"rank 0 of 2: {paths['cls']}.gone: no such file"
    unreadable = out[2]["unreadable"]  # rank 1 alone cannot: every rank says so
    assert unreadable["error"] == f"rank 1 of 2: {paths['cls']}: cannot be read (permission denied)"


@pytest.mark.parametrize("k", [1, 2, 4])
def test_memory_mapped_npy_under_mpi_equals_one_process(runs, k):
    import mlplab
    from mlplab.recipes import train_npy

    paths, out, _ = runs
    single = train_npy(paths["X"], paths["y"], **OPTS)
    theta = single.net.get_flat_params()
    got = out[k]["npy"]
    assert got["same_on_all_ranks"]
    for held in got["held"]:  # the labels held once: Y made batch by batch (train.targets)
        assert (held["Y"], held["Yv"], held["floats"]) == ("Targets", "Targets", []), held
    np.testing.assert_allclose(got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
    assert got["metrics"]["test_confusion_matrix"] == single.metrics["test_confusion_matrix"]
    np.testing.assert_allclose(got["val_loss"], single.history.history["val_loss"], rtol=1e-10)
    # each rank mapped one contiguous part of the file: together the file, each row once
    parts = [m[0] for m in got["maps"]]
    assert [len(m) for m in got["maps"]] == [1] * k
    assert [off for off, _ in parts] == [128 + 32 * sum(r for _, r in parts[:j]) for j in range(k)]
    assert sum(r for _, r in parts) == 240
    assert all(abs(r - 240 / k) <= 240 / k / 2 for _, r in parts)  # about n / K rows each
    # fit on open_rows(comm=...): each rank maps only its contiguous rows of the file
    X, y = np.load(paths["X"]), np.load(paths["y"])
    net = mlplab.Network([4, 6, 3], output="multiclass", seed=3, dtype="float64")
    net.standardizer = mlplab.Standardizer().fit(X)
    mlplab.fit(net, X, y, epochs=3, batch_size=16, seed=2)
    theta = net.get_flat_params()
    fitted = out[k]["fit_npy"]
    np.testing.assert_allclose(fitted["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
    rows = [m[0][1] for m in fitted["maps"]]
    assert [len(m) for m in fitted["maps"]] == [1] * k and sum(rows) == len(X)
    starts = [m[0][0] for m in fitted["maps"]]
    assert starts == [128 + 32 * sum(rows[:r]) for r in range(k)]  # header, 4 float64 a row


def test_memory_mapped_npy_regression_and_resume_on_other_ranks_equal_one_process(runs):
    from mlplab.recipes import train_npy

    paths, out, folder = runs
    for k in (1, 2, 4):  # a float target: the task inferred is regression on every rank
        single = train_npy(paths["X"], paths["y_reg"], **OPTS)
        assert single.data_info["task"] == "regression"
        theta = single.net.get_flat_params()
        got = out[k]["npy_reg"]
        assert "error" not in got, got
        np.testing.assert_allclose(
            got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max()
        )
    whole = train_npy(paths["X"], paths["y"], **{**OPTS, "epochs": 4})
    theta = whole.net.get_flat_params()
    assert "error" not in out[2]["npy_ckpt"], out[2]["npy_ckpt"]
    got = out[4]["npy_resume"]  # 2 epochs on 2 ranks, checkpointed; resumed on 4
    assert "error" not in got, got
    assert got["metrics"]["epochs"] == 4
    np.testing.assert_allclose(got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
    fit = {"checkpoint": folder / "npyckpt" / "checkpoint.npz", "resume": True}
    from mlplab.train.checkpoint import read_checkpoint

    assert read_checkpoint(fit["checkpoint"]).epoch == 4  # the 4-rank run wrote it
    one = train_npy(paths["X"], paths["y"], **{**OPTS, "epochs": 5, "fit_kwargs": fit})
    more = train_npy(paths["X"], paths["y"], **{**OPTS, "epochs": 5})  # resumed in one process
    np.testing.assert_allclose(
        one.net.get_flat_params(), more.net.get_flat_params(), rtol=1e-10, atol=1e-12
    )


def test_npy_problems_under_mpi_are_one_clear_error_on_every_rank(runs):
    paths, out, folder = runs
    wide, short = out[2]["npy_wide_y"], out[2]["X_y_short"]
    assert wide["type"] == short["type"] == "DistributedError"
    assert wide["error"] == (
        f"rank 0 of 2: {paths['npy_wide'] / 'part1.npy'}: rows of 3 values, but part0.npy "
        "has 4; every shard must have the same number of columns"
    )
    assert short["error"] == f"rank 0 of 2: {paths['y_short']}: 239 targets for 240 rows of data"
    other = out[4]["npy_other_shards"]  # resuming the checkpoint of X.npy on two shards
    assert other["type"] == "DistributedError", other
    assert (
        "it was written for the .npy shards (file, rows) [['X.npy', 240]], but the data "
        in (other["error"])
    )
    assert "[['part0.npy', 100], ['part1.npy', 140]]; resume on the same shards" in other["error"]


def test_no_rank_but_the_root_and_the_mapper_holds_an_array_over_the_whole_npy_file(runs):
    """K = 4 ranks train on a .npy of n and of 2n rows: ranks 2 and 3 hold arrays of their
    own rows alone, and their peak of traced memory (tracemalloc: NumPy's arrays, not the
    memory map) grows by less than 3 bytes a row of the file (less than an int32 over the
    whole file; the route that built the split and ``file_blocks`` on every rank: 45 bytes
    a row; this one, about 1 byte: 4 a row of the rank's own quarter)."""
    _, out, _ = runs
    small, big = (out[4][f"mem{n}"]["ranks"] for n in MEMORY_ROWS)
    for n, ranks in zip(MEMORY_ROWS, (small, big), strict=True):
        n_train = n - round(0.25 * n)
        assert ranks[0]["relabel"] is None and ranks[0]["mapper_relabel"] is None  # handed on
        assert ranks[1]["mapper_relabel"] == n_train  # rank 1 alone maps the batches
        for r, got in enumerate(ranks):
            a, b = got["rows"]
            assert abs((b - a) - n / 4) < 0.01 * n  # about n / K rows of the file each
            assert got["X_train"] == got["y_train"] and got["X_test"] == got["y_test"]
            assert got["X_train"] + got["X_test"] == b - a  # its part of the file, no more
            if r >= 2:
                assert got["relabel"] is None and got["mapper_relabel"] is None
    grow = MEMORY_ROWS[1] - MEMORY_ROWS[0]
    for r, phase in itertools.product((2, 3), ("setup_peak", "train_peak")):
        # the setup (sharded_npy) and the training each: the whole run's peak moves from one
        # to the other between the sizes when training holds less (the labels held once)
        per_row = (big[r][phase] - small[r][phase]) / grow
        assert per_row < 3, (r, phase, per_row, small[r][phase], big[r][phase])


def test_ranks_without_test_rows_still_equal_one_process(runs):
    from mlplab.recipes import train_csv

    paths, out, _ = runs
    single = train_csv(paths["tiny"], "label", **{**OPTS, "batch_size": 4})
    got = out[4]["tiny"]
    assert "error" not in got, got
    assert single.metrics["n_test"] == 3  # so at least one rank validates on no row
    theta = single.net.get_flat_params()
    np.testing.assert_allclose(got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
    np.testing.assert_allclose(got["val_loss"], single.history.history["val_loss"], rtol=1e-10)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_dropout_on_k_ranks_drops_the_units_of_the_one_process_in_memory_run(runs, k):
    from mlplab.recipes import train_arrays

    paths, out, _ = runs  # masks follow the batch's drawn (split) order, not the file's
    opts = {**OPTS, "layers": "6,5", "network_options": {"keep_prob": [0.6, 0.8]}}
    single = _single(paths["cls"], "label", "median", **opts)
    mem = train_arrays(np.load(paths["X"]), np.load(paths["y"]), **opts)
    for got, one in ((out[k]["cls_drop"], single), (out[k]["npy_drop"], mem)):
        assert "error" not in got, got
        assert got["same_on_all_ranks"]
        theta = one.net.get_flat_params()
        np.testing.assert_allclose(
            got["theta"], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max()
        )
        np.testing.assert_allclose(got["loss"], one.history.history["loss"], rtol=1e-10)
    plain = _single(paths["cls"], "label", "median", **{**opts, "network_options": None})
    assert np.abs(plain.net.get_flat_params() - single.net.get_flat_params()).max() > 1e-3
