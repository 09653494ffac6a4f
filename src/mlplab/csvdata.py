"""Old import path, kept so that existing imports work: now :mod:`mlplab.persist.csvdata`."""

import sys

from mlplab.persist import csvdata as _moved

sys.modules[__name__] = _moved
