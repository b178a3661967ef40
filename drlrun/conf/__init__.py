"""Packaged Hydra configs (kept importable so non-editable installs find them)."""
