"""The book's chapter 7 Dist-DQN (Listings 7.1-7.14): flat parameter vector, hand-written SGD.

Two tasks: `freeway` (Freeway RAM, the book's training loop with reward shaping, a 200-entry
replay with 5 extra copies of +10 transitions and the `update_dist` target) and `synthetic`
(two fixed random states, rewards [0, 8] + noise). Every quirk of the book's code is a named
switch (see `BookDistParams`); the defaults reproduce the book, `ch7_freeway_fixed` flips them.
This path exists only for `fidelity: book` reproductions; C51 proper is `algo=dist_dqn`.
Its figures and eval-video panel are the `book_distributions` probe (book/dist_figures.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from drlrun.algos.accepts import accepts
from drlrun.algos.base import Algorithm, EvalEnvs, RunContext, Tensors, TrainResult, run_episodes
from drlrun.algos.q.losses.c51 import make_support, project_categorical
from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import build, register
from drlrun.seeding import generator_state, set_generator_state
from drlrun.viz.probe import build_probes


@dataclass
class BookDistParams:
    task: Literal["freeway", "synthetic"] = "freeway"
    # the distribution's support; the network (Listing 7.6) is net=book_dist (nets/book_dist.py)
    v_min: float = -10.0
    v_max: float = 10.0
    atoms: int = 51
    # learning (Listings 7.13-7.14)
    lr: float = 1e-4
    gamma: float = 0.1  # update_dist's concentration ("how far the prior moves"), not a discount
    discount: float = 0.9  # the real discount, used only by projection=c51
    target_sync_every: int = 25
    replay_size: int = 200
    batch_size: int = 50
    priority_copies: int = 5  # extra copies of transitions whose shaped reward is listed below
    priority_rewards: list[float] = field(default_factory=lambda: [10.0])
    eps_start: float = 0.20
    eps_min: float = 0.05
    eps_decay_after: int = 100  # eps -= 1 / (1000 log2 i) for steps i > this
    # reward shaping (Listing 7.14): crossing -> +10, episode end -> -10, nothing -> -1
    reward_crossing: float = 10.0
    reward_done: float = -10.0
    reward_step: float = -1.0
    # synthetic test (Listings 7.9-7.11)
    synthetic_actions: list[int] = field(default_factory=lambda: [0, 2])
    synthetic_rewards: list[float] = field(default_factory=lambda: [0.0, 8.0])
    synthetic_noise: float = 0.1
    # the book's bugs, each a switch (book value first; the inventory's section 2.10)
    projection: Literal["update_dist", "c51"] = "update_dist"  # bug 1
    terminal: Literal["reward", "done"] = "reward"  # bug 2: r != -1 means terminal (done: the
    # env's terminated flag; a truncation bootstraps)
    next_action: Literal["taken", "greedy"] = "taken"  # bug 3: Z(s', a_t) instead of a*
    untaken_rows: Literal["target_next", "masked"] = "target_next"  # bug 4
    zero_grad: bool = False  # bug 5: theta.grad accumulates over all steps
    loss_reduction: Literal["sum", "mean"] = "sum"  # bug 6
    state_norm: Literal["l2", "scale255"] = "l2"  # bug 7: F.normalize instead of / 255

    def __post_init__(self) -> None:
        if self.replay_size < 1 or self.batch_size < 1 or self.target_sync_every < 1:
            raise ValueError("replay_size, batch_size and target_sync_every must be >= 1")
        if len(self.synthetic_actions) != len(self.synthetic_rewards):
            raise ValueError("synthetic_actions and synthetic_rewards need the same length")


# --- the book's distribution primitives (Listings 7.2, 7.7, 7.8) ---------------------------------
def atom_index(rewards: torch.Tensor, v_min: float, v_max: float, atoms: int) -> torch.Tensor:
    """bj = clip(round((r - v_min) / dz)) with round-half-to-even, as numpy's np.round (r=-1 -> 22)."""
    dz = (v_max - v_min) / (atoms - 1.0)
    return torch.round((rewards.double() - v_min) / dz).clamp(0, atoms - 1).long()


