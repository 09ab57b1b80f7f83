"""``python -m mazearena``: the command line, as the ``mazearena`` script runs it."""

import sys

from mazearena.apps.cli import main

sys.exit(main())
