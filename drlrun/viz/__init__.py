"""Plots and videos written to run directories."""