def update_dist(
    rewards: torch.Tensor, probs: torch.Tensor, v_min: float, v_max: float, gamma: float
) -> torch.Tensor:
    """The book's `update_dist` for a batch: probs (B, K), rewards (B,) -> (B, K).

    Its loops, in closed form: for 2 <= i <= bj, m_i = p_i + gamma^(bj-i+1) p_{i-1}; for
    bj <= i <= K-2, m_i += gamma^(i-bj+1) p_{i+1} (each read sees an untouched neighbour), then
    m / sum(m). A heuristic concentration toward atom bj, not a Bellman projection (bug 1)."""
    k = probs.shape[1]
    bj = atom_index(rewards, v_min, v_max, k).unsqueeze(1)
    i = torch.arange(k, device=probs.device).unsqueeze(0)
    left_from = torch.cat([probs[:, :1], probs[:, :-1]], dim=1)  # p_{i-1}
    right_from = torch.cat([probs[:, 1:], probs[:, -1:]], dim=1)  # p_{i+1}
    left = ((i >= 2) & (i <= bj)).to(probs.dtype) * gamma ** (bj - i + 1).clamp(min=0).to(
        probs.dtype
    )
    right = ((i >= bj) & (i <= k - 2)).to(probs.dtype) * gamma ** (i - bj + 1).clamp(min=0).to(
        probs.dtype
    )
    m = probs + left * left_from + right * right_from
    return m / m.sum(dim=1, keepdim=True)


def degenerate(rewards: torch.Tensor, v_min: float, v_max: float, atoms: int) -> torch.Tensor:
    """All mass on the reward's atom: the book's terminal-state target."""
    return F.one_hot(atom_index(rewards, v_min, v_max, atoms), atoms).float()


def book_epsilon_step(eps: float, step: int, p: BookDistParams) -> float:
    """One step of the book's schedule: eps -= 1 / (1000 log2 i) for i > 100 while eps > min."""
    if step > p.eps_decay_after and eps > p.eps_min:
        eps -= (1.0 / math.log2(step)) / 1000.0
    return eps


