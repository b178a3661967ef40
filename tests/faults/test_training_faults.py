"""Faults a user meets while training and evaluating: each ends in one line and exit code 2,
and leaves every file that existed before the command byte-identical.

- bad inputs that validation refuses (before anything is built or written);
- a NaN/inf loss or non-finite parameters in any family (the runner's guard);
- a full disk while writing a checkpoint (a real 64 KiB tmpfs where `mount` works, else a
  patched torch.save that fails the way torch does);
- `drlrun-eval` on a tiny run of every family, with video where the env renders.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from drlrun import checkpoint
from drlrun.guards import first_non_finite
from tests.conftest import TINY, compose, run_cli, run_config
from tests.faults.conftest import assert_unchanged, snapshot

MNIST = Path(__file__).parents[1] / "data" / "mnist"  # 500 real test digits
SHORT_DQN = [*TINY, "algo.replay_in_checkpoint=never", "checkpoint.every=256", "eval.every=0"]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A finished tiny DQN run (trained once per module), copied into tests' working dirs."""
    root = tmp_path_factory.mktemp("earlier")
    out = run_cli([*SHORT_DQN, "budget.frames=300", "hydra.run.dir=earlier"], root)
    assert out.returncode == 0, out.stderr[-2000:]
    return root / "earlier"


@pytest.fixture
def workdir(tmp_path: Path, earlier_run: Path) -> Path:
    """A working dir holding a user's file and an earlier run dir."""
    (tmp_path / "notes.txt").write_text("my notes\n")
    shutil.copytree(earlier_run, tmp_path / "earlier")
    return tmp_path


# --- bad inputs: refused at validation, nothing touched -------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["algo.lr=-1"], "algo.lr must be > 0, got -1.0"),
        (["+experiment=ch9_ising2d_fixed", "algo.lr=0"], "algo.lr must be > 0, got 0.0"),
        (["seed=-1"], "seed must be >= 0"),
        (["algo=ga", "net=transformer"], "algo=ga cannot use net=transformer"),
        (["algo=es", "curiosity=icm"], "algo=es takes no curiosity module (curiosity=icm)"),
        (
            ["algo=mfq", "env=ising2d", "net=relational"],
            "algo=mfq is built on its own network, net=team_mlp",
        ),
        (["net=lstm", "curiosity=rnd", "algo.n_step=1"], "curiosity=rnd works with feedforward"),
        (["checkpoint.every=-5"], "checkpoint.every must be >= 0"),
        (["eval.episodes=0", "eval.every=500"], "eval.every=500 evaluates 0 episodes"),
        (
            ["+experiment=ch10_mnist_cnn", f"data.root={MNIST}", "algo.batch_size=0"],
            "algo: batch_size and eval_batch must be >= 1",
        ),
    ],
    ids=lambda v: "_".join(v) if isinstance(v, list) else None,
)
def test_bad_input_is_one_line_and_touches_nothing(workdir, one_line_error, args, message):
    before = snapshot(workdir)
    out = run_cli([*args, "budget.frames=300", "hydra.run.dir=new"], workdir)
    one_line_error(out, message)
    assert_unchanged(before, workdir)


def test_drlrun_eval_bad_arguments_are_one_line(workdir, one_line_error):
    before = snapshot(workdir)
    for arg, message in (("episodes=0", "episodes and video_episodes must be >= 1"),
                         ("seed=-3", "seed must be >= 0")):  # fmt: skip
        out = _eval(workdir / "earlier", arg)
        one_line_error(out, message, prog="drlrun-eval")
    assert_unchanged(before, workdir)


# --- non-finite losses and parameters: the runner stops every family -----------------------------
@pytest.mark.parametrize(
    ("args", "fragment", "kept_frames"),
    [
        (
            ["+experiment=ch7_synthetic", "algo.lr=1e4", "checkpoint.every=1"],
            "the loss became nan at frame 2 (iteration 2, metric loss)",
            1,
        ),
        (
            ["+experiment=ch9_ising2d_fixed", "algo.lr=1e30", "checkpoint.every=2"],
            "the loss became nan at frame 3 (iteration 3, metric loss)",
            2,
        ),
        (
            [
                "+experiment=ch10_mnist_cnn",
                f"data.root={MNIST}",
                "env.offline_test=100",
                "algo.batch_size=8",
                "algo.eval_batch=100",
                "algo.lr=1e30",
                "budget.iterations=6",
                "eval.every=0",
                "checkpoint.every=8",
            ],
            "the loss became nan at frame 16 (iteration 2, metric loss)",
            8,
        ),
    ],
    ids=["dist_book", "mfq_ising", "supervised"],
)
def test_nan_loss_stops_any_family_and_keeps_the_last_good_checkpoint(
    workdir, one_line_error, args, fragment, kept_frames
):
    before = snapshot(workdir)
    out = run_cli([*args, "hydra.run.dir=run"], workdir)
    line = one_line_error(out, fragment)
    kept = checkpoint.latest(workdir / "run" / "checkpoints")
    assert kept is not None and f"the last good checkpoint {kept} is kept" in line
    assert checkpoint.load(kept)["algo"]["frames"] == kept_frames
    assert len(checkpoint.list_checkpoints(kept.parent)) == 1  # no NaN checkpoint after it
    assert json.loads((workdir / "run" / "summary.json").read_text())["status"] == "failed"
    assert_unchanged(before, workdir)


