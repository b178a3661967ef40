"""The real `drlrun` command in a subprocess: run dirs, errors for people, resume, sweeps."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drlrun import checkpoint
from tests.conftest import TINY, run_cli


def run_dir_files(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir()}


def test_run_writes_everything_a_run_dir_holds(cli) -> None:
    out = cli(*TINY, "budget.frames=1500", "log.tensorboard=true", "hydra.run.dir=run")
    assert out.returncode == 0, out.stderr
    run = cli.cwd / "run"
    assert {
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "drlrun.log",
        "tb",
        "checkpoints",
        ".hydra",
    } <= (run_dir_files(run))
    summary = json.loads((run / "summary.json").read_text())
    for key in ("eval_return_mean", "eval_return_std", "frames", "wall_time_s", "sps"):
        assert key in summary
    assert 0 < summary["cpu_time_s"] < 4 * summary["wall_time_s"]  # process CPU seconds
    assert summary["status"] == "finished" and summary["frames"] >= 1500
    assert any((run / "tb").iterdir())
    ckpts = checkpoint.list_checkpoints(run / "checkpoints")
    assert 1 <= len(ckpts) <= 3  # checkpoint.keep=3
    assert "frames" in (run / "metrics.csv").read_text().splitlines()[0]
    # non-TTY output: one plain progress line per log interval
    assert "sps" in out.stderr + out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["algo=nope"], "unknown algo 'nope'; choose one of: "),
        (["env=cartpol"], "unknown env 'cartpol'"),
        (["+experiment=nope"], "unknown experiment 'nope'"),
        (["seed=abc"], "config.seed: expected an integer, got 'abc'"),
        (["algo.lr=fast"], "algo.lr: expected a number"),
        (["+algo.lrr=1"], "unknown key(s) lrr"),
        (["algo.lrr=1"], "Could not override 'algo.lrr'"),
        (["budget.frames=0"], "budget.frames must be > 0"),
        (["env=freeway_ram", "net=nature_cnn"], "net=nature_cnn needs image observations"),
        (["resume=/no/such/run"], "no such run dir or checkpoint"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, message) -> None:
    out = cli(*args, "hydra.run.dir=run")
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("drlrun: error:")]
    assert len(errors) == 1 and message in errors[0], out.stderr
    assert "Traceback" not in out.stderr


def test_nan_loss_stops_with_the_step_and_keeps_last_good_checkpoint(cli) -> None:
    args = [*TINY, "algo.learning_starts=600", "algo.lr=1e30", "algo.loss=mse"]
    out = cli(*args, "checkpoint.every=256", "budget.frames=5000", "hydra.run.dir=run")
    assert out.returncode == 2
    assert "the loss became nan at frame" in out.stderr or "the loss became inf" in out.stderr
    ckpt = checkpoint.latest(cli.cwd / "run" / "checkpoints")
    assert ckpt is not None and checkpoint.load(ckpt)["algo"]["frames"] <= 600
    assert json.loads((cli.cwd / "run" / "summary.json").read_text())["status"] == "failed"


def test_corrupt_checkpoint_on_resume_is_named_and_untouched(cli) -> None:
    assert cli(*TINY, "budget.frames=600", "hydra.run.dir=run").returncode == 0
    ckpt = checkpoint.latest(cli.cwd / "run" / "checkpoints")
    ckpt.write_bytes(b"not a checkpoint")
    out = cli(*TINY, "budget.frames=1200", "hydra.run.dir=run", "resume=true")
    assert out.returncode == 2 and str(ckpt.name) in out.stderr and "left untouched" in out.stderr
    assert ckpt.read_bytes() == b"not a checkpoint"


def test_resume_equals_uninterrupted_run(cli) -> None:
    """Run 2N frames straight, and N then resume to 2N: identical metrics.csv."""
    assert cli(*TINY, "budget.frames=3000", "hydra.run.dir=full").returncode == 0
    assert cli(*TINY, "budget.frames=1500", "hydra.run.dir=part").returncode == 0
    out = cli(*TINY, "budget.frames=3000", "hydra.run.dir=part", "resume=true")
    assert out.returncode == 0, out.stderr
    full = (cli.cwd / "full" / "metrics.csv").read_text()
    assert full == (cli.cwd / "part" / "metrics.csv").read_text()
    assert "eval" in full  # evaluations happened on both sides of the boundary


@pytest.mark.parametrize(
    "sig",
    [signal.SIGTERM, pytest.param(signal.SIGKILL, marks=[pytest.mark.slow, pytest.mark.ci])],
    ids=["TERM", "KILL"],
)
def test_killed_run_resumes_with_the_same_command_to_identical_metrics(tmp_path: Path, sig) -> None:
    """Kill mid-run (default timestamped run dir), rerun the same command with resume=true: it
    finds the run, continues it from the last checkpoint, and ends with the uninterrupted
    metrics. SIGTERM saves a checkpoint on the way out; SIGKILL leaves the last periodic one."""
    args = [*TINY, "algo.gradient_steps=32", "budget.frames=12000"]
    ref = run_cli([*args, "hydra.run.dir=ref"], tmp_path)
    assert ref.returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "drlrun.cli", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("outputs/*/*/checkpoints/ckpt_*.pt")):
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 128 + sig, -sig), err
    last = checkpoint.list_checkpoints(next(tmp_path.glob("outputs/*/*/checkpoints")))[-1]
    cpu_before = checkpoint.load(last)["runner"]["cpu"]
    out = run_cli([*args, "resume=true"], tmp_path)
    assert out.returncode == 0, out.stderr
    runs = [p for p in tmp_path.glob("outputs/*/*") if (p / "metrics.csv").exists()]
    assert len(runs) == 1  # the resumed invocation continued the original run dir
    assert (runs[0] / "metrics.csv").read_text() == (tmp_path / "ref" / "metrics.csv").read_text()
    # CPU time, like wall time, adds the killed session's to the resumed one's
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert 0 < cpu_before < summary["cpu_time_s"]


def test_same_seed_same_metrics_other_seed_differs(cli) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert (
            cli(*TINY, "budget.frames=1500", f"seed={seed}", f"hydra.run.dir={name}").returncode
            == 0
        )
    text = {n: (cli.cwd / n / "metrics.csv").read_text() for n in "abc"}
    assert text["a"] == text["b"] and text["a"] != text["c"]


def test_multirun_gives_each_job_its_own_run_dir(cli) -> None:
    out = cli(
        "--multirun",
        *TINY,
        "algo=dqn,double_dqn",
        "seed=0,1",
        "budget.frames=400",
        "eval.episodes=1",
        "hydra.sweep.dir=sweep",
    )
    assert out.returncode == 0, out.stderr
    jobs = sorted((cli.cwd / "sweep").glob("*/summary.json"))
    assert len(jobs) == 4
    algos = {
        json.loads(
            (j.parent / ".hydra" / "overrides.yaml").read_text().count("double_dqn") > 0
            and "1"
            or "0"
        )
        for j in jobs
    }
    assert algos == {0, 1}


def test_cfg_job_prints_the_composed_config(cli) -> None:
    out = cli("algo=double_dqn", "env=freeway_ram", "--cfg", "job")
    assert out.returncode == 0
    assert "name: double_dqn" in out.stdout and "game: Freeway" in out.stdout
    help_out = cli("--help")
    assert (
        help_out.returncode == 0 and "algo: " in help_out.stdout and "double_dqn" in help_out.stdout
    )


def test_drlrun_eval_reports_and_records_video(cli) -> None:
    assert cli(*TINY, "budget.frames=600", "hydra.run.dir=run").returncode == 0
    out = subprocess.run(
        [sys.executable, "-m", "drlrun.evaluate", "run", "episodes=2", "video=true"],
        cwd=cli.cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout[out.stdout.index("{") :])
    assert result["eval_episodes"] == 2 and result["eval_return_mean"] > 0
    assert Path(cli.cwd, result["video"]).stat().st_size > 1000


def test_resume_accepts_options_added_since_the_run_and_names_changed_ones(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from drlrun.errors import DrlrunError
    from drlrun.resume import check_same_run

    saved = {"algo": {"lr": 1e-3, "gamma": 0.99}, "env": {"id": "CartPole-v1"}, "seed": 0}
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(saved))
    newer = {**saved, "algo": {**saved["algo"], "seq_start": "uniform"}}  # a key added later
    check_same_run(tmp_path, OmegaConf.create(newer))
    changed = {**saved, "algo": {"lr": 5e-4, "gamma": 0.99}, "seed": 1}
    with pytest.raises(DrlrunError, match=r"\(algo\.lr, seed\)"):
        check_same_run(tmp_path, OmegaConf.create(changed))
    # an option added since at its neutral value matches; set to anything else it changes the run
    neutral = {**saved, "algo": {**saved["algo"], "ez_mu": None, "ez_max_duration": 10_000}}
    check_same_run(tmp_path, OmegaConf.create(neutral))
    extended = {**saved, "algo": {**saved["algo"], "ez_mu": 2.0}}
    with pytest.raises(DrlrunError, match=r"\(algo\.ez_mu\)"):
        check_same_run(tmp_path, OmegaConf.create(extended))


TORCH_PROBE = """
import atexit, sys
atexit.register(lambda: print("torch imported:", "torch" in sys.modules, file=sys.stderr))
sys.argv = ["drlrun", *sys.argv[1:]]
from drlrun.cli import main
main()
"""


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["algo=mfq", "env=cartpole"], 2, "algo=mfq needs a multi-agent env"),
        (["algo=ga", "net=lstm"], 2, "algo=ga cannot use net=lstm"),
        (["net=team_mlp"], 2, "net=team_mlp is the whole network of"),
        (["algo=dqn", "algo.lr=-1"], 2, "algo.lr must be > 0, got -1.0"),
        (["curiosity=icm", "curiosity.lr=0"], 2, "curiosity.lr must be > 0"),
        (["budget.frames=-5"], 2, "budget.frames must be > 0, got -5"),
        (["algo=ga", "device.precision=bf16"], 2, "device.precision=bf16 applies to the torsos"),
        (["algo=nope"], 2, "unknown algo 'nope'"),
        (["--cfg", "job"], 0, ""),
        (["--help"], 0, ""),
    ],
)
def test_config_errors_help_and_cfg_answer_without_importing_torch(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    """Checked on the composed config before Hydra starts a job (registry declarations from
    the manifest): one line, exit 2, no run dir, and torch never imported."""
    out = subprocess.run(
        [sys.executable, "-c", TORCH_PROBE, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == code, out.stderr
    assert "torch imported: False" in out.stderr, out.stderr
    if code:
        errors = [line for line in out.stderr.splitlines() if line.startswith("drlrun: error:")]
        assert len(errors) == 1 and message in errors[0], out.stderr
        assert list(tmp_path.iterdir()) == []  # no outputs/ and no run dir
