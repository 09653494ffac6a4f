"""scikit-learn's own tests of its MLPs, run on mlplab's estimators.

The test file is the *installed* scikit-learn's ``sklearn/neural_network/tests/test_mlp.py``,
read at collection time; the one line that imports the estimators is replaced by mlplab's
(and must be found exactly once, so a new scikit-learn that imports them differently fails
here instead of silently testing scikit-learn against itself). Everything else — data,
parameters, assertions — is scikit-learn's, unedited. Its tests become this module's.

Expected failures go in ``PRIVATE``, each named with the private attribute of
scikit-learn's implementation it reads. There are none today: the estimators keep the
private names scikit-learn's tests use — ``_optimizer.learning_rate``,
``_no_improvement_count``, ``_loss_grad_lbfgs`` (its packing of θ, mlplab's gradient) —
and take ``coefs_``/``intercepts_`` assigned before fitting (``test_fit``).
"""

from __future__ import annotations

import os
import sys
import types
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

ORIGINAL = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SWAPPED = "from mlplab.sklearn import MLPClassifier, MLPRegressor"

PRIVATE: dict[str, str] = {}
"""Tests that read or write scikit-learn's private attributes: expected to fail."""


def _load_suite() -> types.ModuleType:
    spec = find_spec("sklearn.neural_network.tests.test_mlp")
    assert spec is not None and spec.origin is not None, "scikit-learn's test_mlp.py is missing"
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert source.count(ORIGINAL) == 1, f"{spec.origin} no longer imports: {ORIGINAL}"
    module = types.ModuleType("sklearn_test_mlp_on_mlplab")
    module.__file__ = spec.origin
    sys.modules[module.__name__] = module  # joblib pickles by module name
    code = compile(source.replace(ORIGINAL, SWAPPED), spec.origin, "exec")
    exec(code, module.__dict__)  # scikit-learn's own test file, one import swapped
    return module


_SUITE = _load_suite()
for _name, _test in vars(_SUITE).items():
    if _name.startswith("test_") and callable(_test):
        if _name in PRIVATE:
            _test = pytest.mark.xfail(reason=PRIVATE[_name], strict=True, raises=AttributeError)(
                _test
            )
        globals()[_name] = _test


@pytest.fixture
def global_random_seed() -> int:
    """scikit-learn's fixture (its conftest): SKLEARN_TESTS_GLOBAL_RANDOM_SEED, default 42."""
    return int(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42").split("-")[0])


def test_the_estimators_are_mlplabs() -> None:
    """The swap happened: the suite's estimators are mlplab's, not scikit-learn's."""
    from mlplab.sklearn import MLPClassifier, MLPRegressor

    assert _SUITE.MLPClassifier is MLPClassifier
    assert _SUITE.MLPRegressor is MLPRegressor
    assert np.all([name in vars(_SUITE) for name in PRIVATE])
