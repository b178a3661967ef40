"""The relational torso (book ch. 10): parameter counts, attention rows, pairwise vs the book's
per-node scores, permutation equivariance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from drlrun.nets.mnist_cnn import MnistCNN, MnistCNNParams
from drlrun.nets.relational import PRESETS, RelationalParams, RelationalTorso, SelfAttention


def count(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def params(preset: str, **kw) -> RelationalParams:
    return RelationalParams(preset=preset, **{**PRESETS[preset], **kw})


def test_book_parameter_counts():
    """85,228 (relational), 88,252 (CNN) on MNIST and 91,597 for the DoorKey module (ch. 10)."""
    mnist = RelationalTorso((1, 28, 28), params("mnist"))
    assert mnist.nodes == 256 and mnist.grid == (16, 16)
    assert count(mnist, nn.Linear(36, 10)) == 85_228
    cnn = MnistCNN((1, 28, 28), MnistCNNParams())
    assert count(cnn, nn.Linear(128, 10)) == 88_252
    book = RelationalTorso(
        (3, 7, 7), params("doorkey", attention="book_additive", encoding="max"), 1.0, (11, 6, 3)
    )
    assert book.nodes == 49
    assert count(book, nn.Linear(64, 5)) == 91_597


@pytest.mark.parametrize("kind", ["dot", "additive", "book_additive"])
def test_attention_rows_sum_to_one(kind: str):
    torch.manual_seed(0)
    torso = RelationalTorso((3, 7, 7), params("doorkey", attention=kind), 1.0, (11, 6, 3))
    obs = torch.randint(0, 6, (4, 3, 7, 7), dtype=torch.uint8)
    out = torso(obs)
    assert out.shape == (4, 64)
    att = torso.att_map
    assert att.shape == (4, 3, 49, 49)
    assert torch.all(att >= 0)
    torch.testing.assert_close(att.sum(dim=-1), torch.ones(4, 3, 49))


def _block(kind: str, nodes: int = 10, features: int = 6) -> SelfAttention:
    # per-node LayerNorm: the book's joint (nodes, features) norm would couple all nodes
    p = RelationalParams(heads=2, node_size=8, attention=kind, norm="feature")
    return SelfAttention(features, nodes, p)


@pytest.mark.parametrize(
    "kind,pairwise", [("dot", True), ("additive", True), ("book_additive", False)]
)
def test_pairwise_scores_see_other_nodes(kind: str, pairwise: bool):
    """Node i's attention row changes with node j's input for real (pairwise) attention; the
    book's "additive" variant scores from node i alone (inventory 5.7 bug 2)."""
    torch.manual_seed(1)
    block = _block(kind)
    x = torch.randn(1, 10, 6)
    y = x.clone()
    y[0, 7] += torch.randn(6) * 3  # change node j = 7 only
    with torch.no_grad():
        row_x = block.weights(x)[0][0, :, 2]
        row_y = block.weights(y)[0][0, :, 2]
        out_x, out_y = block(x)[0][0, 2], block(y)[0][0, 2]
    changed = (row_x - row_y).abs().max().item()
    assert (changed > 1e-4) if pairwise else (changed < 1e-6)
    assert (out_x - out_y).abs().max().item() > 1e-4  # node 7's value still flows into node 2


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_attention_block_is_permutation_equivariant(kind: str):
    torch.manual_seed(2)
    block = _block(kind)
    x = torch.randn(3, 10, 6)
    perm = torch.randperm(10)
    with torch.no_grad():
        out, att = block(x)
        out_p, att_p = block(x[:, perm])
    torch.testing.assert_close(out_p, out[:, perm])
    torch.testing.assert_close(att_p, att[:, :, perm][:, :, :, perm])


def test_encodings():
    """One-hot codes for MiniGrid, the book's per-state max, and fixed scaling."""
    obs = torch.tensor([[[[2, 5]], [[0, 1]], [[0, 2]]]], dtype=torch.uint8)  # (1, 3, 1, 2)
    onehot = RelationalTorso((3, 1, 2), params("doorkey"), 1.0, (11, 6, 3)).encode(obs)
    assert onehot.shape == (1, 20, 1, 2)
    assert onehot[0, :, 0, 1].nonzero().flatten().tolist() == [5, 11 + 1, 17 + 2]
    book = RelationalTorso((3, 1, 2), params("doorkey", encoding="max"), 1.0, (11, 6, 3))
    torch.testing.assert_close(book.encode(obs), obs.float() / 5)
    scaled = RelationalTorso((3, 1, 2), params("doorkey", encoding="scale"), 10.0, (11, 6, 3))
    torch.testing.assert_close(scaled.encode(obs), obs.float() / 10)


