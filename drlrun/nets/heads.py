"""Q-value heads on top of a torso: plain linear Q and dueling (Wang et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn


class LinearHead(nn.Module):
    """features -> (batch, actions * atoms), reshaped to (batch, actions[, atoms])."""

    def __init__(self, in_features: int, actions: int, atoms: int = 1):
        super().__init__()
        self.actions, self.atoms = actions, atoms
        self.out = nn.Linear(in_features, actions * atoms)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        y = nn.functional.linear(features, self.out.weight, self.out.bias)
        return y if self.atoms == 1 else y.view(-1, self.actions, self.atoms)


class DuelingHead(nn.Module):
    """Q = V + A - mean(A); with atoms > 1 the combination is applied per atom (logits)."""

    def __init__(self, in_features: int, actions: int, atoms: int = 1, hidden: int = 0):
        super().__init__()
        self.actions, self.atoms = actions, atoms

        def stream(out: int) -> nn.Module:
            if hidden <= 0:
                return nn.Linear(in_features, out)
            return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out))

        self.value = stream(atoms)
        self.advantage = stream(actions * atoms)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        v = self.value(features).view(-1, 1, self.atoms)
        a = self.advantage(features).view(-1, self.actions, self.atoms)
        q = v + a - a.mean(dim=1, keepdim=True)
        return q.squeeze(-1) if self.atoms == 1 else q


def make_head(in_features: int, actions: int, atoms: int = 1, dueling: bool = False) -> nn.Module:
    if dueling:
        return DuelingHead(in_features, actions, atoms)
    return LinearHead(in_features, actions, atoms)


class QNetwork(nn.Module):
    """torso + head; `forward` gives the head's raw output (Q, logits or quantiles)."""

    def __init__(self, torso: nn.Module, head: nn.Module):
        super().__init__()
        self.torso, self.head = torso, head

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))
