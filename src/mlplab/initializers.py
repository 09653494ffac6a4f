"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.initializers`."""

import sys

from mlplab.core import initializers as _moved

sys.modules[__name__] = _moved
