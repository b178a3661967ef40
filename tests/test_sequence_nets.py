"""Sequence torsos: memory equations by hand, hard reads, causal masking, state carrying."""

from __future__ import annotations

import math

import pytest
import torch

from drlrun.nets.memory import (
    MemoryParams,
    MemoryTorso,
    content_logits,
    hard_weights,
    read,
    write,
)
from drlrun.nets.sequence import LSTMParams, LSTMTorso
from drlrun.nets.transformer import TransformerParams, TransformerTorso, sinusoidal


def test_memory_read_write_hand_computed():
    memory = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    # cosine similarities with key (1, 0) are (1, 0); beta 2 -> softmax(2, 0)
    logits = content_logits(memory, torch.tensor([[1.0, 0.0]]), torch.tensor([2.0]))
    w = torch.softmax(logits, -1)
    e2 = math.exp(2)
    assert torch.allclose(w, torch.tensor([[e2 / (e2 + 1), 1 / (e2 + 1)]]))
    # write w = (1, 0.5), erase (1, 0), add (0.5, 2):
    # row 0: (1,0)*(1-(1,0)) + (0.5,2) = (0.5, 2); row 1: (0,1)*(1-(0.5,0)) + (0.25,1) = (0.25, 2)
    new = write(
        memory, torch.tensor([[1.0, 0.5]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 2.0]])
    )
    assert torch.allclose(new, torch.tensor([[[0.5, 2.0], [0.25, 2.0]]]))
    # read with w = (0.25, 0.75): 0.25*(0.5,2) + 0.75*(0.25,2) = (0.3125, 2)
    assert torch.allclose(read(new, torch.tensor([[0.25, 0.75]])), torch.tensor([[0.3125, 2.0]]))


@pytest.mark.parametrize("noise", [True, False])
def test_hard_read_one_hot_forward_gradient_backward(noise):
    torch.manual_seed(0)
    logits = torch.randn(5, 4, requires_grad=True)
    w = hard_weights(logits, tau=1.0, noise=noise)
    assert torch.equal(w.detach().sum(-1), torch.ones(5))
    assert set(w.detach().unique().tolist()) <= {0.0, 1.0}
    (w * torch.arange(4.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_hard_memory_torso_reads_one_slot_and_trains():
    torch.manual_seed(0)
    net = MemoryTorso(6, MemoryParams(slots=4, width=3, read="hard", entropy_coef=0.1))
    net.record = True
    feats, _ = net.forward_seq(torch.randn(2, 5, 6), net.initial_state(2, torch.device("cpu")))
    reads = torch.stack(net.read_weights)
    assert torch.equal(reads.sum(-1), torch.ones(5, 2)) and set(reads.unique().tolist()) <= {0, 1}
    (feats.sum() + net.aux_loss()).backward()
    assert net.interface.weight.grad.abs().sum() > 0 and net.memory0.grad.abs().sum() > 0


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_transformer_causal_mask_hides_the_future(positions):
    torch.manual_seed(0)
    net = TransformerTorso(5, TransformerParams(context=4, layers=2, positions=positions))
    obs = torch.randn(3, 7, 5)
    state = net.initial_state(3, torch.device("cpu"))
    out, _ = net.forward_seq(obs, state)
    changed = obs.clone()
    changed[:, 4:] += 10.0
    out2, _ = net.forward_seq(changed, state)
    assert torch.allclose(out[:, :4], out2[:, :4], atol=1e-6)
    assert not torch.allclose(out[:, 4:], out2[:, 4:])
    # beyond the window: step 6 sees steps 3..6 only, so step 2 cannot change it
    far = obs.clone()
    far[:, 2] += 10.0
    out3, _ = net.forward_seq(far, state)
    assert torch.allclose(out[:, 6], out3[:, 6], atol=1e-6)
    assert not torch.allclose(out[:, 5], out3[:, 5])


@pytest.mark.parametrize(
    "make",
    [
        lambda: TransformerTorso(5, TransformerParams(context=4)),
        lambda: LSTMTorso(5, LSTMParams(embed=8, hidden=8)),
        lambda: MemoryTorso(5, MemoryParams(slots=3, width=4, hidden=8)),
    ],
)
def test_stepwise_acting_matches_sequence_forward(make):
    """Carrying the state one step at a time gives the same features as one sequence call."""
    torch.manual_seed(0)
    net = make().eval()
    obs = torch.randn(2, 6, 5)
    state = net.initial_state(2, torch.device("cpu"))
    whole, _ = net.forward_seq(obs, state)
    steps = []
    for t in range(6):
        f, state = net.forward_seq(obs[:, t : t + 1], state)
        steps.append(f)
    assert torch.allclose(whole, torch.cat(steps, 1), atol=1e-5)
    # a reset puts env 0 back at the start: its next output equals a fresh start's
    state = net.reset_state(state, torch.tensor([True, False]))
    fresh, _ = net.forward_seq(obs[:, :1], net.initial_state(2, torch.device("cpu")))
    again, _ = net.forward_seq(obs[:, :1], state)
    assert torch.allclose(again[0], fresh[0], atol=1e-6)
    assert not torch.allclose(again[1], fresh[1])


def test_sinusoidal_table_values():
    table = sinusoidal(3, 4)
    assert torch.allclose(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    assert torch.allclose(
        table[1], torch.tensor([math.sin(1), math.cos(1), math.sin(1e-2), math.cos(1e-2)])
    )
