"""Genetic-algorithm operators on numpy genomes (book ch. 6): parent selection, single-point
crossover and mutation. Each takes the caller's generator, so a run is reproducible."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from drlrun.errors import DrlrunError

CountRule = Literal["truncate", "at_least_one", "bernoulli"]


def proportional_parents(
    fitness: np.ndarray, rng: np.random.Generator, epsilon: float = 0.0
) -> tuple[int, int]:
    """Two independent draws with probability proportional to fitness (+ epsilon), like the
    book's `random.choices(pop, k=2, weights=fitness)`; the same parent may come twice."""
    weights = np.asarray(fitness, dtype=np.float64) + epsilon
    if np.any(weights < 0):
        raise DrlrunError(
            "fitness-proportional selection needs non-negative fitness; use "
            "algo.selection=tournament for fitness that can be negative"
        )
    total = weights.sum()
    if total <= 0:
        raise DrlrunError(
            "every fitness is 0, so fitness-proportional weights are all zero (the book's code "
            "raises here); set algo.fitness_epsilon > 0 or use a larger algo.population"
        )
    i, j = rng.choice(len(weights), size=2, p=weights / total)
    return int(i), int(j)


def tournament_draws(population: int, fraction: float) -> int:
    """How many entrants the book's tournament draws: int(fraction * population)."""
    return int(fraction * population)


def check_tournament(population: int, fraction: float, replacement: bool) -> None:
    """Reject settings under which a tournament cannot produce two parents."""
    if population < 2:
        raise DrlrunError(f"algo.population must be >= 2 for two parents, got {population}")
    if not 0.0 < fraction <= 1.0:
        raise DrlrunError(f"algo.tournament_size is a fraction in (0, 1], got {fraction}")
    if replacement and tournament_draws(population, fraction) < 2:
        raise DrlrunError(
            f"a tournament of int({fraction} * {population}) = "
            f"{tournament_draws(population, fraction)} entrants cannot give two parents (the "
            "book's code fails with IndexError); raise algo.tournament_size or set "
            "algo.tournament_replacement=false, which always holds >= 2 entrants"
        )


def tournament_parents(
    fitness: np.ndarray, rng: np.random.Generator, fraction: float, replacement: bool
) -> tuple[int, int]:
    """The two fittest of a random subset (Fig. 6.8). replacement=True is the book's draw:
    int(fraction * N) indices with replacement, duplicates merged (redrawn if fewer than two
    distinct remain). replacement=False draws max(2, int(fraction * N)) distinct entrants."""
    n = len(fitness)
    if replacement:
        draws = tournament_draws(n, fraction)
        while True:
            members = np.unique(rng.integers(0, n, size=draws))
            if len(members) >= 2:
                break
    else:
        size = min(n, max(2, tournament_draws(n, fraction)))
        members = np.sort(rng.choice(n, size=size, replace=False))
    # ascending by fitness, stable: among ties the higher index ranks higher, as in the book
    ranked = members[np.argsort(fitness[members], kind="stable")]
    return int(ranked[-1]), int(ranked[-2])


def crossover(a: np.ndarray, b: np.ndarray, point: int) -> tuple[np.ndarray, np.ndarray]:
    """Single-point crossover: (a[:p] + b[p:], b[:p] + a[p:])."""
    return (np.concatenate([a[:point], b[point:]]), np.concatenate([b[:point], a[point:]]))


def mutation_indices(
    size: int, rate: float, rule: CountRule, rng: np.random.Generator
) -> np.ndarray:
    """Which genes to mutate. truncate: int(rate * size) indices drawn with replacement (the
    book; rate 0.001 on 407 genes gives 0); at_least_one: max(1, round(rate * size)) distinct
    indices; bernoulli: each gene independently with probability rate."""
    if rule == "truncate":
        return rng.integers(0, size, size=int(rate * size))
    if rule == "at_least_one":
        count = min(size, max(1, round(rate * size)))
        return rng.choice(size, size=count, replace=False)
    return np.flatnonzero(rng.random(size) < rate)


def mutate(
    genome: np.ndarray,
    idx: np.ndarray,
    new_values: Callable[[int], np.ndarray],
    additive: bool,
) -> np.ndarray:
    """A copy of `genome` with genes `idx` reset to (or, if additive, shifted by) new values."""
    child = genome.copy()
    if len(idx):
        values = new_values(len(idx)).astype(child.dtype)
        if additive:
            np.add.at(child, idx, values)
        else:
            child[idx] = values
    return child
