"""Genetic algorithm (book ch. 6.2-6.4): one `train_step` is one generation.

A generation evaluates the population, records mean/best/worst fitness, then breeds the next
one: elites copied, then pairs of parents (fitness-proportional or tournament) give two children
by single-point crossover, each mutated. The genome depends on the target: an index string for
`env=string_target`, a flat policy vector (any `net` torso) for a gymnasium env.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from drlrun.algos.accepts import accepts, task_kind
from drlrun.algos.base import Recorder, RunContext, Tensors, TrainResult, no_video
from drlrun.algos.evolution import ga_ops
from drlrun.algos.evolution.common import Evolution
from drlrun.algos.evolution.population import PopulationEvaluator, VectorPlayer
from drlrun.envs.base import EnvFactory
from drlrun.envs.string_target import StringTarget
from drlrun.errors import DrlrunError
from drlrun.nets.flat import FlatParams
from drlrun.nets.policy import ActionRule, build_policy
from drlrun.params import from_cfg
from drlrun.registry import register
from drlrun.seeding import generator_state, set_generator_state

log = logging.getLogger("drlrun")
SEED_HIGH = 2**31 - 1


@dataclass
class GAParams:
    population: int = 100
    # auto: the book's choice for the target (strings: proportional; policies: tournament)
    selection: Literal["auto", "proportional", "tournament"] = "auto"
    tournament_size: float = 0.2  # fraction of the population drawn per tournament
    tournament_replacement: bool = True  # book: draws with replacement (duplicates shrink it)
    mutation_rate: float = 0.01
    # auto: the book's rule for the target (strings: bernoulli per char; policies: truncate)
    mutation_count: Literal["auto", "truncate", "at_least_one", "bernoulli"] = "auto"
    mutation_mode: Literal["reset", "add"] = "reset"  # book: reset genes to N(0, std^2)
    mutation_std: float = 0.1
    init_std: float = 0.5  # policy genes start as N(0, init_std^2) (book: randn / 2)
    elitism: int = 0  # best individuals copied unchanged (book: 0, despite its text)
    fitness_epsilon: float = 0.0  # added to proportional weights (book: 0; all-zero raises)
    episodes_per_eval: int = 1  # episodes averaged per policy fitness (book: 1)
    # the champion (what evaluation and checkpoints report): 0 takes the generation's top
    # fitness, which on few noisy episodes is often a lucky policy; k > 0 re-scores the top k on
    # `champion_episodes` fresh episodes each generation and keeps the best mean (policies only)
    champion_candidates: int = 0
    champion_episodes: int = 10
    action: ActionRule = "sample_book"  # book: Categorical(probs=log_softmax), inverted
    stop_on_solved: bool = True  # strings: stop at an exact match
    max_rollouts: int = 512  # policy episodes stepped side by side

    def __post_init__(self) -> None:
        if self.population < 2:
            raise ValueError(f"population must be >= 2, got {self.population}")
        if not 0.0 <= self.mutation_rate <= 1.0:
            raise ValueError(f"mutation_rate must be in [0, 1], got {self.mutation_rate}")
        if not 0 <= self.elitism < self.population:
            raise ValueError(f"elitism must be in [0, population), got {self.elitism}")
        if self.episodes_per_eval < 1:
            raise ValueError("episodes_per_eval must be >= 1")
        if self.fitness_epsilon < 0:
            raise ValueError("fitness_epsilon must be >= 0")
        if self.champion_candidates < 0 or self.champion_episodes < 1:
            raise ValueError("champion_candidates must be >= 0 and champion_episodes >= 1")


class StringGenome:
    """Index strings over the target's alphabet, scored by the target's fitness."""

    default_selection, default_count = "proportional", "bernoulli"
    point_inclusive = True  # book: randint(0, len(p1)), both ends included

    def __init__(self, target: StringTarget, p: GAParams, net_cfg: Any = None):
        if p.mutation_mode == "add":
            raise DrlrunError("algo.mutation_mode=add needs real-valued genes; strings use reset")
        self.target, self.size = target, target.length
        self.n_chars = len(target.alphabet)

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.n_chars, size=(n, self.size), dtype=np.int64)

    def new_values(self, k: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.n_chars, size=k, dtype=np.int64)

    def evaluate(self, population: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        return self.target.fitness(population), len(population)

    def solved(self, best: float) -> bool:
        return best >= 1.0

    def describe(self, genome: np.ndarray) -> str:
        return repr(self.target.decode(genome))

    def describe_eval(self, genome: np.ndarray, metrics: Mapping[str, float]) -> str | None:
        """Scored, not played: no episodes to count."""
        return (
            f"fitness {metrics['eval_return_mean']:.3f} of the best string {self.describe(genome)}"
        )

    def evaluate_genome(
        self, genome: np.ndarray, episodes: int, seed: int, recorder: Recorder | None = None
    ) -> dict[str, float]:
        """The fitness of `genome` (deterministic: one "episode")."""
        if recorder is not None:
            raise no_video(f"env={self.target.name} (a string target is scored, not played)")
        fit = float(self.target.fitness(genome[None])[0])
        return {
            "eval_return_mean": fit,
            "eval_return_std": 0.0,
            "eval_episodes": 1.0,
            "eval_solved": float(fit >= 1.0),
        }

    def close(self) -> None:
        pass


class PolicyGenome:
    """Flat parameter vectors of a `net` torso + output layer, scored by episode return."""

    default_selection, default_count = "tournament", "truncate"
    point_inclusive = False  # book: np.random.randint(407) -> [0, 406]

    def __init__(self, env: EnvFactory, p: GAParams, net_cfg: Any):
        self.env, self.p = env, p
        self.policy, self.actions = build_policy(net_cfg, env, p.action)
        self.flat = FlatParams(self.policy)
        self.size = self.flat.size
        self.evaluator = PopulationEvaluator(env, self.policy, self.actions, p.max_rollouts)
        self.player = VectorPlayer(env, self.flat, self.actions)

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.standard_normal((n, self.size)) * self.p.init_std).astype(np.float32)

    def new_values(self, k: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.standard_normal(k) * self.p.mutation_std).astype(np.float32)

    def evaluate(
        self, population: np.ndarray, rng: np.random.Generator, episodes: int | None = None
    ) -> tuple[np.ndarray, int]:
        episodes = self.p.episodes_per_eval if episodes is None else episodes
        episode_seeds = rng.integers(0, SEED_HIGH, size=episodes)
        action_seeds = rng.integers(0, SEED_HIGH, size=(len(population), episodes))
        fit = self.evaluator.evaluate(population, episode_seeds, action_seeds)
        return fit.returns, fit.steps

    def solved(self, best: float) -> bool:
        return False

    def describe(self, genome: np.ndarray) -> str:
        return f"{self.size}-parameter policy"

    def describe_eval(self, genome: np.ndarray, metrics: Mapping[str, float]) -> str | None:
        return None  # episode returns: the Algorithm's line

    def evaluate_genome(
        self, genome: np.ndarray, episodes: int, seed: int, recorder: Recorder | None = None
    ) -> dict[str, float]:
        return self.player.play(genome, episodes, seed, recorder)

    def close(self) -> None:
        self.evaluator.close()
        self.player.close()


# the genome for each kind of task GA accepts (task kinds: drlrun.envs.base.provides)
GENOMES: dict[str, type[StringGenome] | type[PolicyGenome]] = {
    "fitness": StringGenome,
    "env": PolicyGenome,
}


class GA(Evolution):
    def __init__(self, p: GAParams, genome: StringGenome | PolicyGenome, ctx: RunContext):
        super().__init__()
        self.p, self.genome = p, genome
        self.selection = genome.default_selection if p.selection == "auto" else p.selection
        self.count_rule = genome.default_count if p.mutation_count == "auto" else p.mutation_count
        if self.selection == "tournament":
            ga_ops.check_tournament(p.population, p.tournament_size, p.tournament_replacement)
        self.rng = np.random.default_rng(ctx.seed)
        self.population = genome.random(p.population, self.rng)
        self.finished = False
        self.best_genome = self.population[0].copy()
        self.best_fitness = float("-inf")
        self.champion: np.ndarray | None = None  # the re-scored champion (champion_candidates)

    # --- one generation ------------------------------------------------------------------------
    def train_step(self) -> TrainResult:
        fitness, frames = self.genome.evaluate(self.population, self.rng)
        self.frames += frames
        order = np.argsort(-fitness, kind="stable")
        best = int(order[0])
        if fitness[best] > self.best_fitness:
            log.info(
                "generation %d: best %s, fitness %.4g",
                self.generation,
                self.genome.describe(self.population[best]),
                fitness[best],
            )
        # the elite of the latest generation (not the luckiest ever: fitness can be noisy)
        self.best_genome, self.best_fitness = self.population[best].copy(), float(fitness[best])
        if self.p.champion_candidates and isinstance(self.genome, PolicyGenome):
            self._rescore_champion(order)
        metrics = self.record(self.generation, fitness)
        if self.p.champion_candidates and isinstance(self.genome, PolicyGenome):
            metrics["champion_return"] = self.champion_return
        self.generation += 1
        if self.p.stop_on_solved and self.genome.solved(float(fitness[best])):
            self.finished = True
            metrics["solved"] = 1.0
            log.info("solved at generation %d", self.generation - 1)
            return TrainResult(metrics)
        self.population = self.breed(self.population, fitness, order)
        return TrainResult(metrics)

    def _rescore_champion(self, order: np.ndarray) -> None:
        """The champion is the best mean over `champion_episodes` fresh episodes among the top
        `champion_candidates` by fitness and the previous champion, all scored on the same
        episodes (their frames count towards the budget). Keeping the incumbent as a candidate
        means a robust champion is only replaced by one that beats it on the same fresh
        episodes, instead of by whatever the last generation's noisy fitness ranked first."""
        top = order[: self.p.champion_candidates]
        candidates = self.population[top]
        if self.champion is not None:
            candidates = np.concatenate([candidates, self.champion[None]])
        means, frames = self.genome.evaluate(
            candidates, self.rng, episodes=self.p.champion_episodes
        )
        self.frames += frames
        pick = int(np.argmax(means))  # ties keep the current generation's candidate
        self.champion = candidates[pick].copy()
        self.best_genome = self.champion
        self.champion_return = float(means[pick])

    def select(self, fitness: np.ndarray) -> tuple[int, int]:
        if self.selection == "proportional":
            return ga_ops.proportional_parents(fitness, self.rng, self.p.fitness_epsilon)
        return ga_ops.tournament_parents(
            fitness, self.rng, self.p.tournament_size, self.p.tournament_replacement
        )

    def breed(self, population: np.ndarray, fitness: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Elites first, then mutated children of selected pairs until the population is full
        (the book overshoots by one child for odd sizes; the extra child is dropped)."""
        size = self.genome.size
        children = [population[i].copy() for i in order[: self.p.elitism]]
        high = size + 1 if self.genome.point_inclusive else size
        additive = self.p.mutation_mode == "add"
        while len(children) < len(population):
            i, j = self.select(fitness)
            point = int(self.rng.integers(0, high))
            for child in ga_ops.crossover(population[i], population[j], point):
                idx = ga_ops.mutation_indices(size, self.p.mutation_rate, self.count_rule, self.rng)
                children.append(
                    ga_ops.mutate(
                        child, idx, lambda k: self.genome.new_values(k, self.rng), additive
                    )
                )
        return np.stack(children[: len(population)])

    # --- evaluation, state, figure --------------------------------------------------------------
    def evaluate(
        self, episodes: int, seed: int, epsilon: float = 0.0, recorder: Recorder | None = None
    ) -> dict[str, float]:
        """Scores the fittest individual of the latest generation; `epsilon` does not apply."""
        return self.genome.evaluate_genome(self.best_genome, max(1, episodes), seed, recorder)

    def named_tensors(self) -> Tensors:
        return {"population": self.population, "best_genome": self.best_genome}

    def describe_eval(self, metrics: Mapping[str, float]) -> str:
        line = self.genome.describe_eval(self.best_genome, metrics)
        return line if line is not None else super().describe_eval(metrics)

    def state_dict(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "rng": generator_state(self.rng),
            "finished": self.finished,
            "best_genome": self.best_genome,
            "best_fitness": self.best_fitness,
            "champion": np.zeros(0) if self.champion is None else self.champion,
            **self.counters_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        population = np.asarray(state["population"])
        if population.shape != self.population.shape:
            raise ValueError(f"population shape {population.shape} != {self.population.shape}")
        self.population = population.astype(self.population.dtype)
        set_generator_state(self.rng, state["rng"])
        self.finished = bool(state["finished"])
        self.best_genome = np.asarray(state["best_genome"]).copy()
        self.best_fitness = float(state["best_fitness"])
        champion = np.asarray(state.get("champion", np.zeros(0)))  # older checkpoints: none
        self.champion = champion.astype(self.population.dtype).copy() if champion.size else None
        self.load_counters(state)

    def fitness_title(self) -> str:
        return f"GA: best {self.genome.describe(self.best_genome)} ({self.best_fitness:.3g})"

    def close(self) -> None:
        self.genome.close()


@register("algo", "ga")
@accepts(nets="feedforward", tasks=("env", "fitness"))
def build_ga(cfg, env, ctx: RunContext) -> GA:
    p = from_cfg(GAParams, cfg, "algo")
    # the kind env builder `env.name` declares; session.build refused any kind GA does not accept
    return GA(p, GENOMES[task_kind(env.name)](env, p, ctx.net_cfg), ctx)
