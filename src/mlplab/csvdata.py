"""Old import path, kept so that existing imports work: now :mod:`mlplab.persist.csvdata`."""

import sys
from typing import TYPE_CHECKING

from mlplab.persist import csvdata as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.persist.csvdata import *  # noqa: F403

sys.modules[__name__] = _moved
