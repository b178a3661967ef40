"""A uniformly random policy on env=mario for N agent steps: the max x_pos it reaches, per-episode
max x_pos and env steps/s, to compare with a curiosity run over the same number of frames.

    python scripts/mario_random_baseline.py --steps 2000 --seed 0 [env.key=value ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from drlrun.envs.mario import MarioParams, make_mario
from drlrun.params import from_cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=2000, help="agent steps (each = action_repeat frames)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("overrides", nargs="*", help="env keys, e.g. env.stuck=book")
    args = parser.parse_args()
    cfg = OmegaConf.load(Path(__file__).parents[1] / "drlrun/conf/env/mario.yaml")
    cfg = OmegaConf.merge(
        cfg, OmegaConf.from_dotlist([o.removeprefix("env.") for o in args.overrides])
    )
    p = from_cfg(MarioParams, cfg, "env")
    rng = np.random.default_rng(args.seed)
    env = make_mario(p, eval_mode=False)
    env.reset(seed=args.seed)
    episodes, best, start, at = [], 0, time.perf_counter(), {}
    for step in range(1, args.steps + 1):
        _, _, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        best = max(best, info["max_x_pos"])
        if term or trunc:
            episodes.append(info["max_x_pos"])
            env.reset()
        if step % 250 == 0:
            at[step] = best
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seed": args.seed,
                "agent_steps": args.steps,
                "max_x_pos": best,
                "episodes": len(episodes),
                "episode_max_x_pos_mean": float(np.mean(episodes)) if episodes else None,
                "env_steps_per_s": args.steps / elapsed,
                "max_x_pos_at_step": at,
            }
        )
    )


if __name__ == "__main__":
    main()
