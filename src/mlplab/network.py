"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.network`."""

import sys

from mlplab.core import network as _moved

sys.modules[__name__] = _moved
