"""env=memory: MiniGrid-MemoryS7 with one-hot views, 3 actions, and a success flag."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

pytest.importorskip("minigrid")

from drlrun import registry  # noqa: E402


def factory(**kw):
    registry.load_builtins_and_plugins()
    return registry.build("env", OmegaConf.create({"name": "memory", **kw}))


@pytest.mark.parametrize("match", [True, False])
def test_scripted_walk_to_an_object_reports_success(match):
    env = factory().make_env(False, False)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (7, 7, 20) and obs.dtype == np.uint8 and env.action_space.n == 3
    assert (obs.sum(-1) == 3).all()  # one object, one colour, one state per cell
    base = env.unwrapped
    goal = base.success_pos if match else base.failure_pos
    while base.agent_pos[0] < goal[0]:
        env.step(2)  # forward along the corridor
    env.step(0 if goal[1] < base.agent_pos[1] else 1)  # turn towards the chosen object
    _, reward, terminated, _, info = env.step(2)
    assert terminated and info["success"] == float(match) and (reward > 0) == match


def test_frame_stack_and_size():
    f = factory(size=9, frame_stack=4)
    assert f.observation_space.shape == (4, 7, 7, 20) and f.frame_stack == 4
    assert f.make_env(False, False).unwrapped.size == 9
