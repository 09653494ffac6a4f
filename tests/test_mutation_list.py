"""The checked-in list of equivalent mutants and the runner's comparison (issue 21).

``make mutation`` itself is slow and not part of ``make test``; these check, in
milliseconds, that the list it compares against is well formed and that a survivor not in
the list is reported as new.
"""

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_path = HERE / "mutation" / "mutation_run.py"
_spec = importlib.util.spec_from_file_location("mutation_run", _path)
mutation_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation_run)


def test_every_listed_mutant_names_its_module_function_change_and_reason():
    data = json.loads(mutation_run.EQUIVALENT.read_text(encoding="utf-8"))
    assert set(data) <= set(mutation_run.MODULES)
    source = HERE.parent / "src" / "mlplab" / "core"
    for module, entries in data.items():
        text = (source / f"{module}.py").read_text(encoding="utf-8")
        keys = [(e["function"], tuple(e["mutant"])) for e in entries]
        assert len(keys) == len(set(keys)), f"{module}: an entry is listed twice"
        for e in entries:
            assert set(e) == {"function", "mutant", "why"}, e
            assert e["function"].split(".")[-1] in text, e
            assert e["mutant"] and all(line[:2] in ("- ", "+ ") for line in e["mutant"]), e
            removed = [line[2:] for line in e["mutant"] if line.startswith("- ")]
            assert all(line in text for line in removed), f"{module}: not in the source: {e}"
            assert len(e["why"]) > 15, e


def test_names_and_diffs_become_stable_keys():
    assert mutation_run.function_of("mlplab.core.heads.x_get__mutmut_10") == "get"
    assert mutation_run.function_of("m.xǁNetworkǁfit__mutmut_2") == "Network.fit"
    diff = "--- a.py\n+++ a.py\n@@ -3 +3 @@\n-    x = a + b\n+    x = a - b\n"
    assert mutation_run.changed_lines(diff) == ["- x = a + b", "+ x = a - b"]


@pytest.mark.parametrize("listed", [True, False])
def test_a_survivor_not_in_the_list_is_new(listed):
    unkilled = [{"function": "relu", "mutant": ["- a > 0", "+ a >= 0"], "status": "survived"}]
    known = {("relu", ("- a > 0", "+ a >= 0"))} if listed else set()
    by_status = {"killed": ["k1", "k2", "k3"], "survived": ["s1"]}
    row, new, stale, other = mutation_run.summarize("activations", by_status, unkilled, known)
    assert (len(new), stale, other) == (0 if listed else 1, set(), {})
    score = "3 / 3 = 100.0 %" if listed else "3 / 4 = 75.0 %"
    assert row == f"| activations | 4 | 3 | 1 | 0 | {int(listed)} | {score} |"
