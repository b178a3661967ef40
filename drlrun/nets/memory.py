"""Memory-augmented torso: an LSTM controller reading and writing an external memory matrix.

Content addressing (Graves et al. 2014): w = softmax(beta * cos(M_i, k)); write with erase and
add vectors, M <- M * (1 - w e^T) + w a^T; read r = w^T M, either soft or hard (a one-hot
straight-through Gumbel-softmax sample: one slot forward, soft gradients backward).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from drlrun.nets.sequence import SequenceTorso, State, in_features, stateful
from drlrun.params import from_cfg
from drlrun.registry import register


def content_logits(memory: torch.Tensor, key: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """beta * cosine similarity of each slot with the key: (B, slots, width), (B, width), (B,)."""
    sim = F.cosine_similarity(memory, key.unsqueeze(1), dim=-1, eps=1e-8)
    return beta.unsqueeze(-1) * sim


def write(memory: torch.Tensor, w: torch.Tensor, erase: torch.Tensor, add: torch.Tensor):
    """M * (1 - w e^T) + w a^T, batched: w (B, slots), erase and add (B, width)."""
    return memory * (1 - w.unsqueeze(-1) * erase.unsqueeze(1)) + w.unsqueeze(-1) * add.unsqueeze(1)


def read(memory: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """w^T M: (B, slots) x (B, slots, width) -> (B, width)."""
    return (w.unsqueeze(-1) * memory).sum(1)


def hard_weights(logits: torch.Tensor, tau: float, noise: bool) -> torch.Tensor:
    """One-hot forward (argmax of Gumbel-perturbed logits, or of the logits without noise),
    the gradient of the tempered softmax backward (straight-through)."""
    if noise:
        return F.gumbel_softmax(logits, tau=tau, hard=True)
    soft = torch.softmax(logits / tau, dim=-1)
    one_hot = F.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
    return one_hot - soft.detach() + soft


@dataclass
class MemoryParams:
    embed: int = 64
    hidden: int = 128
    slots: int = 8
    width: int = 16
    read: Literal["soft", "hard"] = "soft"
    gumbel_tau: float = 1.0
    entropy_coef: float = 0.0  # > 0 penalises the read weights' entropy (sharper reads)


class MemoryTorso(SequenceTorso):
    """Per step: controller(h, [x, r_prev]) -> write (key, beta, erase, add) -> read (key, beta).

    Features are [h, r]. The memory starts each episode at a learned matrix M0 (distinct slots
    let content addressing tell them apart). `record=True` keeps per-step read/write weights."""

    def __init__(self, in_dim: int, p: MemoryParams, obs_scale: float = 1.0):
        super().__init__(obs_scale)
        self.p = p
        self.embed = nn.Linear(in_dim, p.embed)
        self.cell = nn.LSTMCell(p.embed + p.width, p.hidden)
        # write key, write beta, erase, add, read key, read beta
        self.interface = nn.Linear(p.hidden, 4 * p.width + 2)
        self.memory0 = nn.Parameter(torch.randn(p.slots, p.width) * 0.5)
        self.out_features = p.hidden + p.width
        self.record = False
        self.read_weights: list[torch.Tensor] = []
        self.write_weights: list[torch.Tensor] = []
        self._entropy: torch.Tensor | None = None

    def initial_state(self, batch: int, device: torch.device) -> State:
        zeros = torch.zeros(batch, self.p.hidden, device=device)
        memory = self.memory0.to(device).unsqueeze(0).expand(batch, -1, -1)
        return zeros, zeros.clone(), memory, torch.zeros(batch, self.p.width, device=device)

    def forward_seq(self, obs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        p = self.p
        x = F.relu(self.embed(self.embed_input(obs)))
        h, c, memory, r = state
        outputs, entropies = [], []
        for t in range(x.shape[1]):
            h, c = self.cell(torch.cat([x[:, t], r], dim=-1), (h, c))
            wk, erase, add, rk, betas = self.interface(h).split([p.width] * 4 + [2], dim=-1)
            beta = 1 + F.softplus(betas)
            w_write = torch.softmax(content_logits(memory, wk, beta[:, 0]), dim=-1)
            memory = write(memory, w_write, torch.sigmoid(erase), torch.tanh(add))
            logits = content_logits(memory, rk, beta[:, 1])
            soft = torch.softmax(logits, dim=-1)
            entropies.append(-(soft * torch.log(soft + 1e-8)).sum(-1))
            if p.read == "hard":
                w_read = hard_weights(logits, p.gumbel_tau, noise=self.training)
            else:
                w_read = soft
            r = read(memory, w_read)
            outputs.append(torch.cat([h, r], dim=-1))
            if self.record:
                self.read_weights.append(w_read.detach())
                self.write_weights.append(w_write.detach())
        self._entropy = torch.stack(entropies, 1)
        return torch.stack(outputs, 1), (h, c, memory, r)

    def aux_loss(self) -> torch.Tensor | None:
        if self.p.entropy_coef <= 0 or self._entropy is None:
            return None
        return self.p.entropy_coef * self._entropy.mean()


@register("net", "memory")
@stateful
def build_memory(cfg, env) -> MemoryTorso:
    return MemoryTorso(in_features(env), from_cfg(MemoryParams, cfg, "net"), env.obs_scale)
