"""Attention figures (book ch. 10): DoorKey per-head maps (MNIST's are the `mnist` probe,
viz/mnist.py).

MiniGrid observations are indexed [x][y], so node i of the 7x7 view is cell (x, y) =
(i // 7, i % 7) and is drawn at image row y, column x (`view_cell`, `node_of`); the agent is at
(3, 6), node 27. The `doorkey_attention` probe draws them (figures and video frames).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drlrun.registry import register
from drlrun.viz.probe import Figures, FrameView, Probe, pyplot

VIEW = 7
AGENT_CELL = (3, 6)  # (x, y) of the agent in MiniGrid's egocentric view


def node_of(x: int, y: int, width: int = VIEW) -> int:
    """Node index of view cell (x, y) when nodes flatten a (C, X, Y) map row-major."""
    return x * width + y


def view_cell(node: int, width: int = VIEW) -> tuple[int, int]:
    """(x, y) view cell of a node index."""
    return divmod(node, width)


def node_map(weights: torch.Tensor | np.ndarray, width: int = VIEW) -> np.ndarray:
    """Per-node weights (X*Y,) -> an image array [y, x] (rows are y, as MiniGrid renders)."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1, width)  # [x, y]
    return w.T


# --- DoorKey (MiniGrid) -------------------------------------------------------------------------
def _grid_torso(algo: Any):
    """The relational torso of a DQN on a symbolic 7x7 grid, or None."""
    torso = getattr(getattr(algo, "online", None), "torso", None)
    levels = getattr(getattr(algo, "env_factory", None), "categorical_levels", ())
    if levels and hasattr(torso, "att_map") and getattr(torso, "grid", None) == (VIEW, VIEW):
        return torso
    return None


@torch.no_grad()
def attention_of(torso: Any, obs: np.ndarray) -> np.ndarray:
    """(heads, nodes, nodes) attention weights for one observation."""
    torso(torch.as_tensor(obs[None], device=next(torso.parameters()).device))
    return torso.att_map[0].cpu().numpy()


def _find(obs: np.ndarray, kind: str) -> int | None:
    """Node of the first view cell holding object `kind` (MiniGrid object code)."""
    from minigrid.core.constants import OBJECT_TO_IDX

    hits = np.flatnonzero(obs[0].reshape(-1) == OBJECT_TO_IDX[kind])
    return int(hits[0]) if len(hits) else None


def doorkey_figures(
    algo: Any, torso: Any, out: Figures, seed: int = 0, max_steps: int = 60
) -> None:
    """doorkey_view.png (full render | agent's 7x7 view with A/K/D marked) and
    doorkey_attention.png (heads x {agent, key, door} per-node attention maps, book fig. 10.24)
    for the first state of a greedy episode where the key and the door are both in view."""
    plt = pyplot()
    env = algo.env_factory.make_eval(render=True)
    try:
        obs, _ = env.reset(seed=seed)
        for _ in range(max_steps):
            if _find(obs[0], "key") is not None and _find(obs[0], "door") is not None:
                break
            obs = env.step_all(algo.actor.greedy(obs)).obs
        base = env.envs[0].unwrapped
        full, pov = env.envs[0].render(), base.get_pov_render(tile_size=32)
        view = obs[0]
    finally:
        env.close()
    att = attention_of(torso, view)
    marks = {"agent": node_of(*AGENT_CELL), "key": _find(view, "key"), "door": _find(view, "door")}
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    axes[0].imshow(full)
    axes[0].set_title("full grid")
    axes[1].imshow(pov, extent=(-0.5, VIEW - 0.5, VIEW - 0.5, -0.5))
    for label, node in marks.items():
        if node is not None:
            x, y = view_cell(node)
            axes[1].text(
                x,
                y,
                label[0].upper(),
                color="yellow",
                ha="center",
                va="center",
                fontsize=16,
                fontweight="bold",
            )
    axes[1].set_title("agent's view (x right, y down)")
    for ax in axes:
        ax.axis("off")
    out.save(fig, "doorkey_view", dpi=90)
    heads = att.shape[0]
    fig, axes = plt.subplots(heads, 3, figsize=(7, 2.4 * heads), squeeze=False)
    for h in range(heads):
        for c, (label, node) in enumerate(marks.items()):
            ax = axes[h, c]
            if node is not None:
                ax.imshow(node_map(att[h, node]), vmin=0)
                x, y = view_cell(node)
                ax.plot(x, y, "r+", markersize=12)
            ax.set_title(f"head {h + 1}, {label} node" if node is not None else f"no {label}")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    out.save(fig, "doorkey_attention", dpi=90)


class DoorKeyAttention(Probe):
    """A relational DQN on a 7x7 symbolic grid: the figures above, and each video frame as
    [full render | agent's view with the agent node's attention (mean over heads) blended in]."""

    def __init__(self, algo: Any, torso: Any):
        self.algo, self.torso = algo, torso

    def figures(self, out: Figures) -> None:
        doorkey_figures(self.algo, self.torso, out)

    def frame(self, frame: np.ndarray, view: FrameView) -> np.ndarray:
        import matplotlib

        inner = view.env.envs[0]
        last = getattr(inner, "last_obs", None)
        if last is None:
            return frame
        att = attention_of(self.torso, last).mean(axis=0)[node_of(*AGENT_CELL)]
        weights = node_map(att)
        weights = weights / max(weights.max(), 1e-8)
        tile = frame.shape[0] // VIEW
        pov = inner.unwrapped.get_pov_render(tile_size=tile).astype(np.float64)
        heat = matplotlib.colormaps["inferno"](np.kron(weights, np.ones((tile, tile))))[..., :3]
        blend = (0.5 * pov + 0.5 * 255 * heat).astype(np.uint8)
        pad = np.zeros((frame.shape[0], blend.shape[1], 3), np.uint8)
        pad[: blend.shape[0]] = blend
        return np.concatenate([frame, pad], axis=1)


@register("probe", "doorkey_attention")
def build_doorkey_attention(algo: Any) -> DoorKeyAttention | None:
    """Only for a relational torso on a symbolic 7x7 grid (MiniGrid's egocentric view)."""
    torso = _grid_torso(algo)
    return None if torso is None else DoorKeyAttention(algo, torso)
