"""Golden runs: each case's metrics.csv must equal its recorded file byte for byte.

A failure means behaviour changed. If the change is deliberate, re-record the affected cases
with `python scripts/golden.py record CASE...` and list the changed keys in the commit.
"""

from __future__ import annotations

import pytest

from tests.golden.cases import CASES, REQUIRES
from tests.golden.harness import first_difference, recorded_path, run_case


@pytest.mark.parametrize("name", list(CASES))
def test_golden(name: str) -> None:
    if name in REQUIRES:
        pytest.importorskip(REQUIRES[name])
    expected = recorded_path(name)
    assert expected.exists(), f"no recording for {name}: python scripts/golden.py record {name}"
    run = run_case(name)
    assert run.metrics is not None, f"{name}: the run failed\n{run.output[-3000:]}"
    diff = first_difference(expected.read_bytes(), run.metrics)
    assert diff is None, (
        f"{name}: metrics.csv differs from {expected.name}\n{diff}\n"
        f"deliberate? python scripts/golden.py record {name}"
    )
