"""Side-by-side speed report: CleanRL's own scripts against drlrun's `cleanrl_*` presets.

Every run is a child process (one at a time, CleanRL then drlrun, back to back) with the same
seed, steps and torch thread count (OMP_NUM_THREADS / MKL_NUM_THREADS for both; drlrun also
`device=cpu device.threads=N`). Workloads:

- `dqn_cartpole`: CleanRL `cleanrl/dqn.py` vs `+experiment=cleanrl_dqn_cartpole`;
- `c51_cartpole`: CleanRL `cleanrl/c51.py` vs `+experiment=cleanrl_c51_cartpole`;
  both `--cartpole-steps` (100k) steps, 10 final eval episodes at epsilon 0.05 (CleanRL's
  `--save-model` evaluation, which also records three videos; drlrun's final evaluation);
- `c51_freeway`: CleanRL `cleanrl/c51_atari.py` vs `+experiment=cleanrl_c51_atari` on Freeway
  pixels, learning from step 1k with a 20k buffer for `--pixel-steps` (5k) steps, at each of
  `--pixel-threads` (1 2); no evaluation (10 Freeway episodes are ~20k more steps).
  Env: CleanRL gets `--cleanrl-atari-id` (default `FreewayNoFrameskip-v0`: frameskip 1, sticky
  actions 0.25, 108k-frame cap, i.e. drlrun's `ALE/Freeway-v5` with `frameskip=1` underneath
  its frame skip) with its own wrappers; drlrun uses `env=freeway` (ALE v5 + gymnasium's
  AtariPreprocessing). What still differs: CleanRL max-pools the last two RGB frames, resizes
  RGB to 84x84 and then converts to grey (gymnasium 0.29 wrappers), drlrun max-pools ALE's
  greyscale screens and resizes those; gymnasium 0.29 / ale-py 0.9.1 (CleanRL) vs gymnasium
  1.x / ale-py 0.12 (drlrun). CleanRL's EpisodicLife / FireReset wrappers are no-ops on Freeway
  (no lives, no FIRE action). CleanRL's scripts do not import ale_py, which ale-py >= 0.9 needs
  to register its ids, so the Atari script runs as `python -c "import ale_py, runpy; ..."`.

Figures per run: whole-process SPS (steps / wall time of the whole command: interpreter
start-up, imports, Hydra, the final save and evaluation and exit included), whole-process steps
per CPU-second of the child (user + system, robust to other load on a shared machine), and
in-loop SPS as each tool reports it (CleanRL: its last `SPS:` line, global_step / time since
just before the first reset, printed every 100 steps once learning starts; drlrun: the last
`sps` progress line of drlrun.log, frames / time since the training loop started; summary.json's
`sps` also counts the final checkpoint and evaluation, so it is kept in the JSON only). Also the
machine's ceiling per workload, measured in the same run (child process, same threads):
1 / (env step + act + update / train_freq), env step = a random-action loop of gymnasium
CartPole-v1 / drlrun's Freeway env, act = one forward at batch 1 (obs -> tensor -> argmax),
update = one training step at the batch size (target forward, online forward, loss, backward,
Adam; C51 with the vectorised projection), each timed in a loop; and drlrun in-loop / ceiling.

Peer venv (CleanRL pins gymnasium 0.29; torch first, else pip pulls a CUDA build):

    python3 -m venv /work/peer-venv   # any path: pass its python as --peer-python
    /work/peer-venv/bin/pip install torch==2.13.0
    /work/peer-venv/bin/pip install gymnasium==0.29.1 "numpy<2" tyro tensorboard \
        "moviepy<2" pygame ale-py==0.9.1 "opencv-python-headless<4.11"

(ale-py 0.9.1 ships the ROMs and works with gymnasium 0.29; moviepy + pygame because CleanRL's
evaluation records videos. cleanrl_utils brings its own ReplayBuffer: no stable-baselines3.)
CleanRL checkout (scripts + cleanrl_utils, any commit; measured at fe8d8a03):

    git --git-dir=/work/.mirror/vwxyzjn+cleanrl/repo archive HEAD cleanrl cleanrl_utils \
        | tar -x -C /work/cleanrl-src

Run (with drlrun's venv active, from the repository root):

    python scripts/bench_report.py --cleanrl-dir /work/cleanrl-src \
        --peer-python /work/peer-venv/bin/python --json bench_report.json
    python scripts/bench_report.py ... --workloads dqn_cartpole c51_cartpole --seeds 0 1 2 3 4
    python scripts/bench_report.py ... --workloads c51_freeway \
        --pixel-levers device.channels_last=true device.precision=bf16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# two-sided 95% Student-t quantiles t_{0.975, df}
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip


@dataclass(frozen=True)
class Workload:
    name: str
    script: str  # relative to --cleanrl-dir
    preset: str  # drlrun +experiment
    pixels: bool
    train_freq: int
    batch_size: int
    distributional: bool


WORKLOADS = {
    "dqn_cartpole": Workload(
        "dqn_cartpole", "cleanrl/dqn.py", "cleanrl_dqn_cartpole", False, 10, 128, False
    ),
    "c51_cartpole": Workload(
        "c51_cartpole", "cleanrl/c51.py", "cleanrl_c51_cartpole", False, 10, 128, True
    ),
    "c51_freeway": Workload(
        "c51_freeway", "cleanrl/c51_atari.py", "cleanrl_c51_atari", True, 4, 32, True
    ),
}
PIXEL_START, PIXEL_BUFFER = 1000, 20000


@dataclass
class Run:
    tool: str
    workload: str
    seed: int
    threads: int
    steps: int
    wall_s: float
    cpu_s: float
    loop_sps: float | None
    eval_return: float | None
    rc: int
    command: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def whole_sps(self) -> float:
        return self.steps / self.wall_s

    @property
    def cpu_sps(self) -> float:
        return self.steps / self.cpu_s


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """Run `cmd` to the end; (wall seconds, child CPU seconds, return code); output to `log`."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def run_cleanrl(
    w: Workload, seed: int, threads: int, steps: int, args: argparse.Namespace, tmp: Path
) -> Run:
    script = str(Path(args.cleanrl_dir).resolve() / w.script)
    flags = ["--seed", str(seed), "--total-timesteps", str(steps), "--no-cuda"]
    if w.pixels:
        flags += ["--env-id", args.cleanrl_atari_id, "--learning-starts", str(PIXEL_START)]
        flags += ["--buffer-size", str(PIXEL_BUFFER)]
        launcher = (
            "import sys, runpy, ale_py; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')"
        )
        cmd = [args.peer_python, "-c", launcher, script, *flags]
    else:
        cmd = [args.peer_python, script, *flags, "--save-model"]
    cwd = Path(tempfile.mkdtemp(prefix=f"cleanrl_{w.name}_", dir=tmp))
    env = thread_env(threads)
    env["PYTHONPATH"] = str(Path(args.cleanrl_dir).resolve())
    log = cwd / "stdout.txt"
    wall, cpu, rc = timed(cmd, cwd, env, log)
    text = log.read_text(errors="replace")
    sps = re.findall(r"^SPS: (\d+)", text, re.M)
    evals = [
        float(x) for x in re.findall(r"eval_episode=\d+, episodic_return=\[([-\d.e]+)\]", text)
    ]
    train = [float(x) for x in re.findall(r"global_step=\d+, episodic_return=\[([-\d.e]+)\]", text)]
    if rc != 0:
        print(f"  CleanRL {w.name} failed (rc {rc}); tail of {log}:\n{text[-2000:]}")
    return Run(
        "cleanrl", w.name, seed, threads, steps, wall, cpu,
        float(sps[-1]) if sps else None,
        statistics.fmean(evals) if evals else None,
        rc, cmd,
        {"eval_returns": evals, "train_returns_last": train[-10:], "log": str(log)},
    )  # fmt: skip


