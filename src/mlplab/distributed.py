"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.mpi`."""

import sys

from mlplab.train import mpi as _moved

sys.modules[__name__] = _moved
