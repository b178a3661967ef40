"""What a job returns to Hydra's sweeper: its objective as a float, with the whole summary."""

from __future__ import annotations

import math
from typing import Any

DEFAULT_OBJECTIVE = "eval_return_mean"


class JobResult(float):
    """A float (the summary's `eval_return_mean`, nan for a failed or unevaluated job) so that
    sweepers optimising a number (hydra-optuna-sweeper) take it as is, carrying `summary` for
    drlrun's own sweeper, which reads status (finished, pruned, failed) and any objective key."""

    summary: dict[str, Any]

    def __new__(cls, summary: dict[str, Any]) -> JobResult:
        value = summary.get(DEFAULT_OBJECTIVE)
        ok = summary.get("status") == "finished" and isinstance(value, int | float)
        result = super().__new__(cls, float(value) if ok else math.nan)
        result.summary = summary
        return result

    def __reduce__(self) -> tuple[Any, ...]:  # pickled across launcher processes
        return JobResult, (self.summary,)
