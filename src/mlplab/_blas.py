"""Old import path, kept so that existing imports work: now :mod:`mlplab.fast._blas`."""

import sys

from mlplab.fast import _blas as _moved

sys.modules[__name__] = _moved
