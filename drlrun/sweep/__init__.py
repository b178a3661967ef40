"""Sweeps: failure records, the end-of-sweep summary, reports and the Optuna pruning sweeper."""
