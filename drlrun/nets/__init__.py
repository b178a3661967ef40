"""Torsos (feature extractors) and heads; see `build_torso` and `drlrun.nets.heads`."""
