"""The Q-learning family: one learner (DQN, Double, dueling, n-step, C51, QR-DQN, prioritized
replay, sequence torsos, curiosity) built from a collector, a replay, transforms and a loss."""
