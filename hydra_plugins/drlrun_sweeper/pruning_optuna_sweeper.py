"""drlrun's Optuna sweeper with pruning (hydra/sweeper=optuna_pruning).

Hydra only instantiates sweepers defined under the `hydra_plugins` package, so the class lives
here; the job side (reporting evaluations to the trial) is drlrun.sweep.tuning. Optuna and
hydra-optuna-sweeper are imported lazily: Hydra imports this module on every start.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from drlrun.sweep.tuning import DEFAULT_STUDY, STORAGE_ENV, STUDY_ENV, TRIAL_ENV

log = logging.getLogger("drlrun")


class PruningOptunaSweeper(Sweeper):
    """hydra/sweeper=optuna in drlrun: hydra-optuna-sweeper's options plus `pruner` and
    `objective`; n_trials counts the study's trials in total, so a rerun finishes a study."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        search_space: DictConfig | None,
        custom_search_space: str | None,
        params: DictConfig | None,
        pruner: Any = None,
        objective: str = "eval_return_mean",
    ) -> None:
        from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl

        self.impl = OptunaSweeperImpl(
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            search_space,
            custom_search_space,
            params,
        )
        self.pruner, self.objective = pruner, objective

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def _study(self) -> Any:
        import optuna

        impl = self.impl
        storage = impl.storage
        if storage is None:
            sweep_dir = Path(str(impl.sweep_dir)).resolve()
            sweep_dir.mkdir(parents=True, exist_ok=True)
            storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
        return optuna.create_study(
            study_name=impl.study_name or DEFAULT_STUDY,
            storage=storage,
            sampler=impl.sampler,
            pruner=self.pruner,
            directions=impl._get_directions(),
            load_if_exists=True,
        ), storage

    def sweep(self, arguments: list[str]) -> None:
        import optuna
        from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
        from omegaconf import OmegaConf

        impl = self.impl
        impl._process_searchspace_config()
        distributions, fixed = create_params_from_overrides(
            impl._parse_sweeper_params_config() + list(arguments)
        )
        distributions = {**(impl.search_space_distributions or {}), **distributions}
        for name in fixed:
            distributions.pop(name, None)
        study, storage = self._study()
        TS = optuna.trial.TrialState
        for stale in study.get_trials(deepcopy=False, states=(TS.RUNNING,)):
            # a trial of an interrupted sweep: its job is gone, so it can never be told
            study._storage.set_trial_state(stale._trial_id, TS.FAIL)
            log.warning("trial %d was left running by an earlier sweep; marked FAIL", stale.number)
        to_go = self.impl.n_trials - len(study.trials)
        log.info(
            "study %s in %s: %d trials, %d to go",
            study.study_name,
            storage,
            len(study.trials),
            max(to_go, 0),
        )
        while to_go > 0:
            trials = [study.ask() for _ in range(min(to_go, impl.n_jobs))]
            overrides = impl._configure_trials(trials, distributions, fixed)
            env = [
                f"++hydra.job.env_set.{STUDY_ENV}='{study.study_name}'",
                f"++hydra.job.env_set.{STORAGE_ENV}='{storage}'",
            ]
            batch = [
                (*o, f"++hydra.job.env_set.{TRIAL_ENV}={t._trial_id}", *env)
                for o, t in zip(overrides, trials, strict=True)
            ]
            # job dir number = trial number, so a resumed study never reuses a job dir
            returns = impl.launcher.launch(batch, initial_job_idx=trials[0].number)
            for trial, ret in zip(trials, returns, strict=True):
                state, value = self._outcome(ret)
                study.tell(trial, values=None if value is None else [value], state=state)
                log.info(
                    "trial %d: %s %s", trial.number, state.name, "" if value is None else value
                )
            to_go -= len(trials)
        finished = [t for t in study.trials if t.state == TS.COMPLETE]
        result: dict[str, Any] = {"name": "optuna", "study": study.study_name, "storage": storage}
        result["states"] = {s.name: sum(t.state == s for t in study.trials) for s in TS}
        if finished and len(study.directions) == 1:
            result.update(best_params=study.best_trial.params, best_value=study.best_value)
            log.info("best %s = %s with %s", self.objective, study.best_value, study.best_params)
        OmegaConf.save(
            OmegaConf.create(result), Path(str(impl.sweep_dir)) / "optimization_results.yaml"
        )

    def _outcome(self, ret: JobReturn) -> tuple[Any, float | None]:
        import optuna

        TS = optuna.trial.TrialState
        summary = getattr(ret._return_value, "summary", None)
        if ret.status != JobStatus.COMPLETED or not isinstance(summary, dict):
            return TS.FAIL, None
        if summary.get("status") == "pruned":
            return TS.PRUNED, None
        value = summary.get(self.objective)
        if summary.get("status") != "finished" or not isinstance(value, int | float):
            return TS.FAIL, None
        return (TS.COMPLETE, float(value)) if math.isfinite(value) else (TS.FAIL, None)
