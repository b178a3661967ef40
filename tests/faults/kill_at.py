"""Fault injection: run `drlrun ARGS` in this process and SIGKILL it at one chosen point.

    python kill_at.py POINT N ARGS...

POINT is one of
  frame    after the first train step that reaches N frames (between checkpoints)
  journal  once the N-th replay commit's journal is durable, before its checkpoint is written
  apply    halfway through copying the N-th replay commit's rows into the memmaps
Only the tests use this; nothing in drlrun reads it.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from drlrun import cli
from drlrun.algos.q.learner import QLearner
from drlrun.replay_store import Chunk, ReplayStore


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at_frame(n: int) -> None:
    train_step = QLearner.train_step

    def patched(self: QLearner) -> Any:
        result = train_step(self)
        if self.frames >= n:
            die()
        return result

    QLearner.train_step = patched  # type: ignore[method-assign]


def on_nth_call(n: int, original: Callable[..., Any], then: Callable[..., Any]) -> Callable:
    """`original` for every call but the n-th, which runs `then` with the same arguments."""
    calls = itertools.count(1)

    def patched(*args: Any) -> Any:
        return then(*args) if next(calls) == n else original(*args)

    return patched


def kill_after_journal(n: int) -> None:
    write = ReplayStore._write_journal

    def then(store: ReplayStore, commit: Any) -> None:
        write(store, commit)
        die()

    ReplayStore._write_journal = on_nth_call(n, write, then)  # type: ignore[method-assign]


def kill_halfway_through_apply(n: int) -> None:
    def then(maps: dict, chunks: Iterator[Chunk]) -> None:
        """Copy the first half of the rows (splitting the chunk at the middle), then die."""
        todo = list(chunks)
        left = sum(b - a for _, a, b, _ in todo) // 2
        for name, a, b, rows in todo:
            take = min(b - a, left)
            maps[name][a : a + take] = rows[:take]
            left -= take
            if left == 0:
                break
        for m in maps.values():
            m.flush()
        die()

    patched = on_nth_call(n, ReplayStore._copy_rows, then)
    ReplayStore._copy_rows = staticmethod(patched)  # type: ignore[method-assign]


POINTS = {
    "frame": kill_at_frame,
    "journal": kill_after_journal,
    "apply": kill_halfway_through_apply,
}


def main() -> None:
    point, n, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    POINTS[point](n)
    sys.argv = ["drlrun", *args]
    cli.main()


if __name__ == "__main__":
    main()