def test_non_finite_parameters_are_never_checkpointed(workdir, one_line_error):
    """A step whose loss was finite can still leave inf parameters: caught before the save."""
    args = ["+experiment=ch7_synthetic", "algo.lr=1e39", "checkpoint.every=1", "hydra.run.dir=run"]
    line = one_line_error(run_cli(args, workdir), "the parameters became non-finite (theta)")
    assert "at frame 1 (iteration 1); this checkpoint was not written" in line
    assert checkpoint.list_checkpoints(workdir / "run" / "checkpoints") == []
    assert json.loads((workdir / "run" / "summary.json").read_text())["status"] == "failed"


# --- a full disk while checkpointing ------------------------------------------------------------
PATCHED_SAVE = """
import errno, os, sys, torch
real, calls = torch.save, [0]
def save(obj, f, *args, **kwargs):  # the second checkpoint meets a full disk, as torch reports it
    calls[0] += 1
    if calls[0] < 2:
        return real(obj, f, *args, **kwargs)
    f.write(b"half a checkpoint")
    try:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 17")
torch.save = save
from drlrun.cli import main
sys.argv = ["drlrun", *sys.argv[1:]]
main()
"""


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True)
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(params=["tmpfs", "patched_save"])
def full_disk(request, workdir: Path):
    """(command prefix, run dir): checkpoints land on a 64 KiB tmpfs (one ~40 KB checkpoint
    fits, the next does not), or torch.save is patched to fail on the second checkpoint."""
    run = workdir / "run"
    if request.param == "tmpfs":
        if not _mount_tmpfs(run / "checkpoints", "64k"):
            pytest.skip("mount -t tmpfs is not allowed here (the patched_save case covers it)")
        yield [sys.executable, "-m", "drlrun.cli"], run
        subprocess.run(["umount", str(run / "checkpoints")], check=False)
    else:
        (workdir / "patched_save.py").write_text(PATCHED_SAVE)
        yield [sys.executable, str(workdir / "patched_save.py")], run


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(workdir, full_disk, one_line_error):
    prefix, run = full_disk
    before = snapshot(workdir / "notes.txt", workdir / "earlier")
    args = [*SHORT_DQN, "budget.frames=1024", "hydra.run.dir=run"]
    out = subprocess.run([*prefix, *args], cwd=workdir, capture_output=True, text=True, timeout=300)
    first = run / "checkpoints" / "ckpt_000000000256.pt"
    line = one_line_error(out, "checkpoint: no space left on device writing ")
    assert "ckpt_000000000512.pt" in line and f"the previous checkpoint {first} is kept" in line
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [first.name]  # no temp file
    assert checkpoint.load(first)["algo"]["frames"] == 256
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    assert_unchanged(before, workdir / "notes.txt", workdir / "earlier")


