"""Super Mario Bros as a Gymnasium env, for both the old-gym (7.x) and Gymnasium (9.x) releases.

gym-super-mario-bros 7.4.0 / nes-py 8.2.1 (the releases available on Python 3.11/3.12) speak
the old gym API and break under NumPy 2: uint8 header and RAM bytes overflow in
`nes_py/_rom.py` (`prg_rom_size * 2**10`) and in `smb_env._x_position` (`ram[0x6d] * 0x100`).
`patch_numpy2` widens exactly those values to Python/int64 integers; every other value is the
library's own. The emulator reuses its screen buffer, so every observation here is a copy.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import gymnasium as gym
import numpy as np

from drlrun.errors import DrlrunError

INSTALL_HINT = 'pip install "drlrun[mario]"'

# the NES controller bits (nes_py.wrappers.JoypadSpace._button_map)
BUTTONS = {
    "right": 0b10000000,
    "left": 0b01000000,
    "down": 0b00100000,
    "up": 0b00010000,
    "start": 0b00001000,
    "select": 0b00000100,
    "B": 0b00000010,
    "A": 0b00000001,
    "NOOP": 0,
}


def import_mario() -> Any:
    """The gym_super_mario_bros module with the NumPy 2 fix applied, or one clear error."""
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            import gym_super_mario_bros  # noqa: F401  (old gym prints a deprecation banner)
            import gym_super_mario_bros.actions  # noqa: F401
    except ImportError as err:
        raise DrlrunError(f"env=mario needs gym-super-mario-bros: {INSTALL_HINT} ({err})") from None
    patch_numpy2()
    return gym_super_mario_bros


def _header_int64(self: Any) -> np.ndarray:
    """The 16-byte iNES header as int64, so size arithmetic cannot overflow uint8."""
    return self.raw_data[:16].astype(np.int64)


def _x_position_int(self: Any) -> int:
    """Mario's level x position: page * 256 + offset, in Python integers."""
    return int(self.ram[0x6D]) * 0x100 + int(self.ram[0x86])


def patch_numpy2() -> bool:
    """Apply the NumPy 2 overflow fix once; returns True if it changed anything."""
    from gym_super_mario_bros.smb_env import SuperMarioBrosEnv
    from nes_py import _rom

    changed = False
    if getattr(_rom.ROM, "_drlrun_patched", False) is False:
        _rom.ROM.header = property(_header_int64)
        _rom.ROM._drlrun_patched = True
        changed = True
    if getattr(SuperMarioBrosEnv, "_drlrun_patched", False) is False:
        SuperMarioBrosEnv._x_position = property(_x_position_int)
        SuperMarioBrosEnv._drlrun_patched = True
        changed = True
    return changed


def action_set(name: str) -> list[list[str]]:
    """The library's button lists: simple (7), complex (12) or right_only (5), in its order."""
    actions = import_mario().actions
    table = {
        "simple": actions.SIMPLE_MOVEMENT,
        "complex": actions.COMPLEX_MOVEMENT,
        "right_only": actions.RIGHT_ONLY,
    }
    if name not in table:
        raise DrlrunError(f"env.actions must be one of {', '.join(table)}, got {name!r}")
    return [list(a) for a in table[name]]


def _to_python(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


class MarioEnv(gym.Env):
    """Raw 240x256 RGB frames, Discrete(len(actions)), Gymnasium's reset/step on either API."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(
        self,
        actions: str = "complex",
        world: int | None = None,
        stage: int | None = None,
        rom_mode: str = "vanilla",
    ):
        smb = import_mario()
        if (world is None) != (stage is None):
            raise DrlrunError("set both env.world and env.stage (one level) or neither (full game)")
        target = None if world is None else (int(world), int(stage))
        try:
            self.raw = smb.SuperMarioBrosEnv(rom_mode=rom_mode, target=target)
        except (ValueError, TypeError) as err:
            raise DrlrunError(f"env=mario: bad world/stage/rom_mode: {err}") from None
        self.button_lists = action_set(actions)
        self.bytes = [sum(BUTTONS[b] for b in buttons) for buttons in self.button_lists]
        self.action_space = gym.spaces.Discrete(len(self.bytes))
        self.observation_space = gym.spaces.Box(0, 255, (240, 256, 3), dtype=np.uint8)
        self.render_mode = "rgb_array"
        self._needs_reset = True
        self._actions: list[int] = []  # the episode's actions since reset (for get_state)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)  # the emulator itself is deterministic
        out = self.raw.reset()
        obs = out[0] if isinstance(out, tuple) else out  # Gymnasium API: (obs, info)
        self._needs_reset = False
        self._actions = []
        return np.array(obs, copy=True), self._info()

    def step(self, action: Any):
        if self._needs_reset:
            raise RuntimeError("MarioEnv.step called before reset or after the episode ended")
        out = self.raw.step(self.bytes[int(action)])
        self._actions.append(int(action))
        if len(out) == 5:  # Gymnasium API
            obs, reward, terminated, truncated, info = out
        else:  # old gym API: (obs, reward, done, info); the game has no time limit of its own
            obs, reward, done, info = out
            terminated, truncated = done, False
        self._needs_reset = bool(terminated or truncated)
        info = {k: _to_python(v) for k, v in info.items()}
        return np.array(obs, copy=True), float(reward), bool(terminated), bool(truncated), info

    def _info(self) -> dict[str, Any]:
        raw = self.raw
        return {
            "x_pos": int(raw._x_position),
            "world": int(raw._world),
            "stage": int(raw._stage),
            "flag_get": bool(raw._flag_get),
            "life": int(raw._life),
        }

    def get_state(self) -> dict[str, Any]:
        """The episode's actions since reset. nes-py cannot serialise the emulator, but it is
        deterministic from reset, so replaying them rebuilds the exact state (and the smb env's
        own reward bookkeeping) for an exact resume; it costs the episode's emulator steps."""
        return {"actions": list(self._actions), "needs_reset": self._needs_reset}

    def set_state(self, state: dict[str, Any]) -> None:
        self.raw.reset()
        self._actions = []
        for action in state.get("actions", []):  # checkpoints before this replay had none
            self.raw.step(self.bytes[int(action)])
            self._actions.append(int(action))
        self._needs_reset = bool(state.get("needs_reset", False))

    def render(self) -> np.ndarray:
        return np.array(self.raw.screen, copy=True)

    def close(self) -> None:
        self.raw.close()
