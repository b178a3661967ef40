"""Speed levers (issue 18) keep a run exact: a lever may become a default only if metrics.csv is
identical run to run and a SIGKILLed run resumes to the uninterrupted metrics."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

# the book's ICM-DQN on Mario's 42x42 frames: conv torsos in the Q net and the ICM encoder
MARIO_CHANNELS_LAST = [
    "+experiment=ch8_mario_icm_fixed",
    "device=cpu",
    "device.channels_last=true",
    "budget.frames=320",
    "checkpoint.every=64",
    "eval.every=0",
    "eval.episodes=1",
    "log.every=64",
    "log.tensorboard=false",
    "log.progress=false",
]


def _same_metrics_again_and_after_sigkill(args: list[str], tmp_path: Path) -> None:
    """A second run of `args`, and a run SIGKILLed after 3 checkpoints and resumed, write the
    first run's (tmp_path/ref) metrics.csv."""
    again = run_cli([*args, "hydra.run.dir=again"], tmp_path)
    assert again.returncode == 0, again.stderr
    metrics = (tmp_path / "ref" / "metrics.csv").read_text()
    assert "loss" in metrics.splitlines()[0]  # updates ran
    assert (tmp_path / "again" / "metrics.csv").read_text() == metrics
    proc = subprocess.Popen(
        [sys.executable, "-m", "drlrun.cli", *args, "hydra.run.dir=killed"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(ckpts.glob("ckpt_*.pt"))) < 3:  # past updates
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    out = run_cli([*args, "hydra.run.dir=killed", "resume=true"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "killed" / "metrics.csv").read_text() == metrics


@pytest.mark.slow
@pytest.mark.parametrize(
    ("channels_last", "precision"), [("true", "fp32"), ("false", "fp32"), ("true", "bf16")]
)
def test_levers_on_pixels_resume_after_sigkill_to_the_uninterrupted_metrics(
    tmp_path: Path, channels_last: str, precision: str
) -> None:
    """device.channels_last and device.precision=bf16 on Mario pixels (ICM-DQN): the same
    metrics.csv run to run, and after a SIGKILL and resume=true."""
    args = [
        *MARIO_CHANNELS_LAST,
        f"device.channels_last={channels_last}",
        f"device.precision={precision}",
    ]
    ref = run_cli([*args, "hydra.run.dir=ref"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    summary = json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert summary["compute"]["channels_last"] is (channels_last == "true")
    assert summary["compute"]["precision"] == precision
    assert summary["compute"]["env_backend"] is None  # Mario has one implementation
    _same_metrics_again_and_after_sigkill(args, tmp_path)


def test_seeding_makes_kernels_deterministic_without_importing_inductor() -> None:
    """seed_everything sets torch's deterministic flag (warn-only) without the 1.2 s import of
    torch._inductor that torch.use_deterministic_algorithms does."""
    code = (
        "import sys, torch; from drlrun.seeding import seed_everything; seed_everything(0); "
        "print(torch.are_deterministic_algorithms_enabled(), "
        "torch.is_deterministic_algorithms_warn_only_enabled(), 'torch._inductor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]


def test_bf16_runs_the_torso_under_autocast_and_hands_fp32_features_on() -> None:
    """use_precision: the conv torso computes in bf16 (values within bf16's rounding of fp32)
    and returns fp32 features, so heads and losses stay fp32; gradients reach fp32 weights."""
    import torch

    from drlrun.nets.base import use_precision
    from drlrun.nets.cnn import NatureCNN, NatureCNNParams

    torch.manual_seed(0)
    torso = NatureCNN((4, 84, 84), NatureCNNParams(), 255.0)
    obs = torch.randint(0, 255, (8, 4, 84, 84), dtype=torch.uint8)
    fp32 = torso(obs)
    use_precision(torso, "bf16")
    bf16 = torso(obs)
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)
    torch.testing.assert_close(bf16, fp32, rtol=0.05, atol=0.02)
    bf16.sum().backward()
    assert all(p.grad is not None and p.dtype == torch.float32 for p in torso.parameters())


def test_augment_shift_trains_on_freeway_pixels_and_checkpoints_its_generator(tmp_path) -> None:
    """algo.augment=shift on the Atari-100k preset: the learner shifts its sampled batches
    (its own generator advanced) and the checkpoint carries that generator's state."""
    from tests.conftest import run_config

    summary, learner = run_config(
        [
            "+experiment=atari100k_freeway_c51",
            "algo.augment=shift",
            "algo.n_step=3",
            "algo.learning_starts=300",
            "algo.train_freq=8",
            "budget.frames=600",
            "eval.every=0",
            "eval.episodes=0",
            "checkpoint.every=0",
        ],
        tmp_path / "run",
    )
    assert summary["status"] == "finished" and learner.updates >= 30
    fresh = np.random.default_rng([0, 0xD5C]).bit_generator.state
    assert learner.state_dict()["augment"] != fresh


# CleanRL's c51_atari on Freeway pixels with prioritized replay, cut to 64 updates
OVERLAP = [
    "+experiment=cleanrl_c51_atari",
    "replay=prioritized",
    "algo.learning_starts=128",
    "algo.buffer_size=1000",
    "budget.frames=384",
    "eval.every=0",
    "eval.episodes=1",
    "checkpoint.every=64",
    "checkpoint.keep=10",
    "log.every=64",
]


def test_overlap_is_deterministic_resumes_exactly_and_lags_the_policy_one_update(
    tmp_path: Path,
) -> None:
    """algo.overlap=true: a run continued from a mid-run checkpoint (which holds the acting
    weights and the unapplied priorities) writes the uninterrupted run's metrics; as many
    updates as without overlap, other losses (the next steps act before the update, not after)."""
    from drlrun import checkpoint
    from tests.conftest import run_config

    on = [*OVERLAP, "algo.overlap=true"]
    _, first = run_config(on, tmp_path / "a")
    metrics = (tmp_path / "a" / "metrics.csv").read_text()
    assert "loss" in metrics.splitlines()[0] and first.updates == 64
    middle = tmp_path / "a" / "checkpoints" / "ckpt_000000000256.pt"
    assert "overlap" in checkpoint.load(middle)["algo"]
    resumed_dir = tmp_path / "c"
    resumed_dir.mkdir()
    (resumed_dir / "metrics.csv").write_text(metrics)  # the logger drops rows past frame 256
    _, resumed = run_config(on, resumed_dir, resume_from=middle)
    assert (resumed_dir / "metrics.csv").read_text() == metrics
    _, sequential = run_config(OVERLAP, tmp_path / "d")
    assert sequential.updates == first.updates
    assert (tmp_path / "d" / "metrics.csv").read_text() != metrics


def test_overlap_refuses_curiosity_in_one_line(tmp_path: Path) -> None:
    out = run_cli([*OVERLAP, "algo.overlap=true", "curiosity=icm", "algo.n_step=1"], tmp_path)
    assert out.returncode == 2
    assert "algo.overlap=true cannot run with curiosity" in out.stderr
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("*.pt"))


@pytest.mark.slow
def test_overlap_resumes_after_sigkill_to_the_uninterrupted_metrics(tmp_path: Path) -> None:
    """algo.overlap=true with channels_last + bf16 on Freeway pixels, as the CLI runs it."""
    args = [*OVERLAP, "algo.overlap=true", "device.channels_last=true", "device.precision=bf16",
            "log.tensorboard=false", "log.progress=false"]  # fmt: skip
    ref = run_cli([*args, "hydra.run.dir=ref"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    assert "algo.overlap=true (opt-in)" in ref.stderr + ref.stdout
    _same_metrics_again_and_after_sigkill(args, tmp_path)
