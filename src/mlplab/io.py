"""Old import path, kept so that existing imports work: now :mod:`mlplab.persist.modelfile`."""

import sys

from mlplab.persist import modelfile as _moved

sys.modules[__name__] = _moved
