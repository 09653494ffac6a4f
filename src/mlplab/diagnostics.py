"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.diagnostics`."""

import sys

from mlplab.core import diagnostics as _moved

sys.modules[__name__] = _moved
