"""Validation of the top-level config keys the runner reads (seed, budget, eval, checkpoint, log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from omegaconf import DictConfig

from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.tracking import check_backends

if TYPE_CHECKING:  # the runner imports torch; validate() must not (config errors answer fast)
    from drlrun.runner import RunnerSettings


@dataclass
class Budget:
    frames: int | None = None
    iterations: int | None = None
    seconds: float | None = None


@dataclass
class Eval:
    every: int = 10_000
    episodes: int = 10
    epsilon: float = 0.0
    opponent: str = "random"  # multi-agent battles: random | self | checkpoint:<path>


@dataclass
class Checkpoint:
    every: int = 10_000
    keep: int = 3


@dataclass
class Log:
    every: int = 1000
    csv: bool = True
    tensorboard: bool = True
    progress: bool = True
    backend: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)  # extra probes (plugins), drlrun.viz.probe


@dataclass
class Device:
    kind: str = "auto"
    threads: int = 0
    channels_last: bool = False  # image batches and conv weights in NHWC memory format
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: torsos under autocast (nets.base)


@dataclass
class TopLevel:
    seed: int = 0
    resume: Any = False
    fidelity: str = "fixed"
    book: dict[str, float] = field(default_factory=dict)  # reported numbers, for drlrun-report
    budget: Budget = field(default_factory=Budget)
    eval: Eval = field(default_factory=Eval)
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    log: Log = field(default_factory=Log)
    device: Device = field(default_factory=Device)


GROUP_KEYS = ("algo", "net", "env", "data", "curiosity", "book_switches")


def validate(cfg: DictConfig) -> TopLevel:
    """Check types and ranges of the top-level keys; one DrlrunError names the first problem."""
    top = {k: v for k, v in cfg.items() if k not in GROUP_KEYS}
    t = from_cfg(TopLevel, top, "config", ignore=())
    b = t.budget
    if b.frames is None and b.iterations is None and b.seconds is None:
        raise DrlrunError("set a budget: budget.frames, budget.iterations or budget.seconds")
    for key in ("frames", "iterations", "seconds"):
        value = getattr(b, key)
        if value is not None and value <= 0:
            raise DrlrunError(f"budget.{key} must be > 0, got {value}")
    if t.fidelity not in ("book", "fixed"):
        raise DrlrunError(f"fidelity must be book or fixed, got {t.fidelity!r}")
    if t.seed < 0:
        raise DrlrunError(f"seed must be >= 0 (numpy seeds are unsigned), got {t.seed}")
    if t.checkpoint.keep < 1:
        raise DrlrunError("checkpoint.keep must be >= 1")
    if t.checkpoint.every < 0:
        raise DrlrunError(
            f"checkpoint.every must be >= 0 (0: only the final checkpoint), got {t.checkpoint.every}"
        )
    if t.eval.episodes < 0 or t.eval.every < 0 or t.log.every < 1:
        raise DrlrunError("eval.episodes and eval.every must be >= 0, log.every >= 1")
    if t.eval.episodes == 0 and t.eval.every > 0:
        raise DrlrunError(
            f"eval.every={t.eval.every} evaluates 0 episodes (eval.episodes=0): set "
            "eval.episodes >= 1, or eval.every=0 as well to turn evaluation off"
        )
    check_backends(t.log.backend)
    if not 0.0 <= t.eval.epsilon <= 1.0:
        raise DrlrunError(f"eval.epsilon must be in [0, 1], got {t.eval.epsilon}")
    return t


def runner_settings(t: TopLevel, frame_skip: int) -> RunnerSettings:
    from drlrun.runner import RunnerSettings

    return RunnerSettings(
        seed=t.seed,
        budget_frames=t.budget.frames,
        budget_iterations=t.budget.iterations,
        budget_seconds=t.budget.seconds,
        eval_every=t.eval.every,
        eval_episodes=t.eval.episodes,
        eval_epsilon=t.eval.epsilon,
        ckpt_every=t.checkpoint.every,
        ckpt_keep=t.checkpoint.keep,
        log_every=t.log.every,
        log_csv=t.log.csv,
        log_tensorboard=t.log.tensorboard,
        log_progress=t.log.progress,
        frame_skip=frame_skip,
        log_backends=tuple(t.log.backend),
        log_probes=tuple(t.log.probes),
        fidelity=t.fidelity,
    )