def run_drlrun(
    w: Workload, seed: int, threads: int, steps: int, args: argparse.Namespace, tmp: Path
) -> Run:
    cwd = Path(tempfile.mkdtemp(prefix=f"drlrun_{w.name}_", dir=tmp))
    run_dir = cwd / "run"
    cmd = [
        sys.executable, "-m", "drlrun.cli", f"+experiment={w.preset}", f"seed={seed}",
        "device=cpu", f"device.threads={threads}", f"budget.frames={steps}",
        "eval.every=0", "checkpoint.every=0", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip
    if w.pixels:
        cmd += [
            f"algo.learning_starts={PIXEL_START}", f"algo.buffer_size={PIXEL_BUFFER}",
            "eval.episodes=0", "log.every=500", *args.pixel_levers,
        ]  # fmt: skip
    env = thread_env(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = cwd / "stdout.txt"
    wall, cpu, rc = timed(cmd, cwd, env, log)
    summary: dict[str, Any] = {}
    loop_sps = None
    if (run_dir / "summary.json").exists():
        summary = json.loads((run_dir / "summary.json").read_text())
    if (run_dir / "drlrun.log").exists():
        found = re.findall(r"frames (\d+)\S* \| sps (\d+)", (run_dir / "drlrun.log").read_text())
        loop_sps = float(found[-1][1]) if found else None
    if rc != 0:
        print(f"  drlrun {w.name} failed (rc {rc}); tail of {log}:\n{log.read_text()[-2000:]}")
    return Run(
        "drlrun", w.name, seed, threads, int(summary.get("frames", steps)), wall, cpu,
        loop_sps, summary.get("eval_return_mean"), rc, cmd,
        {"summary": summary, "run_dir": str(run_dir)},
    )  # fmt: skip


CEILING = r"""
import json, sys, time
import numpy as np, torch, gymnasium as gym
name, threads, train_freq, batch, dist = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5] == "1"
torch.set_num_threads(threads)
torch.manual_seed(0)
pixels = name.endswith("freeway")
if pixels:
    from drlrun.envs.atari import AtariParams, make_atari
    env, n_env, n_act, n_upd = make_atari(AtariParams(), eval_mode=False), 1500, 300, 60
else:
    env, n_env, n_act, n_upd = gym.make("CartPole-v1"), 20000, 3000, 600
actions = env.action_space.n
atoms = (51 if pixels else 101) if dist else 1
obs, _ = env.reset(seed=0)
env.action_space.seed(0)
start = time.perf_counter()
for _ in range(n_env):
    obs, r, term, trunc, _ = env.step(env.action_space.sample())
    if term or trunc:
        obs, _ = env.reset()
t_env = (time.perf_counter() - start) / n_env
obs = np.asarray(obs)
def make():
    if pixels:
        return torch.nn.Sequential(
            torch.nn.Conv2d(4, 32, 8, stride=4), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 64, 4, stride=2), torch.nn.ReLU(),
            torch.nn.Conv2d(64, 64, 3, stride=1), torch.nn.ReLU(), torch.nn.Flatten(),
            torch.nn.Linear(3136, 512), torch.nn.ReLU(), torch.nn.Linear(512, actions * atoms))
    return torch.nn.Sequential(
        torch.nn.Linear(obs.size, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84),
        torch.nn.ReLU(), torch.nn.Linear(84, actions * atoms))
net, target = make(), make()
target.load_state_dict(net.state_dict())
scale = 255.0 if pixels else 1.0
opt = torch.optim.Adam(net.parameters(), lr=2.5e-4, eps=0.01 / batch)
def q_of(out):
    if not dist:
        return out
    return (torch.softmax(out.view(len(out), actions, atoms), 2) * support).sum(2)
support = torch.linspace(-10 if pixels else -100, 10 if pixels else 100, atoms)
def act():
    with torch.no_grad():
        x = torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0) / scale
        return int(q_of(net(x)).argmax(1)[0])
for _ in range(20):
    act()
start = time.perf_counter()
for _ in range(n_act):
    act()
t_act = (time.perf_counter() - start) / n_act
dtype = torch.uint8 if pixels else torch.float32
shape = (batch, *obs.shape)
o = torch.randint(0, 255, shape, dtype=torch.uint8) if pixels else torch.randn(shape)
o2 = o.clone()
a = torch.randint(0, actions, (batch,))
rew, done = torch.randn(batch), torch.zeros(batch)
idx = torch.arange(batch)
if dist:
    from drlrun.algos.q.losses.c51 import project_categorical
def update():
    with torch.no_grad():
        nxt = target(o2.float() / scale)
        if dist:
            p = torch.softmax(nxt.view(batch, actions, atoms), 2)
            best = (p * support).sum(2).argmax(1)
            tgt = project_categorical(p[idx, best], rew, 0.99 * (1 - done), support)
        else:
            tgt = rew + 0.99 * nxt.max(1).values * (1 - done)
    out = net(o.float() / scale)
    if dist:
        logp = torch.log_softmax(out.view(batch, actions, atoms), 2)[idx, a]
        loss = -(tgt * logp).sum(1).mean()
    else:
        loss = torch.nn.functional.mse_loss(out.gather(1, a[:, None]).squeeze(1), tgt)
    opt.zero_grad()
    loss.backward()
    opt.step()
for _ in range(5):
    update()
start = time.perf_counter()
for _ in range(n_upd):
    update()
t_upd = (time.perf_counter() - start) / n_upd
ceiling = 1.0 / (t_env + t_act + t_upd / train_freq)
print(json.dumps({"env_step_s": t_env, "act_s": t_act, "update_s": t_upd, "ceiling_sps": ceiling}))
"""


def measure_ceiling(w: Workload, threads: int) -> dict[str, float]:
    env = thread_env(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    args = [w.name, str(threads), str(w.train_freq), str(w.batch_size), str(int(w.distributional))]
    out = subprocess.run(
        [sys.executable, "-c", CEILING, *args],
        capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=False,
    )  # fmt: skip
    if out.returncode != 0:
        print(f"  ceiling {w.name} failed:\n{out.stderr[-2000:]}")
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])


def t_interval(xs: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t interval (nan half-width for one value)."""
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return mean, math.nan
    df = len(xs) - 1
    q = T975.get(df) or T975[max(k for k in T975 if k <= df)]
    return mean, q * statistics.stdev(xs) / math.sqrt(len(xs))


def fmt(x: float | None, spec: str = ",.0f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def print_table(pairs: list[tuple[Run, Run, dict[str, float]]]) -> None:
    head = (
        f"{'workload':13} {'thr':>3} {'seed':>4} {'steps':>7} | {'whole SPS CRL':>13} "
        f"{'drlrun':>7} {'ratio':>6} | {'per CPU-s CRL':>13} {'drlrun':>7} {'ratio':>6} | "
        f"{'in-loop CRL':>11} {'drlrun':>7} {'ratio':>6} | {'ceiling':>7} {'dr/ceil':>7} | "
        f"{'eval CRL':>8} {'drlrun':>7}"
    )
    print(head)
    print("-" * len(head))
    for c, d, ceil in pairs:
        ceiling = ceil.get("ceiling_sps")
        print(
            f"{c.workload:13} {c.threads:>3} {c.seed:>4} {c.steps:>7} | {fmt(c.whole_sps):>13} "
            f"{fmt(d.whole_sps):>7} {ratio(d.whole_sps, c.whole_sps):>6} | {fmt(c.cpu_sps):>13} "
            f"{fmt(d.cpu_sps):>7} {ratio(d.cpu_sps, c.cpu_sps):>6} | {fmt(c.loop_sps):>11} "
            f"{fmt(d.loop_sps):>7} {ratio(d.loop_sps, c.loop_sps):>6} | {fmt(ceiling):>7} "
            f"{fmt(d.loop_sps / ceiling if d.loop_sps and ceiling else None, '.2f'):>7} | "
            f"{fmt(c.eval_return, '.1f'):>8} {fmt(d.eval_return, '.1f'):>7}"
        )


def print_time_split(pairs: list[tuple[Run, Run, dict[str, float]]]) -> None:
    print("\nwhere the wall time goes (loop = steps / in-loop SPS; rest = start-up, final save,")
    print("evaluation, exit):")
    for c, d, _ in pairs:
        parts = []
        for r in (c, d):
            loop = r.steps / r.loop_sps if r.loop_sps else math.nan
            parts.append(
                f"{r.tool} wall {r.wall_s:6.1f}s cpu {r.cpu_s:6.1f}s loop {loop:6.1f}s "
                f"rest {r.wall_s - loop:5.1f}s"
            )
        print(f"  {c.workload:13} thr {c.threads} seed {c.seed}: " + " | ".join(parts))


def print_ceilings(ceilings: dict[str, dict[str, float]]) -> None:
    print("\nceiling parts (ms): env step, act (batch 1), update (batch), ceiling SPS")
    for key, c in ceilings.items():
        if c:
            print(
                f"  {key:17} env {c['env_step_s'] * 1e3:7.3f}  act {c['act_s'] * 1e3:7.3f}  "
                f"update {c['update_s'] * 1e3:8.3f}  -> {c['ceiling_sps']:,.0f}"
            )


def print_seed_means(pairs: list[tuple[Run, Run, dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in WORKLOADS:
        rows = [(c, d) for c, d, _ in pairs if c.workload == name and not WORKLOADS[name].pixels]
        if not rows:
            continue
        res: dict[str, Any] = {"seeds": [c.seed for c, _ in rows]}
        for tool, pick in (("cleanrl", 0), ("drlrun", 1)):
            evals = [r[pick].eval_return for r in rows if r[pick].eval_return is not None]
            whole = [r[pick].whole_sps for r in rows]
            loop = [r[pick].loop_sps for r in rows if r[pick].loop_sps]
            res[tool] = {
                "eval_return": t_interval(evals) if evals else None,
                "whole_sps": t_interval(whole),
                "loop_sps": t_interval(loop) if loop else None,
            }
        out[name] = res
        if len(rows) < 2:
            continue
        print(f"\n{name} over seeds {res['seeds']} (mean +- 95% t half-width):")
        for tool in ("cleanrl", "drlrun"):
            r = res[tool]
            ev = r["eval_return"]
            print(
                f"  {tool:7} eval return "
                + (f"{ev[0]:7.1f} +- {fmt(ev[1], '.1f')}" if ev else "-")
                + f" | whole SPS {r['whole_sps'][0]:7,.0f} +- {fmt(r['whole_sps'][1])}"
                + (
                    f" | in-loop SPS {r['loop_sps'][0]:7,.0f} +- {fmt(r['loop_sps'][1])}"
                    if r["loop_sps"]
                    else ""
                )
            )
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if
                      ln.startswith("Model name")), "")  # fmt: skip
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "load_avg_start": os.getloadavg(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cleanrl-dir", required=True, help="checkout with cleanrl/ and cleanrl_utils/"
    )
    parser.add_argument("--peer-python", required=True, help="python of the CleanRL venv")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--cartpole-steps", type=int, default=100_000)
    parser.add_argument("--pixel-steps", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the CartPole rows")
    parser.add_argument("--pixel-threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pixel-seeds", type=int, nargs="+", default=None,
                        help="seeds of the pixel rows (default: the first of --seeds)")  # fmt: skip
    parser.add_argument("--cleanrl-atari-id", default="FreewayNoFrameskip-v0")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the run dirs (printed)")
    parser.add_argument("--pixel-levers", nargs="*", default=[], metavar="OVERRIDE",
                        help="drlrun's speed levers on the pixel row, e.g. "
                        "device.channels_last=true device.precision=bf16")  # fmt: skip
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_report_"))
    info = machine()
    print(f"machine: {info['cpu_model']}, {info['cpus']} CPUs, load {info['load_avg_start']}")
    if args.pixel_levers:
        print(f"drlrun's pixel row with: {' '.join(args.pixel_levers)}")
    pairs: list[tuple[Run, Run, dict[str, float]]] = []
    ceilings: dict[str, dict[str, float]] = {}
    for name in args.workloads:
        w = WORKLOADS[name]
        threads_list = args.pixel_threads if w.pixels else [args.threads]
        seeds = (args.pixel_seeds or args.seeds[:1]) if w.pixels else args.seeds
        steps = args.pixel_steps if w.pixels else args.cartpole_steps
        for threads in threads_list:
            key = f"{name}@{threads}"
            ceilings[key] = measure_ceiling(w, threads)
            for seed in seeds:
                print(f"[{time.strftime('%H:%M:%S')}] {name} threads {threads} seed {seed} ...")
                c = run_cleanrl(w, seed, threads, steps, args, tmp)
                d = run_drlrun(w, seed, threads, steps, args, tmp)
                pairs.append((c, d, ceilings[key]))
                print(
                    f"  CleanRL {c.whole_sps:,.0f} whole / {fmt(c.loop_sps)} in-loop SPS; "
                    f"drlrun {d.whole_sps:,.0f} / {fmt(d.loop_sps)}"
                )
    print()
    print_table(pairs)
    print_time_split(pairs)
    print_ceilings(ceilings)
    means = print_seed_means(pairs)
    info["load_avg_end"] = os.getloadavg()
    if args.json:
        payload = {
            "machine": info,
            "args": {k: str(v) for k, v in vars(args).items()},
            "runs": [
                {**asdict(r), "whole_sps": r.whole_sps, "cpu_sps": r.cpu_sps}
                for c, d, _ in pairs
                for r in (c, d)
            ],
            "ceilings": ceilings,
            "seed_means": means,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if args.keep:
        print(f"run dirs under {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
