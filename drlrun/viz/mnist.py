"""The `mnist` probe (book ch. 10): what a supervised MNIST run shows at its end.

curves.png (training loss and batch accuracy per batch), digits.png (test digits before and
after the transformation) and, for the relational torso, attention.png (each digit beside its
16x16 max-over-queries attention map). Written through the run's `Figures` (PNG in the run
dir, the same image in TensorBoard under the file's name).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drlrun.registry import register
from drlrun.viz.probe import Figures, Probe, pyplot

DPI = 90


class MnistFigures(Probe):
    """End-of-run figures of a classifier trained on a transformed-MNIST dataset."""

    def __init__(self, algo: Any, examples: int = 4):
        self.algo, self.examples = algo, examples

    def figures(self, out: Figures) -> None:
        plt = pyplot()
        algo, examples = self.algo, self.examples
        if algo.history:
            h = np.asarray(algo.history)
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
            batches = np.arange(1, len(h) + 1)
            axes[0].plot(batches, h[:, 1])
            axes[0].set(xlabel="training batch", ylabel="NLL loss", yscale="log")
            axes[1].plot(batches, h[:, 2])
            axes[1].set(xlabel="training batch", ylabel="batch accuracy")
            fig.tight_layout()
            out.save(fig, "curves", dpi=DPI)
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
        out.save(fig, "digits", dpi=DPI)
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
            out.save(fig, "attention", dpi=DPI)


@register("probe", "mnist")
def build_mnist_probe(algo: Any) -> MnistFigures | None:
    """For a learner that classifies an MNIST dataset (algo=supervised); None for others."""
    from drlrun.envs.mnist import MnistData

    if not isinstance(getattr(algo, "data", None), MnistData) or not hasattr(algo, "model"):
        return None
    return MnistFigures(algo)
