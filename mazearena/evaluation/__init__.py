"""Evaluation: episodes over level splits and the statistics reported about them.

Needs the ``eval`` extra: ``pip install 'mazearena[eval]'``.
"""

from mazearena.checks import require

require("tyro", "yaml", "matplotlib", extra="eval")  # scipy and openskill: required where they are used
