"""What a multi-agent env builder returns: `MultiAgentEnvFactory`, beside the single-agent
`EnvFactory`.

Multi-agent families (Ising grids, MAgent battle) expose two faces of the same game:
- a PettingZoo `ParallelEnv` (dict per agent), the ecosystem's convention, for users and tests;
- a batched array face, `TeamEnv`, that the multi-agent algorithms drive: every call takes and
  returns one numpy array per team, so acting and learning never loop over agents in Python.

The generic runner never touches either: the algorithm owns its envs, as GA and ES do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from drlrun.errors import DrlrunError

try:  # PettingZoo is the magent extra; the Ising grids work without it
    from pettingzoo import ParallelEnv as ParallelBase
except ImportError:  # pragma: no cover - depends on the installed extras
    ParallelBase = object  # type: ignore[misc, assignment]


@dataclass
class TeamStep:
    """One team's view of one env step, rows in the order the team acted.

    `alive` marks the rows that still act at the next step (the new `obs` are `obs[alive]`);
    `mf_next` is each row's mean neighbour action in the state after the step (the mean field
    V(s') is computed from); `done` is True where the agent's own episode ended (killed)."""

    obs: np.ndarray  # (n, obs_dim) float32 observation after the step
    reward: np.ndarray  # (n,) float32
    done: np.ndarray  # (n,) bool
    mf_next: np.ndarray  # (n, A) float32
    alive: np.ndarray  # (n,) bool


class TeamEnv(Protocol):
    """The batched face of a multi-agent game: one array per team for every call."""

    teams: tuple[str, ...]
    n_actions: int
    obs_dim: int
    n_neighbours: int  # neighbours in the joint action (neighbourhood Q); 0 if not supported

    def reset(self, seed: int) -> list[np.ndarray]: ...
    def initial_actions(self, team: int, rng: np.random.Generator) -> np.ndarray: ...
    def mean_field(self, team: int, actions: np.ndarray) -> np.ndarray: ...
    def joint_index(self, team: int, actions: np.ndarray) -> np.ndarray: ...
    def step(self, actions: list[np.ndarray]) -> tuple[list[TeamStep], bool, dict[str, float]]: ...
    def close(self) -> None: ...


@dataclass
class MultiAgentEnvFactory:
    """Builds identical batched multi-agent envs for training and evaluation.

    `make(eval_mode, render)` returns a `TeamEnv`; `make_parallel()` the PettingZoo
    `ParallelEnv` over the same game. Single-agent algorithms get one clear error."""

    name: str
    make: Callable[[bool, bool], Any]
    make_parallel: Callable[[], Any]
    kind: str = "multiagent"
    frame_skip: int = 1
    info: dict[str, Any] = field(default_factory=dict)
    _probe: Any = field(default=None, repr=False)

    def probe(self) -> Any:
        """A TeamEnv kept for its sizes (teams, actions, observation length)."""
        if self._probe is None:
            self._probe = self.make(False, False)
        return self._probe

    def _single_agent(self) -> DrlrunError:
        return DrlrunError(
            f"env={self.name} is multi-agent: use algo=mfq, algo=nq, algo=iq or algo=mfac"
        )

    @property
    def observation_space(self):
        raise self._single_agent()

    @property
    def action_space(self):
        raise self._single_agent()

    def make_vec(self):
        raise self._single_agent()

    def make_eval(self, render: bool = False):
        raise self._single_agent()

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None


def one_hot(actions: np.ndarray, n: int) -> np.ndarray:
    """(..., ) int actions -> (..., n) float32 one-hot rows."""
    out = np.zeros((*actions.shape, n), dtype=np.float32)
    np.put_along_axis(out, actions[..., None].astype(np.int64), 1.0, axis=-1)
    return out


def joint_action_index(neighbour_actions: np.ndarray, n_actions: int) -> np.ndarray:
    """Index of the flattened outer product of the neighbours' one-hot actions.

    `neighbour_actions` is (n, k): `[0,0,0,1] (x) [0,1,0,0]` (actions 3 then 1, 4 actions) is the
    4x4 matrix with its 1 at (3, 1), flattened index 3*4 + 1 = 13 (book ch. 9)."""
    k = neighbour_actions.shape[1]
    weights = n_actions ** np.arange(k - 1, -1, -1, dtype=np.int64)
    return neighbour_actions.astype(np.int64) @ weights
