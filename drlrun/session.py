"""Build everything a run needs from a composed config: env factory, algorithm, runner settings."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from drlrun import registry
from drlrun.algos.base import Algorithm, RunContext
from drlrun.device import cpu_name, select_device
from drlrun.envs.base import EnvFactory
from drlrun.preflight import check_config
from drlrun.seeding import seed_everything
from drlrun.settings import TopLevel

log = logging.getLogger("drlrun")


@dataclass
class Built:
    top: TopLevel
    env: EnvFactory
    algo: Algorithm
    device: torch.device
    ablations: dict[str, object]  # book switches set against fidelity (drlrun/book/switches.py)
    compute: dict[str, object]  # what the run computes on: summary.json's `compute`


def build(cfg: DictConfig, run_dir: Path | None, device: str | None = None) -> Built:
    """Validate, seed, pick the device, then build env and algorithm through the registry."""
    ablations, top = check_config(cfg)  # fidelity switches, settings, choices: before any part
    dev = select_device(device or top.device.kind, top.device.threads)
    seed_everything(top.seed)
    env = registry.build("env", cfg.env)
    ctx = RunContext(
        seed=top.seed,
        device=dev,
        budget_frames=top.budget.frames,
        net_cfg=cfg.net,
        run_dir=run_dir,
        curiosity_cfg=cfg.get("curiosity"),
        channels_last=top.device.channels_last,
        precision=top.device.precision,
    )
    algo = registry.build("algo", cfg.algo, env, ctx)
    compute = {
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "precision": top.device.precision,
        "channels_last": top.device.channels_last,
        "env_backend": cfg.env.get("backend"),  # Atari: gymnasium or envpool; else None
        "host": socket.gethostname(),  # where a launcher (joblib, SLURM, Ray) ran the job
        "cpu": cpu_name(),  # what its wall time was measured on
        "pid": os.getpid(),
    }
    if top.device.channels_last:
        log.info(
            "device.channels_last=true (opt-in): conv torsos run in NHWC memory; values equal "
            "NCHW's up to float rounding, so metrics differ from a channels_last=false run"
        )
    if top.device.precision != "fp32":
        log.info(
            "device.precision=%s (opt-in): torsos run under autocast with fp32 weights and "
            "losses, so metrics differ from an fp32 run",
            top.device.precision,
        )
    return Built(top, env, algo, dev, ablations, compute)
