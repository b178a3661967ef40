"""Supervised classification (book ch. 10): relational module vs CNN on transformed MNIST.

One train step is one minibatch (the book's "epoch"): `batch_size` ids drawn with replacement
from the train split, freshly transformed, NLL on log-softmax, Adam. `frames` counts images
seen. Evaluation scores the fixed, seeded test set (`test_accuracy` in summary.json; it is also
`eval_return_mean` so sweeps and reports work unchanged). The env slot holds a dataset (the
builder accepts only `dataset` tasks, checked before anything is built); the figures are the
`mnist` probe (drlrun/viz/mnist.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from drlrun.algos.accepts import accepts
from drlrun.algos.base import (
    Algorithm,
    Recorder,
    RunContext,
    Tensors,
    TrainResult,
    module_tensors,
    no_video,
)
from drlrun.algos.schedules import CosineSchedule
from drlrun.envs.mnist import MnistData, transform
from drlrun.nets.base import build_torso
from drlrun.nets.policy import PolicyNet
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class SupervisedParams:
    lr: float = 1e-3
    batch_size: int = 300
    eval_batch: int = 500
    lr_schedule: str = "constant"  # constant (the book) | cosine (warm-up, then cosine to 0)
    lr_warmup: int = 0  # batches of linear warm-up (cosine)
    lr_batches: int = 1000  # batches over which the cosine decays (cosine)
    weight_decay: float = 0.0  # AdamW's decoupled decay (0: Adam, the book)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.eval_batch < 1:
            raise ValueError("batch_size and eval_batch must be >= 1")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.lr_warmup < 0 or self.lr_batches < 1 or self.weight_decay < 0:
            raise ValueError("lr_warmup and weight_decay must be >= 0, lr_batches >= 1")

    def learning_rate(self) -> Callable[[int], float]:
        """The learning rate of batch `step` (0-based)."""
        if self.lr_schedule == "cosine":
            return CosineSchedule(self.lr, self.lr_batches, self.lr_warmup)
        return lambda step: self.lr


class Classifier(PolicyNet):
    """torso -> Linear -> log-softmax (the policy net's shape with class log-probabilities)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(super().forward(x), dim=1)


class Supervised(Algorithm):
    def __init__(self, p: SupervisedParams, data: MnistData, ctx: RunContext):
        self.p, self.data, self.device = p, data, ctx.device
        self.model = Classifier(build_torso(ctx.net_cfg, data), 10).to(self.device)
        params = self.model.parameters()
        self.optimizer = (
            torch.optim.AdamW(params, lr=p.lr, weight_decay=p.weight_decay)
            if p.weight_decay > 0
            else torch.optim.Adam(params, lr=p.lr)
        )
        self.learning_rate = p.learning_rate()
        self.gen = torch.Generator().manual_seed(ctx.seed)
        self.frames = 0
        self.history: list[tuple[int, float, float]] = []  # (frames, loss, batch accuracy)

    def train_step(self) -> TrainResult:
        n = len(self.data.train_labels)
        ids = torch.randint(0, n, (self.p.batch_size,), generator=self.gen)
        x = transform(self.data.train_images[ids], self.data.p, self.gen).to(self.device)
        y = self.data.train_labels[ids].to(self.device)
        out = self.model(x)
        loss = F.nll_loss(out, y)
        lr = self.learning_rate(len(self.history))  # a pure function of the batch count
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.frames += len(ids)
        acc = (out.argmax(dim=1) == y).float().mean().item()
        self.history.append((self.frames, loss.item(), acc))
        metrics = {"loss": loss.item(), "accuracy": acc}
        if self.p.lr_schedule != "constant":
            metrics["lr"] = lr
        return TrainResult(metrics)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Log-probabilities for (B, 1, 28, 28) images, in eval-sized chunks."""
        self.model.eval()
        try:
            chunks = images.split(self.p.eval_batch)
            return torch.cat([self.model(c.to(self.device)).cpu() for c in chunks])
        finally:
            self.model.train()

    def evaluate(
        self, episodes: int, seed: int, epsilon: float = 0.0, recorder: Recorder | None = None
    ) -> dict[str, float]:
        """Accuracy on the whole fixed test set (`episodes`, `seed`, `epsilon` do not apply);
        each test image counts as one episode with return 1 when classified right."""
        if recorder is not None:
            raise no_video("algo=supervised (it classifies a test set, it plays no episodes)")
        out = self.predict(self.data.test_images)
        correct = (out.argmax(dim=1) == self.data.test_labels).float()
        acc = float(correct.mean())
        return {
            "test_accuracy": acc,
            "test_loss": float(F.nll_loss(out, self.data.test_labels)),
            "test_images": float(len(correct)),
            "eval_return_mean": acc,
            "eval_return_std": float(correct.std()),
            "eval_episodes": float(len(correct)),
        }

    def describe_eval(self, metrics: Mapping[str, float]) -> str:
        return (
            f"accuracy {metrics['test_accuracy']:.4f} on {int(metrics['test_images'])} test "
            f"images (loss {metrics['test_loss']:.4f})"
        )

    def named_tensors(self) -> Tensors:
        return module_tensors("model", self.model)

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "gen": self.gen.get_state(),
            "frames": self.frames,
            "history": np.asarray(self.history, dtype=np.float64).reshape(-1, 3),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["gen"])
        self.frames = int(state["frames"])
        self.history = [(int(f), float(a), float(b)) for f, a, b in state["history"]]

    def probes(self) -> list[str]:
        return ["mnist"]  # curves, digits and (relational torso) attention maps: viz/mnist.py


@register("algo", "supervised")
@accepts(nets="feedforward", tasks=("dataset",))
def build_supervised(cfg: DictConfig, env: MnistData, ctx: RunContext) -> Supervised:
    return Supervised(from_cfg(SupervisedParams, cfg, "algo"), env, ctx)
