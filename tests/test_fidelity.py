"""`fidelity` selects each experiment's book switches; one set against it is a logged ablation."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from drlrun.book.switches import apply_fidelity
from tests.conftest import compose, run_cli

PAIRS = [("ch10_doorkey_book", "ch10_doorkey_fixed"), ("ch8_mario_icm_book", "ch8_mario_icm_fixed")]


@pytest.mark.parametrize(("book", "fixed"), PAIRS)
def test_fidelity_flips_every_switch_of_a_book_preset_to_the_fixed_presets_values(book, fixed):
    cfg = compose(f"+experiment={book}", "fidelity=fixed")
    switches = [s["key"] for s in cfg.book_switches]
    assert len(switches) >= 7
    before = {k: OmegaConf.select(cfg, k) for k in switches}
    assert apply_fidelity(cfg, explicit=set()) == {}
    reference = compose(f"+experiment={fixed}")
    for key in switches:
        assert OmegaConf.select(cfg, key) == OmegaConf.select(reference, key), key
    assert any(before[k] != OmegaConf.select(cfg, k) for k in switches)  # something changed


def test_book_presets_already_hold_their_book_values():
    for book, _ in PAIRS:
        cfg = compose(f"+experiment={book}")
        snapshot = OmegaConf.to_container(cfg, resolve=True)
        assert apply_fidelity(cfg, explicit=set()) == {}
        assert OmegaConf.to_container(cfg, resolve=True) == snapshot


def test_the_books_own_dist_dqn_composes_as_fidelity_book():
    assert compose("algo=dist_book", "env=freeway_ram").fidelity == "book"
    assert compose("algo=dqn").fidelity == "fixed"
    cfg = compose("+experiment=ch7_freeway_book", "fidelity=fixed")
    apply_fidelity(cfg, explicit=set())
    assert cfg.algo.projection == "c51" and cfg.algo.zero_grad is True


def test_a_switch_set_against_fidelity_is_kept_logged_and_in_the_summary(tmp_path):
    out = run_cli(
        ["+experiment=ch7_freeway_book", "fidelity=fixed", "algo.projection=update_dist",
         "budget.frames=200", "log.tensorboard=false", "log.progress=false", "hydra.run.dir=r"],
        tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "ablation: algo.projection=update_dist against fidelity=fixed" in out.stderr + out.stdout
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["fidelity"] == "fixed"
    assert summary["ablations"] == {"algo.projection": "update_dist"}
    saved = OmegaConf.load(tmp_path / "r" / "config.yaml")
    assert saved.algo.projection == "update_dist" and saved.algo.zero_grad is True
    # the saved config rebuilds the same run (drlrun-eval, resume): the ablation is remembered
    assert apply_fidelity(saved, explicit=set()) == {"algo.projection": "update_dist"}
    assert saved.algo.projection == "update_dist"
