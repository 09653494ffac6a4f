"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.loop`."""

import sys

from mlplab.train import loop as _moved

sys.modules[__name__] = _moved
