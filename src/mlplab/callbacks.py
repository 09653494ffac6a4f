"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.callbacks`."""

import sys

from mlplab.train import callbacks as _moved

sys.modules[__name__] = _moved
