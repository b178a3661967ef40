"""The run / refused table of every registered algo x env pair at a tiny budget.

`python scripts/matrix.py [--out F] [--check F] [--md F]`: composes `algo=A env=E` for every
drlrun/conf/algo/*.yaml x drlrun/conf/env/*.yaml, trains it in-process to a budget that holds at
least one update, and records `algo,env,outcome,reason`: `runs`, `refused` (a DrlrunError or a
composition error: its one line), `crashes` (any other exception: a bug) or `timeout`.
--check compares with a committed table (tests/matrix/expected.csv) and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import logging
import re
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "drlrun" / "conf"
MNIST = REPO / "tests" / "data" / "mnist"
FIELDS = ("algo", "env", "outcome", "reason")
PIXEL_ENVS = {"freeway", "mario", "mario84"}  # an MLP on 84x84x4 frames: keep them very short
TIMEOUT_S = 60

TOP = [
    "seed=0",
    "device=cpu",
    "eval.every=0",
    "eval.episodes=1",
    "checkpoint.every=0",
    "log.every=64",
    "log.tensorboard=false",
    "log.progress=false",
    f"data.root={MNIST}",  # only env=mnist_transformed reads it
]


@dataclass(frozen=True)
class Row:
    """One pair's outcome."""

    algo: str
    env: str
    outcome: str
    reason: str = ""


def options(group: str) -> list[str]:
    """The config group's options: the YAML file names under drlrun/conf/<group>/."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def compose(overrides: list[str]):
    """The composed config for `overrides`, as `drlrun` builds it (Hydra is initialised once
    per process: composing 182 pairs twice each through a fresh initialisation cost ~40 s)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    if not GlobalHydra.instance().is_initialized():
        initialize_config_module("drlrun.conf", version_base="1.3")
    return hydra_compose("config", overrides=overrides)


_ALGO_NODES: dict[str, dict] = {}


def algo_node(algo: str) -> dict:
    """The algo's own composed node (its keys decide the tiny budget), once per algo."""
    if algo not in _ALGO_NODES:
        from omegaconf import OmegaConf

        _ALGO_NODES[algo] = OmegaConf.to_container(compose([f"algo={algo}"]).algo)
    return _ALGO_NODES[algo]


def tiny_budget(algo: dict, env: str) -> list[str]:
    """Budget and algo overrides for a run that reaches at least one update, using only keys
    the algo has (overriding a key it lacks is a composition error)."""
    if "population" in algo:  # ga, es: one generation (GA's tournament needs >= 2 of 20%)
        # 2 envs side by side: a Mario emulator takes 0.4 s to build, and one per individual
        # was most of a GA x mario pair's time
        return [
            "budget.frames=null",
            "budget.iterations=1",
            "algo.population=10",
            "algo.max_rollouts=2",
        ]
    if "eval_batch" in algo:  # supervised: one batch
        return [
            "budget.frames=null",
            "budget.iterations=1",
            "algo.batch_size=8",
            "algo.eval_batch=16",
        ]
    if "interaction" in algo:  # multi-agent Q / AC: a few steps past learning_starts
        return [
            "budget.frames=16",
            "algo.learning_starts=8",
            "algo.batch_size=8",
            "algo.replay_size=1000",
            "algo.eval_steps=10",
        ]
    if "priority_copies" in algo:  # dist_book learns once its replay is full
        return ["budget.frames=64", "algo.replay_size=32", "algo.batch_size=16"]
    frames = 64 if env in PIXEL_ENVS else 256  # DQN family
    return [
        f"budget.frames={frames}",
        f"algo.learning_starts={frames - 32}",
        "algo.train_freq=16",
        "algo.gradient_steps=1",
        "algo.batch_size=16",
        "algo.buffer_size=1000",
    ]


def episode_cap(env: str) -> list[str]:
    """Short episodes for the slow emulators (GA/ES play whole episodes per generation); the
    outcome of a pair does not depend on the episode length."""
    if env in ("freeway", "freeway_ram"):
        return ["env.max_episode_frames=200"]
    if env in ("mario", "mario84"):
        return ["env.max_episode_steps=10"]
    return []


