"""Old import path, kept so that existing imports work: now :mod:`mlplab.core.activations`."""

import sys
from typing import TYPE_CHECKING

from mlplab.core import activations as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.core.activations import *  # noqa: F403

sys.modules[__name__] = _moved
