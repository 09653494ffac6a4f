"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.activations`."""

import sys

from mlplab.core import activations as _moved

sys.modules[__name__] = _moved
