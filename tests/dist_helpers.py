"""Run a drlrun config (with overrides) in-process, as the CLI would, for tests."""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from drlrun.cli import conf_dir
from drlrun.runner import Runner
from drlrun.session import build
from drlrun.settings import runner_settings


def run_config(overrides: list[str], run_dir: Path) -> tuple[dict, object]:
    """Compose `overrides`, train to the budget, return (summary, algorithm)."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            "config", overrides=[*overrides, "log.progress=false", "log.tensorboard=false"]
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    built = build(cfg, run_dir)
    try:
        Runner(built.algo, runner_settings(built.top, built.env.frame_skip), run_dir).run()
    finally:
        built.algo.close()
        built.env.close()
    return json.loads((run_dir / "summary.json").read_text()), built.algo
