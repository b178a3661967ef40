"""TD losses for the Q learner, each registered as a `loss` (algo.objective names one): what
the head outputs, how it becomes Q-values, the loss, and the loss's own autograd-free kernel."""
