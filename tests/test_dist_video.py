"""Eval videos with the action-value distributions beside each frame (book Fig. 7.21), the
panel helpers, and the QR-DQN end-of-run figures (PNG and TensorBoard)."""

from __future__ import annotations

import numpy as np
import pytest

from drlrun.viz.panels import attach_panel, distribution_panel, quantile_histogram
from tests.conftest import compose, run_config

TINY_DIST = [
    "algo.learning_starts=128",
    "algo.train_freq=64",
    "algo.gradient_steps=4",
    "net.hidden=[32,32]",
    "budget.frames=256",
    "eval.every=0",
    "eval.episodes=1",
    "checkpoint.every=0",
]


def test_attach_panel_pads_the_shorter_image():
    frame = np.full((50, 30, 3), 7, dtype=np.uint8)
    assert attach_panel(frame, None) is frame
    out = attach_panel(frame, np.zeros((80, 20, 3), dtype=np.uint8))
    assert out.shape == (80, 50, 3) and (out[:50, :30] == 7).all() and (out[50:] == 0).all()


def test_distribution_panel_marks_the_greedy_action_and_grows_with_actions():
    support = np.linspace(-10, 10, 51)
    probs = np.full((3, 51), 1 / 51)
    probs[1] = np.eye(51)[50]  # action 1: all mass on +10, the greedy one
    panel = distribution_panel(support, probs, ["NOOP", "UP", "DOWN"], height=210)
    assert panel.shape[0] == 210 and panel.dtype == np.uint8 and panel.shape[2] == 3
    green = (panel == (44, 160, 44)).all(axis=2)
    assert green[:, panel.shape[1] // 2 :].sum() > green[:, : panel.shape[1] // 2].sum()
    tall = distribution_panel(support, np.full((18, 51), 1 / 51), [f"a{i}" for i in range(18)], 210)
    assert tall.shape[0] > 210  # 18 Atari actions keep readable rows; the frame gets padded


def test_quantile_histogram_is_a_distribution_per_row():
    q = np.sort(np.random.default_rng(0).normal(size=(2, 3, 16)), axis=-1)
    centres, probs = quantile_histogram(q, bins=9)
    assert centres.shape == (9,) and probs.shape == (2, 3, 9)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    _, flat = quantile_histogram(np.zeros((2, 4)), bins=5)  # a point mass still has a range
    np.testing.assert_allclose(flat.sum(-1), 1.0)


def test_eval_video_draws_c51_distributions_beside_cartpole(tmp_path):
    """`drlrun-eval <run> video=true` on a dist_dqn run: the video's frames are CartPole's
    600 px plus the distribution panel."""
    import imageio.v2 as imageio
    from omegaconf import OmegaConf

    from drlrun.evaluate import EvalArgs, evaluate_run

    run = tmp_path / "run"
    overrides = ["algo=dist_dqn", *TINY_DIST]
    run_config(overrides, run)
    OmegaConf.save(compose(*overrides), run / "config.yaml", resolve=True)  # as the CLI does
    result = evaluate_run(run, EvalArgs(episodes=1, video=True))
    reader = imageio.get_reader(result["video"])
    try:
        frame = reader.get_data(0)
    finally:
        reader.close()
    assert frame.shape[0] == 400 and frame.shape[1] > 600 + 200
    panel = frame[:, 600:]
    assert (panel.astype(int).sum(axis=2) < 600).mean() > 0.02  # bars drawn, not a blank panel


def test_qr_dqn_writes_quantile_figures_to_png_and_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    _, algo = run_config(["algo=qr_dqn", *TINY_DIST], run)
    assert (run / "plots" / "quantiles.png").exists()
    assert (run / "plots" / "distributions.png").exists()
    from drlrun.logger import RunLogger
    from drlrun.viz.probe import Figures, FrameView, build_probes, write_figures

    logger = RunLogger(run, False, True, False, None, None)  # as when the run logs to TensorBoard
    probes = build_probes(algo)
    write_figures(probes, Figures(run, algo.frames, logger))
    logger.close()
    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    assert {"plots/quantiles", "plots/distributions"} <= set(events.Tags()["images"])
    frame = np.zeros((400, 600, 3), dtype=np.uint8)
    drawn = probes[0].frame(frame, FrameView(algo.obs[:1], None, 0))
    assert drawn.shape[0] == 400 and drawn.shape[1] > 600
