"""``python -m mlplab`` runs the command line."""

import sys

from mlplab.cli import main

sys.exit(main())