# --- drlrun-eval on every family ----------------------------------------------------------------
FAMILIES = {
    "dqn": [*TINY, "budget.frames=300", "eval.every=0"],
    "sequence_dqn": [
        "net=lstm",
        *[o for o in TINY if not o.startswith("net.")],
        "algo.seq_len=4",
        "algo.burn_in=2",
        "algo.batch_size=4",
        "budget.frames=300",
        "eval.every=0",
    ],
    "dist_book": [
        "+experiment=ch7_freeway_fixed",
        "budget.frames=60",
        "algo.replay_size=20",
        "algo.batch_size=4",
        "env.max_episode_frames=200",
    ],
    "ga": [
        "+experiment=ch6_cartpole_ga_fixed",
        "algo.population=4",
        "algo.elitism=1",
        "budget.iterations=1",
        "budget.frames=null",
        "eval.every=0",
    ],
    "ga_string": ["+experiment=ch6_string_ga", "algo.population=10", "budget.iterations=2"],
    "es": [
        "algo=es",
        "algo.population=4",
        "budget.iterations=1",
        "budget.frames=null",
        "eval.every=0",
    ],
    "mfq_ising": ["+experiment=ch9_ising2d_fixed", "budget.frames=3", "eval.episodes=1"],
    "mfq_magent": [
        "+experiment=ch9_magent_fixed",
        "budget.iterations=1",
        "env.max_steps=20",
        "eval.episodes=1",
    ],
    "supervised": [
        "+experiment=ch10_mnist_cnn",
        f"data.root={MNIST}",
        "env.offline_test=100",
        "algo.batch_size=8",
        "algo.eval_batch=100",
        "budget.iterations=2",
        "eval.every=0",
    ],
}
# (family, drlrun-eval's line after "RUN: ", video: True records, a str is the refusal)
EXPECTED = [
    ("dqn", r"return [\d.]+ \+- [\d.]+ over 2 episodes", None),
    ("sequence_dqn", r"return [\d.]+ \+- [\d.]+ over 2 episodes", None),
    ("dist_book", r"return -?[\d.]+ \+- [\d.]+ over 2 episodes", True),
    ("ga", r"return [\d.]+ \+- [\d.]+ over 2 episodes", True),
    ("ga_string", r"fitness [\d.]+ of the best string '.*'", "env=string_target"),
    ("es", r"return [\d.]+ \+- [\d.]+ over 2 episodes", True),
    ("mfq_ising", r"return [\d.]+ \+- [\d.]+ over 2 episodes", True),
    ("mfq_magent", r"return -?[\d.]+ \+- [\d.]+ over 2 episodes", None),
    ("supervised", r"accuracy [\d.]+ on 100 test images \(loss [\d.]+\)", "algo=supervised"),
]


def _eval(run: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "drlrun.evaluate", str(run), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _train(family: str, run: Path) -> None:
    """Train in-process (fast) and save the config as the CLI does, so drlrun-eval finds it;
    the family must name live views of its parameters for the runner's finiteness guard."""
    summary, algo = run_config(FAMILIES[family], run)
    assert summary["status"] == "finished"
    cfg = compose(*FAMILIES[family], "log.progress=false", "log.tensorboard=false")
    OmegaConf.save(cfg, run / "config.yaml", resolve=True)
    tensors = algo.named_tensors()
    assert tensors and first_non_finite(tensors) is None
    floats = [(k, v) for k, v in tensors.items() if _is_float(v)]  # string genomes are ints
    if floats:
        name, value = floats[0]
        with torch.no_grad():
            value.reshape(-1)[0] = float("nan")  # a view: the algorithm's own parameter changes
        assert first_non_finite(algo.named_tensors()) == name


def _is_float(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return np.issubdtype(value.dtype, np.floating)


@pytest.mark.parametrize(("family", "line", "video"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_drlrun_eval_works_on_every_family(tmp_path, one_line_error, family, line, video):
    run = tmp_path / family
    _train(family, run)
    out = _eval(run, "episodes=2")
    assert out.returncode == 0, out.stderr[-3000:]
    first = out.stdout.splitlines()[0]
    assert first.startswith(f"{run}: ")
    assert re.fullmatch(line + r" \(frame \d+\)", first[len(f"{run}: ") :]), first
    result = json.loads(out.stdout[out.stdout.index("{") :])
    for key in ("eval_return_mean", "eval_return_std", "eval_episodes"):
        assert key in result
    if video is True:
        recorded = _eval(run, "episodes=1", "video=true")
        assert recorded.returncode == 0, recorded.stderr[-3000:]
        path = json.loads(recorded.stdout[recorded.stdout.index("{") :])["video"]
        assert Path(path).stat().st_size > 1000
    elif isinstance(video, str):
        before = snapshot(run)
        refusal = one_line_error(_eval(run, "video=true"), video, prog="drlrun-eval")
        assert "has no frames to record" in refusal
        assert_unchanged(before, run)


def test_drlrun_eval_refuses_the_synthetic_task_in_one_line(tmp_path, one_line_error):
    run = tmp_path / "synthetic"
    overrides = ["+experiment=ch7_synthetic", "budget.frames=5"]
    run_config(overrides, run)
    OmegaConf.save(compose(*overrides), run / "config.yaml", resolve=True)
    one_line_error(_eval(run, "episodes=2"), "algo.task=synthetic has no environment to play",
                   prog="drlrun-eval")  # fmt: skip
