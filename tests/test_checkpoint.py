"""Checkpoints: bit-exact round trip, atomic writes, keep-last-K, refusal of corrupt files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from drlrun import checkpoint
from drlrun.errors import DrlrunError
from drlrun.seeding import global_rng_state


def sample_state() -> dict:
    return {
        "net": torch.nn.Linear(3, 2).state_dict(),
        "frames": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "mask": np.array([True, False]),
        "u32": np.array([2**32 - 1], dtype=np.uint32),
        "rng": np.random.default_rng(5).bit_generator.state,
        "global": global_rng_state(),
        "py": random.getstate(),
        "none": None,
        "scalar": np.float32(1.5),
    }


def test_round_trip_is_exact(tmp_path: Path) -> None:
    state = sample_state()
    path = checkpoint.save(state, tmp_path, step=7, keep=3)
    back = checkpoint.load(path)
    np.testing.assert_array_equal(back["frames"], state["frames"])
    assert back["frames"].dtype == np.uint8 and back["u32"].dtype == np.uint32
    assert back["u32"][0] == 2**32 - 1 and back["mask"].tolist() == [True, False]
    assert back["rng"] == state["rng"] and back["scalar"] == 1.5
    assert torch.equal(back["net"]["weight"], state["net"]["weight"])
    np.testing.assert_array_equal(back["global"]["numpy"][1], state["global"]["numpy"][1])


def test_keep_last_k(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        checkpoint.save({"x": step}, tmp_path, step=step, keep=2)
    names = [p.name for p in checkpoint.list_checkpoints(tmp_path)]
    assert names == ["ckpt_000000000030.pt", "ckpt_000000000040.pt"]
    assert checkpoint.latest(tmp_path).name == "ckpt_000000000040.pt"


def test_failed_write_leaves_previous_checkpoint_and_no_temp_file(tmp_path: Path) -> None:
    good = checkpoint.save({"x": 1}, tmp_path, step=1, keep=5)
    before = good.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        checkpoint.atomic_torch_save({"bad": Unpicklable()}, good)
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [good.name]


def test_corrupt_checkpoint_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = checkpoint.save({"x": 1}, tmp_path, step=1, keep=5)
    blob = path.read_bytes()[:40]
    path.write_bytes(blob)
    with pytest.raises(DrlrunError, match=r"corrupt .* left untouched"):
        checkpoint.load(path)
    assert path.read_bytes() == blob


class Evil:
    """Any class instance: unpickling it would mean importing and running code."""


def test_checkpoints_cannot_run_code(tmp_path: Path) -> None:
    """weights_only loading refuses pickled objects such as arbitrary classes."""
    path = tmp_path / "ckpt_000000000001.pt"
    torch.save({"format": checkpoint.FORMAT_VERSION, "state": {"x": Evil()}}, path)
    with pytest.raises(DrlrunError):
        checkpoint.load(path)
