"""What each algorithm family can use, declared on its builder and checked before anything is
built: the kind of task it learns from (an env, a team env, a dataset, a fitness target; env
builders declare theirs with `@provides`), GA/ES evolve feedforward policies (a sequence torso
would run without its memory), MF-Q and the book's Dist-DQN take only their own whole network
from the `net` group (net=team_mlp, net=book_dist), and only DQN-family learners take a curiosity
module. Without the check such choices were silently
ignored or failed obscurely."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from drlrun import registry
from drlrun.errors import DrlrunError

if TYPE_CHECKING:
    from drlrun.envs.base import TaskKind

F = TypeVar("F", bound=Callable[..., Any])
# any torso, feedforward torsos only, or exactly the named (whole) networks
NetUse = Literal["any", "feedforward"] | tuple[str, ...]
TASK_IS = {  # "env=X is ..."
    "teams": "multi-agent",
    "dataset": "a labelled dataset, not an environment",
    "fitness": "a fitness target, not an environment",
}
TASK_NEEDS = {  # "algo=X needs ..."
    "env": "a single-agent env",
    "teams": "a multi-agent env",
    "dataset": "a labelled dataset",
    "fitness": "a fitness target",
}


def task_kind(env: str) -> str:
    """The kind of task env builder `env` declares (envs.base.provides; default `env`)."""
    return registry.mark("env", env, "provides", "env")


def is_whole_network(net: str | None) -> bool:
    """Whether net builder `net` is marked `@whole_network` (nets.base)."""
    return bool(registry.mark("net", net, "whole_network", False))


def is_stateful(net: str | None) -> bool:
    """Whether net builder `net` builds a sequence torso (`@stateful`, nets.sequence)."""
    return bool(registry.mark("net", net, "stateful", False))


@dataclass(frozen=True)
class Accepts:
    """`nets`: any torso, feedforward ones only (no lstm/transformer/memory), or the names of
    the whole networks it is built for (marked `@whole_network`, e.g. `("team_mlp",)`); `curiosity`: whether curiosity=icm|rnd applies; `tasks`:
    the kinds of env-slot object it learns from; `precision`: whether it runs its torsos at
    device.precision (bf16 autocast), else only fp32 is accepted."""

    nets: NetUse = "any"
    curiosity: bool = False
    tasks: tuple[str, ...] = ("env",)
    precision: bool = False


DEFAULT = Accepts()  # builders without a declaration (plugins): any net, no curiosity


def accepts(
    nets: NetUse = "any",
    curiosity: bool = False,
    tasks: tuple[TaskKind, ...] = ("env",),
    precision: bool = False,
) -> Callable[[F], F]:
    """Decorator for an algo builder: `@accepts(nets="feedforward", tasks=("env", "fitness"))`."""

    def mark(builder: F) -> F:
        spec = Accepts(nets, curiosity, tuple(tasks), precision)
        builder.accepts = spec  # type: ignore[attr-defined]
        return builder

    return mark


def declared(algo: str) -> Accepts:
    """The algo builder's `@accepts` declaration (from the manifest when it has it)."""
    spec = registry.mark("algo", algo, "accepts", DEFAULT)
    if isinstance(spec, dict):  # as the manifest stores it
        nets = spec["nets"]
        return Accepts(tuple(nets) if isinstance(nets, list) else nets, spec["curiosity"],
                       tuple(spec["tasks"]), spec.get("precision", False))  # fmt: skip
    return spec


def _named_nets(algo: str) -> tuple[str, ...]:
    nets = declared(algo).nets
    return nets if isinstance(nets, tuple) else ()


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def check_task(algo: str, env: str) -> None:
    """Refuse, in one line, an env-slot object of a kind `algo` does not learn from."""
    kind, spec = task_kind(env), declared(algo)
    if kind in spec.tasks:
        return
    if kind != "env":  # say what the env is and which algos take it
        takers = [f"algo={a}" for a in registry.names("algo") if kind in declared(a).tasks]
        raise DrlrunError(f"env={env} is {TASK_IS[kind]}: use {_either(takers)}")
    envs = [e for e in registry.names("env") if task_kind(e) in spec.tasks]
    words = " or ".join(TASK_NEEDS[k] for k in spec.tasks)
    raise DrlrunError(f"algo={algo} needs {words}: use env={_either(envs)}")


def check_choices(
    algo_cfg: Any, net_cfg: Any, curiosity_cfg: Any, env_cfg: Any = None, precision: str = "fp32"
) -> None:
    """Refuse, in one line, a task, net, curiosity module or precision the chosen algorithm
    cannot use."""
    algo = algo_cfg if isinstance(algo_cfg, str) else algo_cfg.get("name")
    net = None if net_cfg is None else net_cfg.get("name")
    curiosity = "none" if curiosity_cfg is None else curiosity_cfg.get("name", "none")
    env = None if env_cfg is None else env_cfg if isinstance(env_cfg, str) else env_cfg.get("name")
    if env is not None:
        check_task(algo, env)
    spec = declared(algo)
    if isinstance(spec.nets, tuple):
        if net not in spec.nets:
            raise DrlrunError(
                f"algo={algo} is built on its own network, net={_either(list(spec.nets))} "
                f"(its shape under net.*); net={net} cannot be used: drop the net= override"
            )
    elif is_whole_network(net):
        owners = [f"algo={a}" for a in registry.names("algo") if net in _named_nets(a)]
        torsos = ", ".join(n for n in registry.names("net") if not is_whole_network(n))
        raise DrlrunError(
            f"net={net} is the whole network of {_either(owners)}, not a torso; algo={algo} "
            f"takes one of: {torsos}"
        )
    if spec.nets == "feedforward" and is_stateful(net):
        choices = ", ".join(
            n for n in registry.names("net") if not is_stateful(n) and not is_whole_network(n)
        )
        raise DrlrunError(
            f"algo={algo} cannot use net={net}: it trains a feedforward policy, and a sequence "
            f"torso keeps its memory only in the Q learner's sequence replay (algo=dqn ...); choose one of: {choices}"
        )
    if curiosity != "none" and not spec.curiosity:
        takers = [a for a in registry.names("algo") if declared(a).curiosity]
        raise DrlrunError(
            f"algo={algo} takes no curiosity module (curiosity={curiosity}); curiosity is an "
            f"intrinsic reward for DQN-family learners: {', '.join(takers)}"
        )
    if precision != "fp32" and not spec.precision:
        takers = [a for a in registry.names("algo") if declared(a).precision]
        raise DrlrunError(
            f"device.precision={precision} applies to the torsos of {', '.join(takers)}; "
            f"algo={algo} runs in fp32: drop the override"
        )
