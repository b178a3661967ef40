"""The algorithm interface the runner drives, and the shared evaluation loop."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from drlrun.envs.vector import Episode, SyncVecEnv
from drlrun.errors import DrlrunError
from drlrun.viz.probe import FrameView, Probe, frame_probes

if TYPE_CHECKING:
    from drlrun.replay_store import RingReplay

Recorder = Callable[[np.ndarray, int], None]
Tensors = Mapping[str, "torch.Tensor | np.ndarray"]


@dataclass
class RunContext:
    """What a builder may need beyond its own config block."""

    seed: int
    device: torch.device
    budget_frames: int | None
    net_cfg: Any
    run_dir: Path | None = None
    curiosity_cfg: Any = None  # the `curiosity` group (DQN-family learners take it)
    channels_last: bool = False  # device.channels_last: conv torsos run in NHWC memory
    precision: str = "fp32"  # device.precision: bf16 runs torsos under autocast


@dataclass
class TrainResult:
    """What one `train_step` did: scalar metrics (averaged by the logger) and finished episodes."""

    metrics: dict[str, float] = field(default_factory=dict)
    episodes: list[Episode] = field(default_factory=list)


class Algorithm(ABC):
    """One learner. The runner calls `train_step` until the budget is spent; an algorithm never
    opens files or parses config (its builder does), it returns numbers."""

    frames: int = 0  # environment steps taken by the agent so far
    finished: bool = False  # set when the algorithm is done early (e.g. a GA found its target)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every family's `evaluate` takes the same arguments (drlrun-eval and the runner call
        them all alike); a different signature is refused when the class is defined."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("evaluate")
        if own is not None and _parameters(own) != _parameters(Algorithm.evaluate):
            raise TypeError(
                f"{cls.__qualname__}.evaluate{inspect.signature(own)} must take the arguments "
                f"of Algorithm.evaluate{inspect.signature(Algorithm.evaluate)}"
            )

    @abstractmethod
    def train_step(self) -> TrainResult: ...

    @abstractmethod
    def evaluate(
        self, episodes: int, seed: int, epsilon: float = 0.0, recorder: Recorder | None = None
    ) -> dict[str, float]:
        """Play `episodes` episodes; `recorder(frame, episode)` receives rendered RGB frames.

        Returns at least `eval_return_mean`, `eval_return_std` and `eval_episodes`; a family
        that cannot record raises DrlrunError when given a recorder (`no_video`)."""

    def named_tensors(self) -> Tensors:
        """The learned parameters (name -> tensor or array, not copies) the runner checks are
        finite before it writes a checkpoint. Every family names its own; empty: nothing to check."""
        return {}

    def describe_eval(self, metrics: Mapping[str, float]) -> str:
        """drlrun-eval's one-line result (supervised says accuracy, not return)."""
        return (
            f"return {metrics['eval_return_mean']:.2f} +- {metrics['eval_return_std']:.2f} "
            f"over {int(metrics['eval_episodes'])} episodes"
        )

    @abstractmethod
    def state_dict(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def external_replay(self) -> RingReplay | None:
        """A replay whose ring arrays the runner keeps in the run dir (drlrun.replay_store)
        instead of in the checkpoint; `state_dict()` then holds only its small side state."""
        return None

    def resume_caveats(self) -> list[str]:
        """How continuing from the state just loaded differs from an uninterrupted run (the
        runner logs each once), e.g. a replay that was not checkpointed."""
        return []

    def probes(self) -> list[str]:
        """Names of the registered probes (drlrun.viz.probe) that show this learner: figures at
        the end of a run and overlays on evaluation videos; its parts choose them."""
        return []

    def close(self) -> None:
        """Release environments and workers."""


class EvalEnvs:
    """A learner's evaluation envs, built identically to training's by its env factory: one
    plain env kept between evaluations, and a fresh render-capable one (closed after) for each
    recorded evaluation."""

    def __init__(self, env_factory: Any):
        self.env_factory = env_factory
        self._plain: SyncVecEnv | None = None

    @contextmanager
    def open(self, render: bool) -> Iterator[SyncVecEnv]:
        if not render:
            if self._plain is None:
                self._plain = self.env_factory.make_eval()
            yield self._plain
            return
        env = self.env_factory.make_eval(render=True)
        try:
            yield env
        finally:
            env.close()

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
            self._plain = None


def _parameters(fn: Callable[..., Any]) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """`named_tensors` entries for a module's parameters, named `prefix.<parameter>`."""
    return {f"{prefix}.{name}": param for name, param in module.named_parameters()}


def no_video(what: str) -> DrlrunError:
    """The refusal for `video=true` where nothing can be rendered (raise it)."""
    return DrlrunError(f"{what} has no frames to record; run drlrun-eval without video=true")


Policy = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def run_episodes(
    env: SyncVecEnv,
    policy: Policy,
    episodes: int,
    seed: int,
    recorder: Recorder | None = None,
    probes: Sequence[Probe] = (),
) -> dict[str, float]:
    """Play `episodes` full episodes on a 1-env vector env, seeding episode i with seed + i.

    The policy gets its own generator seeded from `seed`, so evaluation never touches the
    training RNG streams (a resumed run evaluates identically). With a `recorder`, the env
    must render rgb_array frames; each one is passed on with its episode index, after every
    probe's `frame` (drlrun.viz.probe) has drawn on it in order."""
    rng = np.random.default_rng(seed)
    finished: list[Episode] = []
    drawing = frame_probes(probes) if recorder is not None else []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        prev_obs = prev_action = None
        while True:
            if recorder is not None:
                frame = env.envs[0].render()
                view = FrameView(obs, env, i, prev_obs, prev_action)
                for probe in drawing:
                    frame = probe.frame(frame, view)
                recorder(frame, i)
            action = policy(obs, rng)
            if drawing:
                prev_obs, prev_action = obs.copy(), np.asarray(action)
            step = env.step_all(action)
            obs = step.obs
            if step.episodes:
                finished.extend(step.episodes)
                break
    returns = np.array([e.ret for e in finished])
    out = {
        "eval_return_mean": float(returns.mean()),
        "eval_return_std": float(returns.std()),
        "episode_length_mean": float(np.mean([e.length for e in finished])),
        "eval_episodes": float(len(finished)),
    }
    extra_keys = sorted({k for e in finished for k in e.extras})
    for key in extra_keys:
        out[f"eval_{key}"] = float(np.mean([e.extras.get(key, np.nan) for e in finished]))
    if "eval_success" in out:  # goal-reaching envs (MiniGrid): the fraction of solved episodes
        out["success_rate"] = out["eval_success"]
    return out
