"""The multi-agent family (book ch. 9): neighbourhood, mean-field, independent Q; MF-AC."""
