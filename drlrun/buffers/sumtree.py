"""Sum and min segment trees over a fixed number of leaves, vectorised with numpy.

Prioritized replay samples leaf i with probability p_i / sum(p); both the batched update and the
batched prefix-sum search walk the tree level by level (log2(capacity) numpy operations each).
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Leaf values with O(log n) batched updates, total, minimum and proportional sampling."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.size = 1 << max(0, (capacity - 1).bit_length())  # leaves, a power of two
        self.sums = np.zeros(2 * self.size, dtype=np.float64)
        self.mins = np.full(2 * self.size, np.inf, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.sums[1])

    @property
    def min(self) -> float:
        """The smallest positive leaf (zero leaves are excluded: they cannot be sampled)."""
        return float(self.mins[1])

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return self.sums[np.asarray(index) + self.size]

    def update(self, index: np.ndarray, values: np.ndarray) -> None:
        """Set leaves `index` to `values` (>= 0); with repeated indices the last value wins."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), index.shape)
        if index.size == 0:
            return
        if (values < 0).any() or not np.isfinite(values).all():
            raise ValueError("priorities must be finite and >= 0")
        node = index + self.size
        self.sums[node] = values
        self.mins[node] = np.where(values > 0, values, np.inf)
        node = np.unique(node // 2)
        while node[0] >= 1:
            self.sums[node] = self.sums[2 * node] + self.sums[2 * node + 1]
            self.mins[node] = np.minimum(self.mins[2 * node], self.mins[2 * node + 1])
            if node[0] == 1:
                break
            node = np.unique(node // 2)

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Leaf indices whose prefix-sum interval contains each value of `mass` (in [0, total))."""
        mass = np.asarray(mass, dtype=np.float64).copy()
        node = np.ones(mass.shape, dtype=np.int64)
        for _ in range(self.size.bit_length() - 1):
            left = self.sums[2 * node]
            right = (mass >= left) & (self.sums[2 * node + 1] > 0)
            mass -= np.where(right, left, 0.0)
            node = 2 * node + right
        return node - self.size

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Stratified proportional sampling: one uniform draw in each of `batch_size` equal segments."""
        total = self.total
        if total <= 0:
            raise ValueError("cannot sample from a tree whose priorities are all zero")
        edges = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        return self.find(np.minimum(edges, np.nextafter(total, 0)))

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"leaves": self.sums[self.size : self.size + self.capacity].copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        leaves = np.asarray(state["leaves"], dtype=np.float64)
        if leaves.shape != (self.capacity,):
            raise ValueError(f"sum tree leaves {leaves.shape} != ({self.capacity},)")
        self.sums[:] = 0.0
        self.mins[:] = np.inf
        self.update(np.arange(self.capacity), leaves)
