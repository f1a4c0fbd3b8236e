"""How fast the CLI says no: CPU seconds (user + system, the process and its children) of commands that
must fail on their arguments before any model loads, and of `emsync --help` for scale.

    python -m benchmarks.cli_startup [--repeat 5] [--out benchmarks/results/cli_startup.json]

CPU time, not wall time: on a shared machine the wall clock measures the neighbours. The target is under
1 s of CPU for a bad argument (before: ~9.6 s, torch and the models imported first). Also checked: the
answer is the one error line (exit 2) and no Python warning reaches stderr at the default log level.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EMSYNC = REPO / ".venv" / "bin" / "emsync"

CASES = {
    "missing input": (["soundtrack", "nope.mp4", "--out", "x.mp4"], 2, "nope.mp4: no such file"),
    "valence without arousal": (["soundtrack", "IN", "--out", "x.mp4", "--valence", "0.2"], 2, "give both or neither"),
    "output not a video": (["soundtrack", "IN", "--out", "x.txt"], 2, "output must be a video file"),
    "unknown catalog": (["catalog", "backfill", "no-such-catalog"], 2, "neither a manifest file nor a known catalog"),
    "help": (["--help"], 0, "Usage"),
}


def _cpu_of(args: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(CPU seconds of the child, wall seconds, exit code, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([str(EMSYNC), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.returncode, done.stderr + done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cli_startup.json")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        real = cwd / "in.mp4"
        real.write_bytes(b"\0" * 1024)  # exists and is not empty: the argument checks pass it on
        os.environ.setdefault("EMSYNC_DATABASE_URL", f"sqlite:///{cwd / 'emsync.db'}")
        for name, (argv, code, expect) in CASES.items():
            argv = [str(real) if a == "IN" else a for a in argv]
            cpus, walls = [], []
            for _ in range(args.repeat):
                cpu, wall, rc, output = _cpu_of(argv, cwd)
                assert rc == code and expect in output, f"{name}: exit {rc}: {output}"
                assert "Warning" not in output and "Traceback" not in output, f"{name}: {output}"
                cpus.append(cpu)
                walls.append(wall)
            results[name] = {
                "command": "emsync " + " ".join(argv).replace(str(real), "in.mp4"),
                "exit_code": code,
                "cpu_s_median": round(statistics.median(cpus), 3),
                "cpu_s_max": round(max(cpus), 3),
                "wall_s_median": round(statistics.median(walls), 3),
            }
            print(f"{name:<24} cpu {results[name]['cpu_s_median']:.2f} s (max {results[name]['cpu_s_max']:.2f}), "
                  f"wall {results[name]['wall_s_median']:.2f} s", file=sys.stderr)
    report = {
        "what": "CPU seconds until the CLI answers (user + system of the emsync process)",
        "target_cpu_s": 1.0,
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_1m": round(os.getloadavg()[0], 2)},
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
