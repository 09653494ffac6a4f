"""Old import path, kept so that existing imports work: now :mod:`mlplab.fast._blas`."""

import sys
from typing import TYPE_CHECKING

from mlplab.fast import _blas as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.fast._blas import *  # noqa: F403

sys.modules[__name__] = _moved
