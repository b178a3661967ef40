"""Measure distributed-ES throughput: generations per second for 1, 2, ... workers.

    python scripts/es_scaling.py --workers 1 2 --backend process --generations 10

Every worker count runs the same seed, so (shared seeds) every run does identical work and
ends with identical parameters; the script checks that. Start-up (spawning processes or Ray
actors) and `--warmup` generations are excluded from the timing. Prints generations/s,
speed-up over the first worker count, scaling efficiency (speed-up / workers, book 6.5.6)
and the payload bytes each worker sends and receives per generation.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from omegaconf import OmegaConf

from drlrun import registry
from drlrun.algos.base import RunContext
from drlrun.algos.evolution.es import ES
from drlrun.algos.evolution.es_core import ESParams


def measure(args: argparse.Namespace, workers: int) -> dict[str, float]:
    env = registry.build("env", OmegaConf.create({"name": "gym", "id": args.env}))
    net = OmegaConf.create({"name": "mlp", "hidden": args.hidden, "activation": "relu"})
    params = ESParams(
        population=args.population,
        sigma=args.sigma,
        lr=args.lr,
        episodes_per_eval=args.episodes,
        backend=args.backend,
        workers=workers,
    )
    torch.manual_seed(args.seed)
    es = ES(params, env, RunContext(args.seed, torch.device("cpu"), None, net))
    try:
        for _ in range(args.warmup):
            es.train_step()
        frames0, t0 = es.frames, time.perf_counter()
        sent, received, busy, cpu = [], [], [], []
        for _ in range(args.generations):
            es.train_step()
            busy.append(es.backend.busy)
            cpu.append(es.backend.cpu)
            sent.append(es.backend.wire_sent)
            received.append(es.backend.wire_received)
        elapsed = time.perf_counter() - t0
        return {
            "gps": args.generations / elapsed,
            "frames": es.frames - frames0,
            "sent": float(np.mean(sent)),
            "received": float(np.mean(received)),
            "busy": float(np.sum(busy)) / elapsed,
            "cpu": float(np.sum(cpu)) / max(float(np.sum(busy)), 1e-9),
            "cpu_per_gen": float(np.mean(cpu)),
            "theta": es.theta.copy(),
        }
    finally:
        es.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--backend", choices=["process", "ray"], default="process")
    ap.add_argument("--env", default="CartPole-v1")
    ap.add_argument("--hidden", type=int, nargs="+", default=[25, 10])
    ap.add_argument("--population", type=int, default=48)
    ap.add_argument("--episodes", type=int, default=2, help="episodes per member fitness")
    ap.add_argument("--sigma", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--generations", type=int, default=10, help="timed generations")
    ap.add_argument("--warmup", type=int, default=1, help="untimed generations first")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    registry.load_builtins_and_plugins()
    torch.set_num_threads(1)

    print(
        f"ES scaling: {args.env}, net {args.hidden}, population {args.population}, "
        f"{args.episodes} episode(s) per member, backend {args.backend}, "
        f"{args.generations} timed generations after {args.warmup} warm-up"
    )
    print(
        f"{'workers':>7} {'gen/s':>8} {'frames/s':>10} {'speed-up':>8} {'efficiency':>10} "
        f"{'busy':>5} {'cpu':>5} {'cpu-eff':>7} {'bytes sent/gen/worker':>22} {'bytes received/gen/worker':>26}"
    )
    base, first_theta, base_cpu = None, None, None
    w0 = args.workers[0]
    for w in args.workers:
        r = measure(args, w)
        if base is None:
            base, first_theta, base_cpu = r["gps"], r["theta"], r["cpu_per_gen"]
        cpu_eff = base_cpu * w0 / (w * r["cpu_per_gen"])
        speedup = r["gps"] / base
        efficiency = speedup * w0 / w
        frames_per_s = r["frames"] * r["gps"] / args.generations
        print(
            f"{w:>7} {r['gps']:>8.3f} {frames_per_s:>10.0f} {speedup:>8.2f} {efficiency:>10.2f} "
            f"{r['busy']:>5.2f} {r['cpu']:>5.2f} {cpu_eff:>7.2f} {r['sent']:>22.0f} {r['received']:>26.0f}"
        )
        if not np.array_equal(r["theta"], first_theta):
            print(f"  WARNING: parameters after {w} workers differ from the first run")
    print(f"speed-up: gen/s over gen/s with {w0} worker(s); efficiency: speed-up * {w0} / workers")


if __name__ == "__main__":
    main()