class PairTimeout(Exception):
    """A pair ran past TIMEOUT_S."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise PairTimeout in the main thread after `seconds` (SIGALRM)."""

    def _raise(signum, frame):
        raise PairTimeout(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def one_line(err: BaseException, run_dir: Path) -> str:
    """The error's first line without run-specific paths or addresses (so tables compare)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text.replace(str(run_dir), "<run_dir>").replace(str(REPO), "<repo>")
    text = re.sub(r"0x[0-9a-f]+", "0x...", text)
    return text[:300]


def run_pair(algo: str, env: str) -> Row:
    """Compose, build and train `algo=A env=E` in a temp dir; classify what happened."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from drlrun.errors import DrlrunError
    from drlrun.runner import Runner
    from drlrun.session import build
    from drlrun.settings import runner_settings

    with tempfile.TemporaryDirectory(prefix=f"matrix-{algo}-{env}-") as tmp:
        run_dir = Path(tmp)
        try:
            algo_cfg = algo_node(algo)
            cfg = compose(
                [f"algo={algo}", f"env={env}", *TOP, *tiny_budget(algo_cfg, env), *episode_cap(env)]
            )
        except (HydraException, OmegaConfBaseException) as err:
            return Row(algo, env, "refused", f"config: {one_line(err, run_dir)}")
        built = None
        try:
            with deadline(TIMEOUT_S):
                built = build(cfg, run_dir)
                Runner(built.algo, runner_settings(built.top, built.env.frame_skip), run_dir).run()
        except DrlrunError as err:
            return Row(algo, env, "refused", one_line(err, run_dir))
        except PairTimeout as err:
            return Row(algo, env, "timeout", str(err))
        except Exception as err:  # noqa: BLE001 - every other exception is a bug to report
            return Row(algo, env, "crashes", f"{type(err).__name__}: {one_line(err, run_dir)}")
        finally:
            if built is not None:
                with contextlib.suppress(Exception):
                    built.algo.close()
                with contextlib.suppress(Exception):
                    built.env.close()
        return Row(algo, env, "runs")


def _quiet_worker() -> None:
    """One torch thread and warnings only, in this process (each pool worker calls it)."""
    import torch

    sys.path.insert(0, str(REPO))
    torch.set_num_threads(1)
    logging.getLogger("drlrun").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")


def timed_pair(pair: tuple[str, str]) -> tuple[Row, float]:
    """`run_pair` with its stdout swallowed, and its wall time."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        row = run_pair(*pair)
    return row, time.perf_counter() - start


def run_matrix(algos: list[str], envs: list[str], workers: int = 1) -> list[Row]:
    """Every pair, in order, printing progress to stderr; `workers` > 1 runs the pairs in that
    many fresh processes (each pair is independent: its own temp dir, seed and env)."""
    pairs = [(a, e) for a in algos for e in envs]
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")  # no torch/Hydra state carried over
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet_worker) as pool:
            results = pool.map(timed_pair, pairs)
            return [_report(row, took) for row, took in results]
    _quiet_worker()
    return [_report(*timed_pair(pair)) for pair in pairs]


def _report(row: Row, took: float) -> Row:
    print(
        f"{row.algo:>12} x {row.env:<18} {row.outcome:<8} {took:5.1f} s  {row.reason[:90]}",
        file=sys.stderr,
        flush=True,
    )
    return row


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FIELDS)
        w.writerows((r.algo, r.env, r.outcome, r.reason) for r in rows)


def read_csv(path: Path) -> list[Row]:
    with path.open(newline="") as f:
        return [Row(**r) for r in csv.DictReader(f)]


def diff(expected: list[Row], actual: list[Row]) -> list[str]:
    """Human-readable lines for each pair whose outcome or reason differs (or is missing)."""
    want = {(r.algo, r.env): r for r in expected}
    got = {(r.algo, r.env): r for r in actual}
    lines = []
    for key in sorted(want.keys() | got.keys()):
        a, b = want.get(key), got.get(key)
        if a != b:
            show = lambda r: f"{r.outcome} {r.reason}".strip() if r else "<absent>"  # noqa: E731
            lines.append(f"{key[0]} x {key[1]}: expected {show(a)!r}, now {show(b)!r}")
    return lines


def markdown(rows: list[Row]) -> str:
    """docs/matrix.md: the grid of outcomes, then each refusal's reason and the crashes."""
    algos = sorted({r.algo for r in rows})
    envs = sorted({r.env for r in rows})
    cell = {(r.algo, r.env): r for r in rows}
    mark = {"runs": "runs", "refused": "refused", "crashes": "**CRASH**", "timeout": "timeout"}
    counts = {k: sum(r.outcome == k for r in rows) for k in mark}
    out = [
        "# algo x env matrix",
        "",
        "Which `algo=A env=E` pairs run and which are refused, at a tiny budget with at least one",
        "update (`python scripts/matrix.py --out tests/matrix/expected.csv --md docs/matrix.md`;",
        "`--check tests/matrix/expected.csv` compares). Pairs run with the algo's and env's",
        "defaults (the torso the observation picks unless the algo picks its own, and the pair's",
        "tuned settings), seed 0, CPU.",
        "",
        ", ".join(f"{k}: {v}" for k, v in counts.items() if v or k != "timeout"),
        "",
        "| algo \\ env | " + " | ".join(envs) + " |",
        "|---|" + "---|" * len(envs),
    ]
    for a in algos:
        out.append(f"| {a} | " + " | ".join(mark[cell[(a, e)].outcome] for e in envs) + " |")
    for title, kind in (
        ("Crashes (bugs)", "crashes"),
        ("Timeouts", "timeout"),
        ("Refusals", "refused"),
    ):
        chosen = [r for r in rows if r.outcome == kind]
        if not chosen:
            continue
        out += ["", f"## {title}", "", "| algo | env | reason |", "|---|---|---|"]
        out += [f"| {r.algo} | {r.env} | {r.reason.replace('|', '/')} |" for r in chosen]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the table here (csv)")
    parser.add_argument("--md", type=Path, help="write the markdown rendering here")
    parser.add_argument("--check", type=Path, help="compare with this committed table")
    parser.add_argument("--algo", nargs="*", help="only these algos")
    parser.add_argument("--env", nargs="*", help="only these envs")
    parser.add_argument("--workers", type=int, default=2, help="processes (pairs are independent)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    start = time.perf_counter()
    rows = run_matrix(args.algo or options("algo"), args.env or options("env"), args.workers)
    print(f"{len(rows)} pairs in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.out:
        write_csv(rows, args.out)
    if args.md:
        args.md.write_text(markdown(rows))
    if not (args.out or args.check):
        write_csv(rows, Path("/dev/stdout"))
    if args.check:
        expected = read_csv(args.check)
        if args.algo or args.env:  # a partial run checks only the pairs it ran
            ran = {(r.algo, r.env) for r in rows}
            expected = [r for r in expected if (r.algo, r.env) in ran]
        lines = diff(expected, rows)
        for line in lines:
            print(line)
        print(f"{len(lines)} pairs differ from {args.check}")
        return 1 if lines else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
