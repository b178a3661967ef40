"""Checkpoint cost of an Atari-size replay: memmap store (new rows only) vs inside the checkpoint.

Fills a uniform replay of 84x84 uint8 frames (frame stack 4, frames stored once), then times
  1. the first store commit (every row so far goes through the journal into fresh memmaps),
  2. a periodic commit after `--new` more rows (what each checkpoint of a long run costs),
  3. restoring the ring from the memmaps (a resume),
  4. for comparison, torch-saving the whole buffer inside a checkpoint (replay_in_checkpoint=always).

    python scripts/measure_replay_store.py                    # 200k rows, 10k new, in /tmp
    python scripts/measure_replay_store.py --rows 1000000 --dir /data/scratch
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from drlrun import checkpoint
from drlrun.buffers.replay import ReplayBuffer
from drlrun.replay_store import ReplayStore


def fill(replay: ReplayBuffer, steps: int, rng: np.random.Generator) -> None:
    """Add `steps` vector steps of random frames (one env), episodes of ~1000 steps."""
    stack = rng.integers(0, 256, size=(1, 4, 84, 84), dtype=np.uint8)
    for t in range(steps):
        stack[0, -1] = (t * 7) % 251  # a cheap "new frame" per step
        done = np.array([t % 1000 == 999])
        replay.add(stack, np.array([t % 6]), np.zeros(1, np.float32), done, ~done, {})


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:7.2f} s")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000, help="ring capacity (transitions)")
    ap.add_argument("--new", type=int, default=10_000, help="rows added between checkpoints")
    ap.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        rng = np.random.default_rng(0)
        replay = ReplayBuffer(args.rows, 1, (4, 84, 84), np.dtype(np.uint8), frame_stack=4)
        mb = replay.nbytes / 1e6
        print(f"ring {args.rows} rows, {mb:.0f} MB; {args.new} new rows per checkpoint")
        timed(f"fill {args.rows} rows", lambda: fill(replay, args.rows, rng))
        store = ReplayStore(scratch / "replay", replay)

        def save(state: dict) -> Path:
            return checkpoint.save(state, scratch / "checkpoints", replay.written, keep=3)

        def commit() -> None:
            store.checkpoint({"algo": {"replay": replay.state_dict(arrays=False)}}, save)

        timed(f"first commit (journal + memmaps of all {args.rows} rows)", commit)
        fill(replay, args.new, rng)
        new_mb = args.new * replay.frames[0].nbytes / 1e6
        timed(f"periodic commit ({args.new} new rows, ~{new_mb:.0f} MB)", commit)
        fill(replay, args.new, rng)
        timed(f"periodic commit again ({args.new} new rows)", commit)
        record = checkpoint.load(checkpoint.latest(scratch / "checkpoints"))["replay_store"]
        fresh = ReplayBuffer(args.rows, 1, (4, 84, 84), np.dtype(np.uint8), frame_stack=4)
        timed(
            "restore the ring from the memmaps (resume)",
            lambda: ReplayStore(scratch / "replay", fresh).restore(scratch / "ckpt", record),
        )
        assert np.array_equal(fresh.frames, replay.frames)
        inside = scratch / "inside"
        timed(
            f"whole replay inside a checkpoint ({mb:.0f} MB, =always)",
            lambda: checkpoint.save({"algo": {"replay": replay.state_dict()}}, inside, 0, keep=1),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
