"""Registry lookups and typed parameter validation give one clear error each."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drlrun import registry
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(DrlrunError, match=r"unknown algo 'nope'; valid choices: .*dqn"):
        registry.lookup("algo", "nope")


def test_builtins_registered() -> None:
    assert {"dqn", "double_dqn"} <= set(registry.names("algo"))
    assert {"mlp", "nature_cnn"} <= set(registry.names("net"))
    assert {"cartpole", "freeway", "freeway_ram", "gym"} <= set(registry.names("env"))


def test_the_manifest_matches_the_builders_declarations() -> None:
    """registry_manifest.json is what the decorators declare now (else: python -m drlrun.registry)."""
    assert registry.MANIFEST.read_text() == registry.manifest_text(), (
        "drlrun/registry_manifest.json is out of date: run python -m drlrun.registry"
    )


def test_a_lookup_imports_only_the_module_that_registers_the_name() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from drlrun import registry; registry.lookup('env', 'cartpole'); "
        "print(sorted(m for m in sys.modules if m.startswith('drlrun.') and "
        "m.split('.')[1] in ('envs', 'algos', 'nets', 'book')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)
    assert "drlrun.envs.classic" in loaded
    assert not {"drlrun.envs.mario", "drlrun.envs.magent", "drlrun.algos.q.learner"} & set(loaded)


def test_register_twice_is_an_error() -> None:
    registry.register("net", "_test_twice")(lambda *a: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("net", "_test_twice")(lambda *a: 1)


@dataclass
class P:
    lr: float = 1e-3
    steps: int = 10
    hidden: list[int] = field(default_factory=lambda: [8])
    flag: bool = False
    maybe: float | None = None


def test_from_cfg_accepts_and_coerces() -> None:
    p = from_cfg(P, {"lr": 1, "steps": 3, "hidden": [4, 4], "maybe": None}, "algo")
    assert p.lr == 1.0 and isinstance(p.lr, float) and p.hidden == [4, 4] and p.maybe is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lr": "fast"}, r"algo.lr: expected a number, got 'fast'"),
        ({"steps": 1.5}, r"algo.steps: expected an integer"),
        ({"flag": "yes"}, r"algo.flag: expected true or false"),
        ({"hidden": [1, "x"]}, r"algo.hidden\[1\]"),
        ({"lrr": 1}, r"unknown key\(s\) lrr; valid keys: flag, hidden, lr, maybe, steps"),
    ],
)
def test_from_cfg_rejects(data, message) -> None:
    with pytest.raises(DrlrunError, match=message):
        from_cfg(P, data, "algo")
