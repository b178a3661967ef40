"""`drlrun-eval <run_dir> [episodes=N] [epsilon=E] [seed=S] [video=true] [checkpoint=PATH]
[opponent=random|self|checkpoint:PATH]`.

Rebuilds the run's algorithm from its saved config, loads a checkpoint (the newest by
default), plays N episodes and prints mean and std of the return; `video=true` also writes
`<run_dir>/videos/eval_<frames>.mp4`.

Given a multirun dir instead of a run dir, it evaluates the newest checkpoint of every job
(jobs without one are listed as skipped) and writes `<multirun_dir>/eval.csv`.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from drlrun import checkpoint
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg


@dataclass
class EvalArgs:
    episodes: int = 10
    epsilon: float | None = None
    seed: int = 12345
    video: bool = False
    video_episodes: int = 1
    checkpoint: str | None = None
    device: str = "cpu"
    opponent: str | None = None  # multi-agent battles: overrides the run's eval.opponent

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.video_episodes < 1:
            raise ValueError("episodes and video_episodes must be >= 1")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0 (numpy seeds are unsigned), got {self.seed}")


def parse(argv: list[str]) -> tuple[Path, EvalArgs]:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    run_dir = Path(argv[0])
    pairs = {}
    for item in argv[1:]:
        if "=" not in item:
            raise DrlrunError(f"arguments are key=value, got {item!r}")
        key, value = item.split("=", 1)
        pairs[key] = value
    return run_dir, from_cfg(
        EvalArgs, OmegaConf.from_dotlist([f"{k}={v}" for k, v in pairs.items()]), "drlrun-eval"
    )


def evaluate_run(run_dir: Path, args: EvalArgs) -> dict[str, float]:
    from drlrun.session import build
    from drlrun.viz.video import VideoRecorder

    config = run_dir / "config.yaml"
    if not config.exists():
        raise DrlrunError(f"{run_dir} is not a drlrun run dir (no config.yaml)")
    cfg = OmegaConf.load(config)
    if args.opponent is not None:  # the saved config is resolved: the algo holds a copy too
        cfg.eval.opponent = args.opponent
        if "opponent" in cfg.algo:
            cfg.algo.opponent = args.opponent
    path = Path(args.checkpoint) if args.checkpoint else checkpoint.latest(run_dir / "checkpoints")
    if path is None:
        raise DrlrunError(f"{run_dir}/checkpoints holds no checkpoint to evaluate")
    state = checkpoint.load(path)
    built = build(cfg, None, device=args.device)
    try:
        built.algo.load_state_dict(state["algo"])
        epsilon = built.top.eval.epsilon if args.epsilon is None else args.epsilon
        recorder = VideoRecorder(args.video_episodes) if args.video else None
        result: dict = built.algo.evaluate(args.episodes, args.seed, epsilon, recorder)
        result["line"] = built.algo.describe_eval(result)
        result["frames"] = built.algo.frames
        result["checkpoint"] = str(path)
        if recorder is not None:
            out = recorder.write(run_dir / "videos" / f"eval_{built.algo.frames}.mp4")
            result["video"] = str(out)
        return result
    finally:
        built.algo.close()
        built.env.close()


def evaluate_sweep(sweep_dir: Path, args: EvalArgs) -> list[dict]:
    """Evaluate every job of a multirun dir; one row per job, written to eval.csv."""
    from drlrun.sweep.jobs import load_jobs

    if args.checkpoint:
        raise DrlrunError("checkpoint=... names one file; it does not apply to a multirun dir")
    rows = []
    for job in load_jobs(sweep_dir):
        row: dict = {"run_dir": str(job.dir), **job.overrides}
        try:
            result = evaluate_run(job.dir, args)
            row.update({k: v for k, v in result.items() if k not in ("checkpoint", "line")})
            print(f"{job.dir}: {result['line']} (frame {result['frames']})")
        except DrlrunError as err:  # a failed job has no checkpoint; the others still count
            row["skipped"] = str(err)
            print(f"{job.dir}: skipped: {err}")
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with (sweep_dir / "eval.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {sweep_dir / 'eval.csv'}")
    return rows


def main() -> None:
    """Console script `drlrun-eval`."""
    try:
        run_dir, args = parse(sys.argv[1:])
        if not (run_dir / "config.yaml").exists() and (run_dir / "multirun.yaml").exists():
            evaluate_sweep(run_dir, args)
            return
        result = evaluate_run(run_dir, args)
    except DrlrunError as err:
        print(f"drlrun-eval: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    print(f"{run_dir}: {result['line']} (frame {result['frames']})")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
