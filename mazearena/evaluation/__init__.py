"""Evaluation: episodes over level splits and the statistics reported about them.

Needs the ``eval`` extra: ``pip install 'mazearena[eval]'``.
"""

from mazearena.checks import require

require("tyro", "yaml", "matplotlib", "scipy", "openskill", extra="eval")
