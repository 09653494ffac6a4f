"""Old import path, kept so that existing imports work: now :mod:`mlplab.sklearn.estimators`."""

import sys

from mlplab.sklearn import estimators as _moved

sys.modules[__name__] = _moved
