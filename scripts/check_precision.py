"""Does `device.precision=bf16` learn what fp32 learns? The same replay snapshot, N updates each.

Builds a Q learner from the overrides (default: C51 on Freeway pixels at CleanRL's c51_atari
settings), fills its replay with `--fill` agent steps, snapshots it (networks, optimiser, replay,
RNGs), then runs `--updates` gradient steps from that snapshot twice: once in fp32 and once with
the torsos under bf16 autocast, syncing the target network as the run would. Both sample the
same batches (the replay's RNG is part of the snapshot). Prints the mean loss and mean Q of each
over all updates and the last quarter, their relative differences, and the time per update; exits
1 when a difference is above `--tolerance` (default 5%).

`--variant` replaces the bf16 override by others, for a control: `--variant
device.channels_last=false` against a channels_last run changes only the float rounding order,
so it shows how far two fp32 runs drift apart on a chaotic workload (Mario ICM).

`--compile` runs the variant (by default the same overrides) with its online and target networks
under `torch.compile` (`module.compile()`): its first update, which compiles, is timed apart and
left out of the time per update.

    python scripts/check_precision.py [--updates 2000] [--fill 5000] [--threads 1]
        [--variant device.precision=bf16] [--compile] [overrides ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = ["+experiment=cleanrl_c51_atari", "algo.buffer_size=20000"]


def build_learner(overrides: list[str], threads: int, run_dir: Path):
    from hydra import compose, initialize_config_module

    from drlrun.session import build

    fixed = ["device=cpu", f"device.threads={threads}", "log.tensorboard=false"]
    with initialize_config_module("drlrun.conf", version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, *fixed, "log.progress=false"])
    return build(cfg, run_dir)


def run_updates(
    built, snapshot: dict, updates: int, compile_nets: bool = False
) -> dict[str, list[float]]:
    """`updates` gradient steps from `snapshot`, syncing the target every
    target_update_every / train_freq updates as the training loop does (with `compile_nets`,
    under torch.compile; the first update's time is then the compile time)."""
    algo = built.algo
    algo.load_state_dict(copy.deepcopy(snapshot))
    if compile_nets:
        algo.online.compile(dynamic=False)
        algo.target.compile(dynamic=False)
    p = algo.p
    sync_every = max(1, p.target_update_every // p.train_freq)
    losses, qs, start, first = [], [], time.perf_counter(), 0.0
    for i in range(1, updates + 1):
        loss, q = algo.update()
        losses.append(float(loss))
        qs.append(float(q))
        if i % sync_every == 0:
            algo.sync_target()
        if i == 1 and compile_nets:
            first, start = time.perf_counter() - start, time.perf_counter()
    timed = updates - 1 if compile_nets else updates
    return {
        "loss": losses,
        "q": qs,
        "ms_per_update": [1e3 * (time.perf_counter() - start) / max(timed, 1)],
        "first_update_s": [first],
    }


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--fill", type=int, default=5000, help="agent steps into the replay")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--variant", action="append", help="override (repeatable); default device.precision=bf16"
    )
    parser.add_argument("--compile", action="store_true", help="the variant under torch.compile")
    parser.add_argument("overrides", nargs="*", help=f"Hydra overrides (default {DEFAULT})")
    args = parser.parse_args()
    overrides = args.overrides or DEFAULT
    args.variant = args.variant or ([] if args.compile else ["device.precision=bf16"])
    # the snapshot is taken before the first update, so both runs start from the same weights
    fill = [*overrides, f"algo.learning_starts={args.fill}", f"budget.frames={args.fill}"]
    with tempfile.TemporaryDirectory(prefix="check-precision-") as tmp:
        built = build_learner(fill, args.threads, Path(tmp) / "fill")
        while built.algo.frames < args.fill:
            built.algo.train_step()
        snapshot = copy.deepcopy(built.algo.state_dict())
        results = {"fp32": run_updates(built, snapshot, args.updates)}
        built.algo.close()
        built.env.close()
        bf16 = build_learner([*fill, *args.variant], args.threads, Path(tmp) / "variant")
        results["bf16"] = run_updates(bf16, snapshot, args.updates, args.compile)
        bf16.algo.close()
        bf16.env.close()
    tail = max(1, args.updates // 4)
    report, worst = {}, 0.0
    for key in ("loss", "q"):
        for span, cut in (("all", 0), ("last quarter", -tail)):
            a, b = mean(results["fp32"][key][cut:]), mean(results["bf16"][key][cut:])
            diff = abs(b - a) / max(abs(a), 1e-12)
            worst = max(worst, diff)
            report[f"{key} ({span})"] = {"fp32": a, "bf16": b, "relative_difference": diff}
            print(f"{key:>4} {span:<13} base {a:10.5f}  variant {b:10.5f}  difference {diff:6.2%}")
    speed = {k: results[k]["ms_per_update"][0] for k in results}
    print(f"ms per update: base {speed['fp32']:.1f}, variant {speed['bf16']:.1f} "
          f"({speed['fp32'] / speed['bf16']:.2f}x)")  # fmt: skip
    if args.compile:
        print(
            f"variant compiled: first update (compiling) {results['bf16']['first_update_s'][0]:.1f} s"
        )
    extra = " ".join(args.variant) + (" under torch.compile" if args.compile else "")
    print(f"base: the overrides as given; variant: plus {extra}")
    ok = worst <= args.tolerance
    print(
        f"{'PASS' if ok else 'FAIL'}: largest difference {worst:.2%} (tolerance {args.tolerance:.0%})"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"overrides": overrides, "updates": args.updates,
                                         "variant": args.variant, "report": report, "ms_per_update": speed}, indent=1))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
