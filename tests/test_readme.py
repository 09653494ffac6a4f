"""The README's Python example runs and prints what it says it prints."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    text = README.read_text()
    section = text.split("## Python in a dozen lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.split("\n")
    cost, accuracy = map(float, lines[0].split())
    assert cost < 0.1
    assert accuracy >= 0.95
    assert float(lines[1]) < 1e-7
