"""Transformed MNIST (book ch. 10, Listing 10.1) for `algo=supervised`: a dataset, not an env.

Reads the standard IDX files (optionally gzipped) from `data.root`; `data.download=true` fetches
them first. With only the 10k test split present (offline machines) it is split, seeded, into
train and test parts. Every image is randomly rotated (+-rotation degrees), shifted
(+-max_translation px), given `noise + noise_std * |N(0,1)|` white spots and divided by its max;
the test set is transformed once with a fixed seed, so every run scores the same images.
"""

from __future__ import annotations

import gzip
import math
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from drlrun.envs.base import provides
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


@dataclass
class MnistParams:
    root: str = "data/mnist"
    download: bool = False
    split_seed: int = 0  # the offline train/test split of the 10k test file
    offline_test: int = 2000  # test images kept out when only the 10k split exists
    test_seed: int = 12345  # the fixed transformation of the test set
    rotation: int = 30
    max_translation: int = 6
    noise: int = 10
    noise_std: float = 5.0
    book_ranges: bool = False  # true: randint(-r, r) without the upper bound (book bug 9)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or raw) as a uint8 array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic >> 8 != 0x08:  # 0x08: unsigned bytes
        raise DrlrunError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if array.size != math.prod(shape):
        raise DrlrunError(f"{path}: {array.size} bytes for shape {shape} (truncated file?)")
    return array.reshape(shape)


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def download(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for images, labels in FILES.values():
        for name in (images, labels):
            if _find(root, name) is None:
                urllib.request.urlretrieve(MIRROR + name + ".gz", root / f"{name}.gz")


def load_split(p: MnistParams) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images, labels), "test": (...)}; the offline split when only t10k exists."""
    root = Path(p.root).expanduser()
    if p.download:
        try:
            download(root)
        except OSError as err:
            raise DrlrunError(
                f"MNIST download to {root} failed ({err}); copy the IDX files there"
            ) from None
    found = {}
    for split, (images, labels) in FILES.items():
        paths = _find(root, images), _find(root, labels)
        if all(paths):
            found[split] = (read_idx(paths[0]), read_idx(paths[1]))
    if "test" not in found:
        raise DrlrunError(
            f"no MNIST IDX files in {root} (t10k-images-idx3-ubyte[.gz]); set data.root=DIR "
            "or data.download=true on a machine with internet"
        )
    if "train" in found:
        return found
    images, labels = found["test"]
    order = np.random.default_rng(p.split_seed).permutation(len(labels))
    n_test = min(p.offline_test, len(labels) // 2)
    test, train = order[:n_test], order[n_test:]
    return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}


def _randint(low: int, high: int, size: tuple[int, ...], g: torch.Generator, book: bool):
    return torch.randint(low, high if book else high + 1, size, generator=g)


def transform(images: torch.Tensor, p: MnistParams, g: torch.Generator) -> torch.Tensor:
    """Book's prepare_images on a (B, 28, 28) uint8 batch -> (B, 1, 28, 28) float in [0, 1]."""
    x = images.float().unsqueeze(1) / 255.0
    b, _, h, w = x.shape
    angle = _randint(-p.rotation, p.rotation, (b,), g, p.book_ranges).float() * math.pi / 180
    shift = _randint(-p.max_translation, p.max_translation, (b, 2), g, p.book_ranges).float()
    cos, sin = torch.cos(angle), torch.sin(angle)
    tx, ty = 2 * shift[:, 0] / w, 2 * shift[:, 1] / h
    # affine_grid maps output to input coordinates: the inverse of "rotate, then shift"
    theta = torch.stack(
        [
            torch.stack([cos, sin, -(cos * tx + sin * ty)], dim=1),
            torch.stack([-sin, cos, -(-sin * tx + cos * ty)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False)
    counts = (p.noise + p.noise_std * torch.randn(b, generator=g).abs()).long()
    k = int(counts.max().item()) if b else 0
    spots = torch.randint(0, h * w, (b, k), generator=g)
    keep = torch.arange(k).view(1, -1) < counts.view(-1, 1)
    x.view(b, -1).scatter_reduce_(1, spots, keep.float(), reduce="amax")  # spots set to 1
    x = x.clamp(0.0, 1.0)
    return x / x.flatten(1).amax(dim=1).clamp_min(1e-8).view(-1, 1, 1, 1)


class MnistData:
    """What `algo=supervised` trains on; quacks like an EnvFactory for the net builders."""

    kind = "image"
    obs_scale = 1.0
    frame_skip = 1
    frame_stack = 1
    categorical_levels: tuple[int, ...] = ()
    observation_space = gym.spaces.Box(0.0, 1.0, (1, 28, 28), np.float32)
    action_space = gym.spaces.Discrete(10)

    def __init__(self, name: str, p: MnistParams):
        self.name, self.p = name, p
        splits = load_split(p)
        self.train_images = torch.from_numpy(splits["train"][0].copy())
        self.train_labels = torch.from_numpy(splits["train"][1].astype(np.int64))
        g = torch.Generator().manual_seed(p.test_seed)
        self.test_raw = torch.from_numpy(splits["test"][0].copy())
        self.test_images = transform(self.test_raw, p, g)
        self.test_labels = torch.from_numpy(splits["test"][1].astype(np.int64))

    def close(self) -> None:
        """Nothing to release (the EnvFactory interface)."""


@register("env", "mnist_transformed")
@provides("dataset")
def build_mnist(cfg: DictConfig) -> MnistData:
    p = from_cfg(MnistParams, cfg, "env")
    return MnistData(cfg.name, p)
