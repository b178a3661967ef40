"""Speed of C51's vectorised categorical projection against a per-sample one.

Two measurements:
  1. the projection alone (calls per second) for CleanRL's CartPole and Atari shapes;
  2. end-to-end training SPS of `algo=dist_dqn` under a preset (default: CleanRL's c51.py
     hyperparameters), once with the vectorised projection and once with CleanRL's per-sample
     loop (one index_add per sample) patched in, timed after learning has started.

    python scripts/bench_c51.py                       # CartPole, cleanrl_c51_cartpole
    python scripts/bench_c51.py --preset cleanrl_c51_atari --frames 4000 \
        --override algo.learning_starts=1000 algo.buffer_size=20000
"""

from __future__ import annotations

import argparse
import time

import torch

from drlrun.algos import distributional
from drlrun.algos.distributional import make_support, project_categorical


def project_per_sample(next_probs, returns, discounts, support):
    """The straightforward projection (CleanRL c51.py): one pair of index_adds per sample."""
    atoms = support.shape[0]
    v_min, v_max = float(support[0]), float(support[-1])
    dz = (v_max - v_min) / (atoms - 1)
    tz = (returns.unsqueeze(1) + discounts.unsqueeze(1) * support).clamp(v_min, v_max)
    b = (tz - v_min) / dz
    lower, upper = b.floor().clamp(0, atoms - 1), b.ceil().clamp(0, atoms - 1)
    d_lower = (upper + (lower == upper).float() - b) * next_probs
    d_upper = (b - lower) * next_probs
    out = torch.zeros_like(next_probs)
    for i in range(out.size(0)):
        out[i].index_add_(0, lower[i].long(), d_lower[i])
        out[i].index_add_(0, upper[i].long(), d_upper[i])
    return out


def micro(batch: int, atoms: int, v: float, repeats: int) -> None:
    support = make_support(-v, v, atoms)
    gen = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(batch, atoms, generator=gen), 1)
    returns = torch.randn(batch, generator=gen)
    discounts = torch.full((batch,), 0.99)
    fast = project_categorical(probs, returns, discounts, support)
    slow = project_per_sample(probs, returns, discounts, support)
    err = float((fast - slow).abs().max())
    rates = {}
    for name, fn in (("vectorised", project_categorical), ("per-sample", project_per_sample)):
        fn(probs, returns, discounts, support)
        t = time.perf_counter()
        for _ in range(repeats):
            fn(probs, returns, discounts, support)
        rates[name] = repeats / (time.perf_counter() - t)
    print(
        f"projection B={batch} K={atoms}: vectorised {rates['vectorised']:.0f}/s, per-sample "
        f"{rates['per-sample']:.0f}/s, ratio {rates['vectorised'] / rates['per-sample']:.1f}x "
        f"(max |diff| {err:.1e})"
    )


def train_sps(
    preset: str, frames: int, overrides: list[str], per_sample: bool
) -> tuple[float, list[float]]:
    """SPS over `frames` frames after learning starts, and the losses of every train step."""
    from hydra import compose, initialize_config_dir

    from drlrun.cli import conf_dir
    from drlrun.session import build

    original = distributional.project_categorical
    if per_sample:
        distributional.project_categorical = project_per_sample
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[f"+experiment={preset}", "device=cpu", *overrides])
        built = build(cfg, None)
        algo = built.algo
        while algo.frames <= algo.p.learning_starts:
            algo.train_step()
        start, t = algo.frames, time.perf_counter()
        losses = []
        while algo.frames < start + frames:
            losses.append(algo.train_step().metrics.get("loss", float("nan")))
        sps = (algo.frames - start) / (time.perf_counter() - t)
        algo.close()
        built.env.close()
        return sps, losses
    finally:
        distributional.project_categorical = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="cleanrl_c51_cartpole")
    parser.add_argument(
        "--frames", type=int, default=20_000, help="frames timed after learning starts"
    )
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    micro(128, 101, 100.0, args.repeats)  # c51.py
    micro(32, 51, 10.0, args.repeats)  # c51_atari.py
    if args.micro_only:
        return
    fast, fast_losses = train_sps(args.preset, args.frames, args.override, per_sample=False)
    slow, slow_losses = train_sps(args.preset, args.frames, args.override, per_sample=True)
    same = all(a == b or (a != a and b != b) for a, b in zip(fast_losses, slow_losses, strict=True))
    print(
        f"train SPS ({args.preset}, {args.frames} frames after learning starts): vectorised "
        f"{fast:.0f}, per-sample {slow:.0f}, ratio {fast / slow:.2f}x; identical loss curves "
        f"over {len(fast_losses)} train steps: {same}"
    )


if __name__ == "__main__":
    main()
