"""drlrun-plugin-example: the cross-entropy method as a drlrun algorithm plugin."""
