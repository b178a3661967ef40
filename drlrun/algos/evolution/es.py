"""Evolution strategies (book 6.5; Salimans et al. 2017): one `train_step` is one generation.

A generation perturbs the parent with shared-seed Gaussian noise (antithetic pairs by default),
scores every member on the env, and moves the parent along the fitness-weighted noise: the
paper's centred-rank gradient estimate through Adam or SGD, or the book's literal
fitness-weighted average (`update: book`). Members are evaluated by a backend (`serial`,
`process`, `ray`) whose replicas exchange only (seed index, fitness) scalars.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drlrun.algos.accepts import accepts
from drlrun.algos.base import Recorder, RunContext, Tensors, TrainResult
from drlrun.algos.evolution.backends import WorkerSpec, make_backend
from drlrun.algos.evolution.common import Evolution
from drlrun.algos.evolution.es_core import ESCore, ESParams
from drlrun.algos.evolution.population import VectorPlayer
from drlrun.envs.base import EnvFactory
from drlrun.nets.flat import FlatParams
from drlrun.nets.policy import build_policy
from drlrun.params import from_cfg
from drlrun.registry import register


class ES(Evolution):
    def __init__(self, p: ESParams, env: EnvFactory, ctx: RunContext):
        super().__init__()
        self.p, self.env = p, env
        self.policy, self.actions = build_policy(ctx.net_cfg, env, p.action)
        self.flat = FlatParams(self.policy)
        self.core = ESCore(self.flat.get(), p, ctx.seed)
        self.backend = make_backend(WorkerSpec(env, self.policy, p, ctx.seed))
        self.backend.sync(self.core.state_dict())
        self.player = VectorPlayer(env, self.flat, self.actions)

    def train_step(self) -> TrainResult:
        g = self.generation
        table, steps = self.backend.evaluate(g)
        self.backend.apply(g, table)
        norms = self.core.step(g, table)
        self.frames += steps
        self.generation += 1
        return TrainResult(
            {
                **self.record(g, table),
                "theta_norm": float(np.linalg.norm(self.core.theta)),
                "wire_bytes_sent_per_worker": float(self.backend.wire_sent),
                "wire_bytes_received_per_worker": float(self.backend.wire_received),
                **norms,
            }
        )

    def evaluate(
        self, episodes: int, seed: int, epsilon: float = 0.0, recorder: Recorder | None = None
    ) -> dict[str, float]:
        """Scores the parent (the mean of the search distribution); `epsilon` does not apply."""
        return self.player.play(self.core.theta, episodes, seed, recorder)

    def named_tensors(self) -> Tensors:
        return {"theta": self.core.theta}

    @property
    def theta(self) -> np.ndarray:
        return self.core.theta

    def state_dict(self) -> dict[str, Any]:
        return {"core": self.core.state_dict(), **self.counters_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.core.load_state_dict(state["core"])
        self.backend.sync(self.core.state_dict())
        self.load_counters(state)

    def fitness_title(self) -> str:
        return f"ES ({self.p.update} update, {self.p.backend} x{self.backend.workers})"

    def close(self) -> None:
        self.backend.close()
        self.player.close()


@register("algo", "es")
@accepts(nets="feedforward")
def build_es(cfg, env, ctx: RunContext) -> ES:
    # session.build refuses a non-env task (accepts' default tasks=("env",)) before building it
    return ES(from_cfg(ESParams, cfg, "algo"), env, ctx)
