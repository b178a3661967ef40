"""Curiosity: intrinsic-reward modules any DQN-family learner takes (`curiosity=icm|rnd|none`).

ICM (Pathak et al. 2017): encoder phi, forward model f(phi(s), a) -> phi(s') on *detached*
features (its loss never trains phi), inverse model g(phi(s), phi(s')) -> a (its loss trains
g and phi). RND (Burda et al. 2018): a predictor regresses a fixed random network's features of
s'; its error is the bonus and it falls as states repeat. Their encoder is `curiosity.encoder`:
`auto` (the book's phi on image stacks, a 2-layer ELU MLP on vectors) or `net` (a fresh copy of
the `net` group's torso, e.g. nature_cnn on Atari frames, with its own weights).

The learner calls `relabel(batch)` on every sampled batch (rewards recomputed at sample time
with the current models, as the book does), `combine(q_loss, aux)` for the single backward pass
(lambda * Q loss + curiosity loss) and `step()`. The module has its own Adam over its own
parameters (per-parameter Adam over the joint loss is the book's single optimiser over all
four models).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.algos.optim import make_adam
from drlrun.algos.q.losses.base import TDBatch
from drlrun.errors import DrlrunError
from drlrun.nets.base import Torso, build_torso
from drlrun.nets.icm import make_encoder
from drlrun.params import from_cfg
from drlrun.registry import lookup, names, register

Encoder = Callable[[], Torso]  # builds one fresh encoder (its own weights)


@dataclass
class CuriosityParams:
    kind: str = "none"  # a registered transform (icm, rnd) or none
    extrinsic: bool = True  # false: intrinsic-only training (the book's setting)
    extrinsic_scale: float = 1.0
    intrinsic_scale: float = 1.0
    normalize: Literal["none", "running_std"] = "none"  # divide r_i by its running std
    lambda_q: float = 0.1  # lambda: weight of the Q loss in the joint loss
    lr: float = 1e-3
    adam_eps: float = 1e-8
    max_grad_norm: float | None = None
    hidden: int = 256
    encoder: Literal["auto", "net"] = "auto"  # auto: book phi / MLP; net: the net group's torso
    l2_normalize_input: bool = True  # encoder=auto: the book's F.normalize over stacked frames
    track_episodes: bool = True  # intrinsic return per training episode (one extra forward)
    # ICM
    eta: float = 1.0
    beta: float = 0.2
    forward_scale: float = 1.0
    inverse_scale: float = 1e4
    reward_form: Literal["paper", "book"] = "paper"  # eta/2 * err (paper) or err / eta (book)
    loss_weights: Literal["paper", "book"] = "paper"  # book: the swapped (1-b)*F + b*G
    inverse_softmax: bool = False  # book bug: softmax output fed to cross-entropy
    # RND
    rnd_features: int = 288

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")
        if self.eta <= 0:
            raise ValueError(f"eta must be > 0, got {self.eta}")


class RunningStd:
    """Running variance of a scalar stream (Chan et al. parallel update)."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 1e-4, 0.0, 0.0

    def update(self, x: np.ndarray) -> None:
        n, mean, var = len(x), float(x.mean()), float(x.var())
        delta, total = mean - self.mean, self.count + n
        self.m2 += var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.count)) if self.count > 1 else 1.0

    def state(self) -> list[float]:
        return [self.count, self.mean, self.m2]

    def load(self, s: list[float]) -> None:
        self.count, self.mean, self.m2 = (float(v) for v in s)


