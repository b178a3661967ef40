"""`fidelity: book|fixed` made real: each experiment's book switches take the column it names.

An experiment selects a switch set from the `book_switches` config group (conf/book_switches/:
one entry per bug of the book's code, `{key, book, fixed, bug}`). Before anything is built,
every switch key is set to its `fidelity` value, so `+experiment=ch10_doorkey_book
fidelity=fixed` runs the corrected code with the book's hyperparameters. A switch set on the
command line against `fidelity` is an ablation: it is kept, logged, and listed in summary.json
under `ablations` (and marked in the run's config.yaml, so drlrun-eval and resume rebuild the same
run). Reads and writes config only (no torch), so resume applies it too.
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from drlrun.errors import DrlrunError

log = logging.getLogger("drlrun")
_MISSING = object()


def command_line_keys() -> set[str]:
    """Config keys set on this job's command line (Hydra's task overrides), if Hydra runs it."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = HydraConfig.get().overrides.task
    except (ImportError, ValueError):  # composed outside a Hydra job (tests, the API)
        return set()
    return {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}


def apply_fidelity(cfg: DictConfig, explicit: set[str] | None = None) -> dict[str, Any]:
    """Set every book switch of `cfg` to its `cfg.fidelity` value, in place, except those in
    `explicit` (default: the command line's keys); returns those ablations, key -> value."""
    switches = cfg.get("book_switches") or []
    if not switches:
        return {}
    fidelity = cfg.get("fidelity", "fixed")
    if fidelity not in ("book", "fixed"):
        raise DrlrunError(f"fidelity must be book or fixed, got {fidelity!r}")
    explicit = command_line_keys() if explicit is None else explicit
    ablations: dict[str, Any] = {}
    for switch in switches:
        key, want = switch["key"], switch[fidelity]
        chosen = key in explicit or switch.get("ablation", False)  # saved runs remember theirs
        have = OmegaConf.select(cfg, key, default=_MISSING)
        if have is not _MISSING and have == want:
            continue
        if chosen and have is not _MISSING:
            ablations[key] = have
            with open_dict(switch):  # the run's config.yaml keeps it (drlrun-eval, resume)
                switch["ablation"] = True
            log.warning(
                "ablation: %s=%s against fidelity=%s (%s: %s; the book's bug: %s)",
                key, have, fidelity, fidelity, want, switch.get("bug", "?"),
            )  # fmt: skip
            continue
        OmegaConf.update(cfg, key, want, force_add=True)
    return ablations
