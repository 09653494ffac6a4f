"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.layers`."""

import sys

from mlplab.core import layers as _moved

sys.modules[__name__] = _moved
