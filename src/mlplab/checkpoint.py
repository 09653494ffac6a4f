"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.checkpoint`."""

import sys

from mlplab.train import checkpoint as _moved

sys.modules[__name__] = _moved
