"""Optional experiment trackers beyond CSV and TensorBoard: `log.backend=[wandb]`, `[mlflow]`.

Each is used only when its package is installed, and works offline by default: wandb in
offline mode under <run_dir>/wandb (WANDB_MODE overrides; `wandb sync` uploads later), mlflow in
a file store under <run_dir>/mlruns (MLFLOW_TRACKING_URI overrides). Metrics go under
train/<name> and eval/<name> at step = frames, the resolved config as parameters.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Protocol

from omegaconf import OmegaConf

from drlrun.errors import DrlrunError

BACKENDS = {"wandb": "wandb", "mlflow": "mlflow"}  # name -> package to import


class Tracker(Protocol):
    def log(self, frames: int, kind: str, metrics: dict[str, float]) -> None: ...
    def close(self, status: str) -> None: ...


def check_backends(names: list[str]) -> None:
    """Unknown or uninstalled backends fail before the run starts, naming the fix."""
    for name in names:
        if name in ("csv", "tensorboard"):
            raise DrlrunError(
                f"log.backend={name}: use log.{name}=true; log.backend adds wandb/mlflow"
            )
        if name not in BACKENDS:
            raise DrlrunError(f"unknown log.backend {name!r}; choose from: {', '.join(BACKENDS)}")
        if importlib.util.find_spec(BACKENDS[name]) is None:
            raise DrlrunError(f"log.backend={name} needs the package: pip install {BACKENDS[name]}")


def _flat_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(OmegaConf.to_container(OmegaConf.load(path), resolve=True), "")
    return flat


def _prefixed(kind: str, metrics: dict[str, float]) -> dict[str, float]:
    prefix = "train" if kind == "train" else "eval"
    return {f"{prefix}/{k}": float(v) for k, v in metrics.items()}


class WandbTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]):
        import wandb

        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            dir=str(run_dir), config=config, name=run_dir.name, project="drlrun", reinit=True
        )

    def log(self, frames: int, kind: str, metrics: dict[str, float]) -> None:
        self.run.log(_prefixed(kind, metrics), step=frames)

    def close(self, status: str) -> None:
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status == "finished" else 1)


class MlflowTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]):
        import mlflow

        self.mlflow = mlflow
        if "MLFLOW_TRACKING_URI" not in os.environ:
            # a local file store needs no server; mlflow 3 asks to opt in to it
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri((run_dir / "mlruns").resolve().as_uri())
        mlflow.set_experiment("drlrun")
        self.run = mlflow.start_run(run_name=run_dir.name)
        items = [(k, str(v)[:500]) for k, v in config.items()]
        for start in range(0, len(items), 100):  # mlflow caps a batch at 100 params
            mlflow.log_params(dict(items[start : start + 100]))

    def log(self, frames: int, kind: str, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(_prefixed(kind, metrics), step=frames)

    def close(self, status: str) -> None:
        self.mlflow.set_tag("drlrun.status", status)
        self.mlflow.end_run("FINISHED" if status == "finished" else "KILLED")


def make_trackers(names: list[str] | tuple[str, ...], run_dir: Path) -> list[Tracker]:
    check_backends(list(names))
    config = _flat_config(run_dir)
    classes = {"wandb": WandbTracker, "mlflow": MlflowTracker}
    return [classes[name](run_dir, config) for name in names]
