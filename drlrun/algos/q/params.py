"""The Q learner's config: one flat `algo` block read into small groups, each beside what
uses it (the core learner here, the loss's keys on the loss, a variant's on the variant).

Keys stay flat (`algo.atoms`, `algo.per_alpha`) so presets and sweeps read as before; a key no
group declares is refused in one line that lists every valid key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from drlrun import registry
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg, to_container


@dataclass
class QParams:
    """The core learner: acting, replay, target syncing, optimiser."""

    objective: str = "scalar"  # the registered loss (algos/q/losses): scalar, c51, qr, ...
    double: bool = False
    dueling: bool = False
    gamma: float = 0.99
    n_step: int = 1
    lr: float = 2.5e-4
    adam_eps: float = 1e-8
    batch_size: int = 128
    buffer_size: int = 10_000
    learning_starts: int = 10_000
    train_freq: int = 10
    gradient_steps: int = 1
    target_update_every: int = 500
    tau: float = 1.0
    max_grad_norm: float | None = None
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_frames: int = 250_000
    eps_decay_fraction: float | None = None
    # ez-greedy (Dabney et al. 2021): an exploring env holds its random action for
    # n ~ Zeta(ez_mu) steps, at most ez_max_duration (the paper: mu 2, 10,000); null: plain
    ez_mu: float | None = None
    ez_max_duration: int = 10_000
    reward_clip: bool = False
    replay_in_checkpoint: Literal["auto", "always", "memmap", "never"] = "auto"
    # auto: the loss's autograd-free kernel and numpy acting for small MLPs on CPU (same maths,
    # ~2x faster; see algos/q/losses/kernel.py); off: always the autograd path
    fast_path: Literal["auto", "off"] = "auto"
    # replay: uniform, or proportional prioritized (Schaul et al. 2016; `replay=prioritized`)
    replay: Literal["uniform", "prioritized"] = "uniform"
    # shift: DrQ's random shift of sampled image batches (algos/q/augment.py), by augment_pad px
    augment: Literal["none", "shift"] = "none"
    augment_pad: int = 4
    # true: the update runs on a worker thread while the next train_freq steps act with the
    # weights before it (a one-update policy lag; algos/q/overlap.py)
    overlap: bool = False

    def __post_init__(self) -> None:
        positive = ("n_step", "batch_size", "buffer_size", "train_freq", "target_update_every")
        for key in positive:
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.ez_mu is not None and self.ez_mu <= 1.0:
            raise ValueError(f"ez_mu must be > 1 (a Zeta exponent), got {self.ez_mu}")
        if self.ez_max_duration < 1:
            raise ValueError(f"ez_max_duration must be >= 1, got {self.ez_max_duration}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")


@dataclass
class PERParams:
    """Proportional prioritized replay (used with replay=prioritized)."""

    per_alpha: float = 0.6
    per_beta_start: float = 0.4
    per_beta_frames: int | None = None  # frames to anneal beta to 1 (None: budget.frames)
    per_eps: float = 1e-6


@dataclass
class SequenceParams:
    """Sequence replay for stateful torsos (net=lstm|transformer|memory; algos/q/sequence.py)."""

    seq_len: int = 16
    burn_in: int = 8
    seq_start: Literal["uniform", "aligned"] = "uniform"  # aligned: segments from episode start


@dataclass
class TransitionSwitches:
    """The book's ch. 10 switches on how transitions are stored and Q is output (drlrun/book/
    switches.py names them); the defaults are the correct behaviour."""

    timeout_terminal: bool = False  # true: reaching max_steps cuts the bootstrap (the book)
    positive_copies: int = 0  # extra replay copies of rewarded episode-ending transitions
    q_output: Literal["linear", "elu"] = "linear"  # elu: the book's ELU on Q (bounds Q >= -1)


CORE_GROUPS: tuple[type, ...] = (QParams, PERParams, SequenceParams, TransitionSwitches)


@dataclass
class QConfig:
    """The parsed groups of one Q learner's algo block."""

    core: QParams
    per: PERParams
    seq: SequenceParams
    switches: TransitionSwitches
    loss: Any  # the chosen loss's params dataclass
    extra: dict[type, Any]  # a variant's own groups (book/icm_dqn.py's acting options)


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def parse(cfg: Any, extra: tuple[type, ...] = ()) -> QConfig:
    """Read the flat algo block into its groups; unknown keys and bad values are one line."""
    data = dict(to_container(cfg) or {})
    data.pop("name", None)
    loss_groups = {
        cls
        for name in registry.names("loss")
        if (cls := getattr(registry.lookup("loss", name), "params", None)) is not None
    }
    groups = (*CORE_GROUPS, *extra, *sorted(loss_groups, key=lambda c: c.__name__))
    valid = set().union(*(_fields(g) for g in groups))
    unknown = sorted(set(data) - valid)
    if unknown:
        raise DrlrunError(
            f"algo: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}"
        )

    def read(cls: type) -> Any:
        keys = _fields(cls)
        return from_cfg(cls, {k: v for k, v in data.items() if k in keys}, "algo")

    core = read(QParams)
    builder = registry.lookup("loss", core.objective)  # an unknown loss lists the valid ones
    loss_cls = getattr(builder, "params", None)
    return QConfig(
        core=core,
        per=read(PERParams),
        seq=read(SequenceParams),
        switches=read(TransitionSwitches),
        loss=read(loss_cls) if loss_cls is not None else None,
        extra={cls: read(cls) for cls in extra},
    )
