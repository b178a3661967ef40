"""drlrun-repro: chapters' presets on several seeds through a real multirun, resumable, and
docs/results.md with Student-t intervals built from the committed per-chapter records."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from drlrun.device import cpu_name
from drlrun.reproduce.results import cpu_hours, read_records, results_markdown, t_interval
from tests.conftest import run_cli


def repro(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(list(args), cwd, module="drlrun.reproduce.cli")


def test_t_interval_is_students() -> None:
    # mean 2, sd 1, n 3: half width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    low, high = t_interval([1.0, 2.0, 3.0])
    assert low == pytest.approx(-0.484138, abs=1e-6)
    assert high == pytest.approx(4.484138, abs=1e-6)
    assert all(v != v for v in t_interval([1.0]))  # nan: no interval from one value


def test_results_markdown_puts_the_book_beside_both_presets() -> None:
    entry = {"seeds": [0, 1, 2], "frames": [100.0] * 3, "wall_time_s": [60.0, 90.0, 210.0]}
    record = {
        "chapter": "ch10",
        "date": "2026-12-03",
        "commit": "abc1234",
        "machine": "test CPU, 2 cores",
        "experiments": [
            {
                "key": "mnist_relational",
                "fidelities": {
                    "book": {**entry, "preset": "ch10_mnist_relational", "values": [1, 2, 3]},
                    "fixed": {"preset": "ch10_mnist_relational_fixed", "seeds": [], "values": []},
                },
            }
        ],
    }
    text = results_markdown({"ch10": record})
    row = next(line for line in text.splitlines() if line.startswith("| Relational"))
    assert "| 0.946 |" in row  # the book's number (inventory 5.5)
    assert "**2** [-0.484, 4.48] (1, 2, 3; seeds 0,1,2)" in row
    assert "| not run |" in row
    assert "| 2.0 min / - |" in row
    assert "0.10 CPU-hours" in text  # 360 s
    assert "Not yet measured: ch6, ch7, ch8, ch9" in text


def test_cpu_hours_take_each_runs_cpu_time_else_its_wall_time() -> None:
    """Three jobs shared two cores: CPU time is what they computed; a run that kept none (an
    older record, or nan) counts its wall time."""
    entry = {"seeds": [0, 1, 2], "wall_time_s": [60.0, 90.0, 210.0]}
    entry["cpu_time_s"] = [30.0, None, float("nan")]
    record = {"experiments": [{"key": "doorkey", "fidelities": {"book": entry}}]}
    assert cpu_hours({"ch10": record})["ch10"] == pytest.approx((30 + 90 + 210) / 3600)


def test_results_markdown_names_the_machine_each_run_was_timed_on(tmp_path: Path) -> None:
    """An entry from before seeds named their machine ran where its record was written; an entry
    measured later on another machine says so, so wall times are not read as one machine's."""
    old = {"preset": "ch10_doorkey_book", "seeds": [0], "values": [0.0], "wall_time_s": [60.0]}
    new = {**old, "preset": "ch10_doorkey_fixed", "machines": ["new CPU, 2 cores"]}
    record = {
        "chapter": "ch10",
        "date": "2026-12-06",
        "commit": "abc1234",
        "machine": "old CPU, 2 cores",
        "experiments": [{"key": "doorkey", "fidelities": {"book": old, "fixed": new}}],
    }
    (tmp_path / "results").mkdir()
    (tmp_path / "results/ch10.json").write_text(json.dumps(record))
    records = read_records(tmp_path)
    assert records["ch10"]["experiments"][0]["fidelities"]["book"]["machines"] == [
        "old CPU, 2 cores"
    ]
    text = results_markdown(records)
    assert "runs on old CPU, 2 cores (doorkey book); new CPU, 2 cores (doorkey fixed);" in text


def test_repro_runs_resumes_and_writes_the_records(tmp_path: Path) -> None:
    args = ["--only", "ch7/synthetic", "--seeds", "0", "1", "--root", "sweeps", "--docs", "docs"]
    args += ["--launcher", "basic", "budget.frames=200", "log.progress=false"]
    first = repro(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    record = json.loads((tmp_path / "docs/results/ch7.json").read_text())
    (item,) = record["experiments"]
    entry = item["fidelities"]["book"]
    assert item["key"] == "synthetic" and entry["preset"] == "ch7_synthetic"
    assert entry["seeds"] == [0, 1] and len(entry["values"]) == 2
    assert entry["frames"] == [200.0, 200.0]
    assert len(entry["curves"]) == 2 and entry["curves"][0][0]  # a loss curve per seed
    assert entry["machines"] == [cpu_name()] * 2  # read from each job's summary.json
    assert all(0 < c < 60 for c in entry["cpu_time_s"])
    assert (tmp_path / "docs/figures/results/ch7.png").stat().st_size > 10_000
    text = (tmp_path / "docs/results.md").read_text()
    assert "| Dist-DQN on synthetic data (L7.9-7.11) | `loss` |" in text

    runs = sorted((tmp_path / "sweeps/ch7/synthetic/ch7_synthetic").glob("*/metrics.csv"))
    before = {p: p.read_bytes() for p in runs}
    again = repro(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.read_bytes() for p in runs} == before  # finished seeds are not run again
    assert sorted((tmp_path / "sweeps/ch7/synthetic/ch7_synthetic").glob("*/metrics.csv")) == runs

    # Another machine: the run dirs are gone, the committed record stays. Seeds 0 and 1 are
    # kept from it (same composed config) and only seed 2 runs.
    values = entry["values"]
    shutil.rmtree(tmp_path / "sweeps")
    more = repro(*args[:3], "0", "1", "2", *args[5:], cwd=tmp_path)
    assert more.returncode == 0, more.stderr[-3000:]
    assert "recorded already: seeds [0, 1]" in more.stdout
    assert [p.parent.name for p in (tmp_path / "sweeps").rglob("metrics.csv")] == ["seed2"]
    entry = json.loads((tmp_path / "docs/results/ch7.json").read_text())
    entry = entry["experiments"][0]["fidelities"]["book"]
    assert entry["seeds"] == [0, 1, 2] and entry["values"][:2] == values
    assert len(entry["curves"]) == len(entry["frames"]) == 3

    # A changed config is another experiment: no recorded seed counts, the entry is replaced.
    changed = repro(*args[:-2], "budget.frames=300", "log.progress=false", cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr[-3000:]
    entry = json.loads((tmp_path / "docs/results/ch7.json").read_text())
    entry = entry["experiments"][0]["fidelities"]["book"]
    assert entry["seeds"] == [0, 1] and entry["frames"] == [300.0, 300.0]

    # A config that computes otherwise (a changed preset, here an algo override) finds the
    # sweep dir holding the old one's runs: refused before anything runs, nothing touched.
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    refused = repro(*args[:-2], "algo.lr=0.5", "log.progress=false", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "seed0 ran another config of ch7_synthetic (algo.lr); move" in refused.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chapters", "ch5"], "unknown chapter ch5; choose from ch6, ch7, ch8, ch9, ch10"),
        (["--only", "ch10/mnist_cnn"], "ch10/mnist_cnn need the MNIST files: pass --mnist-root"),
        (["--only", "ch7/nothing"], "unknown experiment ch7/nothing; choose from ch6/string_ga"),
    ],
)
def test_repro_refuses_bad_input_in_one_line(tmp_path: Path, args, message) -> None:
    out = repro(*args, "--docs", "docs", "--root", "sweeps", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
