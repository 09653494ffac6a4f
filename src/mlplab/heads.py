"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.heads`."""

import sys

from mlplab.core import heads as _moved

sys.modules[__name__] = _moved
