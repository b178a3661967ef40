"""Optuna tuning with pruning, the job side; the sweep side is
hydra_plugins/drlrun_sweeper/pruning_optuna_sweeper.py.

hydra-optuna-sweeper asks Optuna for parameters and tells it each job's return value, but a job
never sees its trial, so nothing can be pruned. This sweeper reuses its search-space parsing and
additionally passes each job its trial id, study name and storage (via hydra.job.env_set);
the job reports every periodic evaluation to that trial and stops when the study's pruner says
so. The study lives in SQLite by default, so parallel jobs share it and a rerun resumes it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from hydra.core.hydra_config import HydraConfig

TRIAL_ENV, STUDY_ENV, STORAGE_ENV = (
    "DRLRUN_OPTUNA_TRIAL",
    "DRLRUN_OPTUNA_STUDY",
    "DRLRUN_OPTUNA_STORAGE",
)
DEFAULT_STUDY = "drlrun"


def trial_reporter() -> Callable[[int, dict[str, float]], bool] | None:
    """In a job launched by PruningOptunaSweeper: a callback that reports an evaluation to the
    trial and returns True when the pruner stops it. None outside such a sweep."""
    trial_id = os.environ.get(TRIAL_ENV)
    if not trial_id:
        return None
    import optuna
    from hydra.utils import instantiate

    sweeper = HydraConfig.get().sweeper
    pruner = instantiate(sweeper.pruner) if sweeper.get("pruner") else optuna.pruners.NopPruner()
    study = optuna.load_study(
        study_name=os.environ[STUDY_ENV], storage=os.environ[STORAGE_ENV], pruner=pruner
    )
    trial = optuna.trial.Trial(study, int(trial_id))
    objective = str(sweeper.get("objective", "eval_return_mean"))

    def report(frames: int, metrics: dict[str, float]) -> bool:
        value = metrics.get(objective)
        if value is None or not math.isfinite(value):
            return False
        trial.report(float(value), step=frames)
        return bool(trial.should_prune())

    return report
