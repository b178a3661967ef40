"""Attention figures (book ch. 10): DoorKey per-head maps (MNIST's are the `mnist` probe,
viz/mnist.py).

MiniGrid observations are indexed [x][y], so node i of the 7x7 view is cell (x, y) =
(i // 7, i % 7) and is drawn at image row y, column x (`view_cell`, `node_of`); the agent is at
(3, 6), node 27. Figures go to the run dir (PNG); the caller may also log them to TensorBoard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

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


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_tensorboard(run_dir: Path, paths: list[Path], step: int) -> None:
    """Also log written figures as TensorBoard images when the run keeps TensorBoard logs."""
    tb = run_dir / "tb"
    if not paths or not tb.is_dir():
        return
    import imageio.v2 as imageio
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tb))
    try:
        for path in paths:
            image = np.asarray(imageio.imread(path))[..., :3]
            writer.add_image(f"attention/{path.stem}", image, step, dataformats="HWC")
    finally:
        writer.close()


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


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


def doorkey_figures(algo: Any, run_dir: Path, seed: int = 0, max_steps: int = 60) -> list[Path]:
    """doorkey_view.png (full render | agent's 7x7 view with A/K/D marked) and
    doorkey_attention.png (heads x {agent, key, door} per-node attention maps, book fig. 10.24)
    for the first state of a greedy episode where the key and the door are both in view."""
    torso = _grid_torso(algo)
    if torso is None:
        return []
    plt = _plt()
    env = algo.env_factory.make_eval(render=True)
    try:
        obs, _ = env.reset(seed=seed)
        for _ in range(max_steps):
            if _find(obs[0], "key") is not None and _find(obs[0], "door") is not None:
                break
            obs = env.step_all(algo.greedy(obs)).obs
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
    written = [_save(fig, run_dir / "doorkey_view.png")]
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
    written.append(_save(fig, run_dir / "doorkey_attention.png"))
    to_tensorboard(run_dir, written, algo.frames)
    return written


class AttentionOverlay:
    """Video recorder wrapper: each frame becomes [full render | agent's view with the agent
    node's attention (mean over heads) blended in]."""

    def __init__(self, recorder: Any, torso: Any, env: Any):
        self.recorder, self.torso, self.env = recorder, torso, env

    def __call__(self, frame: np.ndarray, episode: int) -> None:
        import matplotlib

        inner = self.env.envs[0]
        view = getattr(inner, "last_obs", None)
        if view is None:
            self.recorder(frame, episode)
            return
        att = attention_of(self.torso, view).mean(axis=0)[node_of(*AGENT_CELL)]
        weights = node_map(att)
        weights = weights / max(weights.max(), 1e-8)
        tile = frame.shape[0] // VIEW
        pov = inner.unwrapped.get_pov_render(tile_size=tile).astype(np.float64)
        heat = matplotlib.colormaps["inferno"](np.kron(weights, np.ones((tile, tile))))[..., :3]
        blend = (0.5 * pov + 0.5 * 255 * heat).astype(np.uint8)
        pad = np.zeros((frame.shape[0], blend.shape[1], 3), np.uint8)
        pad[: blend.shape[0]] = blend
        self.recorder(np.concatenate([frame, pad], axis=1), episode)


def attention_overlay(recorder: Any, algo: Any, env: Any) -> Any:
    """`recorder` wrapped with the attention overlay when `algo` is a relational grid DQN."""
    torso = _grid_torso(algo)
    return recorder if torso is None or recorder is None else AttentionOverlay(recorder, torso, env)
