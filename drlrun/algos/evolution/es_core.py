"""The replicated part of evolution strategies: shared-seed noise, fitness shaping, the update.

Every ES worker holds an `ESCore` with the same parent vector. Given the generation index it
derives the same seed list; given everyone's fitness scalars it regenerates every perturbation
from its seed and applies the identical update, so copies never drift apart and only
(seed index, fitness) numbers need to travel between processes (Salimans et al. 2017, book 6.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


@dataclass
class ESParams:
    population: int = 50  # perturbed policies per generation (pairs x 2 when antithetic)
    sigma: float = 0.2  # noise scale
    lr: float = 0.2
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = 0.9  # sgd only
    l2: float = 0.0  # weight decay on the parent (the paper: 0.005)
    antithetic: bool = True  # evaluate theta + sigma*eps and theta - sigma*eps
    fitness_shaping: Literal["centered_rank", "none"] = "centered_rank"
    # salimans: theta += lr * opt(1/(n sigma) sum F_i eps_i); book: theta += sum (F_i/sum F) e_i
    update: Literal["salimans", "book"] = "salimans"
    episodes_per_eval: int = 1
    action: Literal["argmax", "sample", "sample_book"] = "argmax"
    backend: str = "serial"  # registry kind "backend": serial, process, ray
    workers: int = 1
    max_rollouts: int = 512

    def __post_init__(self) -> None:
        if self.population < 2:
            raise ValueError(f"population must be >= 2, got {self.population}")
        if self.antithetic and self.population % 2:
            raise ValueError(f"antithetic sampling needs an even population, got {self.population}")
        if self.sigma <= 0 or self.lr <= 0:
            raise ValueError("sigma and lr must be > 0")
        if self.workers < 1 or self.episodes_per_eval < 1:
            raise ValueError("workers and episodes_per_eval must be >= 1")
        if self.backend == "serial" and self.workers != 1:
            raise ValueError(
                "backend=serial runs in this process: set workers=1 or a parallel backend"
            )

    @property
    def n_seeds(self) -> int:
        return self.population // 2 if self.antithetic else self.population

    @property
    def signs(self) -> tuple[float, ...]:
        return (1.0, -1.0) if self.antithetic else (1.0,)


def generation_seeds(base_seed: int, generation: int, count: int) -> np.ndarray:
    """The shared seed list of one generation: a pure function of (run seed, generation)."""
    return np.random.SeedSequence([base_seed, generation, 0]).generate_state(count)


def episode_seeds(base_seed: int, generation: int, count: int) -> np.ndarray:
    """Env reset seeds shared by every member of a generation (common random numbers)."""
    return np.random.SeedSequence([base_seed, generation, 1]).generate_state(count) >> 1


def noise(seed: int, size: int) -> np.ndarray:
    """The standard-normal perturbation of one seed (float32, identical in every process)."""
    return np.random.default_rng(int(seed)).standard_normal(size, dtype=np.float32)


def action_seeds(seed: int, sign_index: int, episodes: int) -> np.ndarray:
    """Per-episode action-noise seeds of one member (used only by sampling action rules)."""
    return np.random.default_rng([int(seed), sign_index]).integers(0, 2**31 - 1, size=episodes)


def centered_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-0.5, 0.5]; tied values share their average rank, so a tied
    antithetic pair contributes nothing (the paper's fitness shaping)."""
    flat = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="stable")
    ranks = np.empty(len(flat), dtype=np.float64)
    ranks[order] = np.arange(len(flat), dtype=np.float64)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = sums[inverse] / counts[inverse]
    ranks = ranks / (len(flat) - 1) - 0.5 if len(flat) > 1 else np.zeros_like(ranks)
    return ranks.reshape(np.shape(x))


class ESCore:
    """Parent vector + optimizer state; `step` applies one generation's update."""

    def __init__(self, theta: np.ndarray, p: ESParams, base_seed: int):
        self.p, self.base_seed = p, base_seed
        self.theta = np.asarray(theta, dtype=np.float32).copy()
        self.m = np.zeros_like(self.theta, dtype=np.float64)  # adam first moment / sgd velocity
        self.v = np.zeros_like(self.theta, dtype=np.float64)  # adam second moment
        self.t = 0

    def members(self, generation: int, seed_index: int) -> np.ndarray:
        """Parameter vectors of the members using seed `seed_index` (one per sign)."""
        seed = generation_seeds(self.base_seed, generation, self.p.n_seeds)[seed_index]
        eps = noise(seed, self.theta.size)
        return np.stack([self.theta + s * self.p.sigma * eps for s in self.p.signs])

    def gradient(self, generation: int, fitness: np.ndarray) -> np.ndarray:
        """Search-gradient estimate (salimans) or the book's weighted noise sum, from the
        (n_seeds, n_signs) fitness table and the regenerated noise."""
        p = self.p
        seeds = generation_seeds(self.base_seed, generation, p.n_seeds)
        signs = np.array(p.signs)
        if p.update == "book":
            total = fitness.sum()
            weights = fitness / total if total != 0 else np.zeros_like(fitness)
            coeffs = (weights * signs).sum(axis=1) * p.sigma
        else:
            shaped = centered_ranks(fitness) if p.fitness_shaping == "centered_rank" else fitness
            coeffs = (shaped * signs).sum(axis=1) / (p.population * p.sigma)
        grad = np.zeros(self.theta.size, dtype=np.float64)
        for seed, c in zip(seeds, coeffs, strict=True):
            if c != 0.0:
                grad += c * noise(seed, self.theta.size)
        return grad

    def step(self, generation: int, fitness: np.ndarray) -> dict[str, float]:
        """Apply the update of `generation` given its fitness table; returns norms for logging."""
        p = self.p
        grad = self.gradient(generation, np.asarray(fitness, dtype=np.float64))
        if p.update == "book":
            delta = grad
        else:
            grad = grad - p.l2 * self.theta
            self.t += 1
            if p.optimizer == "adam":
                b1, b2, eps = 0.9, 0.999, 1e-8
                self.m = b1 * self.m + (1 - b1) * grad
                self.v = b2 * self.v + (1 - b2) * grad * grad
                a = p.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
                delta = a * self.m / (np.sqrt(self.v) + eps)
            else:
                self.m = p.momentum * self.m + (1 - p.momentum) * grad
                delta = p.lr * self.m
        self.theta = (self.theta + delta).astype(np.float32)
        return {
            "grad_norm": float(np.linalg.norm(grad)),
            "update_norm": float(np.linalg.norm(delta)),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.copy(), "m": self.m.copy(), "v": self.v.copy(), "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        theta = np.asarray(state["theta"], dtype=np.float32)
        if theta.shape != self.theta.shape:
            raise ValueError(f"parent has {theta.size} parameters, this net has {self.theta.size}")
        self.theta = theta.copy()
        self.m = np.asarray(state["m"], dtype=np.float64).copy()
        self.v = np.asarray(state["v"], dtype=np.float64).copy()
        self.t = int(state["t"])
