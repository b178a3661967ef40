"""Batch transforms for the Q learner (registered as `transform`): they see every transition,
rewrite sampled batches before the loss and may add a loss of their own (curiosity)."""
