"""``python -m gridppo ...`` runs the ``gridppo`` command (see :mod:`gridppo.cli`)."""

import sys

from gridppo.cli import main

sys.exit(main())
