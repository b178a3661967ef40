"""Figures of return distributions (book chapter 7), as PNG files and TensorBoard images.

The `c51` and `qr` probes of the Q learner, and drawing shared with the book's Dist-DQN:
per-action bar charts with the expected value in each title (Figs. 7.19, 7.22), prediction vs
target over the flattened actions x atoms vector (Figs. 7.17, 7.18), the loss curve (Figs. 7.18,
7.20), QR's quantile functions, and the per-frame panels of eval videos (Fig. 7.21).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drlrun.registry import register
from drlrun.viz.panels import attach_panel
from drlrun.viz.probe import Figures, FrameView, Probe

log = logging.getLogger("drlrun")

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
    expected: np.ndarray | None = None,
) -> Any:
    """Rows = samples, columns = actions; each bar chart titled with its expected value
    (probs @ support unless `expected` (samples, actions) is given, e.g. QR's quantile means)."""
    plt = _pyplot()
    samples, actions, _ = probs.shape
    names = list(action_names or [f"a{i}" for i in range(actions)])
    width = float(support[1] - support[0]) if len(support) > 1 else 1.0
    if expected is None:
        expected = probs @ support
    width_in, height_in = 3.2 * actions, 2.2 * samples
    fig, axes = plt.subplots(
        samples, actions, figsize=(width_in, height_in), squeeze=False, sharex=True
    )
    # one filled step artist per panel: `bar` made one patch per atom, and drawing the 18
    # actions x 4 samples x 51 atoms of a Mario C51 grid took 14 s
    edges = np.append(support - width / 2, support[-1] + width / 2)
    for i in range(samples):
        for a in range(actions):
            ax = axes[i][a]
            colour = ACTION_COLOURS[a % len(ACTION_COLOURS)]
            ax.stairs(probs[i, a], edges, fill=True, color=colour)
            ax.set_title(f"s{i} {names[a]}: E={float(expected[i, a]):.2f}", fontsize=9)
            ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title)
    # fixed margins in inches: tight_layout measured every tick label of the 4 x 18 panels
    # (3.5 s of a Mario C51 run's end); each panel has the same title and tick labels
    top = 0.55 + (0.35 if title else 0.0)
    fig.subplots_adjust(
        left=0.45 / width_in,
        right=1 - 0.1 / width_in,
        bottom=0.35 / height_in,
        top=1 - top / height_in,
        wspace=0.3,
        hspace=0.55,
    )
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


def _replay_sample(learner: Any, samples: int) -> Any:
    """A fixed-seed replay batch for end-of-run figures, or None before replay can sample."""
    if not learner.replay.can_sample(learner.p.n_step):
        return None
    rng = np.random.default_rng(0)
    return learner.replay.sample(samples, rng, learner.p.n_step, learner.p.gamma)


def _names(learner: Any) -> list[str]:
    names = getattr(learner, "_action_names", None)
    if names is None:
        names = learner._action_names = action_names(learner.env_factory, learner.n_actions)
    return names


def c51_figures(learner: Any, out: Figures, samples: int = 4) -> None:
    """Predicted return distributions of a few replayed states for a C51 learner, and sample 0's
    prediction vs its projected target over the flattened actions x atoms vector."""
    import torch

    from drlrun.algos.q.losses.base import TDBatch

    batch = _replay_sample(learner, samples)
    if batch is None:
        return
    obj = learner.loss
    t = learner.to_tensor
    td = TDBatch(
        t(batch.obs), t(batch.actions).long(), t(batch.returns), t(batch.discounts),
        t(batch.next_obs), None,
    )  # fmt: skip
    with torch.no_grad():
        probs = obj.probs(learner.online(td.obs))
        target = probs.clone()
        rows = torch.arange(len(td.actions))
        target[rows, td.actions] = obj.target_distribution(
            learner.online, learner.target, td, learner.p.double
        )
    probs_np, support = probs.cpu().numpy(), obj.support.cpu().numpy()
    names = _names(learner)
    figures = {
        "distributions": distribution_grid(probs_np, support, names, "C51: predicted Z(s, a)"),
        "prediction_vs_target": prediction_vs_target(
            probs_np[0],
            target[0].cpu().numpy(),
            f"sample 0 (action {names[int(batch.actions[0])]}): prediction vs projected target",
        ),
    }
    for name, fig in figures.items():
        out.save(fig, f"plots/{name}")


