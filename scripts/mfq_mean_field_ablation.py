"""Does a trained MF-Q team use its mean-field input? Battles against IQ runs with the input
live, replaced by zeros (what a lone agent sees), and shuffled across the team's agents.

    python scripts/mfq_mean_field_ablation.py multirun/<mfq sweep> vs multirun/<iq sweep> [episodes=40]

Each MF-Q run plays each IQ run `episodes` greedy battles per mode, with the fixed battle seeds
and alternating sides of `scripts/battle_round_robin.py`. In live mode it also counts the
agent decisions whose greedy action changes when the mean field is zeroed. Prints MF-Q's win
rate per mode (the mean over pairings) and that fraction; writes mean_field_ablation.csv.
The substitution wraps `interaction_features` for mean-field specs only: IQ has none to replace.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from battle_round_robin import parse_vs  # scripts/, beside this file

import drlrun.algos.marl.core as core
from drlrun.evaluate import EvalArgs, evaluate_run

MODES = ("live", "zero", "shuffled")
_live_features = core.interaction_features
_live_infer = core.infer_actions


class Counter:
    """Agent decisions seen, and those whose greedy action moves with the mean field zeroed."""

    def __init__(self) -> None:
        self.decisions = 0
        self.changed = 0


@contextlib.contextmanager
def mean_field(mode: str, counter: Counter) -> Iterator[None]:
    """Within the block, mean-field policies read the input `mode` names."""
    shuffle_rng = np.random.default_rng(0)  # its own stream: the battles' draws are untouched

    def features(spec, env, team, actions):
        x = _live_features(spec, env, team, actions)
        if spec.interaction != "mean" or mode == "live":
            return x
        return np.zeros_like(x) if mode == "zero" else x[shuffle_rng.permutation(len(x))]

    def infer(spec, net, env, team, obs, start, temperature, rng, group=None):
        actions, x, q = _live_infer(spec, net, env, team, obs, start, temperature, rng, group)
        if spec.interaction == "mean" and mode == "live" and len(obs):
            blind = core.q_input(spec, obs, np.zeros_like(x))
            with torch.no_grad():
                q0 = net(torch.from_numpy(blind).to(net.weights[0].device), group).cpu().numpy()
            counter.decisions += len(obs)
            counter.changed += int((q0.argmax(axis=1) != q.argmax(axis=1)).sum())
        return actions, x, q

    core.interaction_features = features
    swapped = {}
    for module in (
        sys.modules["drlrun.algos.marl.opponents"],
        sys.modules["drlrun.algos.marl.mfq"],
    ):
        if hasattr(module, "infer_actions"):
            swapped[module] = module.infer_actions
            module.infer_actions = infer
    try:
        yield
    finally:
        core.interaction_features = _live_features
        for module, original in swapped.items():
            module.infer_actions = original


def main() -> None:
    import drlrun.algos.marl.mfq  # noqa: F401  (registers the learners; wrapped below)
    import drlrun.algos.marl.opponents  # noqa: F401

    mfq, iq, episodes, options = parse_vs(sys.argv[1:], __doc__)
    rows = []
    for a in mfq:
        for b in iq:
            row: dict[str, object] = {"mfq": str(a), "iq": str(b)}
            for mode in MODES:
                counter = Counter()
                with mean_field(mode, counter):
                    result = evaluate_run(
                        a, EvalArgs(episodes=episodes, opponent=f"checkpoint:{b}")
                    )
                row[f"win_{mode}"] = result["win_rate"]
                if mode == "live":
                    row["changed_fraction"] = counter.changed / max(counter.decisions, 1)
            rows.append(row)
            print(f"{a.name} vs {b.name}: " + ", ".join(
                f"{m} {row[f'win_{m}']:.3f}" for m in MODES
            ) + f"; greedy action moves with the mean field zeroed: {row['changed_fraction']:.3f}")  # fmt: skip
    out = Path(options.get("out", "mean_field_ablation.csv"))
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} pairings x {episodes} battles per mode, MF-Q's mean win rate:")
    for mode in MODES:
        wins = np.array([r[f"win_{mode}"] for r in rows], dtype=float)
        print(f"  {mode:9s} {wins.mean():.3f} (more than half in {(wins > 0.5).sum()}/{len(rows)})")
    changed = np.array([r["changed_fraction"] for r in rows], dtype=float)
    print(f"  decisions whose greedy action moves with the mean field zeroed: {changed.mean():.3f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
