"""Where ES perturbations are evaluated: in this process, in local processes, or on Ray actors.

Each worker (`ESWorker`) holds a full replica: env, policy, and an `ESCore` with the parent.
Per generation the driver sends a worker the generation index and gets back (seed index,
fitness) scalars for the seeds it owns (every `workers`-th one); then it broadcasts the whole
fitness table (scalars) and every replica applies the same update. No parameter vector crosses
the wire after the initial sync. `wire_bytes` counts the pickled messages of each worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
import torch

from drlrun.algos.evolution.es_core import (
    ESCore,
    ESParams,
    action_seeds,
    episode_seeds,
    generation_seeds,
)
from drlrun.algos.evolution.population import PopulationEvaluator
from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.nets.flat import FlatParams
from drlrun.nets.policy import ActionMap, PolicyNet
from drlrun.registry import lookup, register

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
Results = list[tuple[float, ...]]  # (seed index, fitness per sign) rows


@dataclass
class WorkerSpec:
    """Everything a replica needs; shipped once (cloudpickle) when a worker starts."""

    env_factory: EnvFactory
    policy: PolicyNet
    params: ESParams
    base_seed: int

    def dumps(self) -> bytes:
        return cloudpickle.dumps(dataclasses.replace(self, env_factory=_unprobed(self.env_factory)))


def _unprobed(env: EnvFactory) -> EnvFactory:
    return dataclasses.replace(env, _probe=None)


def _size(message: Any) -> int:
    return len(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


class ESWorker:
    """One replica: evaluates the members of its seeds and applies every update."""

    def __init__(self, spec_bytes: bytes, index: int, count: int):
        spec: WorkerSpec = cloudpickle.loads(spec_bytes)
        self.p, self.base_seed = spec.params, spec.base_seed
        self.index, self.count = index, count
        actions = ActionMap(spec.env_factory.action_space, self.p.action)
        self.evaluator = PopulationEvaluator(
            spec.env_factory, spec.policy, actions, self.p.max_rollouts
        )
        self.core = ESCore(FlatParams(spec.policy).get(), self.p, self.base_seed)

    def set_state(self, state: dict[str, Any]) -> None:
        self.core.load_state_dict(state)

    def evaluate(self, generation: int) -> tuple[Results, int, float, float]:
        """(seed index, fitness per sign) rows of this worker's seeds, env steps, and the wall
        and CPU seconds the evaluation took (CPU < wall: the worker waited for a core)."""
        start, cpu = time.perf_counter(), time.process_time()
        p = self.p
        mine = list(range(self.index, p.n_seeds, self.count))
        if not mine:
            return [], 0, 0.0, 0.0
        seeds = generation_seeds(self.base_seed, generation, p.n_seeds)
        vectors = np.concatenate([self.core.members(generation, j) for j in mine])
        eps = episode_seeds(self.base_seed, generation, p.episodes_per_eval)
        a_seeds = np.stack(
            [
                action_seeds(seeds[j], s, p.episodes_per_eval)
                for j in mine
                for s in range(len(p.signs))
            ]
        )
        fit = self.evaluator.evaluate(vectors, eps, a_seeds)
        per_seed = fit.returns.reshape(len(mine), len(p.signs))
        rows = [(j, *map(float, row)) for j, row in zip(mine, per_seed, strict=True)]
        return rows, fit.steps, time.perf_counter() - start, time.process_time() - cpu

    def apply(self, generation: int, fitness: tuple[float, ...]) -> None:
        table = np.asarray(fitness, dtype=np.float64).reshape(self.p.n_seeds, len(self.p.signs))
        self.core.step(generation, table)

    def theta(self) -> np.ndarray:
        return self.core.theta.copy()

    def close(self) -> None:
        self.evaluator.close()


class Backend(ABC):
    """Drives `workers` replicas; `evaluate` gathers one generation's fitness table."""

    def __init__(self, spec: WorkerSpec, workers: int):
        self.p, self.workers = spec.params, workers
        self.wire_sent = 0  # bytes a worker sent in the last generation (max over workers)
        self.wire_received = 0  # bytes a worker received in the last generation (max)
        self.busy = 0.0  # seconds the slowest worker spent evaluating in the last generation
        self.cpu = 0.0  # CPU seconds of the busiest worker in the last generation

    def evaluate(self, generation: int) -> tuple[np.ndarray, int]:
        request = ("evaluate", generation)
        replies = self._evaluate(generation)
        table = np.full((self.p.n_seeds, len(self.p.signs)), np.nan)
        steps = 0
        for results, n, *_ in replies:
            steps += n
            for j, *fits in results:
                table[int(j)] = fits
        if np.isnan(table).any():
            raise RuntimeError("a worker did not report every seed it owns")
        self.wire_sent = max(_size(reply) for reply in replies)
        self.busy = max(reply[2] for reply in replies)
        self.cpu = max(reply[3] for reply in replies)
        self.wire_received = _size(request)
        return table, steps

    def apply(self, generation: int, table: np.ndarray) -> None:
        message = ("apply", generation, tuple(float(x) for x in table.ravel()))
        self.wire_received += _size(message)
        self._apply(generation, message[2])

    @abstractmethod
    def _evaluate(self, generation: int) -> list[tuple[Results, int, float, float]]: ...

    @abstractmethod
    def _apply(self, generation: int, fitness: tuple[float, ...]) -> None: ...

    @abstractmethod
    def sync(self, state: dict[str, Any]) -> None:
        """Give every replica the parent and optimizer state (start and resume only)."""

    @abstractmethod
    def thetas(self) -> list[np.ndarray]: ...

    @abstractmethod
    def close(self) -> None:
        """Stop the workers."""


