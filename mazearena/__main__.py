"""``python -m mazearena``: the command line, as the ``mazearena`` script runs it (also without installing the
package: ``PYTHONPATH=. python -m mazearena ...`` from a checkout)."""

import sys

from mazearena.cli import main

sys.exit(main())
