"""Flat-parameter view: pack/unpack round trips and the book's 407-parameter policy."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from drlrun import registry
from drlrun.errors import DrlrunError
from drlrun.nets.flat import FlatParams, linear_shapes, numel, pack, unpack
from drlrun.nets.policy import build_policy

BOOK_LAYERS = [(25, 4), (10, 25), (2, 10)]


def book_policy():
    registry.load_builtins_and_plugins()
    env = registry.build("env", OmegaConf.create({"name": "cartpole", "id": "CartPole-v1"}))
    net = OmegaConf.create({"name": "mlp", "hidden": [25, 10], "activation": "relu"})
    return build_policy(net, env, "argmax")[0]


def test_book_layer_shapes_hold_407_parameters():
    assert numel(linear_shapes(BOOK_LAYERS)) == 4 * 25 + 25 + 25 * 10 + 10 + 10 * 2 + 2 == 407
    assert FlatParams(book_policy()).size == 407


def test_unpack_pack_round_trip_and_views():
    shapes = linear_shapes(BOOK_LAYERS)
    vec = torch.randn(407)
    parts = unpack(vec, shapes)
    assert [tuple(p.shape) for p in parts] == shapes
    assert torch.equal(pack(parts), vec)
    parts[0][0, 0] = 123.0  # views: writing through a part changes the vector
    assert vec[0] == 123.0


def test_unpack_rejects_wrong_length():
    with pytest.raises(DrlrunError, match="407"):
        unpack(torch.zeros(406), linear_shapes(BOOK_LAYERS))


def test_flat_view_matches_book_f_linear_forward():
    """Loading a vector into the module gives the book's hand-written F.linear network."""
    policy = book_policy()
    flat = FlatParams(policy)
    vec = torch.randn(407) / 2.0
    flat.set(vec.numpy())
    np.testing.assert_array_equal(flat.get(), vec.numpy())
    w1, b1, w2, b2, w3, b3 = unpack(vec, linear_shapes(BOOK_LAYERS))
    x = torch.randn(5, 4)
    book = F.linear(F.relu(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)), w3, b3)
    with torch.no_grad():
        torch.testing.assert_close(policy(x), book, rtol=0, atol=1e-6)


def test_batched_dict_matches_single_vectors():
    policy = book_policy()
    flat = FlatParams(policy)
    batch = torch.randn(3, 407)
    batched = flat.as_dict(batch)
    for k in range(3):
        single = flat.as_dict(batch[k])
        for name in flat.names:
            assert torch.equal(batched[name][k], single[name])


def test_linear_fast_path_matches_vmap_and_is_batch_invariant():
    from drlrun.algos.evolution.population import linear_stack_forward, vmap_forward

    policy = book_policy()
    flat = FlatParams(policy)
    vectors = torch.randn(6, 407)
    obs = torch.randn(6, 1, 4)
    fast = linear_stack_forward(policy)
    assert fast is not None
    with torch.inference_mode():
        out = fast(flat.as_dict(vectors), obs)
        torch.testing.assert_close(out, vmap_forward(policy)(flat.as_dict(vectors), obs))
        # one row alone gives bit-identical output: workers may hold any share of a population
        for k in range(6):
            alone = fast(flat.as_dict(vectors[k : k + 1]), obs[k : k + 1])
            assert torch.equal(alone[0], out[k])
