"""Transformed MNIST (book ch. 10): IDX loading from real bytes, the offline split, the book's
transformations and the supervised run reporting test_accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from drlrun.envs.mnist import MnistParams, load_split, read_idx, transform
from drlrun.errors import DrlrunError
from tests.conftest import run_config

DATA = Path(__file__).parent / "data" / "mnist"  # 500 seeded digits of the real t10k split


def test_read_idx_real_bytes():
    images = read_idx(DATA / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(DATA / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (500, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (500,)
    assert labels[:10].tolist() == [7, 3, 3, 7, 7, 3, 5, 0, 4, 7]
    assert np.bincount(labels, minlength=10).tolist() == [51, 54, 56, 50, 57, 47, 52, 44, 44, 45]
    assert images.max() == 255 and images.min() == 0


def test_offline_split_is_seeded_and_disjoint(tmp_path: Path):
    p = MnistParams(root=str(DATA), offline_test=100)
    a, b = load_split(p), load_split(p)
    assert len(a["train"][1]) == 400 and len(a["test"][1]) == 100
    np.testing.assert_array_equal(a["test"][0], b["test"][0])
    train = {x.tobytes() for x in a["train"][0]}
    assert not any(x.tobytes() in train for x in a["test"][0])
    with pytest.raises(DrlrunError, match="data.root"):
        load_split(MnistParams(root=str(tmp_path)))


def test_transform_ranges_and_seed():
    images = torch.from_numpy(read_idx(DATA / "t10k-images-idx3-ubyte.gz")[:64].copy())
    p = MnistParams()
    x = transform(images, p, torch.Generator().manual_seed(3))
    y = transform(images, p, torch.Generator().manual_seed(3))
    assert x.shape == (64, 1, 28, 28)
    torch.testing.assert_close(x, y)
    torch.testing.assert_close(x.flatten(1).amax(dim=1), torch.ones(64))  # max-normalised
    assert x.min() >= 0
    # at least `noise` = 10 spots of exactly 1 per image (plus the digit's brightest pixels)
    assert ((x == 1.0).flatten(1).sum(dim=1) >= 10).all()
    still = transform(
        images,
        MnistParams(rotation=0, max_translation=0, noise=0, noise_std=0),
        torch.Generator().manual_seed(0),
    )
    ref = images.float() / 255
    torch.testing.assert_close(
        still[:, 0], ref / ref.flatten(1).amax(1).view(-1, 1, 1), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("net", ["relational", "mnist_cnn"])
def test_supervised_run_reports_test_accuracy(net: str, tmp_path: Path):
    summary, algo = run_config(
        [
            "algo=supervised",
            "env=mnist_transformed",
            f"net={net}",
            f"data.root={DATA}",
            "env.offline_test=100",
            "algo.batch_size=8",
            "algo.eval_batch=100",
            "budget.frames=16",
            "eval.every=0",
            "log.every=8",
        ],
        tmp_path,
    )
    assert summary["status"] == "finished" and summary["frames"] == 16
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["test_images"] == 100
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["test_accuracy"] == summary["test_accuracy"]
    assert (tmp_path / "curves.png").exists()
    assert (tmp_path / "attention.png").exists() == (net == "relational")


def test_mnist_presets_compose():
    from tests.conftest import compose

    rel = compose("+experiment=ch10_mnist_relational", f"data.root={DATA}")
    cnn = compose("+experiment=ch10_mnist_cnn")
    assert rel.net.name == "relational" and cnn.net.name == "mnist_cnn"
    assert rel.env.root == str(DATA) and rel.budget.iterations == 1000
    assert (rel.algo.batch_size, rel.algo.lr) == (300, 1e-3)
    # a --multirun over both presets composes the root config with data.root before any preset
    # picks env=mnist_transformed: the key must exist at the top level
    assert compose(f"data.root={DATA}").data.root == str(DATA)


def test_fixed_presets_change_only_the_named_keys():
    from omegaconf import OmegaConf

    from tests.conftest import compose

    for name in ("relational", "cnn"):
        book = OmegaConf.to_container(compose(f"+experiment=ch10_mnist_{name}"))
        fixed = OmegaConf.to_container(compose(f"+experiment=ch10_mnist_{name}_fixed"))
        assert fixed["fidelity"] == "fixed" and fixed["env"]["book_ranges"] is False
        schedule = {"lr": 2e-3, "lr_schedule": "cosine", "lr_warmup": 50, "lr_batches": 1000}
        assert {k: fixed["algo"][k] for k in schedule} == schedule
        assert fixed["budget"] == book["budget"] and fixed["algo"]["batch_size"] == 300
    rel = compose("+experiment=ch10_mnist_relational_fixed").net
    assert (rel.block, rel.norm, rel.attention, rel.conv_norm) == ("book", "book", "dot", "layer")
    assert compose("+experiment=ch10_mnist_relational").net.conv_norm == "none"
    assert compose("+experiment=ch10_mnist_cnn_fixed").net.conv_norm == "layer"
    assert compose("+experiment=ch10_mnist_cnn").net.conv_norm == "none"


@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
def test_cnn_learns_the_transformed_digits(seed: int, tmp_path: Path):
    """The CNN with the fixed preset's schedule, 300 batches of 64 from the 400 committed
    training digits, tested on the 100 held out (rotated, shifted, noisy). Measured: 0.78, 0.61,
    0.71 on seeds 0-2 (0.49, 0.53, 0.66 without the conv norms); random guessing scores 0.1
    (0.4 is 10 of its standard deviations off)."""
    summary, algo = run_config(
        [
            "+experiment=ch10_mnist_cnn_fixed",
            f"data.root={DATA}",
            f"seed={seed}",
            "env.offline_test=100",
            "algo.batch_size=64",
            "algo.lr_batches=300",
            "algo.lr_warmup=10",
            "budget.iterations=300",
            "eval.every=0",
            "checkpoint.every=0",
            "log.every=640",
        ],
        tmp_path,
    )
    assert summary["test_images"] == 100
    assert summary["test_accuracy"] >= 0.4, summary["test_accuracy"]
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    lrs = [float(r.split(",")[header.index("lr")]) for r in rows[1:] if r.split(",")[1] == "train"]
    assert lrs[0] > lrs[-1] and lrs[-1] < 1e-4  # the cosine decays towards 0
