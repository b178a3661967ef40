"""Learning tests for sequence torsos on the tiny recall task (memoryless agents cap at 50%)."""

from __future__ import annotations

import pytest

from tests.conftest import run_config

RECALL = [
    "env=recall",
    "env.delay=3",
    "budget.frames=2000",
    "algo.learning_starts=200",
    "algo.train_freq=16",
    "algo.gradient_steps=4",
    "algo.eps_decay_frames=800",
    "algo.batch_size=32",
    "algo.seq_len=6",
    "algo.burn_in=0",
    "algo.n_step=1",
    "algo.target_update_every=200",
    "eval.every=0",
    "eval.episodes=50",
    "checkpoint.every=100000",
]
SMALL_NETS = {
    "mlp": ["net=mlp", "net.hidden=[32]"],
    "memory": ["net=memory", "net.hidden=32", "net.embed=16", "net.slots=4", "net.width=8"],
    "hard_memory": [
        "net=memory", "net.hidden=32", "net.embed=16", "net.slots=4", "net.width=8",
        "net.read=hard", "net.entropy_coef=0.01",
    ],
    "lstm": ["net=lstm", "net.hidden=32", "net.embed=16"],
    "transformer": ["net=transformer", "net.context=6", "net.width=32", "net.ff=64"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.ci
def test_memory_torso_beats_memoryless_baseline_on_recall(tmp_path):
    memoryless, _ = run_config([*RECALL, *SMALL_NETS["mlp"]], tmp_path / "mlp")
    memory, algo = run_config([*RECALL, *SMALL_NETS["memory"]], tmp_path / "memory")
    assert memoryless["success_rate"] <= 0.75  # capped near chance: the cue is gone
    assert memory["success_rate"] >= 0.95
    assert (tmp_path / "memory" / "memory_read.png").exists()


@pytest.mark.slow
@pytest.mark.ci  # each README sequence torso, 5-10 s
@pytest.mark.parametrize("net", ["lstm", "transformer", "hard_memory"])
def test_sequence_torsos_solve_recall(tmp_path, net):
    summary, _ = run_config([*RECALL, *SMALL_NETS[net]], tmp_path)
    assert summary["success_rate"] >= 0.95
