"""Metric sinks behind one interface: metrics.csv, TensorBoard, and a progress display.

metrics.csv holds only quantities that are a function of seed and config (no wall-clock
numbers), so two runs with the same seed give identical files; speed goes to TensorBoard, the
progress display and summary.json.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import sys
from pathlib import Path
from typing import Any

from drlrun.rundir import write_text_atomic

log = logging.getLogger("drlrun")

FIXED_COLUMNS = ["frames", "kind"]


class CsvSink:
    """Append rows to metrics.csv; a new metric name rewrites the file with a wider header.

    Rewrites (a wider header, the cut back to a checkpoint on resume) replace the file
    atomically, so a kill at any moment leaves every row written before it."""

    def __init__(self, path: Path, resume_frames: int | None):
        self.path = path
        self.columns: list[str] = list(FIXED_COLUMNS)
        self.rows: list[dict[str, str]] = []
        if resume_frames is not None and path.exists():
            with path.open(newline="") as f:
                text = f.read()
            if not text.endswith("\n"):  # a row cut by a kill mid-append
                text = text[: text.rfind("\n") + 1]
            reader = csv.DictReader(io.StringIO(text, newline=""))
            self.columns = list(reader.fieldnames or FIXED_COLUMNS)
            self.rows = [
                r for r in reader if int(r["frames"]) <= resume_frames and r["kind"] != "final"
            ]
        self._rewrite()

    def _rewrite(self) -> None:
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.path, out.getvalue())

    def write(self, row: dict[str, Any]) -> None:
        text = {k: _fmt(v) for k, v in row.items()}
        self.rows.append(text)
        new = [k for k in row if k not in self.columns]
        if new:
            self.columns += sorted(new)
            self._rewrite()
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns).writerow(text)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


class Progress:
    """tqdm bar on an interactive terminal; otherwise one log line per log interval."""

    def __init__(self, enabled: bool, total: int | None, initial: int):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="frame", dynamic_ncols=True)
        self.last = initial

    def update(self, frames: int, fields: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(frames - self.last)
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in fields.items()}, refresh=False)
        self.last = frames

    def line(self, text: str, on_bar: bool = False) -> None:
        """Log `text`; with a bar, only lines marked `on_bar` are printed above it (the bar
        itself shows frames, SPS, recent return and ETA)."""
        if self.bar is None:
            log.info(text)
        elif on_bar:
            self.bar.write(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class RunLogger:
    """Fan out scalar metrics to CSV and TensorBoard, and speed to TensorBoard/progress."""

    def __init__(
        self,
        run_dir: Path,
        csv_enabled: bool,
        tensorboard: bool,
        progress: bool,
        total_frames: int | None,
        resume_frames: int | None,
        trackers: list[Any] | None = None,
    ):
        self.trackers = list(trackers or [])  # drlrun.tracking: wandb / mlflow
        self.csv = CsvSink(run_dir / "metrics.csv", resume_frames) if csv_enabled else None
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(
                str(run_dir / "tb"), purge_step=resume_frames if resume_frames else None
            )
        self.progress = Progress(progress, total_frames, resume_frames or 0)

    def log(self, frames: int, kind: str, metrics: dict[str, float]) -> None:
        if self.csv is not None:
            self.csv.write({"frames": frames, "kind": kind, **metrics})
        if self.tb is not None:
            prefix = "train" if kind == "train" else "eval"
            for key, value in metrics.items():
                self.tb.add_scalar(f"{prefix}/{key}", value, frames)
        for tracker in self.trackers:
            tracker.log(frames, kind, metrics)

    def speed(self, frames: int, sps: float, fields: dict[str, float]) -> None:
        if self.tb is not None:
            self.tb.add_scalar("time/sps", sps, frames)
        self.progress.update(frames, {"sps": sps, **fields})

    def figure(self, tag: str, fig: Any, frames: int) -> None:
        if self.tb is not None:
            self.tb.add_figure(tag, fig, frames)

    def image(self, tag: str, rgb: Any, frames: int) -> None:
        """An (H, W, 3) uint8 image in TensorBoard (probes' figures, drlrun.viz.probe)."""
        if self.tb is not None:
            self.tb.add_image(tag, rgb, frames, dataformats="HWC")

    def close(self, status: str = "finished") -> None:
        self.progress.close()
        if self.tb is not None:
            self.tb.close()
        for tracker in self.trackers:
            tracker.close(status)
