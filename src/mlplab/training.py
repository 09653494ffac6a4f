"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.api`."""

import sys

from mlplab.train import api as _moved

sys.modules[__name__] = _moved
