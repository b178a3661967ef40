"""Shared fixtures: run the real `drlrun` CLI in a subprocess, compose configs in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

# Small, fast overrides every CLI test shares (CartPole, tiny DQN budget).
TINY = [
    "algo.learning_starts=200",
    "algo.train_freq=64",
    "algo.gradient_steps=8",
    "net.hidden=[32,32]",
    "eval.every=1024",
    "eval.episodes=2",
    "checkpoint.every=512",
    "log.every=256",
    "log.tensorboard=false",
]


def run_cli(
    args: list[str], cwd: Path, timeout: float = 300, module: str = "drlrun.cli", **kwargs
) -> subprocess.CompletedProcess:
    """Run `drlrun ARGS` as a user would (the console script's module; `module` for another
    console script, e.g. drlrun.reproduce.cli), capturing output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def cli(tmp_path: Path):
    """`cli(*args)` runs drlrun in a fresh working directory and returns the completed process."""

    def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, timeout)

    _run.cwd = tmp_path  # type: ignore[attr-defined]
    return _run


def compose(*overrides: str):
    """The composed config for `overrides`, as `drlrun` would build it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module("drlrun.conf", version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


def run_config(
    overrides: list[str], run_dir: Path, resume_from: Path | None = None
) -> tuple[dict, object]:
    """Compose `overrides`, train to the budget in-process exactly as the CLI would (continuing
    from checkpoint `resume_from` if given), and return (summary, algorithm)."""
    from drlrun.runner import Runner
    from drlrun.session import build
    from drlrun.settings import runner_settings

    cfg = compose(*overrides, "log.progress=false", "log.tensorboard=false")
    run_dir.mkdir(parents=True, exist_ok=True)
    built = build(cfg, run_dir)
    try:
        summary = Runner(built.algo, runner_settings(built.top, built.env.frame_skip), run_dir).run(
            resume_from
        )
    finally:
        built.algo.close()
        built.env.close()
    return summary, built.algo
