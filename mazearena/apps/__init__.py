"""Entry points: the command line and the apps it runs (demo, play, watch, bench, sweep)."""
