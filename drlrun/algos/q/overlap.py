"""`algo.overlap=true`: the update runs on a background thread while the envs step.

A fixed pipeline, so a run stays deterministic and resumes exactly. At each update boundary
(every `train_freq` frames) the learner, in this order: takes the finished update's results
(its PER priorities, loss and mean Q), copies the online weights into the acting network,
samples the next batch, and hands it to the worker thread. The next `train_freq` steps then act
with the weights from before that update (a one-update policy lag) while torch computes it;
ALE, EnvPool and torch's kernels release the GIL, so acting and learning share the cores.

Waiting for the worker (before a target sync, a checkpoint or an evaluation) changes nothing:
results are applied only at the next boundary, and the checkpoint holds the acting weights and
the not-yet-applied results.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from drlrun.algos.q.losses.base import LossOutput
from drlrun.errors import DrlrunError

if TYPE_CHECKING:
    from drlrun.algos.q.learner import QLearner
    from drlrun.nets.heads import QNetwork

log = logging.getLogger("drlrun")


@dataclass
class Finished:
    """An update's results not yet applied: the rows it sampled and their new TD errors."""

    rows: np.ndarray
    envs: np.ndarray
    td_abs: np.ndarray
    loss: torch.Tensor
    q_mean: torch.Tensor


def check_overlap(learner: QLearner, sequence: bool) -> None:
    """Refuse, in one line, what the pipeline cannot keep exact."""
    p = learner.p
    if sequence:
        raise DrlrunError("algo.overlap=true needs a feedforward torso (not a sequence net)")
    if learner.transforms:
        raise DrlrunError(
            "algo.overlap=true cannot run with curiosity: its module scores each step while the "
            "update trains it; use curiosity=none or algo.overlap=false"
        )
    if p.gradient_steps != 1:
        raise DrlrunError("algo.overlap=true needs algo.gradient_steps=1")
    if learner.cfg.switches.positive_copies:
        raise DrlrunError("algo.overlap=true cannot run with algo.positive_copies")


class OverlappedUpdates:
    """The worker thread, the acting network and the update results waiting to be applied."""

    def __init__(self, learner: QLearner, acting: QNetwork):
        log.info(
            "algo.overlap=true (opt-in): the update runs on a worker thread while the next "
            "train_freq steps act with the weights before it, so metrics differ from a run "
            "without it"
        )
        self.learner = learner
        self.acting = acting  # what the actor reads: the online weights as of the last boundary
        threads = torch.get_num_threads()
        self.pool = ThreadPoolExecutor(1, "drlrun-update", torch.set_num_threads, (threads,))
        self.running: Future[LossOutput] | None = None
        self.running_rows: tuple[np.ndarray, np.ndarray] | None = None
        self.finished: Finished | None = None

    @staticmethod
    def acting_copy(online: QNetwork) -> QNetwork:
        return copy.deepcopy(online).requires_grad_(False)

    def boundary(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Apply the last update, refresh the acting weights, start the next update; returns
        the applied update's (loss, mean Q), or None at the first boundary."""
        learner = self.learner
        self.wait()
        done, self.finished = self.finished, None
        if done is not None and learner.replay.uses_priorities:
            learner.replay.update_priorities(done, done.td_abs)
        with torch.no_grad():
            for mine, theirs in zip(
                self.acting.state_dict().values(), learner.online.state_dict().values(), strict=True
            ):
                mine.copy_(theirs)
        inputs = learner.batches.sample()
        self.running_rows = (inputs.sampled.rows, inputs.sampled.envs)
        self.running = self.pool.submit(learner.learn, inputs)
        learner.updates += 1
        return None if done is None else (done.loss, done.q_mean)

    def wait(self) -> None:
        """Let the running update finish (its results wait for the next boundary)."""
        if self.running is None:
            return
        out = self.running.result()  # an error in the update is raised here
        rows, envs = self.running_rows
        td_abs = out.td_abs.cpu().numpy()
        self.finished = Finished(rows, envs, td_abs, out.loss.detach(), out.q_mean.detach())
        self.running = self.running_rows = None

    def state_dict(self) -> dict[str, Any]:
        self.wait()
        done = None if self.finished is None else dataclasses.asdict(self.finished)
        return {"acting": self.acting.state_dict(), "finished": done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait()
        self.acting.load_state_dict(state["acting"])
        done = state["finished"]
        self.finished = None if done is None else Finished(**done)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
