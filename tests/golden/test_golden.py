"""Golden runs: each case's metrics.csv must equal this numeric platform's recording byte for
byte (harness.py: floats round differently on other CPU kernel sets; a platform without
recordings is skipped, saying how to record them).

A failure means behaviour changed. If the change is deliberate, re-record the affected cases
with `python scripts/golden.py record CASE...` on every platform kept and list the changed keys
in the commit.
"""

from __future__ import annotations

import pytest

from tests.golden.cases import CASES, REQUIRES
from tests.golden.harness import compare, platform, recorded_path, recorded_platforms, run_case


@pytest.mark.parametrize("name", list(CASES))
def test_golden(name: str) -> None:
    if name in REQUIRES:
        pytest.importorskip(REQUIRES[name])
    if not recorded_path(name).exists():
        pytest.skip(
            f"no golden recording for platform {platform()} (recorded: "
            f"{', '.join(recorded_platforms())}); record them at the commit a change starts "
            f"from: python scripts/golden.py record"
        )
    run = run_case(name)
    assert run.metrics is not None, f"{name}: the run failed\n{run.output[-3000:]}"
    diff = compare(name, run.metrics)
    assert diff is None, (
        f"{name}: metrics.csv differs from {recorded_path(name)}\n{diff}\n"
        f"deliberate? python scripts/golden.py record {name}"
    )
