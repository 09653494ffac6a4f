"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.optimizers`."""

import sys

from mlplab.core import optimizers as _moved

sys.modules[__name__] = _moved