class ICM(nn.Module):
    """Encoder phi (288 features for 3x42x42), forward model f, inverse model g."""

    def __init__(self, encoder: Encoder, n_actions: int, p: CuriosityParams):
        super().__init__()
        self.p, self.n_actions = p, n_actions
        self.phi = encoder()
        d = self.phi.out_features
        self.inverse = nn.Sequential(
            nn.Linear(2 * d, p.hidden), nn.ReLU(), nn.Linear(p.hidden, n_actions)
        )
        self.forward_model = nn.Sequential(
            nn.Linear(d + n_actions, p.hidden), nn.ReLU(), nn.Linear(p.hidden, d)
        )

    def losses(
        self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(intrinsic reward, per-sample forward error, per-sample inverse error)."""
        p = self.p
        f1, f2 = self.phi(obs), self.phi(next_obs)
        one_hot = F.one_hot(actions, self.n_actions).float()
        pred = self.forward_model(torch.cat([f1.detach(), one_hot], dim=1))
        forward_err = p.forward_scale * F.mse_loss(pred, f2.detach(), reduction="none").sum(dim=1)
        logits = self.inverse(torch.cat([f1, f2], dim=1))
        if p.inverse_softmax:  # the book's Gnet ends in softmax, CrossEntropyLoss adds another
            logits = torch.softmax(logits, dim=1)
        inverse_err = p.inverse_scale * F.cross_entropy(logits, actions, reduction="none")
        err = forward_err.detach()
        reward = err / p.eta if p.reward_form == "book" else p.eta / 2 * err
        return reward, forward_err, inverse_err

    def intrinsic(
        self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(intrinsic reward, the module's loss, its parts for logging)."""
        reward, fwd, inv = self.losses(obs, actions, next_obs)
        aux = self.aux_loss(fwd, inv)
        return reward, aux, {"forward_loss": fwd.mean(), "inverse_loss": inv.mean()}

    def aux_loss(self, forward_err: torch.Tensor, inverse_err: torch.Tensor) -> torch.Tensor:
        b, f, g = self.p.beta, forward_err.mean(), inverse_err.mean()
        if self.p.loss_weights == "book":  # loss_fn(q, forward, inverse) with swapped arguments
            return (1 - b) * f + b * g
        return (1 - b) * g + b * f


class RND(nn.Module):
    """A frozen random target network and a trained predictor with the same encoder shape."""

    def __init__(self, encoder: Encoder, p: CuriosityParams):
        super().__init__()
        self.p = p

        target_enc = encoder()
        self.target = nn.Sequential(
            target_enc, nn.Linear(target_enc.out_features, p.rnd_features)
        ).requires_grad_(False)
        pred_enc = encoder()
        self.predictor = nn.Sequential(
            pred_enc,
            nn.Linear(pred_enc.out_features, p.hidden),
            nn.ReLU(),
            nn.Linear(p.hidden, p.rnd_features),
        )

    def losses(self, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(intrinsic reward, per-sample prediction error)."""
        with torch.no_grad():
            goal = self.target(next_obs)
        err = F.mse_loss(self.predictor(next_obs), goal, reduction="none").mean(dim=1)
        return err.detach(), err

    def intrinsic(
        self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(intrinsic reward, the predictor's loss, its parts for logging)."""
        reward, err = self.losses(next_obs)
        return reward, err.mean(), {"rnd_loss": err.mean()}


class Curiosity:
    """The transform a Q learner calls: owns the module (ICM or RND), its optimiser and its
    statistics; relabels batches with the intrinsic reward and adds the module's loss."""

    probes = ("curiosity",)  # episodes.csv, loss/x_pos figures, the video's r_i strip

    def __init__(self, p: CuriosityParams, module: ICM | RND, device: torch.device):
        self.p, self.device = p, device
        self.module: ICM | RND = module.to(device)
        params = [q for q in self.module.parameters() if q.requires_grad]
        self.adam = make_adam(params, p.lr, p.adam_eps)
        self.params = params
        self.reward_std = RunningStd()
        self._sums: dict[str, list[float]] = {}
        self._episode_intrinsic: np.ndarray | None = None
        self.frames = 0  # agent steps observed (all envs)
        self.episodes: list[dict[str, float]] = []  # one record per finished training episode
        self.history: list[dict[str, float]] = []  # metrics() rows, for the loss plot

    # --- learning ---------------------------------------------------------------------------
    def _intrinsic(
        self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        return self.module.intrinsic(obs, actions, next_obs)

    def scaled(self, reward: torch.Tensor) -> torch.Tensor:
        """Intrinsic reward as added to the extrinsic one (scale, optional running-std norm)."""
        if self.p.normalize == "running_std":
            reward = reward / max(self.reward_std.std, 1e-8)
        return self.p.intrinsic_scale * reward

    def relabel(self, batch: TDBatch) -> tuple[TDBatch, torch.Tensor]:
        """The batch with returns = extrinsic part + intrinsic reward, and the curiosity loss."""
        reward, aux, parts = self._intrinsic(batch.obs, batch.actions, batch.next_obs)
        if self.p.normalize == "running_std":
            self.reward_std.update(reward.cpu().numpy())
        intrinsic = self.scaled(reward)
        extrinsic = batch.returns * self.p.extrinsic_scale if self.p.extrinsic else 0.0
        for k, v in parts.items():
            self._sums.setdefault(k, []).append(float(v.detach()))
        self._sums.setdefault("intrinsic_reward", []).append(float(intrinsic.mean()))
        for g in self.params:
            g.grad = None
        return dataclasses.replace(batch, returns=extrinsic + intrinsic), aux

    def combine(self, q_loss: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """The one loss to backpropagate: lambda * Q loss + curiosity loss."""
        self._sums.setdefault("q_loss", []).append(float(q_loss.detach()))
        return self.p.lambda_q * q_loss + aux

    def step(self) -> None:
        if self.p.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.params, self.p.max_grad_norm)
        self.adam.step()

    # --- acting (episode statistics) ----------------------------------------------------------
    @torch.no_grad()
    def observe(self, obs: np.ndarray, actions: np.ndarray, step: Any, to_tensor: Any) -> None:
        """Add each env's intrinsic reward for this transition; finished episodes get
        `intrinsic_return` in their extras (episodes are listed in env order)."""
        self.frames += len(obs)
        if not self.p.track_episodes:
            self._log_episodes(step.episodes)
            return
        n = len(obs)
        if self._episode_intrinsic is None:
            self._episode_intrinsic = np.zeros(n)
        next_obs = step.obs.copy()
        for i, last in step.final_obs.items():
            next_obs[i] = last
        reward, _, _ = self._intrinsic(
            to_tensor(obs), to_tensor(actions).long(), to_tensor(next_obs)
        )
        self._episode_intrinsic += self.scaled(reward).cpu().numpy()
        done = np.flatnonzero(step.terminated | step.truncated)
        for env_i, episode in zip(done, step.episodes, strict=True):
            episode.extras["intrinsic_return"] = float(self._episode_intrinsic[env_i])
            self._episode_intrinsic[env_i] = 0.0
        self._log_episodes(step.episodes)

    def _log_episodes(self, episodes: list[Any]) -> None:
        """Keep every episode (for episodes.csv and plots); metrics get this step's means."""
        for e in episodes:
            record = {"frame": float(self.frames), "return": e.ret, "length": float(e.length)}
            record.update(e.extras)
            self.episodes.append(record)
            for key in ("intrinsic_return", "max_x_pos", "x_pos"):
                if key in e.extras:
                    self._sums.setdefault(f"episode_{key}", []).append(e.extras[key])

    @torch.no_grad()
    def reward_of(
        self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, to_tensor: Any
    ) -> float:
        """The (scaled) intrinsic reward of one transition (mean over envs), for videos."""
        reward, _, _ = self._intrinsic(
            to_tensor(obs), to_tensor(actions).long(), to_tensor(next_obs)
        )
        return float(self.scaled(reward).mean())

    def metrics(self) -> dict[str, float]:
        """Means since the last call (forward/inverse/RND/Q losses, intrinsic reward)."""
        out = {k: float(np.mean(v)) for k, v in self._sums.items() if v}
        self._sums = {}
        if out:
            self.history.append({"frame": float(self.frames), **out})
        return out

    def summary(self) -> dict[str, float]:
        """Training-episode numbers for summary.json (max x_pos reached, mean intrinsic return)."""
        out: dict[str, float] = {"train_episodes": float(len(self.episodes))}
        for key in ("max_x_pos", "flag_get"):
            values = [e[key] for e in self.episodes if key in e]
            if values:
                out[f"train_{key}"] = float(np.max(values))
        values = [e["intrinsic_return"] for e in self.episodes if "intrinsic_return" in e]
        if values:
            out["train_intrinsic_return_mean"] = float(np.mean(values))
        return out

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "module": self.module.state_dict(),
            "adam": self.adam.state_dict(),
            "reward_std": self.reward_std.state(),
            "episode_intrinsic": self._episode_intrinsic,
            "frames": self.frames,
            "episodes": [dict(e) for e in self.episodes],
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.adam.load_state_dict(state["adam"])
        self.reward_std.load(state["reward_std"])
        ep = state["episode_intrinsic"]
        self._episode_intrinsic = None if ep is None else np.asarray(ep, dtype=np.float64).copy()
        self.frames = int(state["frames"])
        self.episodes = [dict(e) for e in state["episodes"]]
        self.history = [dict(h) for h in state["history"]]


@register("transform", "icm")
def build_icm(
    p: CuriosityParams, encoder: Encoder, n_actions: int, device: torch.device
) -> Curiosity:
    return Curiosity(p, ICM(encoder, n_actions, p), device)


@register("transform", "rnd")
def build_rnd(
    p: CuriosityParams, encoder: Encoder, n_actions: int, device: torch.device
) -> Curiosity:
    return Curiosity(p, RND(encoder, p), device)


def encoder_factory(p: CuriosityParams, env: Any, net_cfg: Any) -> Encoder:
    """What builds each of the module's encoders (ICM: one; RND: target and predictor)."""
    if p.encoder == "net":
        if net_cfg is None:
            raise DrlrunError("curiosity.encoder=net needs a net group (a torso) to copy")
        return lambda: build_torso(net_cfg, env)
    return lambda: make_encoder(env, p.l2_normalize_input)


def build_curiosity(
    cfg: Any,
    env: Any,
    n_actions: int,
    device: torch.device,
    n_step: int,
    default: str = "none",
    net_cfg: Any = None,
) -> Curiosity | None:
    """The configured module, or None for `curiosity=none` (unless the algo's `default` is set)."""
    node = {} if cfg is None else cfg
    p = from_cfg(CuriosityParams, node, "curiosity", ignore=("name",))
    kind = node.get("name", p.kind) if hasattr(node, "get") else p.kind
    if kind != "none" and kind not in names("transform"):
        raise DrlrunError(
            f"unknown curiosity {kind!r}; choose one of none, {', '.join(names('transform'))}"
        )
    p = dataclasses.replace(p, kind=kind)
    if p.kind == "none" and default != "none":
        p = dataclasses.replace(p, kind=default)  # type: ignore[arg-type]
    if p.kind == "none":
        return None
    if n_step != 1:
        raise DrlrunError(
            f"curiosity={p.kind} needs algo.n_step=1 (the intrinsic reward is per transition); "
            f"got {n_step}"
        )
    encoder = encoder_factory(p, env, net_cfg)
    return lookup("transform", p.kind)(p, encoder, n_actions, device)
