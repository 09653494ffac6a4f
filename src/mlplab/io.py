"""Old import path, kept so that existing imports work: now :mod:`mlplab.saving`
(``save``, ``load``, ``load_with_header``, ``read_header``, ``load_trainer``)."""

import sys

from mlplab import saving as _moved

sys.modules[__name__] = _moved
