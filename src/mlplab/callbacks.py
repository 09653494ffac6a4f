"""Old import path, kept so that existing imports work: now :mod:`mlplab.train.callbacks`."""

import sys
from typing import TYPE_CHECKING

from mlplab.train import callbacks as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.train.callbacks import *  # noqa: F403

sys.modules[__name__] = _moved
