"""The always-UP baseline on Freeway: what a learned policy has to beat.

    python scripts/freeway_always_up.py [--env freeway_ram] [--games 10] [--seed 0]
        [--epsilon 0.0] [--override KEY=VALUE ...]

Plays `--games` full games on drlrun's evaluation env for `--env` (the same wrappers, sticky
actions and frame skip a run evaluates on; `--override` changes env keys as a run would), always
pressing UP (or a random action with probability `--epsilon`), seeding game i with seed + i as
drlrun's evaluation does, and prints the mean and spread of the returns (crossings per game).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

UP = 1  # Freeway's minimal action set: NOOP, UP, DOWN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="freeway_ram")
    parser.add_argument("--games", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=0.0)
    parser.add_argument("--override", nargs="*", default=[])
    args = parser.parse_args()

    from drlrun import registry
    from drlrun.algos.base import run_episodes
    from tests.conftest import compose

    cfg = compose(f"env={args.env}", *(f"env.{o}" for o in args.override))
    factory = registry.build("env", cfg.env)
    meanings = factory.make_env(True, False).unwrapped.get_action_meanings()
    assert meanings[UP] == "UP", meanings

    def always_up(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        explore = rng.random(len(obs)) < args.epsilon
        return np.where(explore, rng.integers(0, len(meanings), len(obs)), UP)

    env = factory.make_eval()
    try:
        out = run_episodes(env, always_up, args.games, args.seed)
    finally:
        env.close()
    print(
        f"always-UP on env={args.env} ({args.games} games from seed {args.seed}, epsilon "
        f"{args.epsilon}): return {out['eval_return_mean']:.2f} +- {out['eval_return_std']:.2f}"
    )


if __name__ == "__main__":
    main()