class BookDistDQN(Algorithm):
    """The chapter's training loop, one environment step (or synthetic iteration) per train_step."""

    def __init__(self, p: BookDistParams, env: EnvFactory, ctx: RunContext):
        self.p, self.env_factory, self.ctx = p, env, ctx
        self.device = ctx.device
        self.rng = np.random.default_rng(ctx.seed)
        self.torch_gen = torch.Generator().manual_seed(ctx.seed)
        self.support = make_support(p.v_min, p.v_max, p.atoms).to(self.device)
        self.actions = 3 if p.task == "synthetic" else int(env.action_space.n)
        if p.task != "synthetic" and len(env.observation_space.shape) != 1:
            raise DrlrunError(
                f"algo=dist_book is the book's flat-vector network (Listing 7.6) and needs a "
                f"vector observation (env=freeway_ram); env={env.name} has shape "
                f"{env.observation_space.shape}: for images use algo=dist_dqn"
            )
        inputs = 128 if p.task == "synthetic" else int(np.prod(env.observation_space.shape))
        self.inputs = inputs
        self.net = build("net", ctx.net_cfg).make(inputs, self.actions, p.atoms)  # net=book_dist
        self.theta = self.net.init(self.torch_gen, self.device)
        self.theta_target = self.theta.detach().clone()
        self.frames = 0
        self.step_index = 0
        self.eps = p.eps_start
        self.crossings = 0
        self.losses: list[float] = []
        self.replay: list[tuple[np.ndarray, int, float, np.ndarray, bool]] = []
        self.eval_envs = EvalEnvs(env)
        self.envs = None
        if p.task == "synthetic":
            self.states = (torch.randn(2, inputs, generator=self.torch_gen) / 10).to(self.device)
        else:
            self.envs = env.make_vec()
            if self.envs.num_envs != 1:
                raise DrlrunError("the book's Dist-DQN loop runs one env: set env.num_envs=1")
            obs, _ = self.envs.reset(seed=ctx.seed)
            self.obs = obs[0]

    # --- pieces -----------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return self.theta.numel()

    def forward(self, x: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        theta = self.theta if theta is None else theta
        return self.net.forward(x, theta)

    def preprocess(self, obs: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32).reshape(-1, self.inputs)
        x = x.to(self.device)
        return F.normalize(x, dim=1) if self.p.state_norm == "l2" else x / 255.0

    def expected(self, probs: torch.Tensor) -> torch.Tensor:
        return probs @ self.support

    def target(
        self,
        next_probs: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        dones: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The target distributions (B, A, K) and the mask of rows the loss uses (B, A)."""
        p = self.p
        b = len(actions)
        rows = torch.arange(b, device=self.device)
        nxt = actions if p.next_action == "taken" else self.expected(next_probs).argmax(1)
        source = next_probs[rows, nxt]
        terminal = rewards != -1 if p.terminal == "reward" else dones
        if p.projection == "update_dist":
            moved = update_dist(rewards, source, p.v_min, p.v_max, p.gamma)
            row = torch.where(
                terminal.unsqueeze(1), degenerate(rewards, p.v_min, p.v_max, p.atoms), moved
            )
        else:
            discounts = torch.where(terminal, 0.0, p.discount)
            row = project_categorical(source, rewards, discounts, self.support)
        target = next_probs.clone()
        target[rows, actions] = row
        mask = torch.ones(b, self.actions, device=self.device)
        if p.untaken_rows == "masked":
            mask = F.one_hot(actions, self.actions).float()
        return target, mask

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The book's lossfn: cross-entropy over the flattened actions x atoms vector, summed."""
        per_sample = -(torch.log(pred) * target * mask.unsqueeze(2)).flatten(1).sum(1)
        return per_sample.sum() if self.p.loss_reduction == "sum" else per_sample.mean()

    def sgd(self, loss: torch.Tensor) -> None:
        """theta -= lr * theta.grad, with the book's never-zeroed gradient unless zero_grad."""
        if self.p.zero_grad and self.theta.grad is not None:
            self.theta.grad.zero_()
        loss.backward()
        with torch.no_grad():
            self.theta -= self.p.lr * self.theta.grad

    def learn(self, s, a, r, s2, done) -> float:
        pred = self.forward(s)
        with torch.no_grad():
            target, mask = self.target(self.forward(s2, self.theta_target), a, r, done)
        loss = self.loss(pred, target, mask)
        self.sgd(loss)
        value = loss.item()
        self.losses.append(value)
        return value

    def shape_reward(self, reward: float, done: bool) -> float:
        p = self.p
        if reward == 1:
            reward = p.reward_crossing
        if done:
            reward = p.reward_done
        return p.reward_step if reward == 0 else float(reward)

    # --- the loops ----------------------------------------------------------------------------
    def _synthetic_step(self) -> dict[str, float]:
        p = self.p
        actions = torch.tensor(p.synthetic_actions)
        noise = torch.randn(len(actions), generator=self.torch_gen) * p.synthetic_noise
        rewards = (torch.tensor(p.synthetic_rewards) + noise).to(self.device)
        dones = torch.zeros(len(actions), dtype=torch.bool, device=self.device)
        actions = actions.to(self.device)
        loss = self.learn(self.states, actions, rewards, self.states, dones)
        return {"loss": loss}

    def _freeway_step(self) -> dict[str, float]:
        p = self.p
        i = self.step_index
        state = self.preprocess(self.obs)
        if i < p.replay_size or self.rng.random() < self.eps:
            action = int(self.rng.integers(self.actions))
        else:
            with torch.no_grad():
                action = int(self.expected(self.forward(state)).argmax(1)[0])
        step = self.envs.step_all(np.array([action]))
        done = bool(step.terminated[0] or step.truncated[0])
        next_obs = step.final_obs[0] if done else step.obs[0]
        if step.rewards[0] == 1:
            self.crossings += 1
        reward = self.shape_reward(float(step.rewards[0]), done)
        # the terminal flag is `terminated` only: a truncated episode (time limit) bootstraps
        terminated = bool(step.terminated[0])
        exp = (np.asarray(self.obs).copy(), action, reward, np.asarray(next_obs).copy(), terminated)
        copies = 1 + (p.priority_copies if reward in p.priority_rewards else 0)
        for _ in range(copies):  # deque(maxlen=replay_size): the oldest entry falls out
            self.replay.append(exp)
            del self.replay[: max(0, len(self.replay) - p.replay_size)]
        # the book shuffles the whole deque every step, so "oldest" is a random entry
        self.replay = [self.replay[j] for j in self.rng.permutation(len(self.replay))]
        self.obs = step.obs[0]
        out: dict[str, float] = {"epsilon": self.eps, "crossings": float(self.crossings)}
        if len(self.replay) == p.replay_size:
            idx = self.rng.integers(0, len(self.replay), size=p.batch_size)  # with replacement
            batch = [self.replay[j] for j in idx]
            s = self.preprocess(np.stack([e[0] for e in batch]))
            a = torch.tensor([e[1] for e in batch], device=self.device)
            r = torch.tensor([e[2] for e in batch], dtype=torch.float32, device=self.device)
            s2 = self.preprocess(np.stack([e[3] for e in batch]))
            d = torch.tensor([e[4] for e in batch], device=self.device)
            out["loss"] = self.learn(s, a, r, s2, d)
        self.eps = book_epsilon_step(self.eps, i, p)
        return out

    def train_step(self) -> TrainResult:
        result = TrainResult()
        if self.p.task == "synthetic":
            result.metrics = self._synthetic_step()
        else:
            result.metrics = self._freeway_step()
        if self.step_index % self.p.target_sync_every == 0:
            self.theta_target = self.theta.detach().clone()
        self.step_index += 1
        self.frames += 1
        return result

    # --- evaluation, state --------------------------------------------------------------------
    def evaluate(
        self, episodes: int, seed: int, epsilon: float = 0.0, recorder=None
    ) -> dict[str, float]:
        if self.p.task == "synthetic":
            raise DrlrunError(
                "algo.task=synthetic has no environment to play (its results are the plots); "
                "evaluate a task=freeway run, or set eval.episodes=0"
            )
        out: dict[str, float] = {"train_crossings": float(self.crossings)}

        def policy(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            if rng.random() < epsilon:
                return rng.integers(0, self.actions, size=len(obs))
            with torch.no_grad():
                return self.expected(self.forward(self.preprocess(obs))).argmax(1).cpu().numpy()

        # with a recorder: Fig. 7.21's panel beside each frame
        drawing = (
            build_probes(self) if recorder is not None else []
        )  # run_episodes picks frame ones
        with self.eval_envs.open(render=recorder is not None) as env:
            return {**run_episodes(env, policy, episodes, seed, recorder, probes=drawing), **out}

    def named_tensors(self) -> Tensors:
        return {"theta": self.theta}

    def state_dict(self) -> dict[str, Any]:
        grad = self.theta.grad
        return {
            "theta": self.theta.detach().clone(),
            "theta_grad": None if grad is None else grad.clone(),
            "theta_target": self.theta_target,
            "rng": generator_state(self.rng),
            "torch_gen": self.torch_gen.get_state(),
            "envs": None if self.envs is None else self.envs.get_state(),
            "obs": None if self.envs is None else self.obs,
            "states": self.states if self.p.task == "synthetic" else None,
            "replay": [[e[0], e[1], e[2], e[3], e[4]] for e in self.replay],
            "frames": self.frames,
            "step_index": self.step_index,
            "eps": self.eps,
            "crossings": self.crossings,
            "losses": list(self.losses),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.theta.copy_(state["theta"])
        grad = state["theta_grad"]
        self.theta.grad = None if grad is None else grad.to(self.device, copy=True)
        self.theta_target = state["theta_target"].to(self.device, copy=True)
        set_generator_state(self.rng, state["rng"])
        self.torch_gen.set_state(state["torch_gen"])
        if self.envs is not None:
            self.envs.set_state(state["envs"])
            self.obs = np.asarray(state["obs"]).copy()
        if state["states"] is not None:
            self.states = state["states"].to(self.device, copy=True)
        self.replay = [(e[0], int(e[1]), float(e[2]), e[3], bool(e[4])) for e in state["replay"]]
        self.frames, self.step_index = int(state["frames"]), int(state["step_index"])
        self.eps, self.crossings = float(state["eps"]), int(state["crossings"])
        self.losses = [float(x) for x in state["losses"]]

    def probes(self) -> list[str]:
        return ["book_distributions"]  # the chapter's figures and video panel: dist_figures.py

    def close(self) -> None:
        if self.envs is not None:
            self.envs.close()
        self.eval_envs.close()


@register("algo", "dist_book")
@accepts(nets=("book_dist",))
def build_dist_book(cfg: DictConfig, env: EnvFactory, ctx: RunContext) -> BookDistDQN:
    params = from_cfg(BookDistParams, cfg, "algo", ignore=("name", "fidelity"))
    return BookDistDQN(params, env, ctx)