@register("backend", "serial")
class SerialBackend(Backend):
    """One replica in this process: for debugging, and the reference the others must match."""

    def __init__(self, spec: WorkerSpec, workers: int = 1):
        super().__init__(spec, 1)
        self.worker = ESWorker(spec.dumps(), 0, 1)

    def _evaluate(self, generation):
        return [self.worker.evaluate(generation)]

    def _apply(self, generation, fitness):
        self.worker.apply(generation, fitness)

    def sync(self, state):
        self.worker.set_state(state)

    def thetas(self):
        return [self.worker.theta()]

    def close(self):
        self.worker.close()


def _process_main(conn, spec_bytes: bytes, index: int, count: int) -> None:
    """Worker process loop: run commands from the pipe; reply to those that return values."""
    torch.set_num_threads(1)
    worker = None
    try:
        worker = ESWorker(spec_bytes, index, count)
        while True:
            command, *args = conn.recv()
            if command == "close":
                break
            out = getattr(worker, command)(*args)
            if command in ("evaluate", "theta"):
                conn.send(("ok", out))
    except (EOFError, KeyboardInterrupt):
        pass
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        if worker is not None:
            worker.close()
        conn.close()


@contextlib.contextmanager
def _single_threaded_children():
    """Start children with one BLAS/OpenMP thread (as Ray does for its actors): idle BLAS
    threads spin, and with one process per core they would steal the other workers' CPU."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@register("backend", "process")
class ProcessBackend(Backend):
    """`workers` local processes (multiprocessing, spawn), each a replica, talking over pipes."""

    def __init__(self, spec: WorkerSpec, workers: int):
        import multiprocessing as mp

        super().__init__(spec, workers)
        ctx = mp.get_context("spawn")
        payload = spec.dumps()
        self.conns, self.procs = [], []
        with _single_threaded_children():
            for k in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_process_main, args=(child, payload, k, workers), daemon=True
                )
                proc.start()
                child.close()
                self.conns.append(parent)
                self.procs.append(proc)

    def _recv(self, k: int) -> Any:
        try:
            status, out = self.conns[k].recv()
        except EOFError:
            raise RuntimeError(f"ES worker process {k} died") from None
        if status == "error":
            raise RuntimeError(f"ES worker process {k} failed:\n{out}")
        return out

    def _evaluate(self, generation):
        for conn in self.conns:
            conn.send(("evaluate", generation))
        return [self._recv(k) for k in range(self.workers)]

    def _apply(self, generation, fitness):
        for conn in self.conns:
            conn.send(("apply", generation, fitness))

    def sync(self, state):
        for conn in self.conns:
            conn.send(("set_state", state))

    def thetas(self):
        for conn in self.conns:
            conn.send(("theta",))
        return [self._recv(k) for k in range(self.workers)]

    def close(self):
        for conn, proc in zip(self.conns, self.procs, strict=True):
            with contextlib.suppress(OSError):
                conn.send(("close",))
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            conn.close()
        self.conns, self.procs = [], []


@register("backend", "ray")
class RayBackend(Backend):
    """`workers` Ray actors, each a replica. Starts a local Ray instance unless one is running
    (then `ray.init` joins it; a cluster address in RAY_ADDRESS is honoured by Ray itself)."""

    def __init__(self, spec: WorkerSpec, workers: int):
        try:
            import ray
        except ImportError:
            raise DrlrunError(
                "algo.backend=ray needs Ray: pip install 'drlrun[distributed]', or use "
                "algo.backend=process for local processes"
            ) from None
        super().__init__(spec, workers)
        self.ray = ray
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        actor = ray.remote(num_cpus=1)(ESWorker)
        payload = spec.dumps()
        self.actors = [actor.remote(payload, k, workers) for k in range(workers)]
        self.pending: list[Any] = []

    def _get(self, refs: list[Any]) -> list[Any]:
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayError as err:
            raise RuntimeError(f"an ES Ray actor failed: {err}") from None

    def _evaluate(self, generation):
        self._get(self.pending)
        return self._get([a.evaluate.remote(generation) for a in self.actors])

    def _apply(self, generation, fitness):
        self.pending = [a.apply.remote(generation, fitness) for a in self.actors]

    def sync(self, state):
        self._get([a.set_state.remote(state) for a in self.actors])

    def thetas(self):
        self._get(self.pending)
        return self._get([a.theta.remote() for a in self.actors])

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started_ray:
            self.ray.shutdown()


def make_backend(spec: WorkerSpec) -> Backend:
    """The registered backend `algo.backend` (registry kind `backend`: a class or builder taking
    (spec, workers)); an unknown name is one line listing the registered ones."""
    return lookup("backend", spec.params.backend)(spec, spec.params.workers)
