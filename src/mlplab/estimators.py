"""Old import path, kept so that existing imports work: now :mod:`mlplab.sklearn.estimators`."""

import sys
from typing import TYPE_CHECKING

from mlplab.sklearn import estimators as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.sklearn.estimators import *  # noqa: F403

sys.modules[__name__] = _moved
