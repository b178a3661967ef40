"""The checks a composed config gets before any part is built, in one place: the book switches
take `fidelity`'s values, the top-level settings are validated, the algorithm is asked whether
it can use the chosen task, net, curiosity module and precision, and every learning rate must
be > 0. Torch-free, so `drlrun` runs them before Hydra starts a job (cli.check_config) and
`session.build` runs the same ones for every job, sweeps included."""

from __future__ import annotations

from omegaconf import DictConfig

from drlrun.algos.accepts import check_choices
from drlrun.book.switches import apply_fidelity
from drlrun.params import check_config_learning_rates
from drlrun.settings import GROUP_KEYS, TopLevel, validate


def check_config(cfg: DictConfig) -> tuple[dict[str, object], TopLevel]:
    """Apply the fidelity switches to `cfg` (in place) and check it; returns the switches set
    against fidelity (session.Built.ablations) and the validated top-level settings."""
    ablations = apply_fidelity(cfg)
    top = validate(cfg)
    check_choices(cfg.algo, cfg.net, cfg.get("curiosity"), cfg.env, top.device.precision)
    for block in GROUP_KEYS:
        check_config_learning_rates(cfg.get(block), block)
    return ablations, top
