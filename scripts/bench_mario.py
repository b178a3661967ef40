"""Where a Q learner's agent step goes: env, act, replay store, update, curiosity, per agent step.

Builds a preset (default `+experiment=ch8_mario_icm_fixed`, the book's ICM-DQN on Mario with
its bugs fixed) exactly as `drlrun` does, runs `--steps` agent steps of its own training loop
in-process, and times each part by wrapping the learner's methods:

    env        envs.step_all (the emulator, its wrappers, frame stacking)
    act        the explorer's action choice (Q forward, softmax/epsilon)
    store      replay add + the transforms' observers (ICM's episode statistics)
    update     a whole gradient step (sample, relabel, Q loss, backward, Adam), per agent step
      relabel    of which: the curiosity module's forward on the batch (intrinsic rewards)
      cur_step   of which: the curiosity module's optimiser step
    other      the rest (schedules, target syncs, the loop itself)

Prints ms per agent step (wall and process CPU), agent steps/s, and the max x_pos reached.
CPU seconds are robust to other load on a shared machine; wall seconds are what a user waits.

    python scripts/bench_mario.py [--preset ch8_mario_icm_fixed] [--steps 600] [--threads 1]
        [--warmup 200] [overrides ...]

`--preset none` times the overrides alone (e.g. `--preset cleanrl_c51_atari
algo.learning_starts=1000 algo.buffer_size=20000 --warmup 1000` for Freeway pixels).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

PRESET = "ch8_mario_icm_fixed"


class Timers:
    """Wall and CPU seconds per named part, accumulated by wrapped callables."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.enabled = False

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.enabled:
                return fn(*args, **kwargs)
            w, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[name] += time.perf_counter() - w
                self.cpu[name] += time.process_time() - c
                self.calls[name] += 1

        return timed


def instrument(algo: Any, timers: Timers) -> None:
    """Wrap the learner's parts in place (instance attributes shadow the class methods)."""
    algo.envs.step_all = timers.wrap("env", algo.envs.step_all)
    algo.act = timers.wrap("act", algo.act)
    algo._store = timers.wrap("store", algo._store)
    algo.update = timers.wrap("update", algo.update)
    for transform in algo.transforms:
        transform.relabel = timers.wrap("relabel", transform.relabel)
        transform.step = timers.wrap("cur_step", transform.step)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="timed agent steps")
    parser.add_argument("--warmup", type=int, default=200, help="untimed steps first (>= the "
                        "preset's learning_starts, so every timed step updates)")  # fmt: skip
    parser.add_argument("--preset", default=PRESET, help="+experiment=NAME first (none: no preset)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after the preset")
    args = parser.parse_args(argv)

    import tempfile

    import torch
    from hydra import compose, initialize_config_module

    from drlrun.session import build

    torch.set_num_threads(args.threads)
    preset = [] if args.preset == "none" else [f"+experiment={args.preset}"]
    user = [*preset, *args.overrides]
    overrides = [*user, f"seed={args.seed}", "device=cpu", f"device.threads={args.threads}"]
    overrides += ["log.tensorboard=false", "log.progress=false", "checkpoint.every=0"]
    with initialize_config_module("drlrun.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    timers = Timers()
    with tempfile.TemporaryDirectory(prefix="bench-mario-") as tmp:
        built = build(cfg, Path(tmp))
        algo = built.algo
        try:
            instrument(algo, timers)
            max_x = 0.0
            while algo.frames < args.warmup:
                algo.train_step()
            start_frames = algo.frames
            timers.enabled = True
            w, c = time.perf_counter(), time.process_time()
            while algo.frames - start_frames < args.steps:
                result = algo.train_step()
                for ep in result.episodes:
                    max_x = max(max_x, float(ep.extras.get("max_x_pos", ep.extras.get("x_pos", 0))))
            wall, cpu = time.perf_counter() - w, time.process_time() - c
            steps = algo.frames - start_frames
        finally:
            algo.close()
            built.env.close()
    parts = ["env", "act", "store", "update", "relabel", "cur_step"]
    rows = {p: (1e3 * timers.wall[p] / steps, 1e3 * timers.cpu[p] / steps) for p in parts}
    outer = ("env", "act", "store", "update")
    rows["other"] = (
        1e3 * wall / steps - sum(rows[p][0] for p in outer),
        1e3 * cpu / steps - sum(rows[p][1] for p in outer),
    )
    print(f"{' '.join(user)}: {steps} agent steps, "
          f"{args.threads} thread(s), updates {timers.calls['update']}")  # fmt: skip
    print(f"{'part':<10} {'wall ms/step':>12} {'cpu ms/step':>12}")
    for part, (wms, cms) in rows.items():
        indent = "  " if part in ("relabel", "cur_step") else ""
        print(f"{indent + part:<10} {wms:12.2f} {cms:12.2f}")
    print(f"{'total':<10} {1e3 * wall / steps:12.2f} {1e3 * cpu / steps:12.2f}")
    print(f"agent steps/s: {steps / wall:.1f} wall, {steps / cpu:.1f} per CPU second")
    print(f"max x_pos of the episodes that ended while timed: {max_x:.0f}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "overrides": overrides, "steps": steps, "threads": args.threads,
            "ms_per_step": {k: {"wall": v[0], "cpu": v[1]} for k, v in rows.items()},
            "steps_per_s_wall": steps / wall, "steps_per_cpu_s": steps / cpu,
        }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
