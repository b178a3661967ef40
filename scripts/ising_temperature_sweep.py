"""Order parameter against temperature from an Ising sweep (the MF-Q paper's phase transition).

    drlrun --multirun +experiment=ch9_ising2d_fixed env.temperature=0.2,0.6,1.0,1.4,1.8,2.2 seed=0,1,2
    python scripts/ising_temperature_sweep.py multirun/<date>/<time>

Writes order_parameter.csv and order_parameter.png into the sweep dir: the magnetisation that
evaluation grids reach under the learned policy at each temperature (mean and std over seeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from drlrun.sweep.jobs import load_jobs
from drlrun.viz.marl import order_parameter, plot_order_parameter


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sweep = Path(sys.argv[1])
    rows = order_parameter(load_jobs(sweep))
    if not len(rows):
        sys.exit(f"{sweep}: no finished job with an env.temperature override")
    header = "temperature,magnetization_mean,magnetization_std,runs"
    np.savetxt(sweep / "order_parameter.csv", rows, delimiter=",", header=header, comments="")
    print(plot_order_parameter(rows, sweep / "order_parameter.png"))
    for t, m, s, n in rows:
        print(f"T={t:.2f}: {m:.3f} +- {s:.3f} ({int(n)} runs)")


if __name__ == "__main__":
    main()
