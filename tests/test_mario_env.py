"""The Super Mario Bros adapter: Gymnasium API, determinism, the NumPy 2 fix, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gym_super_mario_bros")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from drlrun.envs.mario import MarioParams, downscale, make_mario  # noqa: E402
from drlrun.envs.mario_compat import MarioEnv, action_set, import_mario  # noqa: E402


def test_raw_adapter_passes_gymnasium_check_env() -> None:
    env = MarioEnv()
    check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped")
def test_preprocessed_env_passes_check_env_and_has_book_shape() -> None:
    env = make_mario(MarioParams(), eval_mode=False)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 42, 42) and obs.dtype == np.uint8
    assert info["x_pos"] == 40 and info["world"] == 1 and info["stage"] == 1
    env.close()
    variant = make_mario(
        MarioParams(
            screen_size=84, gray="luminance", action_repeat=4, frame_stack=4, stack="agent"
        ),
        eval_mode=False,
    )
    assert variant.reset(seed=0)[0].shape == (4, 84, 84)
    variant.close()


def test_complex_movement_is_the_librarys_12_actions_in_order() -> None:
    actions = action_set("complex")
    assert len(actions) == 12 and len(action_set("simple")) == 7
    assert actions[7] == ["left", "A"] and actions[8] == [
        "left",
        "B",
    ]  # the book's table swaps them
    assert actions[1] == ["right"] and actions[11] == ["up"]


def _rollout(actions: list[int]) -> tuple[list[np.ndarray], list[int]]:
    env = make_mario(MarioParams(), eval_mode=False)
    obs, _ = env.reset(seed=3)
    frames, xs = [obs], []
    for a in actions:
        obs, _, term, trunc, info = env.step(a)
        frames.append(obs)
        xs.append(info["x_pos"])
        if term or trunc:
            break
    env.close()
    return frames, xs


def test_same_seed_and_actions_give_identical_frames() -> None:
    actions = list(np.random.default_rng(0).integers(0, 12, size=40))
    f1, x1 = _rollout(actions)
    f2, x2 = _rollout(actions)
    assert x1 == x2 and all(np.array_equal(a, b) for a, b in zip(f1, f2, strict=True))
    assert len(set(x1)) > 3  # Mario did move


def test_observations_are_copies_of_the_emulator_buffer() -> None:
    env = MarioEnv()
    first, _ = env.reset(seed=0)
    kept = first.copy()
    for _ in range(30):
        env.step(3)
    assert np.array_equal(first, kept)  # later frames did not write into it
    assert not np.shares_memory(first, env.raw.screen)
    env.close()


def test_numpy2_fix_matches_the_raw_emulator() -> None:
    """The patched values equal the same bytes read as Python ints, and the adapter's frames are
    exactly the raw emulator's frames for the same controller bytes."""
    smb = import_mario()
    from nes_py._rom import ROM

    raw = smb.SuperMarioBrosEnv(rom_mode="vanilla")
    rom = ROM(raw._rom_path) if hasattr(raw, "_rom_path") else None
    if rom is not None:
        header = [int(b) for b in rom.raw_data[:16]]
        assert rom.prg_rom_size == 16 * header[4] and rom.prg_rom_stop > 1024
    adapter = MarioEnv()
    out = raw.reset()
    raw_frame = out[0] if isinstance(out, tuple) else out
    frame, _ = adapter.reset(seed=0)
    assert np.array_equal(frame, raw_frame)
    for a in [1, 2, 4, 4, 4, 3, 3, 2, 0, 1] * 5:
        raw_out = raw.step(adapter.bytes[a])
        obs, _, _, _, info = adapter.step(a)
        assert np.array_equal(obs, raw_out[0])
        ram = raw.ram
        assert info["x_pos"] == int(ram[0x6D]) * 256 + int(ram[0x86])
    assert info["x_pos"] > 40
    raw.close()
    adapter.close()


def test_stuck_check_book_always_fires_and_fixed_waits_for_no_progress() -> None:
    book = make_mario(MarioParams(stuck="book", stuck_steps=10), eval_mode=False)
    book.reset(seed=0)
    ends = [book.step(3)[2:4] for _ in range(11)]  # running right: real progress
    assert ends[-1] == (False, True) and not any(any(e) for e in ends[:-1])
    book.close()
    fixed = make_mario(MarioParams(stuck="progress", stuck_steps=10), eval_mode=False)
    fixed.reset(seed=0)
    for _ in range(11):
        assert not fixed.step(3)[3]  # progressing: never stuck
    still = [fixed.step(0)[3] for _ in range(16)]  # standing still (after sliding a few steps)
    assert any(still[9:]) and not any(still[:9])
    fixed.close()


def test_downscale_is_max_gray_of_an_area_resize() -> None:
    frame = np.zeros((240, 256, 3), dtype=np.uint8)
    frame[:, :, 2] = 200  # pure blue: luminance would be dark, the book's max keeps 200
    assert (downscale(frame, 42, "max") == 200).all()
    assert (downscale(frame, 42, "luminance") < 30).all()
