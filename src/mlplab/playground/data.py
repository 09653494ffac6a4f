"""The playground's data: a synthetic 2-D dataset, or a CSV file (uploaded or in the data folder).

Files are only read from the configured data folder, by plain file name
(:func:`resolve_in_folder`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.core.data import load_dataset
from mlplab.playground.config import CSV_NAME, LIMITS, RequestError


def parse_csv(text: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows ``x1,x2,label`` (comma, semicolon or tab; optional header; ``#`` comments).

    Returns X of shape (n, 2), labels 0/1 and the two original label names (label 0
    first). Exactly two distinct labels are required.
    """
    rows: list[tuple[float, float]] = []
    labels: list[str] = []
    lo, hi = LIMITS["csv_rows"]
    header_allowed = True
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        sep = "," if "," in stripped else (";" if ";" in stripped else None)
        cells = [c.strip() for c in (stripped.split(sep) if sep else stripped.split())]
        if len(cells) != 3:
            raise RequestError(
                f"CSV line {lineno}: expected 3 columns (x1, x2, label), got {len(cells)}",
                field="csv",
            )
        if not (_is_float(cells[0]) and _is_float(cells[1])):
            if header_allowed:  # the first non-comment line may be a header
                header_allowed = False
                continue
            bad = cells[1] if _is_float(cells[0]) else cells[0]
            raise RequestError(f"CSV line {lineno}: {bad!r} is not a number", field="csv")
        header_allowed = False
        x1, x2 = float(cells[0]), float(cells[1])
        if not (math.isfinite(x1) and math.isfinite(x2)):
            raise RequestError(f"CSV line {lineno}: features must be finite", field="csv")
        if not cells[2]:
            raise RequestError(f"CSV line {lineno}: the label is empty", field="csv")
        rows.append((x1, x2))
        labels.append(cells[2])
        if len(rows) > hi:
            raise RequestError(f"CSV has more than {hi} data rows", status=413, field="csv")
    if len(rows) < lo:
        raise RequestError(f"CSV needs at least {lo} data rows, got {len(rows)}", field="csv")
    classes = sorted(set(labels), key=_label_key)
    if len(classes) != 2:
        raise RequestError(
            f"CSV labels must take exactly 2 values (binary classification), got {len(classes)}: "
            f"{classes[:5]}",
            field="csv",
        )
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    return np.array(rows, dtype=np.float64), y, classes


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_key(label: str) -> tuple[int, float, str]:
    return (0, float(label), "") if _is_float(label) else (1, 0.0, label)


def resolve_in_folder(folder: Path | None, name: str, pattern: re.Pattern[str]) -> Path:
    """``folder / name`` for a plain file name, refusing anything that leaves ``folder``.

    The name must match ``pattern`` (no separators, no ``..``), and the resolved path
    (symbolic links followed) must still lie directly inside ``folder``.
    """
    if folder is None:
        raise RequestError("no data folder is configured (start with --data-dir DIR)", status=403)
    if not pattern.match(name) or name in (".", ".."):
        raise RequestError(f"invalid file name {name!r}", status=400, field="name")
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise RequestError(f"{name!r} is outside the data folder", status=403, field="name")
    return path


def list_csv_files(folder: Path | None) -> list[str]:
    """CSV files directly inside ``folder`` (sorted; links leading outside are left out)."""
    if folder is None:
        return []
    out = []
    root = folder.resolve()
    for p in sorted(root.iterdir()):
        if CSV_NAME.match(p.name) and p.resolve().parent == root and p.resolve().is_file():
            out.append(p.name)
    return out[:200]


def load_data(cfg: dict[str, Any], folder: Path | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """X (n, 2) and y (n,) for a validated configuration, plus the class names."""
    if cfg["dataset"] == "csv":
        if cfg["csv_text"] is not None:
            X, y, classes = parse_csv(cfg["csv_text"])
        else:
            path = resolve_in_folder(folder, cfg["csv_file"], CSV_NAME)
            if not path.is_file():
                raise RequestError(
                    f"no CSV file {cfg['csv_file']!r} in the data folder", status=404
                )
            if path.stat().st_size > LIMITS["csv_bytes"]:
                raise RequestError(
                    f"{cfg['csv_file']} is larger than {LIMITS['csv_bytes'] // 1024} KiB",
                    status=413,
                )
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise RequestError(f"{cfg['csv_file']} is not UTF-8 text") from None
            X, y, classes = parse_csv(text)
    else:
        X, y = load_dataset(
            cfg["dataset"], n_samples=cfg["n_points"], noise=cfg["noise"], seed=cfg["seed"]
        )
        classes = ["0", "1"]
    X = X.copy()
    X[:, 1] *= cfg["x2_scale"]
    return X, y, classes
