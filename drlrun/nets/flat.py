"""A flat-parameter view of an nn.Module: one vector <-> its parameter tensors.

Evolutionary methods (book ch. 6) and the book's hand-written layers (ch. 7, 9) treat a network
as one vector. `unpack`/`pack` split and join a vector by a list of tensor shapes;
`FlatParams` binds that to a module so a genome can be loaded into it, read from it, or turned
into a parameter dict for `torch.func.functional_call` (batched over a population with vmap).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from drlrun.errors import DrlrunError

Shape = tuple[int, ...]


def numel(shapes: Sequence[Shape]) -> int:
    """Total number of entries of tensors with these shapes."""
    return sum(math.prod(s) for s in shapes)


def linear_shapes(layers: Sequence[tuple[int, int]], bias: bool = True) -> list[Shape]:
    """Shapes of stacked linear layers given as (out, in) pairs, each weight followed by its bias
    (the book's `[(25, 4), (10, 25), (2, 10)]` gives 407 parameters)."""
    shapes: list[Shape] = []
    for out_f, in_f in layers:
        shapes.append((out_f, in_f))
        if bias:
            shapes.append((out_f,))
    return shapes


def unpack(vector: torch.Tensor, shapes: Sequence[Shape]) -> list[torch.Tensor]:
    """Views of `vector` (1-D) reshaped to `shapes`, in order; lengths must match exactly."""
    if vector.dim() != 1 or vector.numel() != numel(shapes):
        raise DrlrunError(
            f"a flat vector of {numel(shapes)} parameters was expected for shapes {list(shapes)}, "
            f"got shape {tuple(vector.shape)}"
        )
    out, start = [], 0
    for shape in shapes:
        end = start + math.prod(shape)
        out.append(vector[start:end].view(shape))
        start = end
    return out


def pack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One 1-D vector holding `tensors` in order (the inverse of `unpack`)."""
    return torch.cat([t.reshape(-1) for t in tensors]) if tensors else torch.zeros(0)


class FlatParams:
    """The parameters of `module` seen as one vector of length `size` (order: named_parameters).

    Buffers (e.g. running statistics) are not part of the vector: evolution searches weights."""

    def __init__(self, module: nn.Module):
        self.module = module
        self.names = [name for name, _ in module.named_parameters()]
        self.shapes: list[Shape] = [tuple(p.shape) for _, p in module.named_parameters()]
        self.size = numel(self.shapes)
        self.dtype = next(module.parameters()).dtype if self.names else torch.float32

    def get(self) -> np.ndarray:
        """The module's current parameters as a float32 numpy vector (a copy)."""
        with torch.no_grad():
            return pack([p.detach().cpu() for p in self.module.parameters()]).float().numpy().copy()

    def set(self, vector: np.ndarray | torch.Tensor) -> None:
        """Copy `vector` into the module's parameters in place."""
        flat = torch.as_tensor(np.asarray(vector, dtype=np.float32)).reshape(-1)
        with torch.no_grad():
            for p, value in zip(self.module.parameters(), unpack(flat, self.shapes), strict=True):
                p.copy_(value.to(p.dtype))

    def as_dict(self, vectors: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameter dict for `functional_call`; `vectors` is (size,) or a batch (B, size), in
        which case every tensor gets a leading batch dim (for `torch.func.vmap`)."""
        if vectors.dim() == 1:
            return dict(zip(self.names, unpack(vectors, self.shapes), strict=True))
        if vectors.dim() != 2 or vectors.shape[1] != self.size:
            raise DrlrunError(
                f"expected a (B, {self.size}) batch of vectors, got {tuple(vectors.shape)}"
            )
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            end = start + math.prod(shape)
            out[name] = vectors[:, start:end].reshape(vectors.shape[0], *shape)
            start = end
        return out
