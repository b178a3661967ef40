"""Who plays the other side of an evaluation battle (book ch. 9 MAgent), and how a battle's
outcome reads from the second side: `eval.opponent` random | self | checkpoint:<path>."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlrun import checkpoint
from drlrun.algos.marl.core import PolicySpec, infer_actions
from drlrun.errors import DrlrunError
from drlrun.nets.team import TeamQNet


def parse_opponent(text: str) -> tuple[str, str | None]:
    """'random' | 'self' | 'checkpoint:<path>' -> (kind, path)."""
    if text in ("random", "self"):
        return text, None
    if text.startswith("checkpoint:") and len(text) > len("checkpoint:"):
        return "checkpoint", text.split(":", 1)[1]
    raise ValueError(f"eval.opponent must be random, self or checkpoint:<path>, got {text!r}")


def swap_outcome(info: dict[str, float]) -> dict[str, float]:
    """A battle outcome seen from the second team."""
    pairs = (("win", "loss"), ("kills", "deaths"), ("surviving_hp", "opponent_hp"))
    out = dict(info)
    for a, b in pairs:
        if a in info:
            out[a], out[b] = info[b], info[a]
    return out


class QController:
    """Plays a run's policy: on each side the network that run trained on that side.

    A battle view is egocentric but not mirrored (team 0 sees its enemies to the right, team 1
    to the left), so a network only knows the side it learned on; `nets[side]` is that network,
    and a run that trained one side (train_opponent=random) can play only that side."""

    def __init__(self, spec: PolicySpec, nets: list[TeamQNet], temperature: float):
        self.spec, self.nets, self.temperature = spec, nets, temperature

    def plays(self, side: int) -> bool:
        return side < len(self.nets)

    def act(self, env: Any, team: int, obs: np.ndarray, prev: np.ndarray, rng) -> np.ndarray:
        net = self.nets[team]
        group = None if net.groups == 1 else torch.arange(len(obs), device=net.weights[0].device)
        return infer_actions(self.spec, net, env, team, obs, prev, self.temperature, rng, group)[0]


class RandomController:
    def __init__(self, n_actions: int):
        self.n_actions = n_actions

    def plays(self, side: int) -> bool:
        return True

    def act(self, env: Any, team: int, obs: np.ndarray, prev: np.ndarray, rng) -> np.ndarray:
        return rng.integers(0, self.n_actions, size=len(obs))


def load_opponent(path: str, temperature: float) -> QController:
    """The opponent of evaluation battles from another run's checkpoint: its per-side networks
    (checkpoints written before those were exported hold the first side's only)."""
    file = Path(path)
    if file.is_dir():
        found = checkpoint.latest(file / "checkpoints") or checkpoint.latest(file)
        if found is None:
            raise DrlrunError(f"eval.opponent: {path} holds no checkpoint")
        file = found
    state = checkpoint.load(file)
    try:
        export = state["algo"]["export"]
    except KeyError:
        raise DrlrunError(f"eval.opponent: {file} is not a multi-agent Q checkpoint") from None
    nets = []
    for weights in export.get("side_nets", [export["net"]]):
        nets.append(TeamQNet(**export["net_args"]))
        nets[-1].load_state_dict(weights)
    fixed = export.get("temperature")  # actor-critic policies sample their own softmax (T = 1)
    return QController(PolicySpec(**export["spec"]), nets, temperature if fixed is None else fixed)
