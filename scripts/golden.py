"""Record or check the golden runs (tests/golden): `record [CASE...]` / `check [CASE...]`.

record rewrites tests/golden/data/<platform>/<case>.csv (this machine's numeric platform,
harness.platform()) from a fresh run; use it for a new platform, or for a deliberate change of
behaviour committed with the keys (defaults) it changes. check compares each case's metrics.csv
with this platform's recording byte for byte and prints the first differing row; exit 1 on any
mismatch or a missing recording.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.golden.cases import CASES  # noqa: E402
from tests.golden.harness import compare, platform, recorded_path, run_case  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("record", "check"))
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from: {', '.join(CASES)}")
    failed = 0
    for name in args.cases or list(CASES):
        run = run_case(name)
        if run.metrics is None:
            print(f"FAIL   {name} ({run.seconds:.1f} s): the run failed\n{run.output[-3000:]}")
            failed += 1
        elif args.mode == "record":
            path = recorded_path(name, on=platform())
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(run.metrics)
            rows = run.metrics.count(b"\n") - 1
            print(f"record {name} ({run.seconds:.1f} s, {rows} rows)")
        else:
            path = recorded_path(name)
            diff = compare(name, run.metrics) if path.exists() else f"no recording {path}"
            print(f"{'ok    ' if diff is None else 'DIFF  '} {name} ({run.seconds:.1f} s)")
            if diff is not None:
                print(diff)
                failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
