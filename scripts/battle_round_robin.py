"""Head-to-head MAgent battles between two groups of runs, every run of A against every run of B.

    drlrun --multirun +experiment=ch9_magent_fixed seed=0,1,2,3,4
    drlrun --multirun +experiment=ch9_magent_fixed algo.interaction=none seed=0,1,2,3,4
    python scripts/battle_round_robin.py multirun/<mfq sweep> vs multirun/<iq sweep> [episodes=40]

A and B (either side of `vs`) are multirun dirs or run dirs, one or more each. Each pairing
plays `episodes` greedy battles with fixed seeds, A on alternate sides (`drlrun-eval A
opponent=checkpoint:B`). Prints A's win rate per pairing and the means over all pairings;
writes round_robin.csv (`out=` to move it).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from drlrun.evaluate import EvalArgs, evaluate_run
from drlrun.sweep.jobs import job_dirs

KEYS = ("win_rate", "draw_rate", "loss_rate", "kills_mean", "deaths_mean", "surviving_hp_mean",
        "opponent_hp_mean", "battle_length_mean", "win_rate_first_side", "win_rate_second_side")  # fmt: skip


def runs(paths: list[str]) -> list[Path]:
    """Run dirs as given, and every job dir of the multirun dirs among them."""
    found = []
    for path in map(Path, paths):
        found += [path] if (path / "config.yaml").exists() else job_dirs(path)
    return found


def parse_vs(argv: list[str], usage: str) -> tuple[list[Path], list[Path], int, dict[str, str]]:
    """`A... vs B... [episodes=N] [out=FILE]`: both sides' run dirs, episodes, the options."""
    args = [a for a in argv if "=" not in a]
    options = dict(a.split("=", 1) for a in argv if "=" in a)
    if args.count("vs") != 1 or set(options) - {"episodes", "out"}:
        sys.exit(usage)
    split = args.index("vs")
    group_a, group_b = runs(args[:split]), runs(args[split + 1 :])
    if not group_a or not group_b:
        sys.exit("no run dirs on one side of `vs`")
    return group_a, group_b, int(options.get("episodes", 40)), options


def main() -> None:
    group_a, group_b, episodes, options = parse_vs(sys.argv[1:], __doc__)
    rows = []
    for a in group_a:
        for b in group_b:
            result = evaluate_run(a, EvalArgs(episodes=episodes, opponent=f"checkpoint:{b}"))
            rows.append({"a": str(a), "b": str(b), **{k: result.get(k, "") for k in KEYS}})
            side = {k: result.get(f"win_rate_{k}_side", float("nan")) for k in ("first", "second")}
            print(f"{a.name} vs {b.name}: win {result['win_rate']:.3f} "
                  f"(first side {side['first']:.2f}, second {side['second']:.2f}), kills "
                  f"{result['kills_mean']:.2f}, deaths {result['deaths_mean']:.2f}")  # fmt: skip
    out = Path(options.get("out", "round_robin.csv"))
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    wins = np.array([r["win_rate"] for r in rows])
    print(f"{len(rows)} pairings x {episodes} battles: A wins {wins.mean():.3f} on average, "
          f"more than half in {(wins > 0.5).sum()} / {len(rows)} pairings")  # fmt: skip
    for key in KEYS[3:8]:
        print(f"  {key}: {np.mean([r[key] for r in rows]):.2f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
