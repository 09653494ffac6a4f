"""Old import path, kept so that existing imports work: now :mod:`mlplab.saving`
(``save``, ``load``, ``load_with_header``, ``read_header``, ``load_trainer``)."""

import sys
from typing import TYPE_CHECKING

from mlplab import saving as _moved

if TYPE_CHECKING:  # type checkers see the moved module's names; Python sees sys.modules
    from mlplab.saving import *  # noqa: F403

sys.modules[__name__] = _moved
