"""What each algorithm family can use, declared on its builder and checked before anything is
built: GA/ES evolve feedforward policies (a sequence torso would run without its memory),
MF-Q and the book's Dist-DQN build their own networks, and only DQN-family learners take a
curiosity module. Without the check such choices were silently ignored or failed obscurely."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from drlrun import registry
from drlrun.errors import DrlrunError

F = TypeVar("F", bound=Callable[..., Any])
NetUse = Literal["any", "feedforward", "own"]
OWN_NET_DEFAULT = "mlp"  # the root config's net, which an algorithm with its own network ignores


@dataclass(frozen=True)
class Accepts:
    """`nets`: any torso, feedforward ones only (no lstm/transformer/memory), or none (`own`:
    the network comes from algo.*); `curiosity`: whether curiosity=icm|rnd applies."""

    nets: NetUse = "any"
    curiosity: bool = False


DEFAULT = Accepts()  # builders without a declaration (plugins): any net, no curiosity


def accepts(nets: NetUse = "any", curiosity: bool = False) -> Callable[[F], F]:
    """Decorator for an algo builder: `@accepts(nets="feedforward")`."""

    def mark(builder: F) -> F:
        builder.accepts = Accepts(nets, curiosity)  # type: ignore[attr-defined]
        return builder

    return mark


def declared(algo: str) -> Accepts:
    return getattr(registry.lookup("algo", algo), "accepts", DEFAULT)


def _sequence_nets() -> set[str]:
    from drlrun.nets.sequence import SEQUENCE_NETS

    return SEQUENCE_NETS


def check_choices(algo_cfg: Any, net_cfg: Any, curiosity_cfg: Any) -> None:
    """Refuse, in one line, a net or curiosity module the chosen algorithm cannot use."""
    algo = algo_cfg if isinstance(algo_cfg, str) else algo_cfg.get("name")
    net = None if net_cfg is None else net_cfg.get("name")
    curiosity = "none" if curiosity_cfg is None else curiosity_cfg.get("name", "none")
    spec = declared(algo)
    if spec.nets == "feedforward" and net in _sequence_nets():
        choices = ", ".join(n for n in registry.names("net") if n not in _sequence_nets())
        raise DrlrunError(
            f"algo={algo} cannot use net={net}: it trains a feedforward policy, and a sequence "
            f"torso keeps its memory only in algo=dqn's sequence learner; choose one of: {choices}"
        )
    if spec.nets == "own" and net not in (None, OWN_NET_DEFAULT):
        raise DrlrunError(
            f"algo={algo} builds its own network (algo.hidden); net={net} would be ignored: "
            "drop the net= override"
        )
    if curiosity != "none" and not spec.curiosity:
        takers = [a for a in registry.names("algo") if declared(a).curiosity]
        raise DrlrunError(
            f"algo={algo} takes no curiosity module (curiosity={curiosity}); curiosity is an "
            f"intrinsic reward for DQN-family learners: {', '.join(takers)}"
        )
