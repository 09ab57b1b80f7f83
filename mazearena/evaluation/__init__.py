"""Evaluation: episodes over level splits and the statistics reported about them."""
