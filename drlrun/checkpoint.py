"""Checkpoints: atomic writes (temp file, fsync, rename), keep-last-K, safe loading.

Files load with `torch.load(weights_only=True)`, so a checkpoint can never run code. numpy arrays
are stored as tensors of their raw bytes plus dtype and shape, and come back bit-identical.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from drlrun.errors import DrlrunError
from drlrun.rundir import fsync_dir, list_checkpoints
from drlrun.rundir import latest_checkpoint as latest

__all__ = [
    "atomic_torch_save",
    "from_safe",
    "latest",
    "list_checkpoints",
    "load",
    "save",
    "to_safe",
]

FORMAT_VERSION = 1
DISK_FULL_BYTES = 1 << 20  # under 1 MiB free after a failed write: the disk is taken to be full


def to_safe(obj: Any) -> Any:
    """Replace numpy values with weights-only-loadable equivalents, recursively."""
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        return {
            "__ndarray__": torch.from_numpy(arr.reshape(-1).view(np.uint8)),
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_safe(v) for v in obj)
    return obj


def from_safe(obj: Any) -> Any:
    """Inverse of `to_safe`."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            raw = obj["__ndarray__"].numpy()
            return raw.view(np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        return {k: from_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(from_safe(v) for v in obj)
    return obj


class WriteError(DrlrunError):
    """The filesystem refused a checkpoint (disk full, quota, read-only, ...); nothing was
    replaced and the temp file is gone."""


def _os_error(err: BaseException) -> OSError | None:
    """The OSError behind `err`: torch buries ENOSPC under an `inline_container` RuntimeError,
    with the OSError left in the exception chain."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError) and cause.errno is not None:
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False


def _write_error(err: BaseException, path: Path) -> WriteError | None:
    """A user-facing error for a failed write, or None when it is not the filesystem's doing
    (e.g. an object that cannot be pickled: a bug, which keeps its traceback)."""
    found = _os_error(err)
    if found is not None:
        reason = os.strerror(found.errno).lower()
    elif _disk_full(path.parent):
        found, reason = None, "no space left on device"
    else:
        return None
    detail = str(found) if found is not None else f"{type(err).__name__}: {err}"
    return WriteError(f"{reason} writing {path} ({detail})")


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Run `write(file)` on a temp file in the same folder, fsync, then rename over `path`. A
    write the filesystem refuses raises WriteError; the temp file is removed either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        friendly = _write_error(err, path) if isinstance(err, OSError | RuntimeError) else None
        if friendly is not None:
            raise friendly from None
        raise


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Write `obj` with torch.save, atomically (see `atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save(state: dict[str, Any], folder: Path, step: int, keep: int) -> Path:
    """Save `state` as ckpt_<step>.pt and delete all but the newest `keep` checkpoints."""
    path = folder / f"ckpt_{step:012d}.pt"
    try:
        atomic_torch_save({"format": FORMAT_VERSION, "state": to_safe(state)}, path)
    except WriteError as err:
        previous = latest(folder)
        kept = (
            "no earlier checkpoint exists"
            if previous is None
            else (f"the previous checkpoint {previous} is kept")
        )
        raise WriteError(f"checkpoint: {err}; {kept}") from None
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


PREVIOUS_ADVICE = "move it aside to resume from the previous one"


def load(path: Path, advice: str = PREVIOUS_ADVICE) -> dict[str, Any]:
    """Load one checkpoint; a truncated or foreign file raises DrlrunError naming it and giving
    `advice` (what to do instead; runs whose replay lives beside the checkpoints pass their own)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DrlrunError(f"checkpoint {path} does not exist") from None
    except Exception as err:
        raise DrlrunError(
            f"checkpoint {path} is corrupt or not a drlrun checkpoint ({type(err).__name__}); "
            f"it was left untouched: {advice}"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT_VERSION:
        raise DrlrunError(f"checkpoint {path} has an unknown format; it was left untouched")
    return from_safe(blob["state"])
