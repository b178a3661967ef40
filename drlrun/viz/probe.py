"""One mechanism for everything a learner shows beyond its metrics: probes.

A probe is built from the registry (`@register("probe", name)`, builder `(algo) -> Probe |
None`, None when it has nothing to show for that learner) for each name in
`algo.probes()` (the parts the algorithm is made of choose them: a C51 loss its distribution
panel, a relational torso its attention, curiosity its intrinsic strip) plus the run's `probes`
config list (plugins). It may

- draw figures at the end of a run: `figures(out)` saves matplotlib figures through `Figures`,
  which writes the PNG into the run dir and the same image to TensorBoard through the run's
  logger (algorithms never open writers of their own);
- change each recorded evaluation frame: `frame(frame, view)` returns the frame to record
  (a panel beside it, a strip under it), seeing the observation the policy acts on next and the
  previous transition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drlrun import registry

if TYPE_CHECKING:
    from drlrun.logger import RunLogger


@dataclass
class FrameView:
    """What a probe sees at one recorded frame of an evaluation episode."""

    obs: np.ndarray  # the (1, ...) observation batch the policy acts on next
    env: Any  # the render-capable 1-env vector env (its envs[0] holds the live wrappers)
    episode: int
    prev_obs: np.ndarray | None = None  # the previous transition (None at an episode's start)
    prev_action: np.ndarray | None = None


class Probe:
    """Figures at the end of a run and/or an overlay on evaluation video frames."""

    def figures(self, out: Figures) -> None:
        """Save this probe's figures with `out.save(fig, name)` (default: none)."""

    def frame(self, frame: np.ndarray, view: FrameView) -> np.ndarray:
        """The frame to record instead of `frame` (default: unchanged)."""
        return frame

    def draws_frames(self) -> bool:
        """Whether `frame` is overridden (only those probes are called while recording)."""
        return type(self).frame is not Probe.frame


@dataclass
class Figures:
    """Where probes put their output: files in the run dir, images also in TensorBoard."""

    run_dir: Path
    step: int
    logger: RunLogger | None = None
    written: list[Path] = field(default_factory=list)

    def path(self, name: str) -> Path:
        """A file in the run dir for non-image output (a CSV); its folder exists."""
        target = self.run_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(target)
        return target

    def save(self, fig: Any, name: str, dpi: int = 100, tensorboard: bool = True) -> Path:
        """Write `fig` to `<run_dir>/<name>.png`, log it as image `name`, and close it."""
        import matplotlib.pyplot as plt

        target = self.path(f"{name}.png")
        fig.savefig(target, dpi=dpi)
        plt.close(fig)
        if tensorboard and self.logger is not None:
            self.logger.image(name, _read_rgb(target), self.step)
        return target


def _read_rgb(path: Path) -> np.ndarray:
    import matplotlib.image as mpimg

    image = mpimg.imread(str(path))
    return (image[..., :3] * 255).astype(np.uint8) if image.dtype != np.uint8 else image[..., :3]


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (probes never open windows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def build_probes(algo: Any, extra: Iterable[str] = ()) -> list[Probe]:
    """The probes `algo` asks for, then `extra` ones (config), each built once, in order."""
    names: list[str] = []
    for name in [*algo.probes(), *extra]:
        if name not in names:
            names.append(name)
    built = (registry.lookup("probe", name)(algo) for name in names)
    return [probe for probe in built if probe is not None]


def frame_probes(probes: Sequence[Probe]) -> list[Probe]:
    return [p for p in probes if p.draws_frames()]


def write_figures(probes: Sequence[Probe], out: Figures) -> list[Path]:
    """Every probe's figures, in order; returns the files written."""
    for probe in probes:
        probe.figures(out)
    return out.written
