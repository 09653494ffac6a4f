"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.data`."""

import sys

from mlplab.core import data as _moved

sys.modules[__name__] = _moved
