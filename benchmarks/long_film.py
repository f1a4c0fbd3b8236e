"""A whole soundtrack job on long films, end to end: peak memory and time per minute of each stage.

    python -m benchmarks.long_film [--minutes 10,120] [--seeds 7,8] [--films /var/tmp/emsync-films]
                                   [--json benchmarks/results/long_film.json]

Each length is a held-out film (`benchmarks.long_video`: acts of recurring kinds of scene, 160x90 at
10 fps, with sound), scored by `emsync soundtrack` in its own process with its own empty data folder
(nothing reused), on the embedded defaults. The process's resident memory is sampled every half
second (with the stage it was in, read from the job's progress) and its peak read from the kernel at
the end (the largest of the job and every child it waited for: FluidSynth, ffmpeg). Targets: the
2-hour film's peak within 1.5x of the 10-minute film's, its music-stage time per minute within 1.2x.
Films are built once and kept in `--films`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.long_video import build  # noqa: E402

STAGES = ("probe", "cuts", "emotion", "music", "render", "mux", "store")


def _rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its descendants, in MB (0 once it has gone)."""
    total, queue = 0.0, [pid]
    while queue:
        p = queue.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                queue.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_film(film: Path, minutes: float, work: Path) -> dict:
    env = {**os.environ, "EMSYNC_DATA_DIR": str(work / "data"), "PYTHONUNBUFFERED": "1"}
    out = work / "out.mp4"
    log = work / "job.log"
    cmd = [str(Path(sys.executable).parent / "emsync"), "soundtrack", str(film), "--out", str(out), "--json"]
    samples: list[tuple[float, float]] = []
    started = time.perf_counter()
    with log.open("wb") as err, (work / "report.json").open("wb") as report_fh:
        proc = subprocess.Popen(cmd, stdout=report_fh, stderr=err, env=env, stdin=subprocess.DEVNULL)

        def sample() -> None:
            while proc.poll() is None:
                samples.append((round(time.perf_counter() - started, 1), round(_rss_mb(proc.pid), 1)))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        sampler.join()
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if code != 0:
        return {"minutes": minutes, "exit": code, "wall_s": round(wall, 1),
                "log_tail": log.read_text(errors="replace")[-2000:]}
    report = json.loads((work / "report.json").read_text())
    timings = report.get("timings_s", {})
    # Which stage each sample fell in, from the stage durations in order (the job runs them in turn).
    bounds, at = [], 0.0
    for stage in STAGES:
        at += float(timings.get(stage, 0.0))
        bounds.append((stage, at))
    by_stage: dict[str, float] = {}
    for t, mb in samples:
        stage = next((s for s, end in bounds if t <= end + 3.0), "after")  # + the CLI's start
        by_stage[stage] = max(by_stage.get(stage, 0.0), mb)
    return {"minutes": minutes, "exit": code, "wall_s": round(wall, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "sampled_peak_tree_mb": max((mb for _, mb in samples), default=0.0),
            "sampled_peak_tree_mb_by_stage": by_stage,
            "timings_s": timings,
            "seconds_per_minute": {s: round(float(timings[s]) / minutes, 3) for s in STAGES if s in timings},
            "music": {"model": report.get("music", {}).get("model"),
                      "sections": len((report.get("music", {}).get("plan") or {}).get("sections", [])),
                      "notes": report.get("music", {}).get("notes")},
            "cuts": len(report.get("cuts_s", [])) if isinstance(report.get("cuts_s"), list) else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="10,120")
    parser.add_argument("--films", type=Path, default=Path("/var/tmp/emsync-films"))
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/long_film.json")
    parser.add_argument("--keep", type=Path, default=None, help="keep each job's data folder here")
    parser.add_argument("--seeds", default="7", help="the films' seeds, one for all or one per length")
    args = parser.parse_args()
    result: dict = {"what": "emsync soundtrack, embedded defaults, one process per film", "runs": [],
                    "load_before": os.getloadavg()}
    lengths = [float(m) for m in args.minutes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    for minutes, seed in zip(lengths, seeds * len(lengths) if len(seeds) == 1 else seeds, strict=True):
        film = args.films / f"film-{minutes:g}min-seed{seed}.mp4"
        if not film.exists():
            build(film, minutes, seed)
        if args.keep is not None:  # the job's data folder (its stored MIDI, audio, report) kept to look at
            work = args.keep / f"{minutes:g}min"
            work.mkdir(parents=True, exist_ok=False)
            run = run_film(film, minutes, work)
        else:
            with tempfile.TemporaryDirectory(prefix="emsync-long-film-", dir="/var/tmp") as tmp:
                run = run_film(film, minutes, Path(tmp))
        run["film"] = str(film)
        result["runs"].append(run)
        print(json.dumps(run), flush=True)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    runs = {r["minutes"]: r for r in result["runs"] if r.get("exit") == 0}
    if len(runs) >= 2:
        short, long = runs[min(runs)], runs[max(runs)]
        result["ratios"] = {
            "peak_rss": round(long["peak_rss_mb"] / short["peak_rss_mb"], 3),
            "music_s_per_minute": round(long["seconds_per_minute"]["music"] / short["seconds_per_minute"]["music"], 3),
            "render_s_per_minute": round(long["seconds_per_minute"]["render"]
                                         / short["seconds_per_minute"]["render"], 3),
        }
    result["load_after"] = os.getloadavg()
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result.get("ratios", {})))


if __name__ == "__main__":
    main()
