"""Entry points: the command line and the apps it runs (demo, play, watch, bench, sweep).

Needs the ``train`` extra (``pip install 'mazearena[train]'``); ``play`` and ``watch`` windows need ``render``.
"""

from mazearena.checks import require

require("tyro", "rich", "yaml", extra="train")
