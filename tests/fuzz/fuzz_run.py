"""Run one fuzz target under atheris (libFuzzer), coverage-guided over mlplab's code.

    python tests/fuzz/fuzz_run.py TARGET [CORPUS_DIR ...] [libFuzzer flags]

``make fuzz`` runs every target for ``FUZZ_SECONDS``; ``tests/test_fuzz.py`` runs each
for about 20 s. mlplab's modules are instrumented (NumPy and pandas are not: their code
is not what is being tested). A failure is an input that makes the target raise
(:class:`targets.Unexpected`), a hang (libFuzzer's ``-timeout``, 10 s) or memory past
``-rss_limit_mb``; libFuzzer writes the input to ``<artifact_prefix>crash-*`` (or
``timeout-*``, ``oom-*``), which goes into ``tests/fuzz/crashes/TARGET/`` once fixed.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    """Set atheris up for ``sys.argv[1]`` and fuzz until libFuzzer stops."""
    import atheris

    name = sys.argv.pop(1)
    warnings.simplefilter("error")  # as in the test suite: a warning is a failure
    with atheris.instrument_imports(include=["mlplab"]):
        import targets
    target = targets.TARGETS[name]
    # build the valid bases before fuzzing, outside the time of the first input
    warm = {"modelfile": targets.model_bases, "checkpoint": targets.checkpoint_base,
            "cli": targets._cli_setup, "playground": targets._client}  # fmt: skip
    warm.get(name, lambda: None)()
    try:
        atheris.Setup(sys.argv, target)
        atheris.Fuzz()
    finally:
        shutil.rmtree(targets.workdir(), ignore_errors=True)


if __name__ == "__main__":
    main()
