"""Attention figures (book ch. 10): MNIST maps next to their digits, DoorKey per-head maps.

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


def mnist_figures(algo: Any, run_dir: Path, examples: int = 4) -> list[Path]:
    """curves.png (training loss/accuracy), digits.png (original vs transformed) and, for the
    relational net, attention.png (digit next to its 16x16 max-over-queries attention map)."""
    plt = _plt()
    written = []
    if algo.history:
        h = np.asarray(algo.history)
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        batches = np.arange(1, len(h) + 1)
        axes[0].plot(batches, h[:, 1])
        axes[0].set(xlabel="training batch", ylabel="NLL loss", yscale="log")
        axes[1].plot(batches, h[:, 2])
        axes[1].set(xlabel="training batch", ylabel="batch accuracy")
        fig.tight_layout()
        written.append(_save(fig, run_dir / "curves.png"))
    data = algo.data
    test = data.test_images[:examples]
    raw, shown = data.test_raw[:examples].numpy(), test.numpy()
    fig, axes = plt.subplots(2, examples, figsize=(2 * examples, 4.2), squeeze=False)
    for i in range(examples):
        axes[0, i].imshow(raw[i], cmap="gray")
        axes[1, i].imshow(shown[i, 0], cmap="gray")
        axes[0, i].set_title(f"label {int(data.test_labels[i])}")
    for ax in axes.flat:
        ax.axis("off")
    written.append(_save(fig, run_dir / "digits.png"))
    torso = algo.model.torso
    if hasattr(torso, "att_map"):
        algo.predict(test)
        att = torso.att_map.cpu()  # (B, heads, N, N)
        side = torso.grid
        fig, axes = plt.subplots(2, examples, figsize=(2 * examples, 4.2), squeeze=False)
        for i in range(examples):
            axes[0, i].imshow(shown[i, 0], cmap="gray")
            # the book's view: for each key node, the strongest attention any query gives it
            axes[1, i].imshow(att[i].amax(dim=0).amax(dim=0).view(*side).numpy())
        for ax in axes.flat:
            ax.axis("off")
        written.append(_save(fig, run_dir / "attention.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
