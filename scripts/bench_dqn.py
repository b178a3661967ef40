"""Speed benchmark: drlrun's DQN vs Stable-Baselines3's DQN on CartPole-v1, same settings.

Both run in child processes of this script (one at a time, 1 torch thread each) with identical
hyperparameters: MLP 64-64, batch 64, train_freq 4, buffer 50k, 50k steps. Prints SPS for
each (wall clock, and per CPU second of the training process, which is robust to other load on
a shared machine), the ratios, and the final greedy eval return over 10 episodes.

    python scripts/bench_dqn.py [--frames 50000] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "lr": 1e-3,
    "gamma": 0.99,
    "batch_size": 64,
    "buffer_size": 50_000,
    "learning_starts": 1000,
    "train_freq": 4,
    "gradient_steps": 1,
    "target_update_every": 100,
    "eps_start": 1.0,
    "eps_end": 0.04,
    "eps_fraction": 0.1,
    "max_grad_norm": 10.0,
}


def run_drlrun(frames: int, seed: int) -> tuple[float, float, float]:
    from hydra import compose, initialize_config_module

    from drlrun.runner import Runner
    from drlrun.session import build
    from drlrun.settings import runner_settings

    s = SETTINGS
    overrides = [
        f"seed={seed}",
        "device=cpu",
        "env=cartpole",
        "net=mlp",
        "net.hidden=[64,64]",
        f"algo.lr={s['lr']}",
        f"algo.gamma={s['gamma']}",
        f"algo.batch_size={s['batch_size']}",
        f"algo.buffer_size={s['buffer_size']}",
        f"algo.learning_starts={s['learning_starts']}",
        f"algo.train_freq={s['train_freq']}",
        f"algo.gradient_steps={s['gradient_steps']}",
        f"algo.target_update_every={s['target_update_every']}",
        f"algo.eps_start={s['eps_start']}",
        f"algo.eps_end={s['eps_end']}",
        f"algo.eps_decay_fraction={s['eps_fraction']}",
        f"algo.max_grad_norm={s['max_grad_norm']}",
        "algo.loss=huber",
        f"budget.frames={frames}",
        "eval.every=0",
        "eval.episodes=10",
        "checkpoint.every=0",
        "log.tensorboard=false",
        "log.progress=false",
        "log.every=10000",
    ]
    with initialize_config_module("drlrun.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    with tempfile.TemporaryDirectory() as tmp:
        built = build(cfg, Path(tmp))
        runner = Runner(built.algo, runner_settings(built.top, 1), Path(tmp))
        start, cpu = time.perf_counter(), time.process_time()
        while built.algo.frames < frames:
            built.algo.train_step()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        ret = built.algo.evaluate(10, seed + 1000)["eval_return_mean"]
        del runner
        built.algo.close()
    return frames / elapsed, frames / cpu, ret


def run_sb3(frames: int, seed: int) -> tuple[float, float, float]:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.set_num_threads(1)
    s = SETTINGS
    env = gym.make("CartPole-v1")
    model = DQN(
        "MlpPolicy",
        env,
        learning_rate=s["lr"],
        gamma=s["gamma"],
        batch_size=s["batch_size"],
        buffer_size=s["buffer_size"],
        learning_starts=s["learning_starts"],
        train_freq=s["train_freq"],
        gradient_steps=s["gradient_steps"],
        target_update_interval=s["target_update_every"],
        exploration_initial_eps=s["eps_start"],
        exploration_final_eps=s["eps_end"],
        exploration_fraction=s["eps_fraction"],
        max_grad_norm=s["max_grad_norm"],
        policy_kwargs={"net_arch": [64, 64]},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=frames)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    ret, _ = evaluate_policy(model, gym.make("CartPole-v1"), n_eval_episodes=10, deterministic=True)
    return frames / elapsed, frames / cpu, float(ret)


def _child(fn_name: str, frames: int, seed: int, queue: mp.Queue) -> None:
    import torch

    torch.set_num_threads(1)
    queue.put(globals()[fn_name](frames, seed))


def in_child(fn_name: str, frames: int, seed: int) -> tuple[float, float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn_name, frames, seed, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        d = in_child("run_drlrun", args.frames, seed)
        s = in_child("run_sb3", args.frames, seed)
        rows.append((d, s))
        print(
            f"seed {seed}: drlrun {d[0]:6.0f} SPS wall, {d[1]:6.0f} per CPU-s, eval {d[2]:6.1f} | "
            f"SB3 {s[0]:6.0f} SPS wall, {s[1]:6.0f} per CPU-s, eval {s[2]:6.1f} | "
            f"ratio wall {d[0] / s[0]:.2f}x, CPU {d[1] / s[1]:.2f}x"
        )
    d_cpu = sum(r[0][1] for r in rows) / len(rows)
    s_cpu = sum(r[1][1] for r in rows) / len(rows)
    d_ret = sum(r[0][2] for r in rows) / len(rows)
    s_ret = sum(r[1][2] for r in rows) / len(rows)
    print(
        f"mean over {len(rows)} seed(s): speed ratio (CPU) {d_cpu / s_cpu:.2f}x; "
        f"final eval drlrun {d_ret:.1f} vs SB3 {s_ret:.1f}"
    )


if __name__ == "__main__":
    main()