def test_atari_preset_batch_of_one():
    """Pixels (4, 84, 84) give 8x8 = 64 nodes; a batch of one works (the book's squeeze bug)."""
    torso = RelationalTorso((4, 84, 84), params("atari"), 255.0)
    assert torso.nodes == 64
    assert torso(torch.zeros(1, 4, 84, 84, dtype=torch.uint8)).shape == (1, 64)


def test_conv_layer_norm_normalises_each_sample_on_its_own():
    """net.conv_norm=layer: GroupNorm(1, C) after each of MNIST's four convs (2 x C parameters
    each); no batch statistics, so a sample's features do not depend on its batch."""
    plain = RelationalTorso((1, 28, 28), params("mnist"))
    normed = RelationalTorso((1, 28, 28), params("mnist", conv_norm="layer"))
    norms = [m for m in normed.convs if isinstance(m, nn.GroupNorm)]
    assert [m.num_channels for m in norms] == [16, 20, 24, 30] and all(
        m.num_groups == 1 for m in norms
    )
    assert count(normed, nn.Linear(36, 10)) - count(plain, nn.Linear(36, 10)) == 2 * 90
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28)
    maps = normed.convs(x)
    alone = normed.convs(x[2:3])
    torch.testing.assert_close(alone, maps[2:3])
    after_first = normed.convs[:2](x)  # conv, then its norm: zero mean, unit variance per sample
    torch.testing.assert_close(after_first.mean(dim=(1, 2, 3)), torch.zeros(5), atol=1e-5, rtol=0)
    cnn = MnistCNN((1, 28, 28), MnistCNNParams(conv_norm="layer"))
    plain_cnn = MnistCNN((1, 28, 28), MnistCNNParams())
    widths = [m.num_channels for m in cnn.convs if isinstance(m, nn.GroupNorm)]
    assert widths == [10, 16, 24, 32, 64]
    assert count(cnn, nn.Linear(128, 10)) - count(plain_cnn, nn.Linear(128, 10)) == 2 * 146


@pytest.mark.parametrize("readout,features", [("max", 64), ("mean", 64), ("flatten", 49 * 64)])
def test_readouts(readout: str, features: int):
    torso = RelationalTorso((3, 7, 7), params("doorkey", readout=readout), 1.0, (11, 6, 3))
    obs = torch.randint(0, 6, (2, 3, 7, 7), dtype=torch.uint8)
    out = torso(obs)
    assert torso.out_features == features and out.shape == (2, features)
    nodes = torso.attend(obs)
    if readout == "flatten":  # node x * 7 + y keeps its place: features [i*64:(i+1)*64]
        torch.testing.assert_close(out[:, 27 * 64 : 28 * 64], nodes[:, 27])


def test_residual_block_keeps_each_node_and_stays_equivariant():
    """block=residual (Zambaldi et al.): with attention forced uniform, the book block gives every
    node the same output, the residual block keeps each node's own embedding; node order is
    still only permuted (coordinates off, per-node norm)."""
    torch.manual_seed(3)
    obs = torch.randint(0, 6, (2, 3, 7, 7), dtype=torch.uint8)
    outputs = {}
    for block in ("book", "residual"):
        torso = RelationalTorso(
            (3, 7, 7), params("doorkey", block=block, norm="none", coords=False), 1.0, (11, 6, 3)
        )
        with torch.no_grad():  # zero queries and keys: every attention row is uniform
            for proj in (torso.attention.q_proj, torso.attention.k_proj):
                proj.weight.zero_()
                proj.bias.zero_()
            outputs[block] = torso.attend(obs)
    assert outputs["book"].std(dim=1).max().item() < 1e-5  # all nodes identical
    assert outputs["residual"].std(dim=1).mean().item() > 1e-2

    torso = RelationalTorso(
        (3, 7, 7),
        params("doorkey", block="residual", norm="feature", coords=False),
        1.0,
        (11, 6, 3),
    )
    perm = torch.randperm(49)
    flat = obs.flatten(2)
    shuffled = flat[:, :, perm].view_as(obs)
    with torch.no_grad():
        torch.testing.assert_close(torso.attend(shuffled), torso.attend(obs)[:, perm])
