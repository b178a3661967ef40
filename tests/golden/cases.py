"""Golden cases: short, seeded CPU runs whose metrics.csv must stay byte-identical.

Each case is the CLI overrides of one run. They pin today's behaviour so that a refactor
(issue 16: drlrun/algos/ into packages) can prove it changed nothing; a deliberate change of
behaviour re-records the affected cases with `scripts/golden.py record CASE...` in a commit that
lists the keys whose defaults changed.
"""

from __future__ import annotations

from pathlib import Path

MNIST = Path(__file__).resolve().parents[1] / "data" / "mnist"  # 500 seeded digits

# Every case: fixed seed, CPU, no TensorBoard or progress bar, no periodic checkpoints.
COMMON: tuple[str, ...] = (
    "seed=0",
    "device=cpu",
    "log.tensorboard=false",
    "log.progress=false",
    "checkpoint.every=0",
)

# A small DQN-family budget on CartPole: 3k frames, updates from 500, two evals of 2 episodes.
_Q_TINY = [
    "budget.frames=3000",
    "algo.learning_starts=500",
    "algo.gradient_steps=32",
    "eval.every=1500",
    "eval.episodes=2",
    "log.every=500",
]

CASES: dict[str, list[str]] = {
    # DQN family on CartPole
    "dqn_cartpole": ["algo=dqn", "env=cartpole", *_Q_TINY],  # fast kernel path (fast_q.py)
    "dqn_cartpole_autograd": ["algo=dqn", "env=cartpole", "algo.fast_path=off", *_Q_TINY],
    "double_dqn_cartpole": ["algo=double_dqn", "env=cartpole", *_Q_TINY],
    # dqn already defaults to n_step=3 (dqn_cartpole); 1-step targets are the other path
    "dqn_nstep1_cartpole": ["algo=dqn", "env=cartpole", "algo.n_step=1", *_Q_TINY],
    "dist_dqn_per_cartpole": ["algo=dist_dqn", "env=cartpole", "replay=prioritized", *_Q_TINY],
    "qr_dqn_cartpole": ["algo=qr_dqn", "env=cartpole", *_Q_TINY],
    "dqn_rnd_cartpole": ["algo=dqn", "env=cartpole", "curiosity=rnd", *_Q_TINY],
    # sequence replay on MiniGrid-MemoryS7 with an LSTM torso
    "memory_s7_lstm": [
        "+experiment=memory_s7",
        "net=lstm",
        "budget.frames=2000",
        "algo.learning_starts=1000",
        "eval.every=1000",
        "eval.episodes=2",
        "log.every=250",
    ],
    # the book's Freeway Dist-DQN, fixed (RAM observations)
    "ch7_freeway_fixed": [
        "+experiment=ch7_freeway_fixed",
        "budget.frames=600",
        "eval.every=300",
        "eval.episodes=1",
        "log.every=100",
    ],
    # evolution
    "ch6_cartpole_ga_fixed": [
        "+experiment=ch6_cartpole_ga_fixed",
        "algo.champion_candidates=0",  # the recorded path: the generation's top fitness
        "algo.action=sample",  # ... with sampled actions (the preset turned greedy later)
        "algo.population=20",
        "budget.iterations=2",
        "eval.episodes=2",
    ],
    "es_cartpole": [
        "algo=es",
        "env=cartpole",
        "algo.population=10",
        "algo.sigma=0.5",  # at the default 0.2 all 10 members score alike: a zero update
        "budget.frames=null",
        "budget.iterations=3",
        "eval.every=0",
        "eval.episodes=2",
        "log.every=1",
    ],
    "ch6_string_ga_fixed": [
        "+experiment=ch6_string_ga_fixed",
        "algo.population=100",
        "budget.iterations=5",
    ],
    # multi-agent Ising
    "ch9_ising2d_fixed": [
        "+experiment=ch9_ising2d_fixed",
        "budget.frames=30",
        "eval.episodes=2",
    ],
    "ch9_ising1d_fixed": [
        "+experiment=ch9_ising1d_fixed",
        "budget.frames=60",
        "eval.episodes=2",
    ],
    # MAgent battle, MF-Q: 3 battles cut to 40 steps
    "ch9_magent_fixed": [
        "+experiment=ch9_magent_fixed",
        "budget.iterations=3",
        "env.max_steps=40",
        "algo.learning_starts=200",
        "eval.episodes=1",
        "log.every=20",
    ],
    # supervised MNIST (the 500-digit test set gives an offline 400/100 split)
    "ch10_mnist_relational": [
        "+experiment=ch10_mnist_relational",
        f"data.root={MNIST}",
        "env.offline_test=100",
        "algo.batch_size=16",
        "algo.eval_batch=100",
        "budget.iterations=6",
        "eval.every=48",
        "log.every=32",
    ],
    # relational Double DQN on MiniGrid DoorKey
    "ch10_doorkey_fixed": [
        "+experiment=ch10_doorkey_fixed",
        "budget.frames=800",
        "algo.learning_starts=400",
        "eval.every=400",
        "eval.episodes=2",
        "log.every=100",
    ],
}


# Optional extras a case needs (the test skips it where they are not installed).
REQUIRES: dict[str, str] = {
    "memory_s7_lstm": "minigrid",
    "ch10_doorkey_fixed": "minigrid",
    "ch9_magent_fixed": "magent2",
}


def overrides(name: str) -> list[str]:
    """The full CLI overrides of case `name` (its own after the common ones)."""
    return [*COMMON, *CASES[name]]
