"""The one generic loop: train steps until the budget is spent, with logging, evaluation,
checkpoints, signal handling and exact resume. It never knows which algorithm runs."""

from __future__ import annotations

import collections
import json
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drlrun import checkpoint, guards
from drlrun.algos.base import Algorithm
from drlrun.errors import DrlrunError
from drlrun.logger import RunLogger
from drlrun.replay_store import STORE_DIR, ReplayStore
from drlrun.rundir import write_text_atomic
from drlrun.seeding import global_rng_state, set_global_rng_state
from drlrun.tracking import make_trackers
from drlrun.viz.probe import Figures, build_probes, write_figures

log = logging.getLogger("drlrun")
RECENT_EPISODES = 100


@dataclass
class RunnerSettings:
    """The runner's slice of the config (validated by the CLI)."""

    seed: int
    budget_frames: int | None
    budget_iterations: int | None
    budget_seconds: float | None
    eval_every: int
    eval_episodes: int
    eval_epsilon: float
    ckpt_every: int
    ckpt_keep: int
    log_every: int
    log_csv: bool
    log_tensorboard: bool
    log_progress: bool
    frame_skip: int = 1
    log_backends: tuple[str, ...] = ()  # wandb / mlflow (drlrun.tracking)
    log_probes: tuple[str, ...] = ()  # probes beside the algorithm's own (drlrun.viz.probe)
    fidelity: str = "fixed"
    ablations: dict[str, Any] | None = None  # book switches set against fidelity
    compute: dict[str, Any] | None = None  # device, threads, precision, memory format


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; a checkpoint was saved."""

    def __init__(self, signum: int, path: Path | None):
        super().__init__(f"signal {signum}")
        self.signum, self.path = signum, path


class Runner:
    def __init__(
        self,
        algo: Algorithm,
        settings: RunnerSettings,
        run_dir: Path,
        on_eval: Callable[[int, dict[str, float]], bool] | None = None,
    ):
        """`on_eval(frames, metrics)` sees every periodic evaluation; returning True stops the
        run early with status "pruned" (Optuna pruning)."""
        self.algo, self.s, self.run_dir = algo, settings, run_dir
        self.on_eval = on_eval
        self.ckpt_dir = run_dir / "checkpoints"
        replay = algo.external_replay()  # a large ring kept beside the checkpoints, not in them
        self.replay_store = ReplayStore(run_dir / STORE_DIR, replay) if replay is not None else None
        self.iteration = 0
        self.episodes: collections.deque = collections.deque(maxlen=RECENT_EPISODES)
        self.acc: dict[str, list[float]] = {}
        self.wall_before = 0.0
        # process CPU seconds of earlier sessions of this run (None: a checkpoint from before
        # they were kept), so a run's CPU time survives a resume like its wall time
        self.cpu_before: float | None = 0.0
        self.last_eval: dict[str, float] = {}
        self._signal: int | None = None
        self._last_eval_frames = -1

    # --- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "algo": self.algo.state_dict(),
            "runner": {
                "iteration": self.iteration,
                "episodes": [[e[0], e[1]] for e in self.episodes],
                "acc": {k: list(v) for k, v in self.acc.items()},
                "wall": self.wall_before + (time.perf_counter() - self._t0),
                "cpu": self._cpu_time(),
                "last_eval": self.last_eval,
            },
            "rng": global_rng_state(),
        }

    def load(self, path: Path) -> None:
        store = self.replay_store
        if store is None:
            state = checkpoint.load(path)
        else:  # refuses (changing nothing) a checkpoint the replay memmap no longer matches
            state = checkpoint.load(path, store.corrupt_advice())
            store.restore(path, state.get("replay_store"))
        try:
            self.algo.load_state_dict(state["algo"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise DrlrunError(
                f"checkpoint {path} does not fit this config ({err}); resume with the config "
                "the run was started with"
            ) from None
        r = state["runner"]
        self.iteration = int(r["iteration"])
        self.episodes.extend((float(a), float(b)) for a, b in r["episodes"])
        self.acc = {k: [float(x) for x in v] for k, v in r["acc"].items()}
        self.wall_before = float(r["wall"])
        self.cpu_before = None if r.get("cpu") is None else float(r["cpu"])
        self.last_eval = dict(r["last_eval"])
        set_global_rng_state(state["rng"])
        log.info("resumed from %s at frame %d", path, self.algo.frames)
        for caveat in self.algo.resume_caveats():
            log.warning("%s", caveat)

    def save(self) -> Path:
        """Write a checkpoint, never one with non-finite parameters (the guard raises instead)."""
        guards.check_parameters(
            self.algo.named_tensors(), self.algo.frames, self.iteration, self._kept
        )

        def write(state: dict[str, Any]) -> Path:
            return checkpoint.save(state, self.ckpt_dir, self.algo.frames, self.s.ckpt_keep)

        if self.replay_store is None:
            return write(self.state_dict())
        return self.replay_store.checkpoint(self.state_dict(), write)

    def _kept(self) -> str:
        return guards.kept_message(checkpoint.latest(self.ckpt_dir))

    # --- loop -----------------------------------------------------------------------------------
    def _done(self, t_start: float) -> bool:
        s = self.s
        if self.algo.finished:
            return True
        if s.budget_frames is not None and self.algo.frames >= s.budget_frames:
            return True
        if s.budget_iterations is not None and self.iteration >= s.budget_iterations:
            return True
        elapsed = self.wall_before + time.perf_counter() - t_start
        return s.budget_seconds is not None and elapsed >= s.budget_seconds

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self._signal = signum

    def _flush_train(self, logger: RunLogger) -> None:
        metrics = {k: float(np.mean(v)) for k, v in sorted(self.acc.items()) if v}
        if self.episodes:
            metrics["return_mean"] = float(np.mean([e[0] for e in self.episodes]))
            metrics["length_mean"] = float(np.mean([e[1] for e in self.episodes]))
        metrics["iteration"] = float(self.iteration)
        if self.s.frame_skip > 1:
            metrics["emulator_frames"] = float(self.algo.frames * self.s.frame_skip)
        logger.log(self.algo.frames, "train", metrics)
        self.acc = {}

    def _evaluate(self, logger: RunLogger, kind: str) -> dict[str, float]:
        # the eval seed depends only on the frame count, never on the training RNG streams
        seed = self.s.seed * 1_000_003 + self.algo.frames + 10_007
        metrics = self.algo.evaluate(self.s.eval_episodes, seed, self.s.eval_epsilon)
        logger.log(self.algo.frames, kind, metrics)
        self.last_eval = metrics
        self._last_eval_frames = self.algo.frames
        return metrics

    def _cpu_time(self) -> float | None:
        """This run's process CPU seconds over every session (wall time overstates the compute
        a job used when several share a core)."""
        if self.cpu_before is None:
            return None
        return self.cpu_before + (time.process_time() - self._c0)

    def run(self, resume_from: Path | None = None) -> dict[str, Any]:
        self._t0 = time.perf_counter()
        self._c0 = time.process_time()
        if resume_from is not None:
            self.load(resume_from)
        s = self.s
        start_frames = self.algo.frames
        logger = RunLogger(
            self.run_dir,
            s.log_csv,
            s.log_tensorboard,
            s.log_progress,
            s.budget_frames,
            start_frames if resume_from is not None else None,
            make_trackers(s.log_backends, self.run_dir) if s.log_backends else None,
        )
        handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        t_start = time.perf_counter()
        self._t0 = t_start
        status, final = "failed", {}
        try:
            while not self._done(t_start):
                before = self.algo.frames
                result = self.algo.train_step()
                self.iteration += 1
                guards.check_metrics(result.metrics, self.algo.frames, self.iteration, self._kept)
                for key, value in result.metrics.items():
                    self.acc.setdefault(key, []).append(value)
                self.episodes.extend((e.ret, float(e.length)) for e in result.episodes)
                now = self.algo.frames
                if _crossed(before, now, s.log_every):
                    self._flush_train(logger)
                    elapsed = time.perf_counter() - t_start
                    sps = (now - start_frames) / max(elapsed, 1e-9)
                    fields = {}
                    if self.episodes:  # population methods report fitness, not episodes
                        fields["return"] = float(np.mean([e[0] for e in self.episodes]))
                    logger.speed(now, sps, fields)
                    logger.progress.line(
                        f"frames {now}"
                        + (f"/{s.budget_frames}" if s.budget_frames else "")
                        + f" | sps {sps:.0f}"
                        + "".join(f" | {k} {v:.2f}" for k, v in fields.items())
                    )
                if s.eval_every > 0 and _crossed(before, now, s.eval_every):
                    metrics = self._evaluate(logger, "eval")
                    logger.progress.line(
                        f"eval at {now}: return {metrics['eval_return_mean']:.2f} "
                        f"+- {metrics['eval_return_std']:.2f}",
                        on_bar=True,
                    )
                    if self.on_eval is not None and self.on_eval(now, metrics):
                        log.info(
                            "pruned at frame %d (eval return %.2f)",
                            now,
                            metrics["eval_return_mean"],
                        )
                        status = "pruned"
                        break
                if s.ckpt_every > 0 and _crossed(before, now, s.ckpt_every):
                    self.save()
                if self._signal is not None:
                    path = self.save()
                    raise Interrupted(self._signal, path)
            if self.acc:
                self._flush_train(logger)
            path = self.save()
            if status == "pruned":
                final = self.last_eval
            elif s.eval_episodes == 0:
                final = {}
            elif self._last_eval_frames == self.algo.frames:
                final = self.last_eval  # a periodic evaluation just ran at this frame count
            else:
                final = self._evaluate(logger, "final")
            probes = build_probes(self.algo, s.log_probes)
            figures = Figures(self.run_dir, self.algo.frames, logger)
            for figure in write_figures(probes, figures):
                log.info("wrote %s", figure)
            if status != "pruned":
                status = "finished"
        except Interrupted:
            status = "interrupted"
            raise
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            elapsed = time.perf_counter() - t_start
            summary = self._summary(
                status,
                final if status in ("finished", "pruned") else self.last_eval,
                elapsed,
                start_frames,
            )
            try:
                write_text_atomic(
                    self.run_dir / "summary.json", json.dumps(summary, indent=2) + "\n"
                )
            except OSError as err:  # a full disk must not hide the error that stopped the run
                log.error("could not write %s: %s", self.run_dir / "summary.json", err)
            logger.close(status)
        log.info("checkpoint %s; summary %s", path, self.run_dir / "summary.json")
        return summary

    def _summary(
        self, status: str, final: dict[str, float], elapsed: float, start_frames: int
    ) -> dict[str, Any]:
        frames = self.algo.frames
        summary: dict[str, Any] = {
            "status": status,
            "frames": frames,
            "iterations": self.iteration,
            "wall_time_s": self.wall_before + elapsed,
            "cpu_time_s": self._cpu_time(),
            "sps": (frames - start_frames) / max(elapsed, 1e-9),
            "eval_return_mean": final.get("eval_return_mean"),  # null when no evaluation ran
            "eval_return_std": final.get("eval_return_std"),
        }
        if self.s.frame_skip > 1:
            summary["emulator_frames"] = frames * self.s.frame_skip
        summary["fidelity"] = self.s.fidelity
        if self.s.compute:
            summary["compute"] = dict(self.s.compute)
        if self.s.ablations:
            summary["ablations"] = dict(self.s.ablations)
        if self.episodes:
            summary["train_return_mean"] = float(np.mean([e[0] for e in self.episodes]))
        for key, value in final.items():
            summary.setdefault(key, value)
        return summary


def _crossed(before: int, now: int, every: int) -> bool:
    """True when the counter passed a multiple of `every` between `before` and `now`."""
    return every > 0 and now // every != before // every
