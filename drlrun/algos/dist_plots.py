"""Figures of return distributions (book chapter 7), as PNG files and TensorBoard images.

Shared by C51 (`algo=dist_dqn`) and the book's flat-vector Dist-DQN: per-action bar charts with
the expected value in each title (Figs. 7.19, 7.22), prediction vs target over the flattened
actions x atoms vector (Figs. 7.17, 7.18) and the loss curve (Figs. 7.18, 7.20).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ACTION_COLOURS = ("tab:gray", "tab:green", "tab:red", "tab:blue", "tab:orange", "tab:purple")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def distribution_grid(
    probs: np.ndarray,
    support: np.ndarray,
    action_names: Sequence[str] | None = None,
    title: str = "",
) -> Any:
    """Rows = samples, columns = actions; each bar chart titled with its expected value."""
    plt = _pyplot()
    samples, actions, _ = probs.shape
    names = list(action_names or [f"a{i}" for i in range(actions)])
    width = float(support[1] - support[0]) if len(support) > 1 else 1.0
    fig, axes = plt.subplots(
        samples, actions, figsize=(3.2 * actions, 2.2 * samples), squeeze=False, sharex=True
    )
    for i in range(samples):
        for a in range(actions):
            ax = axes[i][a]
            ax.bar(support, probs[i, a], width=width, color=ACTION_COLOURS[a % len(ACTION_COLOURS)])
            ax.set_title(f"s{i} {names[a]}: E={float(support @ probs[i, a]):.2f}", fontsize=9)
            ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def prediction_vs_target(pred: np.ndarray, target: np.ndarray, title: str = "") -> Any:
    """Line plot over the flattened (actions x atoms) vectors: target red, prediction green."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.plot(target.reshape(-1), color="tab:red", label="target")
    ax.plot(pred.reshape(-1), color="tab:green", label="prediction")
    ax.set_xlabel("action x atom (flattened)")
    ax.set_ylabel("probability")
    ax.legend()
    ax.set_title(title or "prediction vs target")
    fig.tight_layout()
    return fig


def loss_curve(losses: Sequence[float], title: str = "loss") -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(np.asarray(losses, dtype=float))
    ax.set_xlabel("update")
    ax.set_ylabel("loss")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def save_figures(figures: dict[str, Any], run_dir: Path, step: int) -> list[Path]:
    """Write each figure to run_dir/plots/NAME.png, and to TensorBoard when the run logs there."""
    plt = _pyplot()
    out_dir = run_dir / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = None
    if (run_dir / "tb").is_dir():
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"))
    paths = []
    for name, fig in figures.items():
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
        if writer is not None:
            writer.add_figure(f"plots/{name}", fig, step, close=False)
        plt.close(fig)
    if writer is not None:
        writer.close()
    return paths


def action_names(env_factory: Any, actions: int) -> list[str]:
    """The env's action meanings when it has them (Atari), else a0, a1, ..."""
    try:
        env = env_factory._spaces()
        names = list(env.unwrapped.get_action_meanings())
        if len(names) == actions:
            return names
    except Exception:  # noqa: BLE001 - names are cosmetic
        pass
    return [f"a{i}" for i in range(actions)]


def book_plots(algo: Any, run_dir: Path) -> list[Path]:
    """The chapter's figures for the flat-vector Dist-DQN (synthetic or Freeway)."""
    import torch

    support = algo.support.numpy()
    if algo.p.task == "synthetic":
        states = next_states = algo.states
        actions = torch.tensor(algo.p.synthetic_actions)
        rewards = torch.tensor(algo.p.synthetic_rewards)
        dones = torch.zeros(len(actions), dtype=torch.bool)
        names = [f"a{i}" for i in range(algo.actions)]
    else:
        if not algo.replay:
            return []
        batch = algo.replay[:4]
        states = algo.preprocess(np.stack([e[0] for e in batch]))
        next_states = algo.preprocess(np.stack([e[3] for e in batch]))
        actions = torch.tensor([e[1] for e in batch])
        rewards = torch.tensor([e[2] for e in batch], dtype=torch.float32)
        dones = torch.tensor([e[4] for e in batch])
        names = action_names(algo.env_factory, algo.actions)
    with torch.no_grad():
        pred = algo.forward(states)
        next_probs = algo.forward(next_states, algo.theta_target)
        target, _ = algo.target(next_probs, actions, rewards, dones)
    figures = {
        "distributions": distribution_grid(pred.numpy(), support, names, "predicted Z(s, a)"),
        "prediction_vs_target": prediction_vs_target(
            pred[0].numpy(), target[0].numpy(), "sample 0: prediction vs target"
        ),
    }
    if algo.losses:
        figures["loss"] = loss_curve(algo.losses)
    return save_figures(figures, run_dir, algo.frames)


def c51_plots(learner: Any, run_dir: Path, samples: int = 4) -> list[Path]:
    """Predicted return distributions of a few replayed states for a C51 learner."""
    import torch

    replay = learner.replay
    if not replay.can_sample(learner.p.n_step):
        return []
    rng = np.random.default_rng(0)
    batch = replay.sample(samples, rng, learner.p.n_step, learner.p.gamma)
    obj = learner.objective
    with torch.no_grad():
        obs = torch.as_tensor(batch.obs, device=learner.device)
        probs = obj.probs(learner.online(obs)).cpu().numpy()
    names = action_names(learner.env_factory, learner.n_actions)
    fig = distribution_grid(probs, obj.support.cpu().numpy(), names, "C51: predicted Z(s, a)")
    return save_figures({"distributions": fig}, run_dir, learner.frames)
