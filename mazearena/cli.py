"""The command line's entry point, ``mazearena.cli:main``: what ``python -m mazearena`` and the ``mazearena``
script run (the commands themselves live in :mod:`mazearena.apps.cli`)."""

from mazearena.apps.cli import main

__all__ = ["main"]
