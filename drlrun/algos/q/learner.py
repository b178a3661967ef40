"""The one Q learner: DQN, Double DQN, dueling, n-step, and any registered TD loss (C51, QR-DQN,
the book's ch. 8 loss), on any torso; sequence torsos swap in sequence replay and a stateful
actor (algos/q/sequence.py), curiosity joins as a batch transform.

One train step: act epsilon-greedy in the vector env and store transitions; every `train_freq`
frames, `gradient_steps` times: sample -> transforms (curiosity relabels rewards) -> loss
(its autograd-free kernel where exact) -> optimiser step; sync the target every
`target_update_every` frames (hard, or Polyak with tau).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from drlrun.algos.accepts import accepts, is_stateful
from drlrun.algos.base import Algorithm, RunContext, Tensors, TrainResult, module_tensors
from drlrun.algos.optim import FlatAdam
from drlrun.algos.q.augment import RandomShift
from drlrun.algos.q.collector import EpsilonGreedy, Evaluator, FeedForwardActor, StatefulActor
from drlrun.algos.q.losses.base import Kernel, LossInputs, LossOutput, make_loss
from drlrun.algos.q.overlap import OverlappedUpdates, check_overlap
from drlrun.algos.q.params import QConfig, parse
from drlrun.algos.q.replay import (
    REPLAY_IN_CHECKPOINT_MAX_BYTES,
    ReplayStorage,
    RingBatches,
    add_copies,
)
from drlrun.algos.q.sequence import SequenceBatches, check_sequence_options
from drlrun.algos.q.transforms.curiosity import build_curiosity
from drlrun.algos.schedules import LinearSchedule
from drlrun.buffers.replay import ReplayBuffer
from drlrun.envs.base import EnvFactory
from drlrun.envs.vector import VecStep
from drlrun.errors import DrlrunError
from drlrun.nets.base import build_torso, use_channels_last, use_precision
from drlrun.nets.heads import QNetwork, make_head
from drlrun.registry import register
from drlrun.seeding import generator_state, set_generator_state
from drlrun.viz.probe import build_probes

MIN_FRAMES_PER_STEP = 64


class QLearner(Algorithm):
    """Acting, replay, target syncing and the update; the loss and transforms are parts."""

    def __init__(
        self,
        cfg: QConfig,
        env: EnvFactory,
        ctx: RunContext,
        explorer: EpsilonGreedy | None = None,
        curiosity_default: str = "none",
    ):
        p = cfg.core
        self.cfg, self.p, self.env_factory, self.ctx = cfg, p, env, ctx
        self.device = ctx.device
        space = env.action_space
        if not hasattr(space, "n"):
            raise DrlrunError(f"DQN needs a discrete action space; env={env.name} has {space}")
        self.n_actions = int(space.n)
        sequence = is_stateful(ctx.net_cfg.get("name") if ctx.net_cfg is not None else None)
        if sequence:  # refused in one line before anything is built
            check_sequence_options(cfg, env, ctx)
        self.loss = make_loss(p.objective, cfg.loss, p)
        torso = build_torso(ctx.net_cfg, env)
        head = make_head(torso.out_features, self.n_actions, self.loss.atoms, p.dueling)
        if cfg.switches.q_output == "elu":
            head = torch.nn.Sequential(head, torch.nn.ELU())
        self.online = QNetwork(torso, head).to(self.device)
        if ctx.channels_last:
            use_channels_last(self.online)
        use_precision(self.online, ctx.precision)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = FlatAdam(self.online, p.lr, p.adam_eps, p.max_grad_norm)
        fast = p.fast_path == "auto" and ctx.precision == "fp32"  # the numpy paths are fp32
        self.explorer = explorer or EpsilonGreedy(self.n_actions)
        if p.ez_mu is not None:
            self.explorer.extend_temporally(p.ez_mu, p.ez_max_duration)
        decay = p.eps_decay_frames
        if p.eps_decay_fraction is not None:
            if ctx.budget_frames is None:
                raise DrlrunError("algo.eps_decay_fraction needs budget.frames to be set")
            decay = int(p.eps_decay_fraction * ctx.budget_frames)
        self.epsilon = LinearSchedule(p.eps_start, p.eps_end, decay)

        self.envs = env.make_vec()
        self.num_envs = self.envs.num_envs
        copies = cfg.switches.positive_copies
        if copies and (self.num_envs > 1 or p.replay != "uniform" or sequence):
            raise DrlrunError(
                "algo.positive_copies needs env.num_envs=1, uniform replay and a feedforward net"
            )
        if sequence:
            self.online.eval()  # hard memory reads sample Gumbel noise only while updating
            self.target.eval()
            self.batches: RingBatches | SequenceBatches = SequenceBatches(self)
            self.actor: FeedForwardActor | StatefulActor = StatefulActor(
                self.online, self.loss, self.device, self.num_envs
            )
        else:
            self.batches = RingBatches(self)
            # algo.overlap=true: the actor reads a copy the pipeline refreshes at each boundary
            acting = OverlappedUpdates.acting_copy(self.online) if p.overlap else self.online
            self.actor = FeedForwardActor(acting, self.loss, self.device, fast)
        self.replay = self.batches.replay
        self.augment = None  # algo.augment=shift: DrQ's random shift of sampled images
        if p.augment == "shift":
            if sequence:
                raise DrlrunError("algo.augment=shift applies to feedforward torsos' replay")
            shape = tuple(env.observation_space.shape)
            self.augment = RandomShift(p.augment_pad, ctx.seed, shape)
        self.rng = np.random.default_rng(ctx.seed)
        self.obs, _ = self.envs.reset(seed=ctx.seed)
        self.frames = 0
        self.updates = 0
        # one train_step covers whole update periods and at least MIN_FRAMES_PER_STEP frames, so
        # the runner's per-iteration work is amortised
        periods = max(1, -(-MIN_FRAMES_PER_STEP // p.train_freq))
        self.vec_steps_per_iter = max(1, periods * p.train_freq // self.num_envs)
        # evaluation reads the online weights (under overlap, once the running update is done)
        evaluation_actor = (
            FeedForwardActor(self.online, self.loss, self.device, fast) if p.overlap else self.actor
        )
        self.evaluator = Evaluator(env, self.explorer.for_evaluation(), evaluation_actor)
        # curiosity=icm|rnd: intrinsic reward at sample time, its loss joins the Q loss
        self.curiosity = build_curiosity(
            ctx.curiosity_cfg,
            env,
            self.n_actions,
            self.device,
            p.n_step,
            curiosity_default,
            ctx.net_cfg,
        )
        if self.curiosity is not None and ctx.channels_last:
            use_channels_last(
                self.curiosity.module
            )  # in place: its optimiser keeps the same tensors
        if self.curiosity is not None:
            use_precision(self.curiosity.module, ctx.precision)
        self.transforms = [] if self.curiosity is None else [self.curiosity]
        self._replay_dropped = False  # the loaded checkpoint had no replay (resume_caveats)
        # the loss's autograd-free update; it knows no transform's extra loss
        self.kernel: Kernel | None = None
        if fast and not self.transforms:
            self.kernel = self.loss.kernel(self.online, self.target, self.optimizer, self.device)
        self._observers = self._transition_observers()
        self.overlap: OverlappedUpdates | None = None
        if p.overlap:
            check_overlap(self, sequence)
            self.overlap = OverlappedUpdates(self, self.actor.online)

    def _transition_observers(self) -> list[Callable[..., None]]:
        """What sees each stored transition besides the replay (chosen once, not per step)."""
        observers: list[Callable[..., None]] = []
        copies = self.cfg.switches.positive_copies
        if copies:
            observers.append(lambda obs, actions, rewards, terminated, step: add_copies(
                self.replay, obs, actions, rewards, terminated, copies))  # fmt: skip
        for transform in self.transforms:
            observers.append(lambda obs, actions, rewards, terminated, step, t=transform: (
                t.observe(obs, actions, step, self.to_tensor)))  # fmt: skip
        return observers

    # --- acting -----------------------------------------------------------------------------
    def to_tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device)

    def act(self, obs: np.ndarray, epsilon: float) -> np.ndarray:
        """Training actions (the explorer may act differently early in training)."""
        return self.explorer(obs, epsilon, self.rng, self.actor)

    def head_outputs(self, obs: np.ndarray) -> torch.Tensor:
        """The head's raw outputs for `obs` as the acting policy sees it now (during an
        evaluation: its episode's actor, with its history for sequence torsos)."""
        return self.evaluator.current.head_outputs(obs)

    # --- learning ---------------------------------------------------------------------------
    def update(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample, learn, and give prioritized replay the batch's new TD errors."""
        inputs = self.batches.sample()
        out = self.learn(inputs)
        if self.replay.uses_priorities:
            self.replay.update_priorities(inputs.sampled, out.td_abs.cpu().numpy())
        self.updates += 1
        return out.loss.detach(), out.q_mean.detach()

    def learn(self, inputs: LossInputs) -> LossOutput:
        """One optimiser step on a sampled batch (under overlap, on the worker thread)."""
        out: LossOutput
        if self.kernel is not None:  # exact autograd-free update (never with transforms)
            out = self.kernel.loss_and_grad(inputs.batch, self.p.double)
            self.optimizer.step_on_grad_buffer()  # clips to algo.max_grad_norm first
        else:
            td, extra = inputs.batch, []
            for transform in self.transforms:
                td, aux = transform.relabel(td)
                extra.append((transform, aux))
            out = self.loss.loss(inputs.online, inputs.target, td, self.p.double)
            total = out.loss if inputs.torso_loss is None else out.loss + inputs.torso_loss
            for transform, aux in extra:
                total = transform.combine(total, aux)
            self.optimizer.zero_grad()
            total.backward()
            self.optimizer.step()  # clips to algo.max_grad_norm first
            for transform in self.transforms:
                transform.step()
        return out

    @torch.no_grad()
    def sync_target(self) -> None:
        if self.p.tau >= 1.0:
            self.target.load_state_dict(self.online.state_dict())
            return
        for t, o in zip(self.target.parameters(), self.online.parameters(), strict=True):
            t.lerp_(o, self.p.tau)

    def _store(self, actions: np.ndarray, step: VecStep) -> None:
        switches = self.cfg.switches
        rewards = np.sign(step.rewards) if self.p.reward_clip else step.rewards
        terminated = (
            step.terminated | step.truncated if switches.timeout_terminal else step.terminated
        )
        self.replay.add(self.obs, actions, rewards, terminated, step.truncated, step.final_obs)
        for observe in self._observers:
            observe(self.obs, actions, rewards, terminated, step)

    def train_step(self) -> TrainResult:
        p = self.p
        result = TrainResult()
        losses: list[torch.Tensor] = []
        qs: list[torch.Tensor] = []
        eps = self.epsilon(self.frames)
        for _ in range(self.vec_steps_per_iter):
            eps = self.epsilon(self.frames)
            actions = self.act(self.obs, eps)
            step = self.envs.step_all(actions)
            self._store(actions, step)
            self.obs = step.obs
            self.actor.after_step(step)
            self.explorer.after_step(step)
            result.episodes.extend(step.episodes)
            before, self.frames = self.frames, self.frames + self.num_envs
            if self.frames <= p.learning_starts or not self.replay.can_sample(p.n_step):
                continue
            if self.frames // p.train_freq != before // p.train_freq:
                for _ in range(p.gradient_steps):
                    applied = self.overlap.boundary() if self.overlap else self.update()
                    if applied is not None:
                        losses.append(applied[0])
                        qs.append(applied[1])
            if self.frames // p.target_update_every != before // p.target_update_every:
                if self.overlap is not None:
                    self.overlap.wait()  # the target copies the weights after this update
                self.sync_target()
        result.metrics["epsilon"] = eps
        if losses:  # a non-finite loss stops the run in the runner (drlrun.guards)
            result.metrics["loss"] = torch.stack(losses).mean().item()
            result.metrics["q_mean"] = torch.stack(qs).mean().item()
        for transform in self.transforms:
            result.metrics.update(transform.metrics())
        return result

    # --- evaluation -------------------------------------------------------------------------
    def evaluate(self, episodes: int, seed: int, epsilon: float = 0.0, recorder=None):
        if self.overlap is not None:
            self.overlap.wait()
        if recorder is not None:
            return self.evaluator.run(episodes, seed, epsilon, recorder, build_probes(self))
        out = self.evaluator.run(episodes, seed, epsilon)
        for transform in self.transforms:
            out.update(transform.summary())  # train max x_pos, intrinsic return
        return out

    def probes(self) -> list[str]:
        """The loss's, the transforms' and the torso's probes (each refuses what it can't show)."""
        names = [*self.loss.probes]
        for transform in self.transforms:
            names += transform.probes
        return names + list(getattr(self.online.torso, "probes", ()))

    def named_tensors(self) -> Tensors:
        tensors = module_tensors("online", self.online)
        for transform in self.transforms:
            tensors.update(module_tensors("curiosity", transform.module))
        return tensors

    # --- state --------------------------------------------------------------------------------
    def replay_storage(self) -> ReplayStorage:
        """Where a checkpoint keeps the replay: inside it, in the runner's memmap store (the ring
        arrays; the small side state stays inside), or nowhere (algo.replay_in_checkpoint)."""
        mode = self.p.replay_in_checkpoint
        if mode == "auto":
            small = self.replay.nbytes <= REPLAY_IN_CHECKPOINT_MAX_BYTES
            storage: ReplayStorage = "checkpoint" if small else "memmap"
        else:
            storage = {"always": "checkpoint", "memmap": "memmap", "never": "none"}[mode]
        return self.batches.storage(storage)

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
            **({"augment": self.augment.state_dict()} if self.augment is not None else {}),
            **({"overlap": self.overlap.state_dict()} if self.overlap is not None else {}),
            **self.actor.state_dict(),
            **self.explorer.state_dict(),
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
        if not getattr(self.envs, "exact_resume", True):  # env.backend=envpool: fresh episodes
            self.obs = self.envs.restarted_obs
            self._episodes_restarted = True
        self.frames = int(state["frames"])
        self.updates = int(state["updates"])
        if self.curiosity is not None:
            self.curiosity.load_state_dict(state["curiosity"])
        if self.augment is not None:
            self.augment.load_state_dict(state["augment"])
        if self.overlap is not None:
            self.overlap.load_state_dict(state["overlap"])
        self.actor.load_state_dict(state)
        self.explorer.load_state_dict(state)

    def resume_caveats(self) -> list[str]:
        caveats = []
        if getattr(self, "_episodes_restarted", False):
            caveats.append(
                "env.backend=envpool cannot save its emulators: the training episodes in "
                "progress restarted, so the run continues close to, not exactly as, an "
                "uninterrupted one"
            )
        if not self._replay_dropped:
            return caveats
        mode, limit = self.p.replay_in_checkpoint, REPLAY_IN_CHECKPOINT_MAX_BYTES / 1024**3
        if mode == "never":
            why = ""
        elif self.replay_storage() == "memmap":  # a checkpoint from before memmap replays
            why = f": written when replays over {limit:g} GiB were left out"
        else:
            why = f": sequence replay over {limit:g} GiB"
        return [
            *caveats,
            f"the checkpoint holds no replay (algo.replay_in_checkpoint={mode}{why}): replay "
            "starts empty, so the learning curve will differ from an uninterrupted run",
        ]

    def close(self) -> None:
        if self.overlap is not None:
            self.overlap.close()
        self.envs.close()
        self.evaluator.close()


@register("algo", "dqn")
@accepts(nets="any", curiosity=True, precision=True)
def build_dqn(cfg: DictConfig, env: EnvFactory, ctx: RunContext) -> QLearner:
    return QLearner(parse(cfg), env, ctx)


for _name in ("double_dqn", "dist_dqn", "qr_dqn"):  # the same learner; their yaml picks the loss
    register("algo", _name)(build_dqn)
