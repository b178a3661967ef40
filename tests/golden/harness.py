"""Run a golden case through the real CLI and compare its metrics.csv with the recorded one.

Shared by tests/golden/test_golden.py and scripts/golden.py so both run a case the same way.

Floating point is byte-identical only on the same numeric platform: another CPU kernel set
(torch's AVX2 vs AVX512 paths) or another torch build rounds differently, and the runs then
differ in the 8th digit, and a few hundred updates later an argmax flips and an eval return
moves (measured: AVX2 against AVX512 recordings, 2 of 17 cases past 1e-3). So recordings live
per platform, `data/<platform>/<case>.csv` (`platform()`, e.g.
`x86_64-AuthenticAMD-25.17-AVX512-torch2.13.0+cpu`; the two oldest sets lack the CPU model),
a run is compared byte for byte with its own platform's, and a platform without recordings
gets them with `scripts/golden.py record` at the commit a change starts from.
"""

from __future__ import annotations

import os
import platform as host
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.golden.cases import overrides

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    """The CPU's vendor, family and model from /proc/cpuinfo (e.g. `AuthenticAMD-25.17`), or ''
    where there is none: two CPUs with the same kernel set can still round differently (an AMD
    and an earlier AVX-512 machine differed in the 8th digit on 7 of 17 cases)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
        if not line.strip():
            break
    vendor, family, model = (fields.get(k, "") for k in ("vendor_id", "cpu family", "model"))
    return f"{vendor}-{family}.{model}" if vendor else ""


def coarse_platform() -> str:
    """Machine, torch's CPU kernel set and torch: the key of the first recordings."""
    import torch

    return f"{host.machine()}-{torch.backends.cpu.get_cpu_capability()}-torch{torch.__version__}"


def platform() -> str:
    """The numeric platform a new recording is made for: machine, CPU model, kernel set, torch."""
    model = cpu_model()
    coarse = coarse_platform()
    return coarse.replace("-", f"-{model}-", 1) if model else coarse


@dataclass
class CaseRun:
    """One case's outcome: its metrics.csv bytes (None on failure), wall time and CLI output."""

    name: str
    metrics: bytes | None
    seconds: float
    output: str


def recorded_path(name: str, on: str | None = None) -> Path:
    """Where case `name`'s metrics.csv recorded on platform `on` lives; by default this
    machine's own recording, or else the coarse-key one made before CPU models were keyed."""
    if on is not None:
        return DATA / on / f"{name}.csv"
    precise = DATA / platform() / f"{name}.csv"
    coarse = DATA / coarse_platform() / f"{name}.csv"
    return precise if precise.exists() or not coarse.exists() else coarse


def compare(name: str, actual: bytes) -> str | None:
    """None when `actual` equals this platform's recording of `name` byte for byte; else the
    first difference."""
    return first_difference(recorded_path(name).read_bytes(), actual)


def recorded_platforms() -> list[str]:
    return sorted(d.name for d in DATA.iterdir() if d.is_dir())


def run_metrics(args: list[str], tag: str, timeout: float) -> tuple[bytes | None, float, str]:
    """Run `python -m drlrun.cli ARGS` in a fresh temp dir (this checkout first on PYTHONPATH);
    (its metrics.csv, or None when it failed or timed out; seconds; the CLI's output)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix=f"{tag}-") as tmp:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "drlrun.cli", *args, "hydra.run.dir=run"],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            output, ok = proc.stdout + proc.stderr, proc.returncode == 0
        except subprocess.TimeoutExpired:
            output, ok = f"timed out after {timeout:.0f} s", False
        seconds = time.perf_counter() - start
        metrics = Path(tmp, "run", "metrics.csv")
        data = metrics.read_bytes() if ok and metrics.exists() else None
    return data, seconds, output


def run_case(name: str, timeout: float = 120) -> CaseRun:
    """Run golden case `name` through the real CLI and return its metrics.csv."""
    return CaseRun(name, *run_metrics(overrides(name), f"golden-{name}", timeout))


def first_difference(expected: bytes, actual: bytes) -> str | None:
    """None when identical; else the first differing row of both files, with its line number
    and the header (so a column can be told by name)."""
    if expected == actual:
        return None
    want, got = expected.decode().splitlines(), actual.decode().splitlines()
    header = want[0] if want else ""
    for i in range(max(len(want), len(got))):
        a = want[i] if i < len(want) else "<missing>"
        b = got[i] if i < len(got) else "<missing>"
        if a != b:
            cols = _columns(header, a, b) if i > 0 else ""
            return (
                f"line {i + 1} differs ({len(want)} recorded lines, {len(got)} now)\n"
                f"  header:   {header}\n  recorded: {a}\n  now:      {b}{cols}"
            )
    return "files differ only in line endings or a trailing newline"


def _columns(header: str, a: str, b: str) -> str:
    """The columns that differ between two csv rows, as `name: old -> new` lines."""
    names, left, right = header.split(","), a.split(","), b.split(",")
    if len(left) != len(names) or len(right) != len(names):
        return ""
    diffs = [f"    {n}: {x} -> {y}" for n, x, y in zip(names, left, right, strict=True) if x != y]
    return "\n  columns:\n" + "\n".join(diffs) if diffs else ""
