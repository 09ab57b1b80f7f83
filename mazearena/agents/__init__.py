"""Policies that act in mazearena's environments."""
