"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.progress`."""

import sys

from mlplab.train import progress as _moved

sys.modules[__name__] = _moved