def quantile_functions(
    quantiles: np.ndarray, action_names: Sequence[str] | None = None, title: str = ""
) -> Any:
    """One axes per sample: each action's quantile function tau -> theta_tau as a step line,
    its mean (the Q-value) in the legend."""
    plt = _pyplot()
    samples, actions, n = quantiles.shape
    names = list(action_names or [f"a{i}" for i in range(actions)])
    tau = (np.arange(n) + 0.5) / n
    fig, axes = plt.subplots(1, samples, figsize=(3.4 * samples, 3), squeeze=False)
    for i in range(samples):
        ax = axes[0][i]
        for a in range(actions):
            q = quantiles[i, a]
            ax.step(
                tau, q, where="mid", color=ACTION_COLOURS[a % len(ACTION_COLOURS)],
                label=f"{names[a]}: E={float(q.mean()):.2f}",
            )  # fmt: skip
        ax.set_title(f"s{i}", fontsize=9)
        ax.set_xlabel("tau", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("return quantile")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def qr_figures(learner: Any, out: Figures, samples: int = 4) -> None:
    """QR-DQN's learned quantile functions of a few replayed states, and the same quantiles as
    histograms per action (each quantile carries mass 1/N), titled with their means."""
    import torch

    from drlrun.viz.panels import quantile_histogram

    batch = _replay_sample(learner, samples)
    if batch is None:
        return
    with torch.no_grad():
        quantiles = learner.online(learner.to_tensor(batch.obs)).cpu().numpy()
    names = _names(learner)
    centres, hist = quantile_histogram(quantiles)
    figures = {
        "quantiles": quantile_functions(quantiles, names, "QR-DQN: quantile functions of Z(s, a)"),
        "distributions": distribution_grid(
            hist, centres, names, "QR-DQN: predicted Z(s, a)", expected=quantiles.mean(-1)
        ),
    }
    for name, fig in figures.items():
        out.save(fig, f"plots/{name}")


def c51_panel(learner: Any, obs: np.ndarray, height: int) -> np.ndarray:
    """The eval-video panel of a C51 learner: each action's distribution at this frame."""
    from drlrun.viz.panels import distribution_panel

    probs = learner.loss.probs(learner.head_outputs(obs))[0].cpu().numpy()
    support = learner.loss.support.cpu().numpy()
    return distribution_panel(support, probs, _names(learner), height, title="C51: Z(s, a)")


def qr_panel(learner: Any, obs: np.ndarray, height: int) -> np.ndarray:
    """The eval-video panel of a QR-DQN learner: histograms of each action's quantiles."""
    from drlrun.viz.panels import distribution_panel, quantile_histogram

    quantiles = learner.head_outputs(obs)[0].cpu().numpy()
    centres, probs = quantile_histogram(quantiles)
    return distribution_panel(
        centres, probs, _names(learner), height, title="QR-DQN: Z(s, a)",
        expected=quantiles.mean(-1),
    )  # fmt: skip


class DistributionProbe(Probe):
    """A distributional Q learner's figures (from a fixed-seed replay batch; feedforward torsos,
    whose replay holds transitions) and its per-frame panel beside eval videos (Fig. 7.21)."""

    def __init__(self, learner: Any, figures: Any, panel: Any):
        self.learner, self._figures, self._panel = learner, figures, panel

    def figures(self, out: Figures) -> None:
        if self.learner.actor.stateful:
            log.info("distribution figures sample transitions; a sequence torso's replay holds "
                     "windows, so only the video panel shows its distributions")  # fmt: skip
            return
        self._figures(self.learner, out)

    def frame(self, frame: np.ndarray, view: FrameView) -> np.ndarray:
        return attach_panel(frame, self._panel(self.learner, view.obs, frame.shape[0]))


@register("probe", "c51")
def build_c51_probe(learner: Any) -> DistributionProbe:
    return DistributionProbe(learner, c51_figures, c51_panel)


@register("probe", "qr")
def build_qr_probe(learner: Any) -> DistributionProbe:
    return DistributionProbe(learner, qr_figures, qr_panel)
