"""drlrun's Hydra plugins (found by Hydra's plugin discovery)."""
