"""MAgent battle (book ch. 9.4) on magent2's `battle_v4`, with everything the book relied on set
explicitly: map size, team sizes and placement, minimap mode and the observation channels.

magent2's defaults differ from the book's MAgent: map 45 with 81 agents per team, and without
the minimap the view has 5 channels (wall, own presence, own HP, opponent presence, opponent HP),
so opponent presence is channel 3, not 4. The `battle_v4` PettingZoo env is built with a
placement override; the batched `TeamEnv` face reads and writes whole teams through its
GridWorld engine (one array per team, no per-agent dicts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from drlrun.envs.base import provides
from drlrun.envs.multiagent import MultiAgentEnvFactory, TeamStep, one_hot
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register

try:
    from magent2.environments.battle.battle import _parallel_env as _BattleBase
except ImportError:  # pragma: no cover - the magent extra is optional
    _BattleBase = None

OWN_HP = 2  # channel of the agent's own team HP in the view (both minimap modes)


@dataclass
class BattleParams:
    map_size: int = 30
    team_size: int = 16
    placement: Literal["book", "battle_v4"] = "book"  # book: two sqrt(n) x sqrt(n) squares
    gap: int = 1  # book Listing 9.14: columns between the map centre and each square
    minimap_mode: bool = False
    obs_channels: list[int] = field(default_factory=lambda: [1, 3])  # own, opponent presence
    max_steps: int = 250  # the book's step cap per battle
    neighbour_radius: int = 7  # mean field over own-team agents at Manhattan distance < r
    step_reward: float = -0.005
    dead_penalty: float = -0.1
    attack_penalty: float = -0.1
    attack_opponent_reward: float = 0.2

    def __post_init__(self) -> None:
        if self.map_size < 12:
            raise ValueError("map_size must be >= 12 (battle_v4)")
        if self.team_size < 1 or self.max_steps < 1 or self.neighbour_radius < 1:
            raise ValueError("team_size, max_steps and neighbour_radius must be >= 1")
        channels = 7 if self.minimap_mode else 5
        if not self.obs_channels or any(not 0 <= c < channels for c in self.obs_channels):
            raise ValueError(f"obs_channels must index the {channels} view channels")


def book_positions(map_size: int, n: int, gap: int) -> tuple[list[list[int]], list[list[int]]]:
    """Listing 9.14: two squares of agents 2 cells apart left and right of the centre."""
    side = int(math.sqrt(n)) * 2
    ys = range((map_size - side) // 2, (map_size - side) // 2 + side, 2)
    left = range(map_size // 2 - gap - side, map_size // 2 - gap, 2)
    right = range(map_size // 2 + gap, map_size // 2 + gap + side, 2)
    team1 = [[x, y, 0] for x in left for y in ys][:n]
    team2 = [[x, y, 0] for x in right for y in ys][:n]
    if len(team1) < n or len(team2) < n or min(left) < 1 or max(right) > map_size - 2:
        raise DrlrunError(f"{n} agents per team do not fit a book placement on map {map_size}")
    return team1, team2


def _battle_class(p: BattleParams) -> type:
    class PlacedBattle(_BattleBase):  # type: ignore[misc, valid-type]
        """battle_v4 with the configured team sizes and placement."""

        def generate_map(self) -> None:
            if p.placement == "battle_v4":
                super().generate_map()
                return
            team1, team2 = book_positions(self.map_size, p.team_size, p.gap)
            self.env.add_agents(self.handles[0], method="custom", pos=team1)
            self.env.add_agents(self.handles[1], method="custom", pos=team2)

    return PlacedBattle


def make_parallel(p: BattleParams, render_mode: str | None = None) -> Any:
    """The PettingZoo `battle_v4` parallel env with this config's map, teams and rewards."""
    if _BattleBase is None:
        raise DrlrunError("env=magent_battle needs magent2: pip install drlrun[magent]")
    rewards = {
        "step_reward": p.step_reward,
        "dead_penalty": p.dead_penalty,
        "attack_penalty": p.attack_penalty,
        "attack_opponent_reward": p.attack_opponent_reward,
    }
    return _battle_class(p)(p.map_size, p.minimap_mode, rewards, p.max_steps, False, render_mode)


