"""``report.md`` and a self-contained ``report.html`` from the experiments' results.

Each experiment reads claim → setup → result (with each claim's verdict) → tables →
figure. The HTML embeds the figures as base64 PNG data, so the one file can be mailed or
opened offline.
"""

from __future__ import annotations

import base64
import html
import platform
import re
from collections.abc import Sequence
from pathlib import Path

from mlplab.experiments._common import ExperimentResult, Table, fmt, verdict

TITLE = "mlplab: the lecture's claims, reproduced"


def _command(names: Sequence[str], quick: bool, seed: int, all_names: Sequence[str]) -> str:
    parts = ["mlplab experiments"]
    if list(names) != list(all_names):
        parts += list(names)
    if quick:
        parts.append("--quick")
    if seed:
        parts.append(f"--seed {seed}")
    return " ".join(parts)


def _environment() -> str:
    import matplotlib
    import numpy
    import sklearn

    from mlplab._version import __version__

    return (
        f"mlplab {__version__}, NumPy {numpy.__version__}, scikit-learn {sklearn.__version__}, "
        f"matplotlib {matplotlib.__version__}, Python {platform.python_version()}"
    )


def _intro(results: Sequence[ExperimentResult], command: str, seconds: float) -> list[str]:
    n_claims = sum(len(r.claims) for r in results)
    n_hold = sum(c.holds for r in results for c in r.claims)
    return [
        "The notes make claims about logistic regression, backpropagation, activations, "
        "depth, initialization, input normalization and optimizers, and the lecture after "
        "them about dropout, batch normalization and learning-rate decay. Each section below "
        "states a claim, the experiment that tests it, and what came out, with the numbers "
        "and a figure. A claim that the numbers do not support is marked ❌ and explained.",
        f"Made by `{command}` in {seconds:.0f} s ({_environment()}). "
        f"{n_hold} of {n_claims} claims hold.",
    ]


def _summary_table(results: Sequence[ExperimentResult]) -> Table:
    return Table(
        ["experiment", "claims that hold", "seconds"],
        [
            [
                r.title,
                f"{sum(c.holds for c in r.claims)} of {len(r.claims)}",
                round(r.seconds, 1),
            ]
            for r in results
        ],
    )


def write_markdown(
    results: Sequence[ExperimentResult], out: Path, command: str, seconds: float
) -> Path:
    """``out/report.md``: text, tables and links to the PNG figures next to it."""
    lines = [f"# {TITLE}", "", *[p + "\n" for p in _intro(results, command, seconds)]]
    lines += [_summary_table(results).to_markdown(), ""]
    for r in results:
        lines += [f"## {r.title}", ""]
        lines += [f"**Claim.** {r.claim}", "", f"**Setup.** {r.setup}", ""]
        lines += [f"**Result.** {r.result}", ""]
        lines += [f"- {verdict(c.holds)} {c.text} — {c.evidence}" for c in r.claims]
        lines.append("")
        if r.note:
            lines += [r.note, ""]
        lines.append(r.tables_markdown().rstrip())
        lines += ["", f"![{r.title}]({r.name}.png)", ""]
        lines += [
            f"Numbers: [{r.name}.json]({r.name}.json), table: [{r.name}.md]({r.name}.md).",
            "",
        ]
    path = out / "report.md"
    path.write_text("\n".join(lines), "utf-8")
    return path


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 2.2em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
code { background: #f3f3f3; padding: 0 .25em; border-radius: 3px; font-size: 92%; }
table { border-collapse: collapse; margin: .8em 0; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f5f5f5; }
td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-style: italic; padding: .3em 0; }
ul.claims { list-style: none; padding-left: 0; }
ul.claims li { margin: .4em 0; padding: .4em .7em; border-left: 4px solid #2ca02c;
               background: #f4fbf4; }
ul.claims li.fails { border-left-color: #d62728; background: #fdf3f3; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def _inline(text: str) -> str:
    """Escape for HTML; `code` and **bold** as in the Markdown."""
    s = html.escape(text)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline(fmt(v))}</td>" for v in row) + "</tr>" for row in t.rows
    )
    cap = f"<caption>{_inline(t.caption)}</caption>" if t.caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(
    results: Sequence[ExperimentResult],
    out: Path,
    command: str,
    seconds: float,
    pngs: dict[str, bytes],
) -> Path:
    """``out/report.html``: the same report with every figure embedded (base64 PNG)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(TITLE)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(TITLE)}</h1>",
        *[f"<p>{_inline(p)}</p>" for p in _intro(results, command, seconds)],
        _table_html(_summary_table(results)),
    ]
    for r in results:
        parts.append(f'<h2 id="{r.name}">{_inline(r.title)}</h2>')
        parts.append(f"<p><strong>Claim.</strong> {_inline(r.claim)}</p>")
        parts.append(f"<p><strong>Setup.</strong> {_inline(r.setup)}</p>")
        parts.append(f"<p><strong>Result.</strong> {_inline(r.result)}</p>")
        items = "".join(
            f'<li class="{"holds" if c.holds else "fails"}">{verdict(c.holds)} '
            f"{_inline(c.text)} — {_inline(c.evidence)}</li>"
            for c in r.claims
        )
        parts.append(f'<ul class="claims">{items}</ul>')
        if r.note:
            parts.append(f"<p>{_inline(r.note)}</p>")
        parts += [_table_html(t) for t in r.tables]
        if r.name in pngs:
            data = base64.b64encode(pngs[r.name]).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(r.title)}" '
                f'src="data:image/png;base64,{data}"></figure>'
            )
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts) + "\n", "utf-8")
    return path


def write_report(
    results: Sequence[ExperimentResult],
    out: str | Path,
    *,
    names: Sequence[str],
    all_names: Sequence[str],
    quick: bool,
    seed: int,
    seconds: float,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out`` (figures must be saved there)."""
    out = Path(out)
    command = _command(names, quick, seed, all_names)
    pngs = {}
    for r in results:
        png = out / f"{r.name}.png"
        if png.exists():
            pngs[r.name] = png.read_bytes()
    md = write_markdown(results, out, command, seconds)
    page = write_html(results, out, command, seconds, pngs)
    return md, page
