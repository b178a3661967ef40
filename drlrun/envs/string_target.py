"""The book's string-matching problem (ch. 6.2): evolve a string towards a target.

Not an environment an agent acts in, but a fitness target: `fitness(strings)` scores candidates
in [0, 1], with `difflib.SequenceMatcher(...).ratio()` as the book (`fitness=sequence_matcher`) or
as the fraction of positions that hold the target's character (`fitness=positional`). Only
`algo=ga` can use it; any other algorithm asking for spaces gets one clear error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from drlrun.envs.base import provides
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register

BOOK_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,.! "
FITNESSES = ("sequence_matcher", "positional")


@dataclass
class StringTargetParams:
    target: str = "Hello World!"
    alphabet: str = BOOK_ALPHABET
    length: int | None = None  # candidate length; null: len(target), as in the book's run
    # sequence_matcher (book): rewards shifted substrings, so 'Hllo World!D' scores 11/12 and the
    # way out is many simultaneous substitutions; positional: one character fixes one position
    fitness: str = "sequence_matcher"

    def __post_init__(self) -> None:
        if not self.target:
            raise ValueError("target must be a non-empty string")
        if len(set(self.alphabet)) != len(self.alphabet) or len(self.alphabet) < 2:
            raise ValueError("alphabet must hold at least 2 distinct characters")
        if missing := sorted(set(self.target) - set(self.alphabet)):
            raise ValueError(f"the target uses characters missing from the alphabet: {missing}")
        if self.length is not None and self.length < 1:
            raise ValueError("length must be >= 1")
        if self.fitness not in FITNESSES:
            raise ValueError(f"fitness must be one of {', '.join(FITNESSES)}, got {self.fitness!r}")


class StringTarget:
    """Candidates are integer arrays indexing `alphabet`; `fitness` decodes and scores them."""

    kind = "fitness_target"
    frame_skip = 1

    def __init__(self, name: str, p: StringTargetParams):
        self.name, self.target, self.alphabet = name, p.target, p.alphabet
        self.length = p.length if p.length is not None else len(p.target)
        self._chars = np.array(list(p.alphabet))
        self._target_idx = np.array([p.alphabet.index(c) for c in p.target], dtype=np.int64)
        self.fitness_kind = p.fitness

    def decode(self, genome: np.ndarray) -> str:
        return "".join(self._chars[np.asarray(genome, dtype=np.int64)])

    def fitness(self, population: np.ndarray) -> np.ndarray:
        """Each row's (an index array's) score against the target, 1.0 for an exact match."""
        if self.fitness_kind == "positional":
            n = min(self.length, len(self._target_idx))
            hits = (np.asarray(population)[:, :n] == self._target_idx[:n]).sum(axis=1)
            return hits / max(self.length, len(self._target_idx))
        return np.array(
            [difflib.SequenceMatcher(None, self.decode(g), self.target).ratio() for g in population]
        )

    def _not_an_env(self) -> DrlrunError:
        return DrlrunError(
            f"env={self.name} is a fitness target, not an environment: only algo=ga can use it"
        )

    @property
    def action_space(self):
        raise self._not_an_env()

    @property
    def observation_space(self):
        raise self._not_an_env()

    def make_vec(self):
        raise self._not_an_env()

    def make_eval(self, render: bool = False):
        raise self._not_an_env()

    def close(self) -> None:
        """Nothing to release."""


@register("env", "string_target")
@provides("fitness")
def build_string_target(cfg) -> StringTarget:
    return StringTarget(cfg.name, from_cfg(StringTargetParams, cfg, "env"))
