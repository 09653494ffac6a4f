"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.diagnostics`."""

import sys
from typing import TYPE_CHECKING

from mlplab.core import diagnostics as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.core.diagnostics import *  # noqa: F403

sys.modules[__name__] = _moved
