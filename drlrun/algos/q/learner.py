"""The one DQN learner: DQN, Double DQN, dueling, n-step, and any registered TD objective.

Every variant shares acting (batched epsilon-greedy over the vector env), replay, target
syncing (hard every N frames or Polyak with tau) and the update; only the objective differs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from omegaconf import DictConfig

from drlrun.algos.accepts import accepts
from drlrun.algos.base import (
    Algorithm,
    RunContext,
    Tensors,
    TrainResult,
    module_tensors,
    run_episodes,
)
from drlrun.algos.curiosity import build_curiosity
from drlrun.algos.fast_q import (
    MLPQKernel,
    NumpyMLPActor,
    fast_path_supported,
    numpy_actor_supported,
)
from drlrun.algos.objectives import TDBatch, make_objective
from drlrun.algos.optim import FlatAdam
from drlrun.algos.schedules import LinearSchedule
from drlrun.buffers.prioritized import PrioritizedReplayBuffer
from drlrun.buffers.replay import Batch, ReplayBuffer
from drlrun.envs.base import EnvFactory, obs_dtype
from drlrun.envs.vector import VecStep
from drlrun.errors import DrlrunError
from drlrun.nets.base import build_torso
from drlrun.nets.heads import QNetwork, make_head
from drlrun.nets.sequence import SEQUENCE_NETS
from drlrun.params import from_cfg
from drlrun.registry import register
from drlrun.seeding import generator_state, set_generator_state
from drlrun.viz.attention import attention_overlay, doorkey_figures

# algo.replay_in_checkpoint=auto: a replay up to this size goes inside the checkpoint, a larger
# one into the runner's memory-mapped replay store (drlrun/replay_store.py)
REPLAY_IN_CHECKPOINT_MAX_BYTES = 2 * 1024**3
ReplayStorage = Literal["checkpoint", "memmap", "none"]
MIN_FRAMES_PER_STEP = 64
FAST_ACT_MAX_BATCH = 64  # numpy acting wins for a few observations; torch for large batches


@dataclass
class DQNParams:
    objective: str = "scalar"
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
    loss: Literal["mse", "huber"] = "mse"
    max_grad_norm: float | None = None
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_frames: int = 250_000
    eps_decay_fraction: float | None = None
    reward_clip: bool = False
    replay_in_checkpoint: Literal["auto", "always", "memmap", "never"] = "auto"
    # auto: autograd-free update and numpy acting for plain DQN on small MLPs on CPU (same
    # maths, ~2x faster; see algos/fast_q.py); off: always the autograd path
    fast_path: Literal["auto", "off"] = "auto"
    # distributional objectives: C51 support (objective=c51), QR-DQN quantiles (objective=qr)
    atoms: int = 51
    v_min: float = -10.0
    v_max: float = 10.0
    quantiles: int = 200
    kappa: float = 1.0
    # replay: uniform, or proportional prioritized (Schaul et al. 2016; `replay=prioritized`)
    replay: Literal["uniform", "prioritized"] = "uniform"
    per_alpha: float = 0.6
    per_beta_start: float = 0.4
    per_beta_frames: int | None = None  # frames to anneal beta to 1 (None: budget.frames)
    per_eps: float = 1e-6
    # book ch. 10 switches (its Double DQN on DoorKey); the defaults are the correct behaviour
    double_argmax: Literal["next", "current"] = "next"  # current: a* = argmax Q(s_t), the bug
    timeout_terminal: bool = False  # true: reaching max_steps cuts the bootstrap (the book)
    positive_copies: int = 0  # extra replay copies of rewarded episode-ending transitions
    q_output: Literal["linear", "elu"] = "linear"  # elu: the book's ELU on Q (bounds Q >= -1)
    # sequence replay for recurrent/attention torsos (net=lstm|transformer|memory; sequence_dqn.py)
    seq_len: int = 16
    burn_in: int = 8
    seq_start: Literal["uniform", "aligned"] = "uniform"  # aligned: segments from episode start

    def __post_init__(self) -> None:
        positive = ("n_step", "batch_size", "buffer_size", "train_freq", "target_update_every")
        for key in positive:
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")


class DQN(Algorithm):
    def __init__(self, p: DQNParams, env: EnvFactory, ctx: RunContext):
        self.p, self.env_factory, self.ctx = p, env, ctx
        self.device = ctx.device
        space = env.action_space
        if not hasattr(space, "n"):
            raise DrlrunError(f"DQN needs a discrete action space; env={env.name} has {space}")
        self.n_actions = int(space.n)
        self.objective = make_objective(p.objective, p)
        torso = build_torso(ctx.net_cfg, env)
        head = make_head(torso.out_features, self.n_actions, self.objective.atoms, p.dueling)
        if p.q_output == "elu":
            head = torch.nn.Sequential(head, torch.nn.ELU())
        self.online = QNetwork(torso, head).to(self.device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = FlatAdam(self.online, p.lr, p.adam_eps, p.max_grad_norm)
        fast = p.fast_path == "auto"
        self.actor: NumpyMLPActor | None = None  # fast CPU acting (any numpy-capable objective)
        if fast and numpy_actor_supported(self.online, self.objective, self.device):
            self.actor = NumpyMLPActor(self.online)
        decay = p.eps_decay_frames
        if p.eps_decay_fraction is not None:
            if ctx.budget_frames is None:
                raise DrlrunError("algo.eps_decay_fraction needs budget.frames to be set")
            decay = int(p.eps_decay_fraction * ctx.budget_frames)
        self.epsilon = LinearSchedule(p.eps_start, p.eps_end, decay)

        self.envs = env.make_vec()
        self.num_envs = self.envs.num_envs
        if p.positive_copies and (self.num_envs > 1 or p.replay != "uniform"):
            raise DrlrunError("algo.positive_copies needs env.num_envs=1 and uniform replay")
        obs_space = env.observation_space
        self.replay = self.make_replay(obs_space.shape, obs_dtype(obs_space))
        self.rng = np.random.default_rng(ctx.seed)
        self.obs, _ = self.envs.reset(seed=ctx.seed)
        self.frames = 0
        self.updates = 0
        # one train_step covers whole update periods and at least MIN_FRAMES_PER_STEP frames, so
        # the runner's per-iteration work is amortised
        periods = max(1, -(-MIN_FRAMES_PER_STEP // p.train_freq))
        self.vec_steps_per_iter = max(1, periods * p.train_freq // self.num_envs)
        self._eval_env = None
        # curiosity=icm|rnd: intrinsic reward at sample time, its loss joins the Q loss
        self.curiosity = build_curiosity(
            ctx.curiosity_cfg, env, self.n_actions, self.device, p.n_step, self.curiosity_default
        )
        self._replay_dropped = False  # the loaded checkpoint had no replay (resume_caveats)
        self.kernel: MLPQKernel | None = None  # autograd-free update; it knows no curiosity loss
        supported = fast_path_supported(self.online, self.objective, self.device)
        if fast and self.curiosity is None and supported:
            self.kernel = MLPQKernel(self.online, self.target, self.objective, self.optimizer)

    curiosity_default = "none"  # algo=icm_dqn sets "icm"

    def make_replay(self, obs_shape: tuple[int, ...], dtype: np.dtype) -> ReplayBuffer:
        p, stack = self.p, self.env_factory.frame_stack
        if p.replay == "uniform":
            return ReplayBuffer(p.buffer_size, self.num_envs, obs_shape, dtype, stack)
        beta_frames = p.per_beta_frames or self.ctx.budget_frames or 100_000
        try:
            return PrioritizedReplayBuffer(
                p.buffer_size,
                self.num_envs,
                obs_shape,
                dtype,
                stack,
                n_step=p.n_step,
                alpha=p.per_alpha,
                beta_start=p.per_beta_start,
                beta_frames=beta_frames,
                eps=p.per_eps,
            )
        except ValueError as err:
            raise DrlrunError(f"algo.per_*: {err}") from None

    # --- acting -----------------------------------------------------------------------------
    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        if self.actor is not None and len(obs) <= FAST_ACT_MAX_BATCH:
            return self.objective.q_values_numpy(self.actor.head_outputs(obs)).argmax(axis=1)
        return self._greedy_torch(obs)

    @torch.inference_mode()
    def _greedy_torch(self, obs: np.ndarray) -> np.ndarray:
        q = self.objective.q_values(self.online(self._tensor(obs)))
        return q.argmax(dim=1).cpu().numpy()

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Batched epsilon-greedy; skips the network when every env explores."""
        explore = rng.random(len(obs)) < epsilon
        random_actions = rng.integers(0, self.n_actions, size=len(obs))
        if explore.all():
            return random_actions
        return np.where(explore, random_actions, self.greedy(obs))

    def after_env_step(self, step: VecStep) -> None:
        """Hook after each vector step (sequence learners reset finished envs' states here)."""

    # --- learning ---------------------------------------------------------------------------
    def to_td_batch(self, batch: Batch) -> TDBatch:
        t = self._tensor
        return TDBatch(
            obs=t(batch.obs),
            actions=t(batch.actions).long(),
            returns=t(batch.returns),
            discounts=t(batch.discounts),
            next_obs=t(batch.next_obs),
            weights=None if batch.weights is None else t(batch.weights).float(),
        )

    def update(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.replay.sample(self.p.batch_size, self.rng, self.p.n_step, self.p.gamma)
        td, aux = self.to_td_batch(batch), None
        if self.kernel is not None:  # plain DQN on an MLP: autograd-free (never with curiosity)
            out = self.kernel.loss_and_grad(td, self.p.double)
            self.optimizer.step_on_grad_buffer()  # clips to algo.max_grad_norm first
        else:
            if self.curiosity is not None:
                td, aux = self.curiosity.relabel(td)
            out = self.objective.loss(self.online, self.target, td, self.p.double)
            total = out.loss if aux is None else self.curiosity.combine(out.loss, aux)
            self.optimizer.zero_grad()
            total.backward()
            self.optimizer.step()  # clips to algo.max_grad_norm first
            if self.curiosity is not None:
                self.curiosity.step()
        if self.replay.uses_priorities:
            self.replay.update_priorities(batch, out.td_abs.cpu().numpy())
        self.updates += 1
        return out.loss.detach(), out.q_mean.detach()

    @torch.no_grad()
    def sync_target(self) -> None:
        if self.p.tau >= 1.0:
            self.target.load_state_dict(self.online.state_dict())
            return
        for t, o in zip(self.target.parameters(), self.online.parameters(), strict=True):
            t.lerp_(o, self.p.tau)

    def train_step(self) -> TrainResult:
        p = self.p
        result = TrainResult()
        losses: list[torch.Tensor] = []
        qs: list[torch.Tensor] = []
        eps = self.epsilon(self.frames)
        for _ in range(self.vec_steps_per_iter):
            eps = self.epsilon(self.frames)
            actions = self.act(self.obs, eps, self.rng)
            step = self.envs.step_all(actions)
            rewards = np.sign(step.rewards) if p.reward_clip else step.rewards
            terminated = step.terminated | step.truncated if p.timeout_terminal else step.terminated
            self.replay.add(self.obs, actions, rewards, terminated, step.truncated, step.final_obs)
            if p.positive_copies and rewards[0] > 0 and terminated[0]:
                add_copies(self.replay, self.obs, actions, rewards, terminated, p.positive_copies)
            if self.curiosity is not None:
                self.curiosity.observe(self.obs, actions, step, self._tensor)
            self.obs = step.obs
            self.after_env_step(step)
            result.episodes.extend(step.episodes)
            before, self.frames = self.frames, self.frames + self.num_envs
            if self.frames <= p.learning_starts or not self.replay.can_sample(p.n_step):
                continue
            if self.frames // p.train_freq != before // p.train_freq:
                for _ in range(p.gradient_steps):
                    loss, q = self.update()
                    losses.append(loss)
                    qs.append(q)
            if self.frames // p.target_update_every != before // p.target_update_every:
                self.sync_target()
        result.metrics["epsilon"] = eps
        if losses:  # a non-finite loss stops the run in the runner (drlrun.guards)
            result.metrics["loss"] = torch.stack(losses).mean().item()
            result.metrics["q_mean"] = torch.stack(qs).mean().item()
        if self.curiosity is not None:
            result.metrics.update(self.curiosity.metrics())
        return result

    # --- evaluation -------------------------------------------------------------------------
    def evaluate(self, episodes: int, seed: int, epsilon: float = 0.0, recorder=None):
        def policy(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return self.act(obs, epsilon, rng)

        if recorder is not None and self.curiosity is not None:  # draw r_i under each frame
            from drlrun.algos.curiosity_plots import IntrinsicOverlay

            overlay = IntrinsicOverlay(self.curiosity, policy, recorder, self._tensor)
            policy, recorder = overlay.act, overlay.record
        if recorder is not None:
            env = self.env_factory.make_eval(render=True)
            recorder = attention_overlay(recorder, self, env)  # relational nets on grids only
            try:
                return run_episodes(env, policy, episodes, seed, recorder, self.frame_panel)
            finally:
                env.close()
        if self._eval_env is None:
            self._eval_env = self.env_factory.make_eval()
        out = run_episodes(self._eval_env, policy, episodes, seed)
        if self.curiosity is not None:
            out.update(self.curiosity.summary())  # train max x_pos, intrinsic return
        return out

    def frame_panel(self, obs: np.ndarray, height: int) -> np.ndarray | None:
        return self.objective.frame_panel(self, obs, height)

    def named_tensors(self) -> Tensors:
        tensors = module_tensors("online", self.online)
        if self.curiosity is not None:
            tensors.update(module_tensors("curiosity", self.curiosity.module))
        return tensors

    # --- state --------------------------------------------------------------------------------
    def replay_storage(self) -> ReplayStorage:
        """Where a checkpoint keeps the replay: inside it, in the runner's memmap store (the ring
        arrays; the small side state stays inside), or nowhere (algo.replay_in_checkpoint)."""
        mode = self.p.replay_in_checkpoint
        if mode == "auto":
            small = self.replay.nbytes <= REPLAY_IN_CHECKPOINT_MAX_BYTES
            return "checkpoint" if small else "memmap"
        return {"always": "checkpoint", "memmap": "memmap", "never": "none"}[mode]

    def external_replay(self) -> ReplayBuffer | None:
        return self.replay if self.replay_storage() == "memmap" else None

    def _replay_state(self) -> dict[str, Any] | None:
        storage = self.replay_storage()
        if storage == "memmap":
            return self.replay.state_dict(arrays=False)
        return self.replay.state_dict() if storage == "checkpoint" else None

    def state_dict(self) -> dict[str, Any]:
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "replay": self._replay_state(),
            "rng": generator_state(self.rng),
            "envs": self.envs.get_state(),
            "obs": self.obs,
            "frames": self.frames,
            "updates": self.updates,
            **({"curiosity": self.curiosity.state_dict()} if self.curiosity is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        replay = state["replay"]
        self._replay_dropped = replay is None
        if replay is not None and self.replay_storage() == "memmap":
            self.replay.load_state_dict(replay, arrays=False)  # the runner's store adds them
        elif replay is not None:
            self.replay.load_state_dict(replay)
        set_generator_state(self.rng, state["rng"])
        self.envs.set_state(state["envs"])
        self.obs = np.asarray(state["obs"]).copy()
        self.frames = int(state["frames"])
        self.updates = int(state["updates"])
        if self.curiosity is not None:
            self.curiosity.load_state_dict(state["curiosity"])

    def resume_caveats(self) -> list[str]:
        if not self._replay_dropped:
            return []
        mode, limit = self.p.replay_in_checkpoint, REPLAY_IN_CHECKPOINT_MAX_BYTES / 1024**3
        if mode == "never":
            why = ""
        elif self.replay_storage() == "memmap":  # a checkpoint from before memmap replays
            why = f": written when replays over {limit:g} GiB were left out"
        else:
            why = f": sequence replay over {limit:g} GiB"
        return [
            f"the checkpoint holds no replay (algo.replay_in_checkpoint={mode}{why}): replay "
            "starts empty, so the learning curve will differ from an uninterrupted run"
        ]

    def plots(self, run_dir: Path) -> list[Path]:
        figures = self.objective.plots(self, run_dir) + doorkey_figures(self, run_dir)
        if self.curiosity is not None:
            from drlrun.algos.curiosity_plots import curiosity_plots

            figures += curiosity_plots(self.curiosity, run_dir)
        return figures

    def close(self) -> None:
        self.envs.close()
        if self._eval_env is not None:
            self._eval_env.close()


def add_copies(replay, obs, actions, rewards, terminated, copies: int) -> None:
    """The book's replay trick: store a rewarded terminal transition `copies` more times (its
    next state is never bootstrapped, so a copy is an exact duplicate; single env only)."""
    truncated = np.zeros_like(terminated)
    for _ in range(copies):
        replay.add(obs, actions, rewards, terminated, truncated, {})


@register("algo", "dqn")
@accepts(nets="any", curiosity=True)
def build_dqn(cfg: DictConfig, env: EnvFactory, ctx: RunContext) -> DQN:
    params = from_cfg(DQNParams, cfg, "algo")
    if ctx.net_cfg is not None and ctx.net_cfg.get("name") in SEQUENCE_NETS:
        from drlrun.algos.sequence_dqn import SequenceDQN  # imports this module

        return SequenceDQN(params, env, ctx)
    return DQN(params, env, ctx)


register("algo", "double_dqn")(build_dqn)
