"""The music stage next to a busy neighbour: quiet time, time beside one single-threaded `yes`, ratio.

    python -m benchmarks.music_load [--duration 60] [--threads 1 2] [--repeats 1]

Each case is a fresh process that applies the thread budget (EMSYNC_THREADS) the way the CLI does, loads
the generator, warms it on a short piece, then times `compose_music` (the job's music stage: generation
and MIDI decoding) for a `--duration` video with three cuts. The neighbour is `yes > /dev/null`, started
after warm-up and stopped after the timed run. Load averages are printed beside every figure: on a shared
machine "quiet" only means "without our neighbour".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASE = r"""
import json, os, subprocess, sys, time
from flows.runtime import apply_thread_budget
from flows.settings import Settings
settings = Settings()
budget = apply_thread_budget(settings)
from flows.soundtrack import compose_music
duration, neighbour = float(sys.argv[1]), sys.argv[2] == "1"
cuts = [duration * f for f in (0.25, 0.5, 0.75)]
trajectory = ((0.0, 0.4, 0.2), (duration / 2, -0.3, 0.6))
compose_music(8.0, [4.0], ((0.0, 0.0, 0.0),), 1, settings)  # load and warm the generator
proc = subprocess.Popen("exec yes > /dev/null", shell=True) if neighbour else None
time.sleep(1.0 if neighbour else 0.0)
load = os.getloadavg()[0]
cpu, t0 = time.process_time(), time.perf_counter()
music = compose_music(duration, cuts, trajectory, 0, settings)
wall, cpu = time.perf_counter() - t0, time.process_time() - cpu
if proc is not None:
    proc.kill(); proc.wait()
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "load1": load, "threads": budget["threads"],
                  "notes": sum(len(i.notes) for i in music.midi.instruments)}))
"""


def run_case(duration: float, threads: int, neighbour: bool) -> dict:
    env = {**os.environ, "EMSYNC_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", CASE, str(duration), "1" if neighbour else "0"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"music stage for a {args.duration:g} s video, {os.cpu_count()} CPUs, "
          f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'threads':>7} {'quiet s':>8} {'load':>5} {'neighbour s':>11} {'load':>5} {'ratio':>6} {'notes':>6}")
    rows = []
    for threads in args.threads:
        for _ in range(args.repeats):
            quiet = run_case(args.duration, threads, False)
            busy = run_case(args.duration, threads, True)
            ratio = busy["wall_s"] / quiet["wall_s"]
            rows.append({"threads": threads, "quiet": quiet, "neighbour": busy, "ratio": ratio})
            print(f"{threads:>7} {quiet['wall_s']:>8.2f} {quiet['load1']:>5.1f} {busy['wall_s']:>11.2f} "
                  f"{busy['load1']:>5.1f} {ratio:>6.2f} {quiet['notes']:>6}")
            time.sleep(1.0)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
