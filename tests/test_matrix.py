"""Every registered algo x env pair composes and, in-process at a tiny budget with at least one
update, runs or is refused in one line, as the committed table says (issue 17).

The table is tests/matrix/expected.csv; `python scripts/matrix.py --out tests/matrix/expected.csv
--md docs/matrix.md` regenerates it (and the README's grid) after a deliberate change."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _matrix_module():
    """scripts/matrix.py, importable by name (its worker processes unpickle its functions)."""
    scripts = str(REPO / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("matrix")


@pytest.mark.slow  # 124 s with 2 workers on 2 cores shared with another run: in the CI set
@pytest.mark.ci
def test_every_algo_env_pair_runs_or_is_refused_as_the_committed_table_says() -> None:
    matrix = _matrix_module()
    expected = matrix.read_csv(REPO / "tests" / "matrix" / "expected.csv")
    algos, envs = matrix.options("algo"), matrix.options("env")
    assert {(r.algo, r.env) for r in expected} == {(a, e) for a in algos for e in envs}, (
        "the registered algos/envs changed: regenerate tests/matrix/expected.csv"
    )
    rows = matrix.run_matrix(algos, envs, workers=min(2, os.cpu_count() or 1))
    assert not [r for r in rows if r.outcome in ("crashes", "timeout")], [
        r for r in rows if r.outcome in ("crashes", "timeout")
    ]
    assert all("\n" not in r.reason for r in rows)
    differences = matrix.diff(expected, rows)
    assert not differences, "\n".join(
        [*differences, "deliberate? python scripts/matrix.py --out tests/matrix/expected.csv"]
    )
