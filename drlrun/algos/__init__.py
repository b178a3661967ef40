"""Algorithms; each registers a builder with the `algo` registry."""
