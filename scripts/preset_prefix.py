"""Every ch* preset's metrics.csv over a short, deterministic prefix: `record OUT_DIR` before
a refactor and again after, then `compare A_DIR B_DIR` (exit 1 unless all identical).

Budgets are frames or iterations, never budget.seconds (wall-clock stops are not reproducible),
chosen per preset so that each run takes at most ~2 minutes on a shared 2-core CPU. Everything
else is the preset's own (evaluation, checkpoints, logging unless noted), so the prefix
exercises the same code a full run does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.golden.harness import run_metrics  # noqa: E402  (one way to run the CLI for a csv)

PRESETS = REPO / "drlrun" / "conf" / "experiment"
MNIST = REPO / "tests" / "data" / "mnist"  # 500 seeded digits (offline 250/250 split)

COMMON = ["seed=0", "device=cpu", "log.tensorboard=false", "log.progress=false"]

# preset -> its prefix overrides. Full length where the preset itself is short (ch7, ch9 Ising);
# otherwise the first generations / frames (seconds measured on the shared 2-core machine are
# in the record log).
BUDGETS: dict[str, list[str]] = {
    "ch6_cartpole_ga_book": ["budget.iterations=10"],  # 500 policies x 25 generations in full
    "ch6_cartpole_ga_fixed": ["budget.iterations=6"],  # 500 policies x 3 episodes x 20 gens
    "ch6_es_book": ["budget.iterations=15"],
    "ch6_es_fixed": ["budget.iterations=15"],
    "ch6_es_distributed": ["budget.iterations=15"],  # 2 local worker processes
    "ch6_string_ga": ["budget.iterations=100"],
    "ch6_string_ga_fixed": ["budget.iterations=100"],
    "ch7_freeway_book": ["budget.frames=1300"],  # the whole preset
    "ch7_freeway_fixed": ["budget.frames=4096"],  # the whole preset
    "ch7_synthetic": ["budget.frames=1000"],  # the whole preset
    "ch8_mario_icm_book": ["budget.frames=400"],  # past learning_starts=150
    "ch8_mario_icm_fixed": ["budget.frames=400"],
    "ch9_ising1d_book": ["budget.frames=200"],  # the whole preset
    "ch9_ising1d_fixed": ["budget.frames=200"],
    "ch9_ising2d_book": ["budget.frames=75"],
    "ch9_ising2d_fixed": ["budget.frames=75"],
    "ch9_magent_book": ["budget.iterations=4"],  # battles of 250 steps; eval: 20 battles
    "ch9_magent_fixed": ["budget.iterations=4"],
    # 300-image batches; the first periodic eval is at 30,000 images (100 batches)
    "ch10_mnist_cnn": [f"data.root={MNIST}", "budget.iterations=100"],
    "ch10_mnist_relational": [f"data.root={MNIST}", "budget.iterations=100"],
    # one update per step, then 50 eval episodes; rows every 100 frames (the preset logs every 1,000)
    "ch10_doorkey_book": ["budget.frames=1000", "log.every=100"],
    "ch10_doorkey_fixed": ["budget.frames=6000"],  # past learning_starts=1000
}


def presets() -> list[str]:
    """Every ch* preset in the config tree (a new one without a budget is an error)."""
    names = sorted(p.stem for p in PRESETS.glob("ch*.yaml"))
    missing = [n for n in names if n not in BUDGETS]
    if missing:
        raise SystemExit(f"no prefix budget for {', '.join(missing)}: add it to BUDGETS")
    return names


def run_preset(name: str, timeout: float) -> tuple[bytes | None, float, str]:
    """Run preset `name` at its prefix budget with the real CLI; (metrics.csv, seconds, output)."""
    return run_metrics([f"+experiment={name}", *COMMON, *BUDGETS[name]], f"prefix-{name}", timeout)


def record(out: Path, names: list[str], timeout: float) -> int:
    """Write OUT/<preset>.csv for each preset, and OUT/record.json with times and failures."""
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "record.json"  # a partial re-record keeps the other presets' entries
    log: dict[str, dict] = json.loads(log_path.read_text()) if log_path.exists() else {}
    for name in names:
        data, seconds, output = run_preset(name, timeout)
        if data is None:
            tail = output.strip().splitlines()[-1:] or [""]
            log[name] = {"seconds": round(seconds, 1), "status": "failed", "error": tail[0]}
            print(f"FAIL   {name} ({seconds:.1f} s): {tail[0]}", flush=True)
        else:
            (out / f"{name}.csv").write_bytes(data)
            log[name] = {
                "seconds": round(seconds, 1),
                "status": "ok",
                "rows": data.count(b"\n") - 1,
            }
            print(f"record {name} ({seconds:.1f} s)", flush=True)
        log_path.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")
    return 1 if any(log[n]["status"] != "ok" for n in names) else 0


def compare(a: Path, b: Path) -> int:
    """Print identical / different / missing per preset; exit status 1 unless all identical."""
    names = sorted({p.stem for p in a.glob("ch*.csv")} | {p.stem for p in b.glob("ch*.csv")})
    bad = 0
    for name in names:
        fa, fb = a / f"{name}.csv", b / f"{name}.csv"
        if not (fa.exists() and fb.exists()):
            print(f"missing   {name} (only in {a if fa.exists() else b})")
            bad += 1
            continue
        ba, bb = fa.read_bytes(), fb.read_bytes()
        if ba == bb:
            print(f"identical {name}")
            continue
        bad += 1
        la, lb = ba.splitlines(), bb.splitlines()
        line = next(
            (i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y),
            min(len(la), len(lb)),
        )
        print(f"different {name}: first at line {line + 1}")
        print(f"  {a.name}: {la[line].decode() if line < len(la) else '<missing>'}")
        print(f"  {b.name}: {lb[line].decode() if line < len(lb) else '<missing>'}")
    print(f"{len(names) - bad} identical, {bad} not")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    rec = sub.add_parser("record", help="run every ch* preset's prefix into OUT_DIR")
    rec.add_argument("out", type=Path)
    rec.add_argument("presets", nargs="*", help="only these presets (default: every ch*)")
    rec.add_argument("--timeout", type=float, default=600, help="seconds per preset")
    cmp_ = sub.add_parser("compare", help="compare two record dirs")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "compare":
        return compare(args.a, args.b)
    names = presets()
    unknown = [n for n in args.presets if n not in names]
    if unknown:
        parser.error(f"unknown preset(s) {', '.join(unknown)}")
    return record(args.out, args.presets or names, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
