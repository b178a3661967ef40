"""Multi-agent Q-learning (book ch. 9): mean-field Q (`mfq`, Yang et al. 2018), neighbourhood Q
with the neighbours' joint action (`nq`) and independent Q (`iq`), on any `TeamEnv`.

Per team: one Q network shared by its agents (or one per agent, the book's 1D Ising), a row
replay, an optional target network. Acting refines the neighbours' actions `num_iter` times
(features <-> Boltzmann samples); learning regresses Q(s, a, x) on r + gamma * V(s', x') where
x' is the neighbours' mean (or joint) action in the next state. The book's bugs are switches:
`book_target_indexing` (bug 3), `v_next: stale` (bug 4), `book_no_update` (bug 1),
`book_team2_uses_team1_net` (bug 2). One train_step is `steps_per_iteration` env steps
(null: a whole episode, e.g. one battle = one of the book's epochs).

The algorithm (acting, training loop, evaluation, state) is here; a team's learner and the
family's parameters in marl/learner.py, evaluation opponents in marl/opponents.py, network,
replay and action inference in marl/core.py, end-of-run figures in marl/probes.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drlrun.algos.accepts import accepts
from drlrun.algos.base import Algorithm, Recorder, RunContext, Tensors, TrainResult
from drlrun.algos.marl.core import PolicySpec, infer_actions, interaction_features
from drlrun.algos.marl.learner import Learner, MFQParams
from drlrun.algos.marl.opponents import (
    QController,
    RandomController,
    load_opponent,
    parse_opponent,
    swap_outcome,
)
from drlrun.envs.multiagent import MultiAgentEnvFactory
from drlrun.envs.vector import Episode
from drlrun.errors import DrlrunError
from drlrun.nets.team import TeamQNet
from drlrun.params import from_cfg
from drlrun.registry import build, register
from drlrun.seeding import generator_state, set_generator_state


class MultiAgentQ(Algorithm):
    """MF-Q / NQ / IQ over every team of a `TeamEnv`; team 0 is the one evaluated."""

    learner_class: type[Learner] = Learner

    def __init__(self, p: MFQParams, factory: MultiAgentEnvFactory, ctx: RunContext):
        self.p, self.factory, self.ctx = p, factory, ctx
        self.env = factory.make(False, False)
        self.eval_env: Any = None
        env = self.env
        if p.interaction == "joint" and not env.n_neighbours:
            raise DrlrunError(
                f"algo interaction=joint needs fixed neighbourhoods; env={factory.name} has none"
            )
        n_teams = len(env.teams)
        first_obs = env.reset(ctx.seed)
        groups = 1 if p.share_params else len(first_obs[0])
        if not p.share_params and n_teams > 1:
            raise DrlrunError(
                "share_params=false (one net per agent) needs a fixed set of agents (Ising)"
            )
        self.spec = PolicySpec(
            n_actions=env.n_actions,
            use_obs=p.use_obs,
            interaction=p.interaction,
            n_joint=env.n_actions**env.n_neighbours if env.n_neighbours else 0,
            num_iter=p.num_iter,
        )
        torch.manual_seed(ctx.seed)
        trained = n_teams if p.train_opponent == "learn" else 1
        nets = build("net", ctx.net_cfg)  # net=team_mlp: the shape of every team's network
        self.learners = [
            self.learner_class(p, self.spec, env.obs_dim, groups, nets, ctx.device)
            for _ in range(trained)
        ]
        self.rng = np.random.default_rng(ctx.seed + 1)
        self.env_seed_rng = np.random.default_rng(ctx.seed + 2)
        self.frames = 0
        self.updates = 0
        self.episode_index = 0
        self._start_episode(first_obs)
        self.history: dict[str, list[float]] = {"frame": [], "magnetization": []}
        self.team_losses: list[list[float]] = [[] for _ in self.learners]
        self.team_returns: list[list[float]] = [[] for _ in range(n_teams)]
        # the grid (Ising) or the minimap frame (battle, book Fig. 9.24) before training
        self.initial_image = env.image().copy() if hasattr(env, "image") else env.render()
        if n_teams > 1 and parse_opponent(p.opponent)[0] == "checkpoint":
            self._opponent()  # a wrong path fails now, not after training

    # --- acting ---------------------------------------------------------------------------------
    @property
    def temperature(self) -> float:
        t = getattr(self.env, "temperature", None)
        if t is not None:
            return float(t)
        p = self.p
        if p.temperature_end is None or p.temperature_decay_frames <= 0:
            return p.temperature
        frac = min(1.0, self.frames / p.temperature_decay_frames)
        return p.temperature + frac * (p.temperature_end - p.temperature)

    @property
    def eval_temperature(self) -> float:
        t = getattr(self.env, "temperature", None)
        if t is not None:
            return float(t)
        if self.p.eval_temperature is not None:
            return self.p.eval_temperature
        return self.p.temperature if self.p.temperature_end is None else self.p.temperature_end

    def _start_episode(self, obs: list[np.ndarray]) -> None:
        self.obs = obs
        self.prev = [self.env.initial_actions(t, self.rng) for t in range(len(obs))]
        self.ep_return = np.zeros(len(obs))
        self.ep_length = 0

    def policy(self, learner: Learner, evaluation: bool = False) -> tuple[TeamQNet, float]:
        """The network actions are sampled from and its temperature (MF-Q: Boltzmann over Q;
        MF-AC: the actor's own softmax)."""
        if learner.fixed_temperature is not None:
            return learner.policy_net, learner.fixed_temperature
        return learner.policy_net, self.eval_temperature if evaluation else self.temperature

    def _side_learners(self) -> list[Learner]:
        """The learner that plays each side, for the sides this run trained (first side first)."""
        sides = [self._net_for_team(t) for t in range(len(self.env.teams))]
        return [learner for learner in sides if learner is not None]

    def controller(self) -> QController:
        """This run's evaluation policy, one network per side it trained."""
        policies = [self.policy(learner, evaluation=True) for learner in self._side_learners()]
        return QController(self.spec, [net for net, _ in policies], policies[0][1])

    def _net_for_team(self, team: int) -> Learner | None:
        if team == 1 and self.p.book_team2_uses_team1_net:
            return self.learners[0]
        return self.learners[team] if team < len(self.learners) else None

    def _env_step(self) -> tuple[dict[str, float], Episode | None]:
        env = self.env
        acts, xs, qs = [], [], []
        for team, obs in enumerate(self.obs):
            learner = self._net_for_team(team)
            if learner is None or len(obs) == 0:
                a = self.rng.integers(0, self.spec.n_actions, size=len(obs))
                x, q = interaction_features(self.spec, env, team, a), None
            else:
                group = learner.group_of(np.arange(len(obs)))
                net, temperature = self.policy(learner)
                a, x, q = infer_actions(
                    self.spec, net, env, team, obs, self.prev[team], temperature, self.rng, group
                )
                if self.p.replay_features == "taken":
                    x = interaction_features(self.spec, env, team, a)
            acts.append(a)
            xs.append(x)
            qs.append(q)
        steps, over, info = env.step(acts)
        self.frames += 1
        self.ep_length += 1
        metrics: dict[str, float] = {}
        for team, st in enumerate(steps):
            learner = self.learners[team] if team < len(self.learners) else None
            self.ep_return[team] += float(st.reward.mean()) if len(st.reward) else 0.0
            if learner is None or len(st.reward) == 0:
                continue
            if self.spec.interaction == "joint":
                x_next = interaction_features(self.spec, env, team, acts[team])
            elif self.spec.interaction == "mean":
                x_next = st.mf_next
            else:
                x_next = np.zeros((len(st.reward), 0), np.float32)
            v_stale = qs[team].max(axis=1) if qs[team] is not None else np.zeros(len(st.reward))
            learner.replay.add(
                obs=self.obs[team], x=xs[team], action=acts[team], reward=st.reward,
                done=st.done.astype(np.float32), obs_next=st.obs, x_next=x_next,
                group=np.arange(len(st.reward)), v_stale=v_stale,
            )  # fmt: skip
            metrics[f"reward_team{team}"] = float(st.reward.mean())
        for key in ("magnetization",):
            if key in info:
                metrics[key] = info[key]
        episode = None
        if over:
            extras = {k: float(v) for k, v in info.items()}
            episode = Episode(float(self.ep_return[0]), self.ep_length, extras)
            for team, ret in enumerate(self.ep_return):
                self.team_returns[team].append(float(ret))
            self.episode_index += 1
            self._start_episode(env.reset(int(self.env_seed_rng.integers(2**31))))
        else:
            self.obs = [st.obs[st.alive] for st in steps]
            self.prev = [a[st.alive] for a, st in zip(acts, steps, strict=True)]
        return metrics, episode

    # --- learning -------------------------------------------------------------------------------
    def train_step(self) -> TrainResult:
        p = self.p
        acc: dict[str, list[float]] = {}
        episodes: list[Episode] = []
        steps = 0
        while True:
            metrics, episode = self._env_step()
            steps += 1
            for k, v in metrics.items():
                acc.setdefault(k, []).append(v)
            if self.frames % p.train_freq == 0:
                for i, learner in enumerate(self.learners):
                    if learner.replay.size < max(p.learning_starts, p.batch_size):
                        continue
                    for _ in range(p.gradient_steps):
                        out = learner.update(self.rng, self.temperature)
                        self.updates += 1
                        for k, v in out.items():
                            acc.setdefault(f"{k}_team{i}" if i else k, []).append(v)
                        self.team_losses[i].append(out["loss"])
            if p.target_update > 0 and self.frames % p.target_update == 0:
                for learner in self.learners:
                    learner.sync()
            if "magnetization" in metrics:
                self.history["frame"].append(float(self.frames))
                self.history["magnetization"].append(metrics["magnetization"])
            if episode is not None:
                episodes.append(episode)
                for k in ("win", "kills", "deaths", "battle_length"):
                    if k in episode.extras:
                        acc.setdefault(f"train_{k}", []).append(episode.extras[k])
                if p.steps_per_iteration is None:
                    break
            if p.steps_per_iteration is not None and steps >= p.steps_per_iteration:
                break
        return TrainResult({k: float(np.mean(v)) for k, v in acc.items()}, episodes)

    # --- evaluation -----------------------------------------------------------------------------
    def _opponent(self) -> Any:
        kind, path = parse_opponent(self.p.opponent)
        if kind == "random":
            return RandomController(self.spec.n_actions)
        if kind == "self":  # the run's own other side, as in training
            return self.controller()
        return load_opponent(str(path), self.eval_temperature)

    def evaluate(
        self, episodes: int, seed: int, epsilon: float = 0.0, recorder: Recorder | None = None
    ) -> dict[str, float]:
        if self.eval_env is None:
            self.eval_env = self.factory.make(True, recorder is not None)
        env = self.eval_env
        rng = np.random.default_rng(seed)
        me = self.controller()
        others = self._opponent() if len(self.env.teams) > 1 else None
        # battles: every other one is played from the second side (when this run trained it),
        # so a result is not one side's advantage
        swap = others is not None and self.p.eval_swap_sides and me.plays(1)
        if others is not None and not others.plays(1):
            raise DrlrunError(
                f"eval.opponent={self.p.opponent} has a network for the first side only: it was "
                "trained with algo.train_opponent=random, or saved before drlrun kept one network "
                "per side; use a run trained with algo.train_opponent=learn by this version"
            )
        returns, infos = [], []
        for i in range(episodes):
            mine = 1 if swap and i % 2 else 0
            obs = env.reset(seed + i)
            prev = [env.initial_actions(t, rng) for t in range(len(obs))]
            ret, info, length = 0.0, {}, 0
            while True:
                if recorder is not None:
                    recorder(env.render(), i)
                acts = [
                    (me if t == mine else others).act(env, t, o, prev[t], rng)
                    for t, o in enumerate(obs)
                ]
                steps, over, info = env.step(acts)
                ret += float(steps[mine].reward.mean()) if len(steps[mine].reward) else 0.0
                length += 1
                if over or length >= self.p.eval_steps and len(env.teams) == 1:
                    break
                obs = [st.obs[st.alive] for st in steps]
                prev = [a[st.alive] for a, st in zip(acts, steps, strict=True)]
            returns.append(ret)
            seen = swap_outcome(info) if mine else info
            infos.append({**seen, "length": float(length), "second_side": float(mine)})
        r = np.array(returns)
        out = {
            "eval_return_mean": float(r.mean()) if len(r) else 0.0,
            "eval_return_std": float(r.std()) if len(r) else 0.0,
            "eval_episodes": float(len(r)),
            "episode_length_mean": float(np.mean([x["length"] for x in infos])) if infos else 0.0,
        }
        out.update(self.env_summary(infos))
        return out

    def env_summary(self, infos: list[dict[str, float]]) -> dict[str, float]:
        """Game-specific summary keys: magnetization for grids, win/draw/loss for battles."""
        out: dict[str, float] = {}
        if hasattr(self.env, "spins"):
            from drlrun.envs.ising import magnetization

            out["magnetization"] = magnetization(self.env.spins())  # the training grid, as the book
            if infos:
                out["eval_magnetization"] = float(np.mean([x["magnetization"] for x in infos]))
            if getattr(self.env, "p", None) is not None and self.env.p.dims == 1:
                s = self.env.spins()
                out["domain_walls"] = float((s != np.roll(s, 1)).sum())
        if infos and "win" in infos[0]:
            n = len(infos)
            for key, plural in (("win", "wins"), ("draw", "draws"), ("loss", "losses")):
                count = float(sum(x[key] for x in infos))
                out[f"{key}_rate"] = count / n
                out[plural] = count
            for key in ("kills", "deaths", "surviving_hp", "opponent_hp", "battle_length"):
                out[f"{key}_mean"] = float(np.mean([x[key] for x in infos]))
            for side, name in ((0.0, "first"), (1.0, "second")):  # per side: does a side decide?
                played = [x for x in infos if x["second_side"] == side]
                out[f"battles_{name}_side"] = float(len(played))
                if played:
                    out[f"win_rate_{name}_side"] = float(np.mean([x["win"] for x in played]))
        return out

    # --- state -----------------------------------------------------------------------------
    def named_tensors(self) -> Tensors:
        return {
            f"team{i}.{name}": t
            for i, learner in enumerate(self.learners)
            for name, t in learner.named_tensors().items()
        }

    def state_dict(self) -> dict[str, Any]:
        env_state = self.env.get_state() if hasattr(self.env, "get_state") else None
        return {
            "learners": [learner.state_dict() for learner in self.learners],
            "export": self.export(),
            "rng": generator_state(self.rng),
            "env_seed_rng": generator_state(self.env_seed_rng),
            "frames": self.frames,
            "updates": self.updates,
            "episode_index": self.episode_index,
            "env": env_state,
            "obs": [o.copy() for o in self.obs],
            "prev": [a.copy() for a in self.prev],
            "ep_return": self.ep_return.copy(),
            "ep_length": self.ep_length,
            "history": {k: list(v) for k, v in self.history.items()},
            "team_losses": [list(v) for v in self.team_losses],
            "team_returns": [list(v) for v in self.team_returns],
            "initial_image": self.initial_image,
        }

    def export(self) -> dict[str, Any]:
        """This run's policy for `eval.opponent=checkpoint:<path>` in another run: the first
        side's network (`net`) and every trained side's (`side_nets`)."""
        sides = [learner.export()["net"] for learner in self._side_learners()]
        fixed = self.learners[0].fixed_temperature  # None: the evaluating run's temperature
        return {**self.learners[0].export(), "side_nets": sides, "temperature": fixed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for learner, s in zip(self.learners, state["learners"], strict=True):
            learner.load_state_dict(s)
        set_generator_state(self.rng, state["rng"])
        set_generator_state(self.env_seed_rng, state["env_seed_rng"])
        self.frames = int(state["frames"])
        self.updates = int(state["updates"])
        self.episode_index = int(state["episode_index"])
        if state["env"] is not None and hasattr(self.env, "set_state"):
            self.env.set_state(state["env"])
            self.obs = [np.asarray(o) for o in state["obs"]]
            self.prev = [np.asarray(a) for a in state["prev"]]
            self.ep_return = np.asarray(state["ep_return"], dtype=np.float64)
            self.ep_length = int(state["ep_length"])
        else:  # engines without snapshots (MAgent) restart the interrupted battle
            self._start_episode(self.env.reset(int(self.env_seed_rng.integers(2**31))))
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.team_losses = [list(v) for v in state["team_losses"]]
        self.team_returns = [list(v) for v in state["team_returns"]]
        self.initial_image = state["initial_image"]

    def probes(self) -> list[str]:
        return ["marl_figures"]  # marl/probes.py: grids, magnetisation, losses, team returns

    def close(self) -> None:
        self.env.close()
        if self.eval_env is not None:
            self.eval_env.close()


@register("algo", "iq")
@register("algo", "nq")
@register("algo", "mfq")
@accepts(nets=("team_mlp",), tasks=("teams",))
def build_multiagent_q(cfg: Any, env: MultiAgentEnvFactory, ctx: RunContext) -> MultiAgentQ:
    """mfq, nq and iq: one learner; nq / iq are mfq with another default `interaction`, which a
    preset may switch (+experiment=ch9_magent_fixed algo.interaction=none is independent Q on
    the same budget). The env is a team env: session.build checked the declared task kinds."""
    return MultiAgentQ(from_cfg(MFQParams, cfg, "algo"), env, ctx)
