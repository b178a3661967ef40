"""drlrun's own speed at two git revisions, interleaved: is a refactor slower?

    python scripts/bench_revisions.py BEFORE [AFTER] [--runs 5] [--dqn-frames 50000]
        [--c51-frames 2000]

Each revision is checked out in a temporary worktree and benchmarked in child processes (one
torch thread each), alternating revisions run by run so that a shared machine's load falls on
both alike. Two workloads, each the revision's own benchmark script:
- `dqn`: scripts/bench_dqn.py's drlrun run (CartPole, MLP 64-64, SB3's settings);
- `c51`: scripts/bench_c51.py's learner under `--preset cleanrl_c51_atari` (Freeway pixels,
  c51_atari.py's settings; learning starts after 1,000 frames, replay 20,000), timed over
  `--c51-frames` frames of train steps after learning starts.
Prints steps per CPU-second of the child (robust to other load) for every run, the medians, and
AFTER / BEFORE; AFTER defaults to the working tree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib.util, json, sys, time
root, workload, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root)
import torch
torch.set_num_threads(1)

def load(name):
    spec = importlib.util.spec_from_file_location(name, f"{root}/scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

if workload == "dqn":
    start = time.process_time()
    _, per_cpu, _ = load("bench_dqn").run_drlrun(frames, 0)
    print(json.dumps({"per_cpu_s": per_cpu}))
else:
    overrides = ["algo.learning_starts=1000", "algo.buffer_size=20000"]
    built = load("bench_c51")._build("cleanrl_c51_atari", overrides)
    algo = built.algo
    while algo.frames <= 1000:
        algo.train_step()
    first, start = algo.frames, time.process_time()
    while algo.frames < first + frames:
        algo.train_step()
    print(json.dumps({"per_cpu_s": (algo.frames - first) / (time.process_time() - start)}))
    algo.close()
    built.env.close()
"""


def worktree(rev: str, into: Path) -> Path:
    """A detached checkout of `rev` (the working tree itself for "WORKTREE")."""
    if rev == "WORKTREE":
        return REPO
    path = into / rev.replace("/", "_")
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def measure(root: Path, workload: str, frames: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), workload, str(frames)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    if out.returncode != 0:
        raise SystemExit(f"{root} {workload} failed:\n{out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["per_cpu_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="WORKTREE")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dqn-frames", type=int, default=50_000)
    parser.add_argument("--c51-frames", type=int, default=2_000)
    parser.add_argument("--workloads", nargs="+", default=["dqn", "c51"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drlrun-bench-") as tmp:
        roots = {rev: worktree(rev, Path(tmp)) for rev in (args.before, args.after)}
        try:
            for workload in args.workloads:
                frames = args.dqn_frames if workload == "dqn" else args.c51_frames
                runs: dict[str, list[float]] = {rev: [] for rev in roots}
                for i in range(args.runs):
                    for rev, root in roots.items():
                        runs[rev].append(measure(root, workload, frames))
                        print(f"{workload} run {i} {rev}: {runs[rev][-1]:.0f} steps per CPU-s")
                median = {rev: statistics.median(v) for rev, v in runs.items()}
                ratio = median[args.after] / median[args.before]
                print(
                    f"{workload}: median {median[args.before]:.0f} ({args.before}) vs "
                    f"{median[args.after]:.0f} ({args.after}) steps per CPU-s; "
                    f"after/before {ratio:.3f}"
                )
        finally:
            for root in roots.values():
                if root != REPO:
                    subprocess.run(
                        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(root)],
                        check=False,
                        capture_output=True,
                    )


if __name__ == "__main__":
    main()