class BattleTeams:
    """The batched face of a battle: per team, rows are its living agents in engine order."""

    teams = ("red", "blue")
    n_neighbours = 0  # neighbourhoods change every step: no fixed joint action

    def __init__(self, p: BattleParams):
        self.p = p
        self.penv = make_parallel(p)
        self.gw, self.handles = self.penv.env, self.penv.handles
        self.n_actions = int(self.gw.get_action_space(self.handles[0])[0])
        view = self.gw.get_view_space(self.handles[0])
        self.view_shape = (view[0], view[1], len(p.obs_channels))
        self.obs_dim = int(np.prod(self.view_shape))
        self.channels = np.asarray(p.obs_channels)
        self.t = 0
        self.start = [0, 0]

    def _views(self) -> list[np.ndarray]:
        return [self.gw.get_observation(h)[0] for h in self.handles]

    def _obs(self, view: np.ndarray) -> np.ndarray:
        return view[..., self.channels].reshape(len(view), -1).astype(np.float32)

    def reset(self, seed: int) -> list[np.ndarray]:
        self.penv.reset(seed=int(seed))
        self.t = 0
        self.start = [int(self.gw.get_num(h)) for h in self.handles]
        return [self._obs(v) for v in self._views()]

    def initial_actions(self, team: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.n_actions, size=int(self.gw.get_num(self.handles[team])))

    def _mean_field(self, pos: np.ndarray, alive: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Mean one-hot action of each agent's living teammates within the Manhattan radius
        (book `get_mean_field`); a zero vector for an agent without neighbours."""
        dist = np.abs(pos[:, None, :] - pos[None, :, :]).sum(axis=2)
        near = (dist < self.p.neighbour_radius) & alive[None, :]
        np.fill_diagonal(near, False)
        counts = near.sum(axis=1, keepdims=True)
        total = near.astype(np.float32) @ one_hot(actions, self.n_actions)
        return np.where(counts > 0, total / np.maximum(counts, 1), 0.0).astype(np.float32)

    def mean_field(self, team: int, actions: np.ndarray) -> np.ndarray:
        pos = self.gw.get_pos(self.handles[team])
        return self._mean_field(pos, np.ones(len(pos), bool), actions)

    def joint_index(self, team: int, actions: np.ndarray) -> np.ndarray:
        raise DrlrunError("env=magent_battle has no fixed neighbourhood: use algo=mfq or algo=iq")

    def step(self, actions: list[np.ndarray]) -> tuple[list[TeamStep], bool, dict[str, float]]:
        for handle, act in zip(self.handles, actions, strict=True):
            self.gw.set_action(handle, np.ascontiguousarray(act, dtype=np.int32))
        engine_done = self.gw.step()
        self.t += 1
        steps = []
        hp = []
        for handle, act, view in zip(self.handles, actions, self._views(), strict=True):
            alive = self.gw.get_alive(handle).copy()
            pos = self.gw.get_pos(handle)
            steps.append(
                TeamStep(
                    obs=self._obs(view),
                    reward=self.gw.get_reward(handle).astype(np.float32),
                    done=~alive,
                    mf_next=self._mean_field(pos, alive, np.asarray(act)),
                    alive=alive,
                )
            )
            centre = view.shape[1] // 2
            hp.append(float(view[alive, centre, centre, OWN_HP].sum()))
        self.gw.clear_dead()
        left = [int(self.gw.get_num(h)) for h in self.handles]
        over = engine_done or self.t >= self.p.max_steps or min(left) == 0
        info: dict[str, float] = {}
        if over:
            info = {
                "win": float(left[0] > left[1]),
                "draw": float(left[0] == left[1]),
                "loss": float(left[0] < left[1]),
                "kills": float(self.start[1] - left[1]),
                "deaths": float(self.start[0] - left[0]),
                "surviving_hp": hp[0],
                "opponent_hp": hp[1],
                "battle_length": float(self.t),
            }
        return steps, over, info

    def minimap(self) -> np.ndarray:
        """(map, map, 2) occupancy per team, [y, x, team] (book Fig. 9.24). Built from positions:
        the engine's global minimap lists the groups in the opposite order."""
        out = np.zeros((self.p.map_size, self.p.map_size, 2), np.float32)
        for team, handle in enumerate(self.handles):
            pos = self.gw.get_pos(handle)
            out[pos[:, 1], pos[:, 0], team] = 1.0
        return out

    def render(self) -> np.ndarray:
        """An RGB frame of the minimap: team 0 red, team 1 blue, 8 px per cell."""
        mm = self.minimap()
        rgb = np.full((*mm.shape[:2], 3), 235, np.uint8)
        rgb[mm[..., 0] > 0] = (214, 39, 40)
        rgb[mm[..., 1] > 0] = (31, 119, 180)
        return np.repeat(np.repeat(rgb, 8, axis=0), 8, axis=1)

    def close(self) -> None:
        self.penv.close()


@register("env", "magent_battle")
@provides("teams")
def build_magent_battle(cfg: Any) -> MultiAgentEnvFactory:
    p = from_cfg(BattleParams, cfg, "env")
    if _BattleBase is None:
        raise DrlrunError("env=magent_battle needs magent2: pip install drlrun[magent]")
    return MultiAgentEnvFactory(
        name=str(cfg.name),
        make=lambda eval_mode, render: BattleTeams(p),
        make_parallel=lambda: make_parallel(p),
        info={"family": "magent"},
    )
