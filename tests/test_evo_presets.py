"""Every chapter-6 preset composes, builds, and runs one generation with the book's settings."""

import pytest
from hydra import compose, initialize_config_module

from drlrun.nets.flat import FlatParams
from drlrun.session import build

PRESETS = [
    "ch6_string_ga",
    "ch6_string_ga_fixed",
    "ch6_cartpole_ga_book",
    "ch6_cartpole_ga_fixed",
    "ch6_es_book",
    "ch6_es_fixed",
    "ch6_es_distributed",
]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_and_runs_a_generation(preset):
    with initialize_config_module("drlrun.conf", version_base="1.3"):
        overrides = [f"+experiment={preset}", "algo.population=10"]
        if preset == "ch6_es_distributed":  # its 2 processes are tested in test_es.py
            overrides += ["algo.backend=serial", "algo.workers=1"]
        cfg = compose("config", overrides=overrides)
    assert cfg.budget.iterations is not None and cfg.log.every == 1
    built = build(cfg, None, device="cpu")
    try:
        if cfg.env.name != "string_target":
            # the book's 4 -> 25 -> 10 -> 2 policy
            assert (
                FlatParams(
                    built.algo.genome.policy if cfg.algo.name == "ga" else built.algo.policy
                ).size
                == 407
            )
        metrics = built.algo.train_step().metrics
        assert metrics["fitness_best"] >= metrics["fitness_mean"] >= metrics["fitness_worst"]
        assert built.algo.frames > 0
    finally:
        built.algo.close()
        built.env.close()
